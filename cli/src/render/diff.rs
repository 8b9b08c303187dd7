//! `diff` results: what changed between two packs, and how each request's tier moved.

use std::fmt::Write as _;

use serde::Serialize;
use tollgate_engine::Tier;

use super::shown;

/// Policies by id: added, removed, or with changed text.
#[derive(Debug, Serialize, Default)]
pub struct PolicyChanges {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// How a request's tier moved from base to head.
#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Weakened,
    Strengthened,
    /// One side decided the request and the other could not.
    Error,
}

/// One request whose outcome differs between the packs.
#[derive(Debug, Serialize)]
pub struct RequestChange {
    pub line: usize,
    pub request: String,
    pub action: String,
    pub base: Option<Tier>,
    pub head: Option<Tier>,
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_error: Option<String>,
}

/// Counts over every request compared.
#[derive(Debug, Serialize, Default)]
pub struct Summary {
    pub requests: usize,
    pub unchanged: usize,
    pub weakened: usize,
    pub strengthened: usize,
    pub errors: usize,
}

/// The whole comparison.
#[derive(Debug, Serialize)]
pub struct Report {
    pub policies: PolicyChanges,
    pub changes: Vec<RequestChange>,
    pub summary: Summary,
}

/// Policy changes, then a row per changed request, then the summary.
pub fn text(report: &Report) -> String {
    let Report {
        policies,
        changes,
        summary,
    } = report;
    let mut s = String::new();
    for (mark, ids) in [
        ('+', &policies.added),
        ('-', &policies.removed),
        ('~', &policies.changed),
    ] {
        for id in ids {
            let _ = writeln!(s, "{mark} policy {}", shown(id));
        }
    }
    let tier = |t: Option<Tier>| t.map_or("error".to_string(), |t| t.to_string());
    for c in changes {
        let label = match c.change {
            Change::Weakened => "WEAKENED",
            Change::Strengthened => "stricter",
            Change::Error => "ERROR",
        };
        let _ = write!(
            s,
            "{:>7}  {:<8}  {} -> {}  {}",
            c.line,
            label,
            tier(c.base),
            tier(c.head),
            shown(&c.action)
        );
        if let Some(e) = c.base_error.as_ref().or(c.head_error.as_ref()) {
            let _ = write!(s, "  ({})", shown(e));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "summary: {} requests, {} unchanged, {} weakened, {} stricter, {} errors on one side",
        summary.requests, summary.unchanged, summary.weakened, summary.strengthened, summary.errors
    );
    s
}
