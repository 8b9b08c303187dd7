//! A verification of approvals, for people.

use std::fmt::Write as _;

use tollgate_engine::approvals::{ApprovalDecision, Outcome, Verification};

use super::{shown, shown_display};

/// The outcome, then each approval record and whether it counted. `earlier_line` is the audit
/// log line that denied an otherwise allowed request, if one did.
pub fn text(v: &Verification, earlier_line: Option<usize>) -> String {
    let mut out = match (v.outcome, v.denied_by_log, v.missing) {
        (Outcome::Denied, Some(why), _) => format!(
            "denied (tier {}): {} (line {})\n",
            v.tier,
            why.as_str(),
            earlier_line.unwrap_or_default()
        ),
        (Outcome::Allowed, _, _) => format!("allowed (tier {})\n", v.tier),
        (Outcome::Pending, _, Some(n)) => {
            format!(
                "pending: {n} more approval{} needed (tier {})\n",
                if n == 1 { "" } else { "s" },
                v.tier
            )
        }
        (_, _, _) => format!("denied (tier {})\n", v.tier),
    };
    for r in &v.records {
        let mark = if r.counted() {
            "counted    "
        } else {
            "not counted"
        };
        let decision = match r.decision {
            ApprovalDecision::Approve => "approve",
            ApprovalDecision::Reject => "reject",
        };
        let _ = writeln!(
            out,
            "  {mark} {decision} {}: {}",
            shown_display(&r.approver),
            shown(&r.why())
        );
    }
    let _ = writeln!(out, "  request {}", v.request);
    out
}
