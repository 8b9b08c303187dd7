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
    let rows: Vec<Vec<String>> = stats
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
        .collect();
    table(
        &mut out,
        &[
            "tier",
            "decisions",
            "share",
            "approval requests",
            "approvals asked",
            "per day",
        ],
        &rows,
    );

    let _ = writeln!(out, "\nApprovers");
    let rows: Vec<Vec<String>> = stats
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
        .collect();
    table(
        &mut out,
        &[
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
        &rows,
    );

    let _ = writeln!(out, "\nGates (policies that required approval)");
    let rows: Vec<Vec<String>> = stats
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
        .collect();
    table(
        &mut out,
        &[
            "policy",
            "requests",
            "approvals",
            "rejected",
            "rate",
            "median wait",
            "verdict",
        ],
        &rows,
    );

    if !stats.dual_pairs.is_empty() {
        let _ = writeln!(
            out,
            "\nDual control (the two first approvals of each dual request)"
        );
        let rows: Vec<Vec<String>> = stats
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
            .collect();
        table(
            &mut out,
            &["pair", "dual requests", "second within the limit", "flag"],
            &rows,
        );
    }
    out
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
