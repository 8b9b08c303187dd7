//! Strict validation against the schema: every policy, Cedar's validator, Cedar's messages,
//! each pointed back into its file. A pack with any error does not load.
//!
//! Validating every policy in full is the reference path; `accel::validation` only narrows
//! which policies reach it, and `tests/validation_differential.rs` holds the two equal.

use std::collections::HashMap;
use std::fmt;

use cedar_policy::{Policy, PolicySet, ValidationMode, Validator};
use miette::LabeledSpan;

use super::load::file_of;
use crate::accel;
use crate::model::policy::{PolicyId, PolicyInfo, RejectedPolicy};
use crate::schema::PackSchema;
use crate::source::{DiagnosticCode, PackSource, SourceDiagnostic};

/// Where each policy id lives, for pointing Cedar's validation results back into the files.
pub(super) struct Locator(HashMap<String, (String, (usize, usize))>);

impl Locator {
    pub(super) fn new(policies: &[PolicyInfo], rejected: &[RejectedPolicy]) -> Self {
        let mut map = HashMap::new();
        for p in policies {
            map.insert(p.id().to_string(), (p.file().to_string(), p.span()));
        }
        for r in rejected {
            map.insert(r.id.to_string(), (r.file.clone(), (r.offset, r.len)));
        }
        Self(map)
    }
}

/// One result of Cedar's strict validation, located in its file.
#[derive(Debug, Clone)]
pub(crate) struct ValidationIssue {
    /// The policy concerned (`None` if Cedar named a policy tollgate does not know).
    pub(crate) policy: Option<PolicyId>,
    /// The policy's file.
    pub(crate) file: String,
    /// Byte spans in the file: Cedar's labels, or the whole policy when Cedar gives none.
    pub(crate) spans: Vec<(usize, usize)>,
    /// Cedar's message.
    pub(crate) message: String,
    /// Cedar's help, if any.
    pub(crate) help: Option<String>,
    /// A Cedar validation warning rather than an error.
    pub(crate) warning: bool,
}

impl ValidationIssue {
    pub(super) fn new<E: miette::Diagnostic + fmt::Display>(
        locator: &Locator,
        policy_id: &cedar_policy::PolicyId,
        e: &E,
        warning: bool,
    ) -> Self {
        let id: &str = policy_id.as_ref();
        let labels: Vec<(usize, usize)> = e
            .labels()
            .map(|l| l.map(|l| (l.offset(), l.len())).collect())
            .unwrap_or_default();
        let (policy, file, spans) = match locator.0.get(id) {
            Some((file, span)) => (
                Some(PolicyId::new(id)),
                file.clone(),
                if labels.is_empty() {
                    vec![*span]
                } else {
                    labels
                },
            ),
            None => (None, "<pack>".to_string(), vec![(0, 0)]),
        };
        Self {
            policy,
            file,
            spans,
            message: e.to_string(),
            help: e.help().map(|h| h.to_string()),
            warning,
        }
    }

    /// The problem as `Pack::load` reports it.
    pub(super) fn to_diagnostic(&self, source: &PackSource) -> SourceDiagnostic {
        let file = file_of(source, &self.file);
        let first = self.spans.first().copied().unwrap_or((0, 0));
        let mut d = SourceDiagnostic::new(
            DiagnosticCode::Validation,
            &file,
            first.into(),
            match &self.policy {
                Some(id) => format!(
                    "policy `{id}` does not validate against the schema: {}",
                    self.message
                ),
                None => self.message.clone(),
            },
        );
        let labels = self
            .spans
            .iter()
            .map(|&s| LabeledSpan::new_with_span(None, s))
            .collect();
        d = d.with_labels(labels, &file.text);
        if let Some(id) = &self.policy {
            d = d.with_policy(id.to_string());
        }
        if let Some(help) = &self.help {
            d = d.with_help(help.clone());
        }
        d
    }
}

/// Strict validation of `policies` (unique ids) against `schema`: their errors and warnings,
/// exactly as Cedar's validator gives them over the whole set.
pub(super) fn validate(
    schema: &PackSchema,
    policies: &[&Policy],
    locator: &Locator,
) -> (Vec<ValidationIssue>, Vec<ValidationIssue>) {
    // Policies the scoped run clears need no full run (see `accel::validation`).
    let suspects = accel::validation::suspects(schema, policies);
    let mut full = PolicySet::new();
    let mut errors = Vec::new();
    for p in policies {
        if suspects.as_ref().is_some_and(|s| !s.contains(p.id())) {
            continue;
        }
        // Ids are unique, so adding cannot fail; if it did, the policy is reported, not skipped.
        if let Err(e) = full.add((*p).clone()) {
            errors.push(ValidationIssue::new(locator, p.id(), &e, false));
        }
    }
    if full.is_empty() {
        return (errors, Vec::new());
    }
    let result = Validator::new(schema.schema.clone()).validate(&full, ValidationMode::Strict);
    errors.extend(
        result
            .validation_errors()
            .map(|e| ValidationIssue::new(locator, e.policy_id(), e, false)),
    );
    let warnings = result
        .validation_warnings()
        .map(|w| ValidationIssue::new(locator, w.policy_id(), w, true))
        .collect();
    (errors, warnings)
}
