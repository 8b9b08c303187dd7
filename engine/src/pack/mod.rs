//! A loaded policy pack and everything done with it: loading (parse, ids, positions, the
//! action index), strict validation, the pack hash, and deciding.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use cedar_policy::{Policy, PolicySet};

use crate::accel::index::{ActionIndex, Candidates};
use crate::accel::parallel;
use crate::canonical::Sha256Digest;
use crate::model::decision::DeterminingPolicy;
use crate::model::policy::{PolicyInfo, RejectedPolicy};
use crate::schema::PackSchema;
use crate::source::{PackSource, SourceDiagnostic};

mod decide;
mod error;
mod hash;
mod load;
mod reach;
mod validate;

pub use decide::{NOW, PreparedEntities};
pub use error::{InputError, LoadError};
pub use hash::pack_hash;
pub(crate) use load::INVALID_TIER_HELP;
use load::{Gathered, ProblemKind, build_sets, gather};
pub use validate::ValidationCache;
pub(crate) use validate::ValidationIssue;
use validate::{Locator, validate, validate_cached};

/// The Cedar set of a pack and its action index.
struct Sets {
    original: PolicySet,
    index: ActionIndex,
}

/// The pack's Cedar set (see [`build_sets`]) and the action index over it.
fn sets_and_index(gathered: &Gathered) -> Result<Sets, LoadError> {
    let original = build_sets(&gathered.source, &gathered.policies)?;
    // An index that cannot be built (it cannot happen with unique ids) degrades to evaluating
    // every policy: slower, never different.
    let policies: Vec<Policy> = gathered
        .policies
        .iter()
        .map(|p| p.cedar().clone())
        .collect();
    let hierarchy = gathered
        .schema
        .as_ref()
        .and_then(PackSchema::complete_action_hierarchy);
    let index = ActionIndex::build(&policies, hierarchy)
        .unwrap_or_else(|_| ActionIndex::everything(&original));
    Ok(Sets { original, index })
}

/// The pack's sets and index, and the strict validation of its policies and `rejected` ones
/// (errors, warnings). The two are independent: on two threads for a large pack.
fn sets_and_validation(
    gathered: &Gathered,
    rejected: &[RejectedPolicy],
    cache: Option<&ValidationCache>,
) -> (
    Result<Sets, LoadError>,
    (Vec<ValidationIssue>, Vec<ValidationIssue>),
) {
    let locator = Locator::new(&gathered.policies, rejected);
    let policies: Vec<&Policy> = gathered
        .policies
        .iter()
        .map(PolicyInfo::cedar)
        .chain(rejected.iter().map(|r| &r.policy))
        .collect();
    parallel::join(
        parallel::worth_a_thread(policies.len()),
        || sets_and_index(gathered),
        || match (&gathered.schema, cache) {
            (Some(schema), Some(cache)) => validate_cached(
                schema,
                schema_digest(&gathered.source),
                &policies,
                &locator,
                cache,
            ),
            (Some(schema), None) => validate(schema, &policies, &locator),
            (None, _) => (Vec::new(), Vec::new()),
        },
    )
}

/// The digest of the schema files (names and texts, in order): what a [`ValidationCache`]
/// entry was validated against.
fn schema_digest(source: &PackSource) -> Sha256Digest {
    let mut bytes = Vec::new();
    for file in &source.schemas {
        for part in [file.name.as_bytes(), file.text.as_bytes()] {
            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
            bytes.extend_from_slice(part);
        }
    }
    Sha256Digest::of_bytes(&bytes)
}

/// What [`Pack::load_for_analysis`] gives: the pack (the policies with a valid tier), the
/// policies set aside for their `@tier`, and strict validation errors and warnings over all.
pub(crate) type ForAnalysis = (
    Pack,
    Vec<RejectedPolicy>,
    Vec<ValidationIssue>,
    Vec<ValidationIssue>,
);

/// A loaded, validated policy pack. Cheap to clone: the state is shared.
#[derive(Debug, Clone)]
pub struct Pack {
    inner: Arc<PackInner>,
}

#[derive(Debug)]
struct PackInner {
    policies: Vec<PolicyInfo>,
    /// Each policy as a decision names it (same order), made once rather than per decision.
    determining: Vec<DeterminingPolicy>,
    by_id: HashMap<String, usize>,
    original: PolicySet,
    /// Every policy as a permit, for the reference path only; built on its first use.
    shadow: OnceLock<Result<PolicySet, String>>,
    index: ActionIndex,
    schema: Option<PackSchema>,
    hash: Sha256Digest,
    source: PackSource,
    warnings: Vec<SourceDiagnostic>,
}

impl Pack {
    /// Loads a pack from its files. Fails, listing every problem, if any policy does not parse,
    /// has an invalid `@tier`, shares an id, or does not validate strictly against the schema.
    pub fn load(source: PackSource) -> Result<Self, LoadError> {
        Self::load_inner(source, None)
    }

    /// [`Pack::load`], validating only the policies `cache` does not already know valid under
    /// this schema, and adding those found valid: for reloading a pack that changed a little.
    /// The result is the same as [`Pack::load`]'s.
    pub fn load_cached(source: PackSource, cache: &ValidationCache) -> Result<Self, LoadError> {
        Self::load_inner(source, Some(cache))
    }

    fn load_inner(source: PackSource, cache: Option<&ValidationCache>) -> Result<Self, LoadError> {
        let gathered = gather(source);
        if !gathered.problems.is_empty() {
            return Err(load::refused(gathered.problems));
        }
        let (sets, (errors, warnings)) = sets_and_validation(&gathered, &[], cache);
        if !errors.is_empty() {
            return Err(LoadError::new(
                errors
                    .iter()
                    .map(|e| e.to_diagnostic(&gathered.source))
                    .collect(),
            ));
        }
        let sets = sets?;
        let warnings = warnings
            .iter()
            .map(|w| w.to_diagnostic(&gathered.source))
            .collect();
        Ok(Self::assemble(gathered, sets, warnings))
    }

    /// Loads a pack for analysis (lint's `LenientPack`): like [`Pack::load`], but a policy with
    /// an invalid `@tier` is set aside (and returned) instead of failing the load, and strict
    /// validation errors and warnings are returned instead of failing it. Problems that
    /// leave nothing to analyse (a file that does not parse, a template, an empty or duplicate
    /// id, a broken schema) still fail.
    ///
    /// The pack holds the policies with a valid tier, including those that do not validate. It
    /// must never serve real decisions, so this stays inside the crate.
    pub(crate) fn load_for_analysis(source: PackSource) -> Result<ForAnalysis, LoadError> {
        let mut gathered = gather(source);
        if gathered
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Fatal)
        {
            return Err(load::refused(gathered.problems));
        }
        let rejected = std::mem::take(&mut gathered.rejected);
        // Policies set aside for their tier are still Cedar policies: validate them too, so that
        // fixing the tier does not reveal a second round of errors.
        let (sets, (errors, warnings)) = sets_and_validation(&gathered, &rejected, None);
        let sets = sets?;
        let warnings_diag = warnings
            .iter()
            .map(|w| w.to_diagnostic(&gathered.source))
            .collect();
        let pack = Self::assemble(gathered, sets, warnings_diag);
        Ok((pack, rejected, errors, warnings))
    }

    fn assemble(gathered: Gathered, sets: Sets, warnings: Vec<SourceDiagnostic>) -> Self {
        let Sets { original, index } = sets;
        let Gathered {
            source,
            schema,
            policies,
            ..
        } = gathered;
        let by_id = policies
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id().to_string(), i))
            .collect();
        let hash = pack_hash(&source);
        let determining = policies.iter().map(DeterminingPolicy::of).collect();
        Self {
            inner: Arc::new(PackInner {
                policies,
                determining,
                by_id,
                original,
                shadow: OnceLock::new(),
                index,
                schema,
                hash,
                source,
                warnings,
            }),
        }
    }

    /// Every policy, ordered by file name and then by position in the file.
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.inner.policies
    }

    /// The policy with id `id`.
    pub fn policy(&self, id: &str) -> Option<&PolicyInfo> {
        self.inner
            .by_id
            .get(id)
            .and_then(|&i| self.inner.policies.get(i))
    }

    /// Policy `i` as a decision names it.
    pub(crate) fn determining_policy(&self, i: usize) -> Option<&DeterminingPolicy> {
        self.inner.determining.get(i)
    }

    pub(crate) fn policy_index(&self, id: &str) -> Option<usize> {
        self.inner.by_id.get(id).copied()
    }

    /// The schema, when the pack has one.
    pub fn schema(&self) -> Option<&PackSchema> {
        self.inner.schema.as_ref()
    }

    /// `sha256:` of the canonical pack (see [`pack_hash`]).
    pub fn hash(&self) -> Sha256Digest {
        self.inner.hash
    }

    /// The files the pack was loaded from, sorted by name.
    pub fn source(&self) -> &PackSource {
        &self.inner.source
    }

    /// Cedar validation warnings (the pack loads despite them; lint reports them).
    pub fn warnings(&self) -> &[SourceDiagnostic] {
        &self.inner.warnings
    }

    /// The policies as written, under their tollgate ids.
    pub(crate) fn cedar_policies(&self) -> &PolicySet {
        &self.inner.original
    }

    /// Every policy as a permit (see `load::shadow_set`): the reference path's set, built on
    /// first use; the error says why it could not be built (it cannot happen with unique ids).
    pub(crate) fn shadow(&self) -> Result<&PolicySet, &str> {
        self.inner
            .shadow
            .get_or_init(|| load::shadow_set(&self.inner.policies))
            .as_ref()
            .map_err(String::as_str)
    }

    /// The policies whose action scope can match `action`, forbids as forbids.
    pub(crate) fn candidates(&self, action: &cedar_policy::EntityUid) -> Candidates<'_> {
        self.inner.index.candidates(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::policy::PolicyId;
    use crate::model::tier::{InvalidTier, PolicyRole, Tier};
    use crate::source::SourceFile;

    fn load(files: &[(&str, &str)], schema: Option<&str>) -> Result<Pack, LoadError> {
        Pack::load(PackSource {
            policies: files.iter().map(|(n, t)| SourceFile::new(*n, *t)).collect(),
            schemas: schema
                .map(|s| vec![SourceFile::new("s.cedarschema", s)])
                .unwrap_or_default(),
        })
    }

    const SCHEMA: &str = r#"
        @human entity Human;
        entity Agent;
        entity Doc { secret: Bool };
        @privilege_expansion("grows") action grow appliesTo { principal: [Agent], resource: [Doc], context: { now: datetime } };
        action read appliesTo { principal: [Agent], resource: [Doc] };
    "#;

    #[test]
    fn ids_positions_and_order() {
        let pack = load(
            &[
                ("b.cedar", "// header\n@id(\"named\")\n@tier(\"auto\")\npermit(principal, action, resource);\n\nforbid(principal, action, resource) when { false };\n"),
                ("a.cedar", "permit(principal, action, resource);"),
            ],
            None,
        )
        .unwrap();
        let got: Vec<(String, String, PolicyRole)> = pack
            .policies()
            .iter()
            .map(|p| (p.id().to_string(), p.source(), p.role()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "a.cedar:1".to_string(),
                    "a.cedar:1".to_string(),
                    PolicyRole::Permit(Tier::Single)
                ),
                (
                    "named".to_string(),
                    "b.cedar:2".to_string(),
                    PolicyRole::Permit(Tier::Auto)
                ),
                (
                    "b.cedar:2".to_string(),
                    "b.cedar:6".to_string(),
                    PolicyRole::Forbid
                ),
            ]
        );
        assert_eq!(pack.policy("named").map(|p| p.ordinal()), Some(1));
    }

    #[test]
    fn identical_policy_texts_get_distinct_positions() {
        let text = "permit(principal, action, resource);\npermit(principal, action, resource);\n";
        let pack = load(&[("p.cedar", text)], None).unwrap();
        let lines: Vec<usize> = pack.policies().iter().map(|p| p.position().line).collect();
        assert_eq!(lines, [1, 2]);
    }

    #[test]
    fn duplicate_ids_fail_naming_both() {
        let err = load(
            &[
                ("a.cedar", "@id(\"x\") permit(principal, action, resource);"),
                (
                    "b.cedar",
                    "\n\n@id(\"x\") forbid(principal, action, resource);",
                ),
            ],
            None,
        )
        .unwrap_err();
        assert_eq!(err.problems().len(), 1);
        let msg = err.to_string();
        assert!(
            msg.contains("b.cedar:3:1") && msg.contains("a.cedar:1"),
            "{msg}"
        );
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let err = load(
            &[
                (
                    "a.cedar",
                    "@tier(\"deny\") permit(principal, action, resource);",
                ),
                (
                    "b.cedar",
                    "@tier(\"auto\") forbid(principal, action, resource);",
                ),
                ("c.cedar", "permit(principal, action, resource"),
            ],
            None,
        )
        .unwrap_err();
        let files: Vec<&str> = err.problems().iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files, ["a.cedar", "b.cedar", "c.cedar"]);
        assert_eq!(
            err.problems().first().and_then(|p| p.policy.as_deref()),
            Some("a.cedar:1")
        );
    }

    #[test]
    fn templates_and_empty_ids_are_refused() {
        assert!(
            load(
                &[(
                    "t.cedar",
                    "permit(principal == ?principal, action, resource);"
                )],
                None
            )
            .is_err()
        );
        assert!(
            load(
                &[("t.cedar", "@id(\"\") permit(principal, action, resource);")],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn validation_errors_point_into_the_file() {
        let err = load(
            &[("v.cedar", "@tier(\"auto\")\npermit(principal, action == Action::\"read\", resource)\nwhen { resource.secrett };\n")],
            Some(SCHEMA),
        )
        .unwrap_err();
        let p = err.problems().first().unwrap();
        assert_eq!((p.file.as_str(), p.position.line), ("v.cedar", 3));
        assert_eq!(p.code, "tollgate::validation");
    }

    #[test]
    fn schema_annotations_and_context() {
        let pack = load(
            &[("ok.cedar", "permit(principal, action, resource);")],
            Some(SCHEMA),
        )
        .unwrap();
        let schema = pack.schema().unwrap();
        assert!(schema.is_human_type("Human") && !schema.is_human_type("Agent"));
        assert!(
            schema.is_expansion(&"Action::\"grow\"".parse().unwrap())
                && !schema.is_expansion(&"Action::\"read\"".parse().unwrap())
        );
        let grow: crate::EntityRef = "Action::\"grow\"".parse().unwrap();
        let read: crate::EntityRef = "Action::\"read\"".parse().unwrap();
        assert!(schema.context_declares(&grow, "now"));
        assert!(!schema.context_declares(&read, "now"));
    }

    #[test]
    fn a_reload_validates_only_what_changed() {
        let cache = ValidationCache::new();
        let policies = |third: &str| {
            vec![
                SourceFile::new(
                    "a.cedar",
                    "@id(\"a\") @tier(\"auto\") permit(principal, action == Action::\"read\", resource) when { !resource.secret };\n@id(\"b\") forbid(principal, action == Action::\"grow\", resource) when { resource.secret };",
                ),
                SourceFile::new("c.cedar", third),
            ]
        };
        let load_with = |policies: Vec<SourceFile>, schema: &str| {
            Pack::load_cached(
                PackSource {
                    policies,
                    schemas: vec![SourceFile::new("s.cedarschema", schema)],
                },
                &cache,
            )
        };
        let first = "@id(\"c\") @tier(\"single\") permit(principal, action, resource);";
        load_with(policies(first), SCHEMA).unwrap();
        assert_eq!(cache.last_validated(), 3);
        load_with(policies(first), SCHEMA).unwrap();
        assert_eq!(cache.last_validated(), 0);
        // One policy changed: only it is validated, and an invalid change is still refused.
        let changed = "@id(\"c\") @tier(\"dual\") permit(principal, action, resource);";
        load_with(policies(changed), SCHEMA).unwrap();
        assert_eq!(cache.last_validated(), 1);
        let invalid = "@id(\"c\") @tier(\"dual\") permit(principal, action == Action::\"read\", resource) when { resource.secrett };";
        let err = load_with(policies(invalid), SCHEMA).unwrap_err();
        assert_eq!(cache.last_validated(), 1);
        assert_eq!(err.problems()[0].code, "tollgate::validation");
        // ... and refused again on the next load: a policy with an error is never remembered.
        assert!(load_with(policies(invalid), SCHEMA).is_err());
        assert_eq!(cache.last_validated(), 1);
        // A changed schema validates everything again, and a policy it breaks is refused.
        let schema = SCHEMA.replace(
            "entity Doc { secret: Bool };",
            "entity Doc { hidden: Bool };",
        );
        assert!(load_with(policies(changed), &schema).is_err());
        assert_eq!(cache.last_validated(), 3);
        load_with(policies(changed), SCHEMA).unwrap();
        assert_eq!(cache.last_validated(), 3);
    }

    #[test]
    fn bad_schema_names_its_file() {
        let err = load(
            &[("ok.cedar", "permit(principal, action, resource);")],
            Some("entity A {"),
        )
        .unwrap_err();
        assert_eq!(
            err.problems().first().map(|p| p.file.as_str()),
            Some("s.cedarschema")
        );
    }

    fn source(files: &[(&str, &str)], schema: &str) -> PackSource {
        PackSource {
            policies: files.iter().map(|(n, t)| SourceFile::new(*n, *t)).collect(),
            schemas: vec![SourceFile::new("s.cedarschema", schema)],
        }
    }

    #[test]
    fn lenient_loading_sets_aside_invalid_tiers_and_returns_validation_errors() {
        let files = [
            (
                "a.cedar",
                "@id(\"bad-tier\") @tier(\"deny\") permit(principal, action == Action::\"read\", resource) when { resource.secrett };\n@id(\"ok\") @tier(\"auto\") permit(principal, action == Action::\"read\", resource);",
            ),
            (
                "b.cedar",
                "@id(\"typo\") forbid(principal, action == Action::\"read\", resource) when { resource.secrettt };",
            ),
        ];
        // Strict loading refuses the pack, as before.
        assert!(Pack::load(source(&files, SCHEMA)).is_err());
        let (pack, rejected, errors, _) = Pack::load_for_analysis(source(&files, SCHEMA)).unwrap();
        let ids: Vec<&str> = pack.policies().iter().map(|p| p.id().as_str()).collect();
        assert_eq!(ids, ["ok", "typo"]);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].id.as_str(), "bad-tier");
        assert_eq!(rejected[0].error, InvalidTier::PermitDeny);
        // Set-aside policies are validated too.
        let mut invalid: Vec<Option<&str>> = errors
            .iter()
            .map(|e| e.policy.as_ref().map(PolicyId::as_str))
            .collect();
        invalid.sort();
        assert_eq!(invalid, [Some("bad-tier"), Some("typo")]);
        let typo = errors.iter().find(|e| e.file == "b.cedar").unwrap();
        assert_eq!(typo.file, "b.cedar");
        let (offset, len) = typo.spans[0];
        assert_eq!(&files[1].1[offset..offset + len], "resource.secrettt");
    }

    #[test]
    fn lenient_loading_still_stops_on_what_leaves_nothing_to_analyse() {
        for files in [
            vec![("a.cedar", "permit(principal, action, resource")],
            vec![
                ("a.cedar", "@id(\"x\") permit(principal, action, resource);"),
                (
                    "b.cedar",
                    "@id(\"x\") @tier(\"nope\") permit(principal, action, resource);",
                ),
            ],
            vec![(
                "a.cedar",
                "permit(principal == ?principal, action, resource);",
            )],
        ] {
            assert!(
                Pack::load_for_analysis(source(&files, SCHEMA)).is_err(),
                "{files:?}"
            );
        }
        let broken_schema = source(
            &[("a.cedar", "permit(principal, action, resource);")],
            "entity A {",
        );
        assert!(Pack::load_for_analysis(broken_schema).is_err());
    }
}
