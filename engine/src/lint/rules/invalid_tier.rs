use crate::lint::text::PolicyText;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a `@tier` value or combination outside the tier table: a value other than
    /// `auto`, `single` or `dual`, `@tier("deny")` on a permit or a forbid, or `@tier("auto")`
    /// on a forbid.
    ///
    /// ## Why is this bad?
    /// A mistyped tier must not silently become `auto` and take a human out of the loop, so
    /// `tollgate decide` refuses to load such a pack at all. Lint reports every one of them at
    /// once, with the rest of the analysis.
    ///
    /// ## Example
    /// ```cedar
    /// @id("deploy") @tier("dual-control")
    /// permit (principal is Agent, action == Action::"deploy", resource);
    /// ```
    /// Valid: `@tier("auto"|"single"|"dual") permit`, `@tier("single"|"dual") forbid` (a gate),
    /// or `forbid` without `@tier`.
    pub struct InvalidTier {
        id: RuleId::InvalidTier,
        severity: Severity::Error,
        summary: "A @tier is outside the tier table; the pack does not load",
        controls: [Control::MaestroGov2],
    }
}

impl InvalidTier {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        cx.rejected()
            .iter()
            .map(|r| {
                let text = PolicyText::new(cx.file_text(&r.file), r.offset, r.len);
                let span = text.annotation("tier").unwrap_or_else(|| text.head());
                Finding::new(
                    self,
                    cx.at(&r.file, span),
                    format!("{} `{}`: {}", r.effect, r.id, r.error),
                    crate::pack::INVALID_TIER_HELP,
                )
                .with_policies([r.id.clone()])
            })
            .collect()
    }
}
