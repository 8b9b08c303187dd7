//! `tollgate approvals`: a server's approvals and its answers, for people. Every field comes
//! from the server and is [`shown`].

use std::fmt::Write as _;

use serde_json::Value;

use super::shown;
use crate::client::{Approval, PostAnswer, RecordSeen};
use crate::commands::approvals::CallMatch;

/// `3725` seconds → `1h2m`: the two largest units, for a column.
pub fn age(seconds: Option<i64>) -> String {
    let Some(s) = seconds.filter(|s| *s >= 0) else {
        return "-".into();
    };
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m{}s", s % 60),
        (0, h, m) => format!("{h}h{m}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

/// An entity reference in the request's JSON (`{"type", "id"}` or `Type::"id"`), or `-`.
fn entity(request: &Value, field: &str) -> String {
    match request.get(field) {
        Some(Value::Object(o)) => {
            let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("?");
            shown(&format!("{}::{:?}", s("type"), s("id"))).into_owned()
        }
        Some(Value::String(s)) => shown(s).into_owned(),
        _ => "-".into(),
    }
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

/// One line per approval, under a header.
pub fn list(approvals: &[Approval]) -> String {
    let mut out = String::new();
    let row = |out: &mut String, cells: [&str; 8]| {
        let [id, state, tier, missing, principal, action, resource, age] = cells;
        let _ = writeln!(
            out,
            "{id:<36} {state:<9} {tier:<6} {missing:<7} {principal:<28} {action:<26} {resource:<28} {age}"
        );
    };
    row(
        &mut out,
        [
            "id",
            "state",
            "tier",
            "missing",
            "principal",
            "action",
            "resource",
            "age",
        ],
    );
    for a in approvals {
        row(
            &mut out,
            [
                &shown(&a.id),
                &shown(&a.state),
                &shown(&a.tier),
                &count(a.missing),
                &entity(&a.request, "principal"),
                &entity(&a.request, "action"),
                &entity(&a.request, "resource"),
                &age(a.age_seconds),
            ],
        );
    }
    if approvals.is_empty() {
        out.push_str("(no approvals)\n");
    }
    out
}

/// Where an approval stands: state, tier, approvals missing, age and expiry.
pub fn status(a: &Approval) -> String {
    let opt = |s: &Option<String>| {
        s.as_deref()
            .map_or_else(|| "-".into(), |s| shown(s).into_owned())
    };
    format!(
        "Approval {}: {}, tier {}, {} of {} approvals missing, waiting {} (created {}, expires {})",
        shown(&a.id),
        shown(&a.state),
        shown(&a.tier),
        count(a.missing),
        count(a.approvals_required),
        age(a.age_seconds),
        opt(&a.created_at),
        opt(&a.expires_at),
    )
}

/// The records the server has for an approval, one line each.
pub fn records(records: &[RecordSeen]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        out.push_str("Records: none yet\n");
        return out;
    }
    out.push_str("Records:\n");
    for r in records {
        let _ = write!(
            out,
            "  {} {} {} ({}): {}",
            r.issued_at.as_deref().map_or("-".into(), shown),
            r.approver.as_deref().map_or("-".into(), shown),
            r.decision.as_deref().map_or("-".into(), shown),
            if r.counted { "counted" } else { "not counted" },
            shown(&r.why),
        );
        if let Some(e) = &r.evidence {
            let _ = write!(out, "; evidence: {}", shown(e));
        }
        out.push('\n');
    }
    out
}

/// The tool call behind the request: server, tool, the arguments as pretty JSON (each line
/// escaped), and whether its digest, computed here, matches the request's `call_digest`.
pub fn call(check: &CallMatch) -> String {
    let mut out = String::new();
    let (call, verdict) = match check {
        CallMatch::Absent => return out,
        CallMatch::Matches(call) => (
            Some(call),
            format!(
                "  digest {}: matches request.context.call_digest",
                call.digest()
            ),
        ),
        CallMatch::Differs { call, why } => (
            call.as_ref(),
            format!(
                "  digest DOES NOT MATCH request.context.call_digest: {}; do not approve",
                shown(why)
            ),
        ),
    };
    match call {
        Some(c) => {
            let _ = writeln!(
                out,
                "Call: tool {} on server {}",
                shown(&c.tool),
                shown(&c.server)
            );
            out.push_str("  arguments:\n");
            let pretty = serde_json::to_string_pretty(&Value::Object(c.arguments.clone()))
                .unwrap_or_else(|e| format!("(not shown: {e})"));
            for line in pretty.lines() {
                let _ = writeln!(out, "    {}", shown(line));
            }
        }
        None => out.push_str("Call: (not a tool call)\n"),
    }
    let _ = writeln!(out, "{verdict}");
    out
}

/// The server's answer to a posted record.
pub fn answer(a: &PostAnswer) -> String {
    let verdict = if a.counted { "counted" } else { "NOT counted" };
    format!("{verdict}: {}\n{}\n", shown(&a.why), status(&a.approval))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn approval() -> Approval {
        serde_json::from_value(json!({
            "id": "apr_0123456789abcdef0123456789abcdef",
            "state": "pending",
            "tier": "single",
            "approvals_required": 1,
            "missing": 1,
            "request": {
                "principal": {"type": "Agent", "id": "bot\u{1b}[2J"},
                "action": {"type": "Action", "id": "deploy"},
                "resource": {"type": "Env", "id": "prod"},
                "context": {}
            },
            "request_hash": "sha256:00",
            "decision": {},
            "recommendation": null,
            "created_at": "2026-06-01T12:00:00Z",
            "expires_at": "2026-06-02T12:00:00Z",
            "age_seconds": 3725,
            "records": [{"approver": "Human::\"alice\"", "decision": "reject", "counted": false,
                         "why": "not in the keyring\nforged line", "evidence": null,
                         "issued_at": "2026-06-01T12:01:00Z"},
                        {"approver": null, "decision": null, "counted": false,
                         "why": "the stored line no longer reads as a record"}]
        }))
        .unwrap()
    }

    #[test]
    fn ages_show_their_two_largest_units() {
        assert_eq!(age(Some(42)), "42s");
        assert_eq!(age(Some(125)), "2m5s");
        assert_eq!(age(Some(3725)), "1h2m");
        assert_eq!(age(Some(90_000)), "1d1h");
        assert_eq!(age(Some(-1)), "-");
        assert_eq!(age(None), "-");
    }

    #[test]
    fn a_list_has_one_escaped_line_per_approval() {
        let text = list(&[approval()]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let row = lines[1];
        for cell in [
            "apr_0123456789abcdef0123456789abcdef",
            "pending",
            "single",
            "Agent::\"bot\\u{1b}[2J\"",
            "Action::\"deploy\"",
            "Env::\"prod\"",
            "1h2m",
        ] {
            assert!(row.contains(cell), "{cell} in {row}");
        }
        assert!(!text.contains('\u{1b}'));
        assert_eq!(list(&[]).lines().nth(1), Some("(no approvals)"));
    }

    #[test]
    fn records_and_answers_stay_one_line_each() {
        let a = approval();
        let text = records(&a.records);
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.contains("- - - (not counted): the stored line"),
            "{text}"
        );
        assert!(text.contains("not counted"), "{text}");
        assert!(text.contains("keyring\\nforged"), "{text}");
        let answer = answer(&PostAnswer {
            counted: false,
            why: "expired".into(),
            approval: a,
        });
        assert!(answer.starts_with("NOT counted: expired\n"), "{answer}");
        assert!(answer.contains("1 of 1 approvals missing"), "{answer}");
    }
}
