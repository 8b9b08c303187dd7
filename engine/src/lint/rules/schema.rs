use crate::lint::finding::Related;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Runs Cedar's strict validation of every policy against the schema and reports each
    /// result with Cedar's message and span: errors (unknown attributes, wrong types, actions
    /// that do not apply to the principal or resource) at error severity, Cedar's warnings
    /// (for example a policy that can never be satisfied) at warning severity.
    ///
    /// ## Why is this bad?
    /// A policy that does not validate either never matches what its author meant or errors at
    /// run time, where fail-closed turns it into something else (a permit grants nothing, a
    /// forbid denies). `tollgate decide` refuses to load such a pack; lint reports every problem
    /// with the rest of the analysis.
    ///
    /// ## Example
    /// ```cedar
    /// @id("gate-prod") @tier("dual")
    /// forbid (principal, action == Action::"deploy", resource is Environment)
    /// when { resource.prod };   // the attribute is `production`
    /// ```
    pub struct SchemaValidation {
        id: RuleId::Schema,
        severity: Severity::Error,
        summary: "A policy does not validate strictly against the schema",
        controls: [Control::NistAiRmf],
    }
}

impl SchemaValidation {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        cx.validation()
            .map(|issue| {
                let mut spans = issue.spans.iter();
                let first = spans.next().copied().unwrap_or((0, 0));
                let related = spans.map(|&s| Related {
                    location: cx.at(&issue.file, s),
                    message: "also here".into(),
                });
                let mut f = Finding::new(
                    self,
                    cx.at(&issue.file, first),
                    // Cedar's message names the policy already.
                    issue.message.clone(),
                    issue.help.clone().unwrap_or_else(|| {
                        "fix the policy so that it validates against the schema (types, attributes, actions' appliesTo)".into()
                    }),
                )
                .with_policies(issue.policy.clone())
                .with_related(related);
                if issue.warning {
                    f = f.with_severity(Severity::Warning);
                }
                f
            })
            .collect()
    }
}
