//! Counters for `GET /metrics`, in Prometheus' text format.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tollgate_engine::Tier;

/// Every counter the server keeps.
#[derive(Debug, Default)]
pub struct Metrics {
    decisions: [AtomicU64; 4],
    /// Approval requests opened.
    pub approvals_opened: AtomicU64,
    /// Signed records posted, counted or not.
    pub records_posted: AtomicU64,
    /// Successful consumes.
    pub consumed: AtomicU64,
    /// Consumes refused (not allowed, already consumed, not the opener).
    pub consume_refused: AtomicU64,
    /// Requests refused as bad input (4xx).
    pub bad_requests: AtomicU64,
    /// Requests failed by the server or the database (5xx).
    pub server_errors: AtomicU64,
    /// Write transactions committed (one per group commit).
    pub commits: AtomicU64,
    /// Audit records written.
    pub audit_records: AtomicU64,
    /// Webhook deliveries that failed after every retry, or were dropped on a full queue.
    pub webhook_failures: Arc<AtomicU64>,
    /// Reloads that failed (the old pack kept serving).
    pub reload_failures: AtomicU64,
}

/// Adds one.
pub fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a decision by tier.
    pub fn decided(&self, tier: Tier) {
        let slot = match tier {
            Tier::Auto => 0,
            Tier::Single => 1,
            Tier::Dual => 2,
            Tier::Deny => 3,
        };
        if let Some(counter) = self.decisions.get(slot) {
            inc(counter);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP tollgate_decisions_total Decisions made, by tier."
        );
        let _ = writeln!(out, "# TYPE tollgate_decisions_total counter");
        for (tier, counter) in ["auto", "single", "dual", "deny"]
            .iter()
            .zip(&self.decisions)
        {
            let _ = writeln!(
                out,
                "tollgate_decisions_total{{tier=\"{tier}\"}} {}",
                get(counter)
            );
        }
        for (name, help, counter) in [
            (
                "tollgate_approvals_opened_total",
                "Approval requests opened.",
                &self.approvals_opened,
            ),
            (
                "tollgate_records_posted_total",
                "Signed approval records posted.",
                &self.records_posted,
            ),
            (
                "tollgate_consumed_total",
                "Approval requests consumed.",
                &self.consumed,
            ),
            (
                "tollgate_consume_refused_total",
                "Consumes refused.",
                &self.consume_refused,
            ),
            (
                "tollgate_bad_requests_total",
                "Requests refused as bad input.",
                &self.bad_requests,
            ),
            (
                "tollgate_server_errors_total",
                "Requests failed by the server or database.",
                &self.server_errors,
            ),
            (
                "tollgate_commits_total",
                "Write transactions committed (group commits).",
                &self.commits,
            ),
            (
                "tollgate_audit_records_total",
                "Audit records written.",
                &self.audit_records,
            ),
            (
                "tollgate_webhook_failures_total",
                "Webhook events not delivered.",
                &self.webhook_failures,
            ),
            (
                "tollgate_reload_failures_total",
                "Reloads refused; the previous pack kept serving.",
                &self.reload_failures,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", get(counter));
        }
        out
    }
}
