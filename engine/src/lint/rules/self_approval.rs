use std::collections::BTreeSet;

use crate::{PolicyRole, Tier};

use crate::lint::scope::{ActionScope, is_approve};
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a permit that lets a principal whose type is not `@human` approve:
    /// - a permit on `Action::"approve"` that a non-human principal type can satisfy, per the
    ///   schema's `appliesTo` for `approve` and the policy's principal scope;
    /// - an `auto` permit with an unconstrained action scope, or with an action group that
    ///   contains `approve`, whose principal can be non-human.
    ///
    /// ## Why is this bad?
    /// Approval eligibility is itself a policy decision (`principal = approver, action =
    /// approve`). If an agent can be eligible, it can approve its own requests, or another
    /// agent's, and the human in the loop is gone. A blanket `auto` permit over every action
    /// also covers `approve` (and any action added to the schema later).
    ///
    /// ## Example
    /// ```cedar
    /// @id("ops-bots-anything") @tier("auto")
    /// permit (principal in Group::"ops", action, resource);
    /// ```
    /// `Group::"ops"` can contain agents, and `action` is unconstrained. Name the actions:
    /// ```cedar
    /// @id("ops-bots-read") @tier("auto")
    /// permit (principal in Group::"ops", action in Action::"read_only", resource);
    /// ```
    pub struct SelfApproval {
        id: RuleId::SelfApproval,
        severity: Severity::Error,
        summary: "A non-human principal may satisfy an approval permit",
        controls: [Control::OwaspAgenticA01, Control::MaestroGov2],
    }
}

impl SelfApproval {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (p, facts) in cx.policies() {
            let PolicyRole::Permit(tier) = p.role() else {
                continue;
            };
            let non_human: BTreeSet<&String> = facts
                .principal_types
                .iter()
                .filter(|t| !cx.schema().is_human_type(t))
                .collect();
            let approve = facts.actions.iter().find(|a| is_approve(a));
            let show = |types: &BTreeSet<&String>| {
                types
                    .iter()
                    .map(|t| format!("`{t}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let message = if let Some(approve) = approve
                && !approver_types(cx, facts, approve).is_empty()
            {
                let types = approver_types(cx, facts, approve);
                Some(format!(
                    "permit `{}` lets non-human principals ({}) satisfy {approve}: an agent could approve requests",
                    p.id(),
                    show(&types.iter().collect())
                ))
            } else if tier == Tier::Auto && !non_human.is_empty() {
                match &facts.action {
                    ActionScope::Any => Some(format!(
                        "auto permit `{}` has an unconstrained action scope and its principal can be non-human ({}): it grants every action the schema allows that principal, with no human, and `approve` too should the schema ever let it approve",
                        p.id(),
                        show(&non_human)
                    )),
                    ActionScope::In(groups) if approve.is_some() => Some(format!(
                        "auto permit `{}` uses an action group ({}) that contains `approve`, and its principal can be non-human ({})",
                        p.id(),
                        groups
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        show(&non_human)
                    )),
                    _ => None,
                }
            } else {
                None
            };
            if let Some(message) = message {
                out.push(
                    Finding::new(
                        self,
                        cx.head_of(p),
                        message,
                        "restrict the principal to `@human` types (`principal is Human` or a group of humans) and name the actions the permit grants",
                    )
                    .with_policies([p.id().clone()]),
                );
            }
        }
        out
    }
}

/// Non-human types that can be the principal of `approve` under this policy's scope.
fn approver_types(
    cx: &LintContext<'_>,
    facts: &crate::lint::scope::PolicyFacts,
    approve: &cedar_policy::EntityUid,
) -> BTreeSet<String> {
    let applies: BTreeSet<String> = cx
        .schema()
        .cedar()
        .principals_for_action(approve)
        .map(|it| it.map(ToString::to_string).collect())
        .unwrap_or_default();
    facts
        .principal_types
        .iter()
        .filter(|t| applies.contains(*t) && !cx.schema().is_human_type(t))
        .cloned()
        .collect()
}
