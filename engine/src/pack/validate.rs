//! Strict validation against the schema: every policy, Cedar's validator, Cedar's messages,
//! each pointed back into its file. A pack with any error does not load.
//!
//! Validating every policy in full is the reference path; `accel::validation` only narrows
//! which policies reach it, and `tests/validation_differential.rs` holds the two equal.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, PoisonError};

use cedar_policy::{Policy, PolicySet, ValidationMode, Validator};
use miette::LabeledSpan;

use super::load::file_of;
use crate::accel;
use crate::canonical::Sha256Digest;
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

/// Policies already found valid, with no warning, against one schema: a reload re-validates only
/// the policies whose text changed, and a changed schema re-validates everything.
///
/// Strict validation of a policy depends only on the policy and the schema (not on its id, its
/// file or the other policies), so a policy with the same text under the same schema is valid
/// again. Only that is remembered: a policy with an error or a warning is validated again on
/// every load, so its messages are Cedar's, pointing into the current files. The cache is exact
/// and lives as long as its owner (`tollgate serve` keeps one for its reloads).
#[derive(Debug, Default)]
pub struct ValidationCache {
    inner: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The digest of the schema files the entries were validated against.
    schema: Option<Sha256Digest>,
    /// The texts of policies valid under that schema, with no warning.
    clean: HashSet<String>,
    /// How many policies the last load through the cache validated.
    last_validated: usize,
}

impl ValidationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many policies the last load through this cache validated (the others were known
    /// valid): for tests and logs.
    pub fn last_validated(&self) -> usize {
        self.state().last_validated
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A panic elsewhere while holding the lock leaves a consistent set (entries are only
        // ever added whole), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The cache's key for a policy: its text (Cedar's, which is the source text for a parsed
/// policy), identical exactly when the policy is.
fn cache_key(policy: &Policy) -> String {
    policy.to_string()
}

/// [`validate`] through `cache` for the schema whose files digest to `schema_digest`: policies
/// the cache knows valid are skipped, and policies found valid with no warning are added.
pub(super) fn validate_cached(
    schema: &PackSchema,
    schema_digest: Sha256Digest,
    policies: &[&Policy],
    locator: &Locator,
    cache: &ValidationCache,
) -> (Vec<ValidationIssue>, Vec<ValidationIssue>) {
    let keys: Vec<String> = policies.iter().map(|p| cache_key(p)).collect();
    let unknown: Vec<(&Policy, &String)> = {
        let mut state = cache.state();
        if state.schema != Some(schema_digest) {
            state.schema = Some(schema_digest);
            state.clean.clear();
        }
        policies
            .iter()
            .zip(&keys)
            .filter(|(_, key)| !state.clean.contains(*key))
            .map(|(p, key)| (*p, key))
            .collect()
    };
    let to_validate: Vec<&Policy> = unknown.iter().map(|(p, _)| *p).collect();
    let (errors, warnings) = validate(schema, &to_validate, locator);
    let mut state = cache.state();
    state.last_validated = to_validate.len();
    // Only a run where every issue names a policy can tell which policies were clean.
    let named: Option<HashSet<&str>> = errors
        .iter()
        .chain(&warnings)
        .map(|i| i.policy.as_ref().map(PolicyId::as_str))
        .collect();
    if let Some(named) = named
        && state.schema == Some(schema_digest)
    {
        for (policy, key) in unknown {
            let id: &str = policy.id().as_ref();
            if !named.contains(id) {
                state.clean.insert(key.clone());
            }
        }
    }
    (errors, warnings)
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
