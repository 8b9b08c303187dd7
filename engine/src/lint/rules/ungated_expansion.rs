use crate::PolicyInfo;
use crate::{PolicyRole, Tier};

use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports an `auto` permit whose scope can match an action the schema marks
    /// `@privilege_expansion`, itself or through a group it is in (by `action == ...`,
    /// `action in` a group containing it, or an unconstrained `action`), where no gate or forbid covers it: a gate or forbid covers it
    /// when its scope contains the permit's and each of its conditions is also one of the
    /// permit's. An owned exception — `@expansion_ok("why")` with `@owner` and `@review_by` —
    /// is accepted.
    ///
    /// The analysis is scope-level, an over-approximation: conditions are not solved, so the
    /// permit *may* match the expansion.
    ///
    /// ## Why is this bad?
    /// Adding a token scope, extending a session, creating a non-human identity, granting
    /// access or delegating grows what the agent can do next. With an `auto` permit, no human
    /// sees that growth before it happens.
    ///
    /// ## Example
    /// ```cedar
    /// @id("token-scope-auto") @tier("auto")
    /// permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
    /// ```
    /// Use `@tier("single")` (or `"dual"`), or, for a bounded routine case, an owned exception:
    /// ```cedar
    /// @id("session-extend-short-auto") @tier("auto")
    /// @expansion_ok("short non-production extensions are routine")
    /// @owner("iam-platform") @review_by("2027-06-30")
    /// permit (principal is Agent, action == Action::"extend_session", resource is Session)
    /// when { context has session_minutes && context.session_minutes <= 15 };
    /// ```
    pub struct UngatedExpansion {
        id: RuleId::UngatedExpansion,
        severity: Severity::Error,
        summary: "An auto permit may allow a privilege-expanding action with no human",
        controls: [Control::OwaspAgenticA01, Control::MaestroGov2],
    }
}

impl UngatedExpansion {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (p, facts) in cx.policies() {
            if p.role() != PolicyRole::Permit(Tier::Auto) || is_owned_exception(p) {
                continue;
            }
            let uncovered: Vec<String> = facts
                .actions
                .iter()
                .filter(|a| cx.schema().is_expansion_uid(a))
                // A gate or forbid that covers `a` matches it, so it is among the policies on
                // `a`: only those are searched, and each of them matches `a` already.
                .filter(|a| {
                    !cx.policies_on(a).any(|(_, g, g_facts)| {
                        !matches!(g.role(), PolicyRole::Permit(_)) && g_facts.covers(facts)
                    })
                })
                .map(|a| {
                    let why = cx
                        .schema()
                        .expansion_actions()
                        .get(&a.to_string())
                        .cloned()
                        .unwrap_or_default();
                    format!("`{a}` ({why})")
                })
                .collect();
            if uncovered.is_empty() {
                continue;
            }
            let owned_hint = if p.annotation(crate::AnnotationKey::ExpansionOk).is_some() {
                " — its `@expansion_ok` needs `@owner` and `@review_by` to count as an owned exception"
            } else {
                ""
            };
            out.push(
                Finding::new(
                    self,
                    cx.head_of(p),
                    format!(
                        "auto permit `{}` may allow privilege-expanding action{} {} with no human: no gate or forbid covers it (scope-level analysis){owned_hint}",
                        p.id(),
                        if uncovered.len() == 1 { "" } else { "s" },
                        uncovered.join(", "),
                    ),
                    "make the permit `single` or `dual`, add a gate (`@tier(\"single\") forbid`) covering it, or, for a bounded routine case, mark it `@expansion_ok(\"why\")` with `@owner` and `@review_by`",
                )
                .with_policies([p.id().clone()]),
            );
        }
        out
    }
}

/// `@expansion_ok` with an owner and a review date.
pub(crate) fn is_owned_exception(p: &PolicyInfo) -> bool {
    p.annotation(crate::AnnotationKey::ExpansionOk).is_some()
        && p.annotation(crate::AnnotationKey::Owner)
            .is_some_and(|o| !o.trim().is_empty())
        && p.annotation(crate::AnnotationKey::ReviewBy)
            .is_some_and(|d| d.parse::<crate::CalendarDate>().is_ok())
}
