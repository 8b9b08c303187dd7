use serde_json::Value;

use crate::{PolicyRole, Tier};

use crate::lint::expr::{all_nodes, any, has_attr, is_context_attr, node, var};
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports an `auto` permit whose conditions rely on `context.delegation` but never
    /// compare `context.delegation.expires_at` (with `<`, `<=`, `>` or `>=`).
    ///
    /// ## Why is this bad?
    /// Delegated authority is granted for one task and a bounded time. A permit that accepts
    /// any delegation, however old, turns a one-off hand-over into standing privilege: the
    /// agent keeps acting on a human's authority long after the task is done.
    ///
    /// ## Example
    /// ```cedar
    /// @id("delegated-rotate-auto") @tier("auto")
    /// permit (principal is Agent, action == Action::"rotate_secret", resource)
    /// when { context has delegation };
    /// ```
    /// Check the expiry against tollgate's clock:
    /// ```cedar
    /// when { context has delegation && context.delegation.expires_at > context.now }
    /// ```
    pub struct StandingDelegation {
        id: RuleId::StandingDelegation,
        severity: Severity::Warning,
        summary: "An auto permit relies on delegation without checking that it has expired",
        controls: [Control::OwaspAgenticA01, Control::MaestroGov2],
    }
}

impl StandingDelegation {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (p, facts) in cx.policies() {
            if p.role() != PolicyRole::Permit(Tier::Auto) {
                continue;
            }
            let nodes = all_nodes(&facts.conditions);
            let relies = nodes.iter().any(|e| mentions_delegation(e));
            let checks_expiry = nodes.iter().any(|e| compares_expiry(e));
            if relies && !checks_expiry {
                let text = cx.text_of(p);
                let span = text.in_body("delegation").unwrap_or_else(|| text.head());
                out.push(
                    Finding::new(
                        self,
                        cx.at(p.file(), span),
                        format!(
                            "auto permit `{}` relies on `context.delegation` but never checks `context.delegation.expires_at`: an expired delegation still grants it",
                            p.id()
                        ),
                        "add `context.delegation.expires_at > context.now` to the permit's conditions",
                    )
                    .with_policies([p.id().clone()]),
                );
            }
        }
        out
    }
}

/// `context.delegation…` or `context has delegation…`.
fn mentions_delegation(e: &Value) -> bool {
    is_context_attr(e, "delegation")
        || has_attr(e).is_some_and(|(left, path)| {
            var(left) == Some("context") && path.first() == Some(&"delegation")
        })
}

/// An ordering comparison with `context.delegation.expires_at` on one side.
fn compares_expiry(e: &Value) -> bool {
    let Some(("<" | "<=" | ">" | ">=", Value::Object(o))) = node(e) else {
        return false;
    };
    let is_expiry = |e: &Value| {
        crate::lint::expr::get_attr(e)
            .is_some_and(|(left, attr)| attr == "expires_at" && is_context_attr(left, "delegation"))
    };
    ["left", "right"]
        .iter()
        .filter_map(|k| o.get(*k))
        .any(|side| any(side, &is_expiry))
}
