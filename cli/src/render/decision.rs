//! One decision, for people.

use std::fmt::Write as _;

use tollgate_engine::{Decision, Tier};

use super::shown;

/// One line with the tier, then why. Every field from the pack or the request is [`shown`].
pub fn text(d: &Decision) -> String {
    let mut out = String::new();
    let headline = match d.tier {
        Tier::Auto => "auto: allowed with no human approval",
        Tier::Single => "single: allowed once 1 human approves",
        Tier::Dual => "dual: allowed once 2 distinct humans approve",
        Tier::Deny => "deny: not allowed",
    };
    let _ = writeln!(out, "{headline}");
    if d.determining.is_empty() && d.tier == Tier::Deny {
        let _ = writeln!(out, "  no permit matches this request");
    }
    for p in &d.determining {
        let role = match (p.effect.as_str(), p.tier) {
            ("permit", t) => format!("permit ({t})"),
            (_, Tier::Deny) => "forbid".to_string(),
            (_, t) => format!("gate ({t})"),
        };
        let _ = write!(
            out,
            "  {role} {} at {}",
            shown(p.id.as_str()),
            shown(&p.source)
        );
        if let Some(reason) = &p.reason {
            let _ = write!(out, ": {}", shown(reason));
        }
        if !p.controls.is_empty() {
            let _ = write!(out, " [{}]", shown(&p.controls.join(", ")));
        }
        out.push('\n');
    }
    for e in &d.errors {
        let _ = writeln!(
            out,
            "  error in {}: {} (counted fail-closed)",
            shown(&e.policy),
            shown(&e.message)
        );
    }
    let _ = writeln!(
        out,
        "  request {}\n  policy set {}",
        d.request, d.policy_set
    );
    out
}
