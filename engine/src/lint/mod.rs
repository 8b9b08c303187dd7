//! Static analysis of a policy pack (`tollgate lint`): one rule per file under `rules/`, listed in
//! [`RULES`], each with a fixture under `rules/fixtures/` that marks what it must find.
//!
//! Lint runs on packs that [`crate::Pack::load`] would refuse: a policy with an invalid `@tier`
//! is reported (`invalid-tier`) and left out of the other rules, and strict validation errors
//! are reported (`schema`) rather than stopping the analysis. Problems that leave nothing to
//! analyse (a file that does not parse, duplicate ids) stop it with [`LintError::Load`].
//!
//! ```
//! use tollgate_engine::lint::{lint, RuleId};
//! use tollgate_engine::{PackSource, SourceFile};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let source = PackSource {
//!     policies: vec![SourceFile::new("p.cedar", r#"@id("p") permit (principal, action, resource);"#)],
//!     schemas: vec![SourceFile::new("s.cedarschema", "entity A; action go appliesTo { principal: [A], resource: [A] };")],
//! };
//! let findings = lint(source, &[], "2026-06-01".parse()?)?;
//! assert_eq!(findings[0].rule, RuleId::MissingTier);
//! # Ok(()) }
//! ```

mod context;
mod expr;
mod finding;
mod lenient;
pub mod report;
mod scope;
pub(crate) mod text;
pub mod workflow;

mod rules;

pub use context::LintContext;
pub use finding::{Control, Finding, Location, Origin, Related, RuleId, Severity, Span};
pub use rules::{RULES, rule};
pub use workflow::{WorkflowError, WorkflowFile};

pub(crate) use rules::is_owned_exception;
pub(crate) use scope::is_approve;

use crate::pack::LoadError;
use crate::source::PackSource;
use crate::timestamp::CalendarDate;
use lenient::LenientPack;

/// A lint rule. Each lives in its own file with a doc comment (*What it does*, *Why is this
/// bad?*, *Example*) that is also its help text and SARIF `fullDescription`.
pub trait Rule: Sync {
    /// Stable id.
    fn id(&self) -> RuleId;
    /// Severity of its findings (a finding may be milder, e.g. Cedar's validation warnings).
    fn severity(&self) -> Severity;
    /// One line: what the rule finds.
    fn summary(&self) -> &'static str;
    /// The rule's documentation, as Markdown.
    fn explanation(&self) -> String;
    /// The framework controls the rule maps to.
    fn controls(&self) -> &'static [Control];
    /// Reports what the rule finds in the pack.
    fn check(&self, cx: &LintContext<'_>) -> Vec<Finding>;
}

/// Why lint could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum LintError {
    /// The pack has no schema: the expansion and approval rules read it.
    #[error(
        "lint needs the pack's schema: the expansion rules read `@privilege_expansion` and the approval rules read `@human` from it"
    )]
    #[diagnostic(help("pass --schema PATH (a .cedarschema file or a folder of them)"))]
    NoSchema,
    /// Nothing could be analysed (a file does not parse, duplicate ids, a broken schema).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Load(#[from] LoadError),
    /// A workflow cannot be decided (a step that does not fit the schema, bad entities).
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

/// Lints the pack made of `source`, with `workflows`, on day `today` (exceptions whose
/// `@review_by` is before it have expired; workflow steps without `at:` are decided at its
/// start, midnight UTC). Findings come sorted by file, position and rule.
pub fn lint(
    source: PackSource,
    workflows: &[WorkflowFile],
    today: CalendarDate,
) -> Result<Vec<Finding>, LintError> {
    if source.schemas.is_empty() {
        return Err(LintError::NoSchema);
    }
    let lenient = LenientPack::load(source)?;
    let cx = LintContext::new(&lenient, workflows, today)?;
    let mut findings: Vec<Finding> = RULES.iter().flat_map(|r| r.check(&cx)).collect();
    findings
        .sort_by(|a, b| (&a.location, a.rule, &a.message).cmp(&(&b.location, b.rule, &b.message)));
    findings.dedup();
    Ok(findings)
}

/// A rule's doc comment, with the space after each `///` removed.
fn clean_doc(lines: &[&str]) -> String {
    let mut out = lines
        .iter()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    out.truncate(out.trim_end().len());
    out
}

/// Declares a rule: its doc comment (help text), id, severity, summary and controls. The
/// rule's file supplies `fn run(&self, cx: &LintContext<'_>) -> Vec<Finding>`.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            id: $id:expr,
            severity: $severity:expr,
            summary: $summary:literal,
            controls: [$($control:expr),* $(,)?] $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;

        impl $crate::lint::Rule for $name {
            fn id(&self) -> $crate::lint::RuleId {
                $id
            }
            fn severity(&self) -> $crate::lint::Severity {
                $severity
            }
            fn summary(&self) -> &'static str {
                $summary
            }
            fn explanation(&self) -> String {
                $crate::lint::clean_doc(&[$($doc),*])
            }
            fn controls(&self) -> &'static [$crate::lint::Control] {
                &[$($control),*]
            }
            fn check(&self, cx: &$crate::lint::LintContext<'_>) -> Vec<$crate::lint::Finding> {
                self.run(cx)
            }
        }
    };
}
pub(crate) use declare_rule;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn rule_ids_are_unique_and_every_id_has_a_rule() {
        let ids: BTreeSet<RuleId> = RULES.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), RULES.len());
        let texts: BTreeSet<&str> = RULES.iter().map(|r| r.id().as_str()).collect();
        assert_eq!(texts.len(), RULES.len());
        assert_eq!(RULES.len(), 12);
    }

    #[test]
    fn every_rule_is_documented_the_ruff_way() {
        for r in RULES {
            let doc = r.explanation();
            for section in ["## What it does", "## Why is this bad?", "## Example"] {
                assert!(doc.contains(section), "{}: no `{section}`", r.id());
            }
            assert!(!doc.starts_with(' '), "{}", r.id());
            assert!(
                !r.summary().is_empty() && !r.controls().is_empty(),
                "{}",
                r.id()
            );
        }
    }

    #[test]
    fn no_schema_is_an_error_not_a_clean_pass() {
        let source = PackSource {
            policies: vec![crate::SourceFile::new(
                "p.cedar",
                "permit(principal, action, resource);",
            )],
            schemas: vec![],
        };
        let today = "2026-06-01".parse().unwrap();
        assert!(matches!(lint(source, &[], today), Err(LintError::NoSchema)));
    }
}
