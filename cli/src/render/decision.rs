//! One decision, for people: a decision the engine just made, or one a server sent as JSON.

use std::fmt::Write as _;

use serde::Deserialize;
use tollgate_engine::{Decision, Tier};

use super::shown;

/// What the text of a decision shows, read from a [`Decision`] or from the decision JSON a
/// server sends (`tollgate decide --format json`'s shape), so both render through one function.
/// Read from JSON, every field is as the sender wrote it: each is [`shown`] when rendered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DecisionView {
    /// The tier.
    pub tier: Tier,
    /// The policies that set it.
    #[serde(default)]
    pub determining: Vec<PolicyView>,
    /// Policies that failed to evaluate.
    #[serde(default)]
    pub errors: Vec<ErrorView>,
    /// The request hash, as written.
    pub request: String,
    /// The policy-set hash, as written.
    pub policy_set: String,
}

/// A determining policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PolicyView {
    pub id: String,
    pub effect: String,
    pub tier: Tier,
    #[serde(default)]
    pub reason: Option<String>,
    pub source: String,
    #[serde(default)]
    pub controls: Vec<String>,
}

/// A policy that failed to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorView {
    pub policy: String,
    pub message: String,
}

impl From<&Decision> for DecisionView {
    fn from(d: &Decision) -> Self {
        Self {
            tier: d.tier,
            determining: d
                .determining
                .iter()
                .map(|p| PolicyView {
                    id: p.id.as_str().to_string(),
                    effect: p.effect.as_str().to_string(),
                    tier: p.tier,
                    reason: p.reason.clone(),
                    source: p.source.clone(),
                    controls: p.controls.clone(),
                })
                .collect(),
            errors: d
                .errors
                .iter()
                .map(|e| ErrorView {
                    policy: e.policy.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            request: d.request.to_string(),
            policy_set: d.policy_set.to_string(),
        }
    }
}

/// One line with the tier, then why. Every field from the pack or the request is [`shown`].
pub fn text(d: &Decision) -> String {
    view_text(&DecisionView::from(d))
}

/// [`text`] of a decision read as a [`DecisionView`].
pub fn view_text(d: &DecisionView) -> String {
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
        let _ = write!(out, "  {role} {} at {}", shown(&p.id), shown(&p.source));
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
        shown(&d.request),
        shown(&d.policy_set)
    );
    out
}
