//! Loading a policy pack: parse every file, give each policy its id, tier role and source
//! position, validate against the schema, and build the shadow set used for one-pass decisions.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use cedar_policy::{Policy, PolicySet};
use serde::Serialize;
use serde_json::{Value, json};

use crate::canonical::Sha256Digest;
use crate::index::{ActionIndex, Candidates};
use crate::parallel;
use crate::schema::PackSchema;
use crate::source::{LineCol, PackSource, SourceDiagnostic, SourceFile};
use crate::tier::{Effect, PolicyRole, Tier};

mod load;
mod validation;

use load::{Gathered, Locator, ProblemKind, build_sets, gather};
pub(crate) use load::{INVALID_TIER_HELP, LenientPack, RejectedPolicy, ValidationIssue};
use validation::validate;

/// A policy's id: its `@id("...")`, or `<file>:<N>` for the N-th policy of a file without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyId(String);

impl PolicyId {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One policy of the pack with what tollgate knows about it.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    id: PolicyId,
    role: PolicyRole,
    file: String,
    ordinal: usize,
    offset: usize,
    len: usize,
    position: LineCol,
    annotations: BTreeMap<String, String>,
    pub(crate) policy: Policy,
}

impl PolicyInfo {
    /// The policy's id.
    pub fn id(&self) -> &PolicyId {
        &self.id
    }
    /// Permit, gate or forbid, with its tier.
    pub fn role(&self) -> PolicyRole {
        self.role
    }
    /// The tier the policy contributes (`deny` for a plain forbid).
    pub fn tier(&self) -> Tier {
        self.role.tier()
    }
    /// Permit or forbid, as written.
    pub fn effect(&self) -> Effect {
        self.role.effect()
    }
    /// The file the policy is in, relative to the policies folder.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// 1-based position of the policy among the policies of its file.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
    /// Byte offset and length of the policy's text (annotations included) in its file.
    pub fn span(&self) -> (usize, usize) {
        (self.offset, self.len)
    }
    /// Line and column where the policy starts.
    pub fn position(&self) -> LineCol {
        self.position
    }
    /// `<file>:<line>`, the form decisions report.
    pub fn source(&self) -> String {
        format!("{}:{}", self.file, self.position.line)
    }
    /// An annotation's value, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
    /// All annotations.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
    /// `@reason`, shown to humans with a decision.
    pub fn reason(&self) -> Option<&str> {
        self.annotation("reason")
    }
    /// `@control`, split on commas.
    pub fn controls(&self) -> Vec<String> {
        self.annotation("control")
            .map(|c| {
                c.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The Cedar policy as parsed, under its tollgate id.
    pub fn cedar(&self) -> &Policy {
        &self.policy
    }
}

/// The pack failed to load. Holds every problem found, each naming its file, line and policy.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{summary}")]
pub struct LoadError {
    summary: String,
    #[related]
    problems: Vec<SourceDiagnostic>,
}

impl LoadError {
    /// The error for problems found while gathering a pack's files.
    fn of_problems(problems: Vec<load::Problem>) -> Self {
        Self::new(problems.into_iter().map(|p| p.diagnostic).collect())
    }

    pub(crate) fn new(problems: Vec<SourceDiagnostic>) -> Self {
        let summary = match problems.as_slice() {
            [one] => format!("could not load the policy pack: {one}"),
            [first, rest @ ..] => format!(
                "could not load the policy pack: {first} (and {} more problem{})",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
            [] => "could not load the policy pack".to_string(),
        };
        Self { summary, problems }
    }

    /// Each problem, in file order.
    pub fn problems(&self) -> &[SourceDiagnostic] {
        &self.problems
    }
}

/// The Cedar sets of a pack and its action index.
struct Sets {
    original: PolicySet,
    shadow: PolicySet,
    index: ActionIndex,
}

/// The pack's Cedar sets (see [`build_sets`]) and the action index over the shadow set.
fn sets_and_index(gathered: &Gathered) -> Result<Sets, LoadError> {
    let (original, shadow) = build_sets(&gathered.source, &gathered.policies)?;
    // An index that cannot be built (it cannot happen with unique ids) degrades to evaluating
    // every policy: slower, never different.
    let shadows: Vec<Policy> = gathered
        .policies
        .iter()
        .filter_map(|p| shadow.policy(p.policy.id()).cloned())
        .collect();
    let schema = gathered.schema.as_ref().map(PackSchema::cedar);
    let index =
        ActionIndex::build(&shadows, schema).unwrap_or_else(|_| ActionIndex::everything(&shadow));
    Ok(Sets {
        original,
        shadow,
        index,
    })
}

/// The pack's sets and index, and the strict validation of its policies and `rejected` ones
/// (errors, warnings). The two are independent: on two threads for a large pack.
fn sets_and_validation(
    gathered: &Gathered,
    rejected: &[RejectedPolicy],
) -> (
    Result<Sets, LoadError>,
    (Vec<ValidationIssue>, Vec<ValidationIssue>),
) {
    let locator = Locator::new(&gathered.policies, rejected);
    let policies: Vec<&Policy> = gathered
        .policies
        .iter()
        .map(|p| &p.policy)
        .chain(rejected.iter().map(|r| &r.policy))
        .collect();
    parallel::join(
        parallel::worth_a_thread(policies.len()),
        || sets_and_index(gathered),
        || match &gathered.schema {
            Some(schema) => validate(schema, &policies, &locator),
            None => (Vec::new(), Vec::new()),
        },
    )
}

/// A loaded, validated policy pack. Cheap to clone: the state is shared.
#[derive(Debug, Clone)]
pub struct Pack {
    inner: Arc<PackInner>,
}

#[derive(Debug)]
struct PackInner {
    policies: Vec<PolicyInfo>,
    by_id: HashMap<String, usize>,
    original: PolicySet,
    pub(crate) shadow: PolicySet,
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
        let gathered = gather(source);
        if !gathered.problems.is_empty() {
            return Err(LoadError::of_problems(gathered.problems));
        }
        let (sets, (errors, warnings)) = sets_and_validation(&gathered, &[]);
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

    /// Loads a pack for analysis: like [`Pack::load`], but a policy with an invalid `@tier` is
    /// set aside (and returned) instead of failing the load, and strict validation errors are
    /// returned instead of failing it. Problems that leave nothing to analyse (a file that does
    /// not parse, a template, an empty or duplicate id, a broken schema) still fail.
    ///
    /// The pack holds the policies with a valid tier, including those that do not validate:
    /// lint decides workflow steps with it. It must never serve real decisions, so this stays
    /// inside the crate.
    pub(crate) fn load_lenient(source: PackSource) -> Result<LenientPack, LoadError> {
        let mut gathered = gather(source);
        if gathered
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Fatal)
        {
            return Err(LoadError::of_problems(gathered.problems));
        }
        let rejected = std::mem::take(&mut gathered.rejected);
        // Policies set aside for their tier are still Cedar policies: validate them too, so that
        // fixing the tier does not reveal a second round of errors.
        let (sets, (validation_errors, warnings)) = sets_and_validation(&gathered, &rejected);
        let sets = sets?;
        let warnings_diag = warnings
            .iter()
            .map(|w| w.to_diagnostic(&gathered.source))
            .collect();
        let pack = Self::assemble(gathered, sets, warnings_diag);
        Ok(LenientPack {
            pack,
            rejected,
            validation_errors,
            validation_warnings: warnings,
        })
    }

    fn assemble(gathered: Gathered, sets: Sets, warnings: Vec<SourceDiagnostic>) -> Self {
        let Sets {
            original,
            shadow,
            index,
        } = sets;
        let Gathered {
            source,
            schema,
            policies,
            ..
        } = gathered;
        let by_id = policies
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.0.clone(), i))
            .collect();
        let hash = pack_hash(&source);
        Self {
            inner: Arc::new(PackInner {
                policies,
                by_id,
                original,
                shadow,
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
    pub fn cedar_policies(&self) -> &PolicySet {
        &self.inner.original
    }

    /// Every policy as a permit (see `shadow_of`).
    pub(crate) fn shadow(&self) -> &PolicySet {
        &self.inner.shadow
    }

    /// The shadow policies whose action scope can match `action`.
    pub(crate) fn candidates(&self, action: &cedar_policy::EntityUid) -> Candidates<'_> {
        self.inner.index.candidates(action)
    }
}

/// The policy-set hash: SHA-256 over the canonical JSON (see [`crate::to_canonical_json`]) of
/// `{"policies": [{"name", "text"}…], "schemas": [{"name", "text"}…]}` with both lists sorted by
/// name — the same shape the WASM ABI loads, so either host hashes the same files alike.
pub fn pack_hash(source: &PackSource) -> Sha256Digest {
    let files = |list: &[SourceFile]| {
        let mut sorted: Vec<&SourceFile> = list.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        Value::Array(
            sorted
                .iter()
                .map(|f| json!({"name": f.name, "text": f.text}))
                .collect(),
        )
    };
    let value = json!({"policies": files(&source.policies), "schemas": files(&source.schemas)});
    // Only strings in this value: canonicalisation cannot fail; hash the empty string if it did.
    Sha256Digest::of_bytes(
        crate::to_canonical_json(&value)
            .unwrap_or_default()
            .as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::InvalidTier;

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
            schema.is_expansion("Action::\"grow\"") && !schema.is_expansion("Action::\"read\"")
        );
        let grow: cedar_policy::EntityUid = "Action::\"grow\"".parse().unwrap();
        let read: cedar_policy::EntityUid = "Action::\"read\"".parse().unwrap();
        assert!(schema.context_declares(&grow, "now"));
        assert!(!schema.context_declares(&read, "now"));
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
        let lenient = Pack::load_lenient(source(&files, SCHEMA)).unwrap();
        let ids: Vec<&str> = lenient
            .pack
            .policies()
            .iter()
            .map(|p| p.id().as_str())
            .collect();
        assert_eq!(ids, ["ok", "typo"]);
        assert_eq!(lenient.rejected.len(), 1);
        assert_eq!(lenient.rejected[0].id.as_str(), "bad-tier");
        assert_eq!(lenient.rejected[0].error, InvalidTier::PermitDeny);
        // Set-aside policies are validated too.
        let mut invalid: Vec<Option<&str>> = lenient
            .validation_errors
            .iter()
            .map(|e| e.policy.as_ref().map(PolicyId::as_str))
            .collect();
        invalid.sort();
        assert_eq!(invalid, [Some("bad-tier"), Some("typo")]);
        let typo = lenient
            .validation_errors
            .iter()
            .find(|e| e.file == "b.cedar")
            .unwrap();
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
                Pack::load_lenient(source(&files, SCHEMA)).is_err(),
                "{files:?}"
            );
        }
        let broken_schema = source(
            &[("a.cedar", "permit(principal, action, resource);")],
            "entity A {",
        );
        assert!(Pack::load_lenient(broken_schema).is_err());
    }

    #[test]
    fn hash_depends_on_names_and_texts_not_order() {
        let a = PackSource {
            policies: vec![
                SourceFile::new("a.cedar", "x"),
                SourceFile::new("b.cedar", "y"),
            ],
            schemas: vec![],
        };
        let mut b = a.clone();
        b.policies.reverse();
        assert_eq!(pack_hash(&a), pack_hash(&b));
        let mut c = a.clone();
        c.policies[0].name = "c.cedar".into();
        assert_ne!(pack_hash(&a), pack_hash(&c));
        let mut d = a.clone();
        d.schemas.push(SourceFile::new("a.cedar", "x"));
        assert_ne!(pack_hash(&a), pack_hash(&d));
    }
}
