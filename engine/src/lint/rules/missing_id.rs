use crate::PolicyId;

use crate::lint::text::PolicyText;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a policy without an `@id("...")` annotation.
    ///
    /// ## Why is this bad?
    /// Without `@id`, a policy is named `<file>:<N>`: its position. Decisions, approvals and
    /// audit records name the policies that determined them, so inserting a policy above it or
    /// moving it to another file silently changes what old records refer to.
    ///
    /// ## Example
    /// ```cedar
    /// @tier("single")
    /// permit (principal is Agent, action == Action::"deploy", resource);
    /// ```
    /// Give it a stable name:
    /// ```cedar
    /// @id("deploy-single") @tier("single")
    /// permit (principal is Agent, action == Action::"deploy", resource);
    /// ```
    pub struct MissingId {
        id: RuleId::MissingId,
        severity: Severity::Warning,
        summary: "A policy has no @id and is named by its position",
        controls: [Control::NistAiRmf],
    }
}

impl MissingId {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let valid = cx.policies().map(|(p, _)| {
            (
                p.id().clone(),
                p.file(),
                p.span(),
                p.annotation(crate::AnnotationKey::Id).is_none(),
            )
        });
        let rejected = cx.rejected().iter().map(|r| {
            (
                r.id.clone(),
                r.file.as_str(),
                (r.offset, r.len),
                !r.annotations.contains_key("id"),
            )
        });
        valid
            .chain(rejected)
            .filter(|(_, _, _, missing)| *missing)
            .map(|(id, file, (offset, len), _)| {
                let text = PolicyText::new(cx.file_text(file), offset, len);
                self.finding(cx.at(file, text.head()), id)
            })
            .collect()
    }

    fn finding(&self, location: crate::lint::Location, id: PolicyId) -> Finding {
        Finding::new(
            self,
            location,
            format!("policy has no `@id`: it is named `{id}` after its position, which changes when policies move"),
            "add `@id(\"a-stable-name\")`: decisions and audit records name policies by id",
        )
        .with_policies([id])
    }
}
