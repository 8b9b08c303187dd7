use crate::timestamp::CalendarDate;

use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a policy whose `@review_by("YYYY-MM-DD")` date is before the day lint runs
    /// (`--today`, by default the current date).
    ///
    /// ## Why is this bad?
    /// The review date is when the exception's owner promised to look at it again. Past that
    /// date, the exception is drift: still granting, with nobody having confirmed it is needed.
    /// Failing CI forces the review: renew the date after reviewing, or remove the exception.
    ///
    /// ## Example
    /// ```cedar
    /// @id("session-extend-short-auto") @tier("auto")
    /// @expansion_ok("short non-production extensions are routine")
    /// @owner("iam-platform") @review_by("2025-01-31")
    /// permit (principal is Agent, action == Action::"extend_session", resource is Session)
    /// when { context has session_minutes && context.session_minutes <= 15 };
    /// ```
    /// linted on 2026-06-01: the review is four months overdue.
    pub struct ExceptionExpired {
        id: RuleId::ExceptionExpired,
        severity: Severity::Error,
        summary: "An exception is past its @review_by date",
        controls: [Control::MaestroGov2, Control::NistAiRmf],
    }
}

impl ExceptionExpired {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let today = cx.today();
        cx.policies()
            .filter_map(|(p, _)| {
                let date = p
                    .annotation(crate::AnnotationKey::ReviewBy)?
                    .parse::<CalendarDate>()
                    .ok()?;
                (date < today).then_some((p, date))
            })
            .map(|(p, date)| {
                let text = cx.text_of(p);
                let owner = p
                    .annotation(crate::AnnotationKey::Owner)
                    .map_or(String::new(), |o| format!(" (owner: {o})"));
                Finding::new(
                    self,
                    cx.at(
                        p.file(),
                        text.annotation("review_by").unwrap_or_else(|| text.head()),
                    ),
                    format!(
                        "exception `{}` was due for review on {date}{owner}; today is {today}",
                        p.id()
                    ),
                    "review the exception: renew `@review_by` if it is still needed, or remove it",
                )
                .with_policies([p.id().clone()])
            })
            .collect()
    }
}
