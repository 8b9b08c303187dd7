//! Loading a policy pack: parse every file, give each policy its id, tier role and source
//! position, validate against the schema, and build the shadow set used for one-pass decisions.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{Policy, PolicySet, ValidationMode, Validator};
use miette::LabeledSpan;
use serde::Serialize;
use serde_json::{Value, json};

use crate::canonical::Sha256Digest;
use crate::index::ActionIndex;
use crate::schema::PackSchema;
use crate::source::{LineCol, PackSource, SourceDiagnostic, SourceFile, line_col};
use crate::tier::{Effect, PolicyRole, Tier};

/// A policy's id: its `@id("...")`, or `<file>:<N>` for the N-th policy of a file without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyId(String);

impl PolicyId {
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
        let mut source = source;
        source.policies.sort_by(|a, b| a.name.cmp(&b.name));
        source.schemas.sort_by(|a, b| a.name.cmp(&b.name));
        let mut problems = duplicate_names(&source.policies);
        problems.extend(duplicate_names(&source.schemas));

        let schema = match PackSchema::load(&source.schemas) {
            Ok(s) if !source.schemas.is_empty() => Some(s),
            Ok(_) => None,
            Err(p) => {
                problems.extend(p);
                None
            }
        };

        let mut policies = Vec::new();
        for file in &source.policies {
            match parse_file(file) {
                Ok(mut found) => policies.append(&mut found),
                Err(mut p) => problems.append(&mut p),
            }
        }

        let mut by_id = HashMap::new();
        for (i, p) in policies.iter().enumerate() {
            if let Some(first) = by_id.insert(p.id.0.clone(), i) {
                let earlier = policies
                    .get(first)
                    .map(PolicyInfo::source)
                    .unwrap_or_default();
                problems.push(
                    policy_diagnostic(
                        "tollgate::duplicate_id",
                        &source,
                        p,
                        format!(
                            "policy id `{}` is already used by the policy at {earlier}",
                            p.id
                        ),
                    )
                    .with_help("every @id must be unique across the pack"),
                );
            }
        }

        let mut original = PolicySet::new();
        let mut shadow = PolicySet::new();
        if problems.is_empty() {
            for p in &policies {
                let added = original
                    .add(p.policy.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|()| shadow_of(&p.policy))
                    .and_then(|s| shadow.add(s).map_err(|e| e.to_string()));
                if let Err(message) = added {
                    problems.push(policy_diagnostic("tollgate::internal", &source, p, message));
                }
            }
        }

        let mut warnings = Vec::new();
        if let (Some(schema), true) = (&schema, problems.is_empty()) {
            let validator = Validator::new(schema.schema.clone());
            let result = validator.validate(&original, ValidationMode::Strict);
            for e in result.validation_errors() {
                problems.push(validation_diagnostic(
                    &source,
                    &policies,
                    &by_id,
                    e.policy_id(),
                    e,
                ));
            }
            for w in result.validation_warnings() {
                warnings.push(validation_diagnostic(
                    &source,
                    &policies,
                    &by_id,
                    w.policy_id(),
                    w,
                ));
            }
        }

        let mut index = ActionIndex::default();
        if problems.is_empty() {
            let shadows: Vec<Policy> = policies
                .iter()
                .filter_map(|p| shadow.policy(p.policy.id()).cloned())
                .collect();
            match ActionIndex::build(&shadows, schema.as_ref().map(PackSchema::cedar)) {
                Ok(built) => index = built,
                Err(message) => problems.push(SourceDiagnostic::new(
                    "tollgate::internal",
                    &SourceFile::new("<pack>", ""),
                    (0, 0).into(),
                    format!("building the action index: {message}"),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(LoadError::new(problems));
        }
        let hash = pack_hash(&source);
        Ok(Self {
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
        })
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
    pub(crate) fn candidates(&self, action: &cedar_policy::EntityUid) -> &PolicySet {
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

fn duplicate_names(files: &[SourceFile]) -> Vec<SourceDiagnostic> {
    files
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if a.name == b.name => Some(SourceDiagnostic::new(
                "tollgate::duplicate_file",
                b,
                (0, 0).into(),
                format!("file `{}` is given twice", b.name),
            )),
            _ => None,
        })
        .collect()
}

/// Parses one file and returns its policies in file order with ids, roles and positions.
fn parse_file(file: &SourceFile) -> Result<Vec<PolicyInfo>, Vec<SourceDiagnostic>> {
    let set = PolicySet::from_str(&file.text).map_err(|errors| {
        errors
            .iter()
            .map(|e| {
                let labels: Vec<LabeledSpan> = miette::Diagnostic::labels(e)
                    .map(|l| l.collect())
                    .unwrap_or_default();
                let mut d =
                    SourceDiagnostic::new("tollgate::parse", file, (0, 0).into(), e.to_string())
                        .with_labels(labels, &file.text);
                if let Some(help) = miette::Diagnostic::help(e) {
                    d = d.with_help(help.to_string());
                }
                d
            })
            .collect::<Vec<_>>()
    })?;

    let mut problems = Vec::new();
    if let Some(t) = set.templates().next() {
        problems.push(SourceDiagnostic::new(
            "tollgate::template",
            file,
            (0, 0).into(),
            format!(
                "templates (`?principal`, `?resource`) are not supported (template `{}`)",
                t.id()
            ),
        ));
    }

    // Cedar names the policies of a parsed text `policy0`, `policy1`, … in source order.
    let mut parsed: Vec<(usize, &Policy)> = set
        .policies()
        .filter_map(|p| {
            let n = p
                .id()
                .to_string()
                .strip_prefix("policy")?
                .parse::<usize>()
                .ok()?;
            Some((n, p))
        })
        .collect();
    parsed.sort_by_key(|(n, _)| *n);

    let mut out = Vec::new();
    let mut cursor = 0usize;
    for (index, (_, policy)) in parsed.into_iter().enumerate() {
        let ordinal = index + 1;
        // `to_cedar` returns the policy's exact original text; finding each in order gives its
        // position (Cedar's public API exposes none).
        let text = policy.to_cedar().unwrap_or_default();
        let offset = file
            .text
            .get(cursor..)
            .and_then(|rest| rest.find(&text))
            .map_or(cursor, |i| cursor + i);
        cursor = offset + text.len();
        let annotations: BTreeMap<String, String> = policy
            .annotations()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let id = match annotations.get("id") {
            Some(id) => id.clone(),
            None => format!("{}:{ordinal}", file.name),
        };
        let effect = match policy.effect() {
            cedar_policy::Effect::Permit => Effect::Permit,
            cedar_policy::Effect::Forbid => Effect::Forbid,
        };
        let span = (offset, text.len());
        let at = |code, message: String| {
            SourceDiagnostic::new(code, file, span.into(), message).with_policy(id.clone())
        };
        if id.trim().is_empty() {
            problems.push(at("tollgate::invalid_id", "`@id` is empty".into()));
            continue;
        }
        let role = match PolicyRole::classify(effect, annotations.get("tier").map(String::as_str)) {
            Ok(role) => role,
            Err(e) => {
                problems.push(
                    at("tollgate::invalid_tier", format!("policy `{id}`: {e}"))
                        .with_help("valid: @tier(\"auto\"|\"single\"|\"dual\") permit, @tier(\"single\"|\"dual\") forbid (a gate), or forbid without @tier"),
                );
                continue;
            }
        };
        let cedar_id = cedar_policy::PolicyId::new(&id);
        out.push(PolicyInfo {
            policy: policy.new_id(cedar_id),
            id: PolicyId(id),
            role,
            file: file.name.clone(),
            ordinal,
            offset,
            len: text.len(),
            position: line_col(&file.text, offset),
            annotations,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The same scope and conditions as a `permit`, so that one Cedar evaluation reports every
/// satisfied policy whatever its effect (Cedar only reports the winning effect's policies).
fn shadow_of(policy: &Policy) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("effect".into(), Value::String("permit".into()));
    }
    Policy::from_json(Some(policy.id().clone()), json).map_err(|e| e.to_string())
}

fn policy_diagnostic(
    code: &'static str,
    source: &PackSource,
    p: &PolicyInfo,
    message: String,
) -> SourceDiagnostic {
    let fallback = SourceFile::new(p.file.clone(), String::new());
    let file = source
        .policies
        .iter()
        .find(|f| f.name == p.file)
        .unwrap_or(&fallback);
    SourceDiagnostic::new(code, file, (p.offset, p.len).into(), message).with_policy(p.id.0.clone())
}

fn validation_diagnostic<E: miette::Diagnostic + fmt::Display>(
    source: &PackSource,
    policies: &[PolicyInfo],
    by_id: &HashMap<String, usize>,
    policy_id: &cedar_policy::PolicyId,
    e: &E,
) -> SourceDiagnostic {
    let Some(p) = by_id
        .get(AsRef::<str>::as_ref(policy_id))
        .and_then(|&i| policies.get(i))
    else {
        let file = SourceFile::new("<pack>", String::new());
        return SourceDiagnostic::new("tollgate::validation", &file, (0, 0).into(), e.to_string());
    };
    let labels: Vec<LabeledSpan> = e.labels().map(|l| l.collect()).unwrap_or_default();
    let text = source
        .policies
        .iter()
        .find(|f| f.name == p.file)
        .map_or("", |f| f.text.as_str());
    let mut d = policy_diagnostic(
        "tollgate::validation",
        source,
        p,
        format!(
            "policy `{}` does not validate against the schema: {e}",
            p.id
        ),
    )
    .with_labels(labels, text);
    if let Some(help) = e.help() {
        d = d.with_help(help.to_string());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

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
