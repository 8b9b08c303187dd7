//! `audit stats --format table`: the approval-fatigue numbers for a terminal.

use std::fmt::Write as _;

use tollgate_engine::audit::stats::{AuditStats, Flag, PolicyVerdict};

use super::shown;

/// Seconds as people say them: `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round().max(0.0) as u64;
    let (big, big_unit, small, small_unit) = match s {
        0..60 => return format!("{s} s"),
        60..3600 => (s / 60, "min", s % 60, "s"),
        3600..86_400 => (s / 3600, "h", (s % 3600) / 60, "min"),
        _ => (s / 86_400, "d", (s % 86_400) / 3600, "h"),
    };
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small} {small_unit}")
    }
}

fn opt_duration(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "—".into(), duration)
}

fn percent(share: f64) -> String {
    format!("{:.0}%", share * 100.0)
}

/// A flag in words.
pub fn flag_text(flag: &Flag) -> String {
    match flag {
        Flag::RubberStamp { why } => format!("rubber stamp: {why}"),
        Flag::Burst { approvals } => format!("burst: {approvals} approvals within a minute"),
    }
}

/// A gate's verdict in words.
pub fn verdict_text(v: PolicyVerdict) -> &'static str {
    match v {
        PolicyVerdict::Candidate => "never rejected: re-scope or automate?",
        PolicyVerdict::DoingItsJob => "often rejected: doing its job",
        PolicyVerdict::Undecided => "",
    }
}

/// Rows as a column-aligned table (the last column is left unpadded).
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, &mut head.iter().copied());
    for row in rows {
        line(out, &mut row.iter().map(String::as_str));
    }
}

/// The whole report.
pub fn render(stats: &AuditStats) -> String {
    let w = &stats.window;
    let mut out = String::new();
    let span = match (&w.first_day, &w.last_day) {
        (Some(a), Some(b)) if a == b => a.clone(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no events".into(),
    };
    let _ = writeln!(
        out,
        "{span} ({} day{}): {} records, {} decisions, {} approval records{}\n",
        w.days,
        if w.days == 1 { "" } else { "s" },
        w.records,
        w.decisions,
        w.approval_records,
        if w.repeated_approval_records > 0 {
            format!(" ({} repeats counted once)", w.repeated_approval_records)
        } else {
            String::new()
        }
    );

    let _ = writeln!(out, "Tiers");
    tiers(stats).write_aligned(&mut out);
    let _ = writeln!(out, "\nApprovers");
    approvers(stats).write_aligned(&mut out);
    let _ = writeln!(out, "\nGates (policies that required approval)");
    gates(stats).write_aligned(&mut out);
    if !stats.dual_pairs.is_empty() {
        let _ = writeln!(
            out,
            "\nDual control (the two first approvals of each dual request)"
        );
        dual_pairs(stats).write_aligned(&mut out);
    }
    out
}

/// One table of the report, shared by the terminal and HTML renderers: its head and rows of
/// plain-text cells (names with control characters shown), which each renderer lays out and
/// escapes its own way.
pub struct Table {
    pub head: &'static [&'static str],
    pub rows: Vec<Vec<String>>,
}

impl Table {
    fn write_aligned(&self, out: &mut String) {
        table(out, self.head, &self.rows);
    }
}

/// Decisions and reviewer workload per tier.
pub fn tiers(stats: &AuditStats) -> Table {
    Table {
        head: &[
            "tier",
            "decisions",
            "share",
            "approval requests",
            "approvals asked",
            "per day",
        ],
        rows: stats
            .tiers
            .iter()
            .map(|t| {
                vec![
                    t.tier.as_str().to_string(),
                    t.decisions.to_string(),
                    percent(t.share),
                    t.approval_requests.to_string(),
                    t.approvals_requested.to_string(),
                    format!("{:.1}", t.approvals_requested_per_day),
                ]
            })
            .collect(),
    }
}

/// Each approver's decisions, speed and flags.
pub fn approvers(stats: &AuditStats) -> Table {
    Table {
        head: &[
            "approver",
            "approved",
            "rejected",
            "approve rate",
            "median",
            "p90",
            "per day",
            "max/min",
            "flags",
        ],
        rows: stats
            .approvers
            .iter()
            .map(|a| {
                vec![
                    shown(&a.approver).into_owned(),
                    a.approvals.to_string(),
                    a.rejections.to_string(),
                    percent(a.approve_rate),
                    opt_duration(a.median_seconds_to_approve),
                    opt_duration(a.p90_seconds_to_approve),
                    format!("{:.1}", a.approvals_per_day),
                    a.most_in_a_minute.to_string(),
                    a.flags.iter().map(flag_text).collect::<Vec<_>>().join("; "),
                ]
            })
            .collect(),
    }
}

/// Each gate (policy that required approval) with its verdict.
pub fn gates(stats: &AuditStats) -> Table {
    Table {
        head: &[
            "policy",
            "requests",
            "approvals",
            "rejected",
            "rate",
            "median wait",
            "verdict",
        ],
        rows: stats
            .policies
            .iter()
            .map(|p| {
                vec![
                    shown(&p.policy).into_owned(),
                    p.approval_requests.to_string(),
                    p.approvals_requested.to_string(),
                    p.rejected.to_string(),
                    percent(p.rejection_rate),
                    opt_duration(p.median_wait_seconds),
                    verdict_text(p.verdict).to_string(),
                ]
            })
            .collect(),
    }
}

/// The pairs that gave dual approvals, and whether the second came too fast too often.
pub fn dual_pairs(stats: &AuditStats) -> Table {
    Table {
        head: &["pair", "dual requests", "second within the limit", "flag"],
        rows: stats
            .dual_pairs
            .iter()
            .map(|p| {
                let [a, b] = &p.approvers;
                vec![
                    format!("{} + {}", shown(a), shown(b)),
                    p.dual_requests.to_string(),
                    p.collapsed.to_string(),
                    if p.flagged {
                        "dual collapse: two people acting as one".into()
                    } else {
                        String::new()
                    },
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(4.6), "5 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(duration(2.0 * 86_400.0 + 3600.0), "2 d 1 h");
        assert_eq!(duration(600.0), "10 min");
        assert_eq!(duration(7200.0), "2 h");
    }
}
