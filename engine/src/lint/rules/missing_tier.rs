use crate::Effect;

use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a `permit` without a `@tier` annotation.
    ///
    /// ## Why is this bad?
    /// tollgate treats such a permit as `single` (one human approves), the safe default, but
    /// the reader cannot tell whether that was meant or whether `auto` or `dual` was forgotten.
    /// Reviews of human-in-the-loop controls should not depend on knowing a default.
    ///
    /// ## Example
    /// ```cedar
    /// @id("rotate-secret")
    /// permit (principal is Agent, action == Action::"rotate_secret", resource is Secret);
    /// ```
    /// Say what is meant:
    /// ```cedar
    /// @id("rotate-secret") @tier("single")
    /// permit (principal is Agent, action == Action::"rotate_secret", resource is Secret);
    /// ```
    pub struct MissingTier {
        id: RuleId::MissingTier,
        severity: Severity::Warning,
        summary: "A permit has no @tier and is treated as single",
        controls: [Control::MaestroGov2],
    }
}

impl MissingTier {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        cx.policies()
            .filter(|(p, _)| p.effect() == Effect::Permit && p.annotation(crate::AnnotationKey::Tier).is_none())
            .map(|(p, _)| {
                Finding::new(
                    self,
                    cx.head_of(p),
                    format!(
                        "permit `{}` has no `@tier`: it is treated as `single` (one human approves)",
                        p.id()
                    ),
                    "add `@tier(\"auto\")`, `@tier(\"single\")` or `@tier(\"dual\")` to say how many approvals it needs",
                )
                .with_policies([p.id().clone()])
            })
            .collect()
    }
}
