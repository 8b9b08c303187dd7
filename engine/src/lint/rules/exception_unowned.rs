use crate::PolicyInfo;
use crate::timestamp::CalendarDate;
use crate::{PolicyRole, Tier};

use crate::lint::scope::PolicyFacts;
use crate::lint::{Control, Finding, LintContext, RuleId, Severity, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports an exception that has no `@owner("team")` or no valid
    /// `@review_by("YYYY-MM-DD")`. An exception is:
    /// - a gate or forbid with an `unless` carve-out;
    /// - an `auto` permit on an action that also has gated (`single` or `dual`) permits;
    /// - a policy marked `@expansion_ok("why")`.
    ///
    /// A `@review_by` that is not a `YYYY-MM-DD` date is reported on any policy.
    ///
    /// ## Why is this bad?
    /// Exceptions are where human-in-the-loop controls erode: each one is reasonable when
    /// written, and nobody remembers why it is still there. An owner and a review date make
    /// someone answerable, and `exception-expired` makes CI fail once the date has passed.
    ///
    /// ## Example
    /// ```cedar
    /// @id("deploy-staging-auto") @tier("auto")
    /// permit (principal is Agent, action == Action::"deploy", resource is Environment)
    /// when { !resource.production };
    /// ```
    /// next to a `single` permit on `deploy`. Say who owns the exception and when it is
    /// reviewed:
    /// ```cedar
    /// @id("deploy-staging-auto") @tier("auto")
    /// @owner("platform-team") @review_by("2027-03-31")
    /// permit (principal is Agent, action == Action::"deploy", resource is Environment)
    /// when { !resource.production };
    /// ```
    pub struct ExceptionUnowned {
        id: RuleId::ExceptionUnowned,
        severity: Severity::Warning,
        summary: "An exception has no @owner or no @review_by",
        controls: [Control::MaestroGov2, Control::NistAiRmf],
    }
}

impl ExceptionUnowned {
    fn run(&self, cx: &LintContext<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (p, facts) in cx.policies() {
            let kinds = exception_kinds(cx, p, facts);
            let review = p.annotation(crate::AnnotationKey::ReviewBy);
            let bad_date = review.filter(|d| d.parse::<CalendarDate>().is_err());
            let mut missing = Vec::new();
            if !kinds.is_empty() {
                if p.annotation(crate::AnnotationKey::Owner)
                    .is_none_or(|o| o.trim().is_empty())
                {
                    missing.push("no `@owner`".to_string());
                }
                if review.is_none() {
                    missing.push("no `@review_by`".to_string());
                }
            }
            if let Some(d) = bad_date {
                missing.push(format!("`@review_by(\"{d}\")` is not a YYYY-MM-DD date"));
            }
            if missing.is_empty() {
                continue;
            }
            let text = cx.text_of(p);
            let span = if bad_date.is_some() {
                text.annotation("review_by")
            } else if p.annotation(crate::AnnotationKey::ExpansionOk).is_some() {
                text.annotation("expansion_ok")
            } else if facts.has_unless() && !matches!(p.role(), PolicyRole::Permit(_)) {
                text.condition_keyword("unless")
            } else {
                None
            }
            .unwrap_or_else(|| text.head());
            let what = if kinds.is_empty() {
                format!("policy `{}`", p.id())
            } else {
                format!("exception `{}` ({})", p.id(), kinds.join("; "))
            };
            out.push(
                Finding::new(
                    self,
                    cx.at(p.file(), span),
                    format!("{what} has {}", missing.join(" and ")),
                    "add `@owner(\"team\")` and `@review_by(\"YYYY-MM-DD\")`: the team answers for the exception and CI fails once the date passes",
                )
                .with_policies([p.id().clone()]),
            );
        }
        out
    }
}

/// Why `p` is an exception, if it is one.
fn exception_kinds(cx: &LintContext<'_>, p: &PolicyInfo, facts: &PolicyFacts) -> Vec<String> {
    let mut kinds = Vec::new();
    match p.role() {
        PolicyRole::Gate(t) if facts.has_unless() => {
            kinds.push(format!("a `{t}` gate with an `unless` carve-out"));
        }
        PolicyRole::Forbid if facts.has_unless() => {
            kinds.push("a forbid with an `unless` carve-out".into());
        }
        PolicyRole::Permit(Tier::Auto) => {
            // A permit shares an action with `p` exactly when it is among the policies on one
            // of `p`'s actions; the positions keep them in pack order, each once.
            let mut gated: Vec<(usize, &PolicyInfo)> = facts
                .actions
                .iter()
                .flat_map(|a| cx.policies_on(a))
                .filter(|(_, q, _)| {
                    matches!(q.role(), PolicyRole::Permit(Tier::Single | Tier::Dual))
                })
                .map(|(i, q, _)| (i, q))
                .collect();
            gated.sort_unstable_by_key(|(i, _)| *i);
            gated.dedup_by_key(|(i, _)| *i);
            let gated: Vec<String> = gated.iter().map(|(_, q)| format!("`{}`", q.id())).collect();
            if !gated.is_empty() {
                kinds.push(format!(
                    "an auto permit on actions that also have gated permits: {}",
                    gated.join(", ")
                ));
            }
        }
        _ => {}
    }
    if p.annotation(crate::AnnotationKey::ExpansionOk).is_some() {
        kinds.push("marked `@expansion_ok`".into());
    }
    kinds
}
