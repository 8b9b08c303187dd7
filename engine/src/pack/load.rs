//! The loader's steps, shared by [`super::Pack::load`] and [`super::Pack::load_for_analysis`]:
//! parse each file, give each policy its id, role and position, build the Cedar sets.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use cedar_policy::{Policy, PolicySet};
use miette::LabeledSpan;
use serde_json::Value;

use super::LoadError;
use crate::accel;
use crate::annotations::{POLICY_KEYS, find_in_cedar, keys_help, misspelling_of};
use crate::limits::{Limit, LimitExceeded, Limits};
use crate::model::policy::{AnnotationKey, Placement, PolicyId, PolicyInfo, RejectedPolicy};
use crate::model::tier::{Effect, PolicyRole};
use crate::schema::PackSchema;
use crate::source::{DiagnosticCode, LineIndex, PackSource, SourceDiagnostic, SourceFile};

fn duplicate_names(files: &[SourceFile]) -> Vec<SourceDiagnostic> {
    files
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if a.name == b.name => Some(SourceDiagnostic::new(
                DiagnosticCode::DuplicateFile,
                b,
                (0, 0).into(),
                format!("file `{}` is given twice", b.name),
            )),
            _ => None,
        })
        .collect()
}

/// What parsing one file gave: its policies in file order, those whose `@tier` is invalid set
/// aside, and the problems that make the file unusable.
struct ParsedFile {
    policies: Vec<PolicyInfo>,
    rejected: Vec<RejectedPolicy>,
    problems: Vec<Problem>,
}

/// Parses one file and returns its policies in file order with ids, roles and positions.
fn parse_file(file: &SourceFile) -> ParsedFile {
    let mut out = ParsedFile {
        policies: Vec::new(),
        rejected: Vec::new(),
        problems: Vec::new(),
    };
    let sets = match parse_policies(&file.text) {
        Ok(sets) => sets,
        Err(errors) => {
            out.problems = errors
                .iter()
                .map(|e| {
                    let labels: Vec<LabeledSpan> = miette::Diagnostic::labels(e)
                        .map(|l| l.collect())
                        .unwrap_or_default();
                    let mut d = SourceDiagnostic::new(
                        DiagnosticCode::Parse,
                        file,
                        (0, 0).into(),
                        e.to_string(),
                    )
                    .with_labels(labels, &file.text);
                    if let Some(help) = miette::Diagnostic::help(e) {
                        d = d.with_help(help.to_string());
                    }
                    Problem::fatal(d)
                })
                .collect();
            return out;
        }
    };

    if let Some(t) = sets.iter().flat_map(PolicySet::templates).next() {
        out.problems.push(Problem::fatal(SourceDiagnostic::new(
            DiagnosticCode::Template,
            file,
            (0, 0).into(),
            format!(
                "templates (`?principal`, `?resource`) are not supported (template `{}`)",
                t.id()
            ),
        )));
    }

    let lines = LineIndex::new(&file.text);
    let mut cursor = 0usize;
    let parsed = sets.iter().flat_map(in_source_order);
    for (index, policy) in parsed.enumerate() {
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
        let id = match annotations.get(AnnotationKey::Id.as_str()) {
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
        for key in annotations.keys() {
            if let Some(meant) = misspelling_of(key, POLICY_KEYS) {
                let key_span =
                    find_in_cedar(&text, key).map_or(span, |o| (offset + o, key.len() + 1));
                out.problems.push(Problem::fatal(
                    SourceDiagnostic::new(
                        DiagnosticCode::MisspelledAnnotation,
                        file,
                        key_span.into(),
                        format!(
                            "policy `{id}`: `@{key}` is not an annotation tollgate reads: did you mean `@{meant}`?"
                        ),
                    )
                    .with_policy(id.clone())
                    .with_help(keys_help(POLICY_KEYS, "policies")),
                ));
            }
        }
        if id.trim().is_empty() {
            out.problems.push(Problem::fatal(at(
                DiagnosticCode::InvalidId,
                "`@id` is empty".into(),
            )));
            continue;
        }
        let cedar_id = cedar_policy::PolicyId::new(&id);
        let policy = policy.new_id(cedar_id);
        let position = lines.line_col(offset);
        let tier = annotations.get(AnnotationKey::Tier.as_str());
        match PolicyRole::classify(effect, tier.map(String::as_str)) {
            Ok(role) => {
                let at = Placement {
                    file: file.name.clone(),
                    offset,
                    len: text.len(),
                    position,
                };
                let id = PolicyId::new(id);
                let info = PolicyInfo::new(id, role, ordinal, at, annotations, policy);
                out.policies.push(info);
            }
            Err(error) => {
                out.problems.push(Problem {
                    kind: ProblemKind::InvalidTier,
                    diagnostic: at(
                        DiagnosticCode::InvalidTier,
                        format!("policy `{id}`: {error}"),
                    )
                    .with_help(INVALID_TIER_HELP),
                });
                out.rejected.push(RejectedPolicy {
                    id: PolicyId::new(id),
                    effect,
                    file: file.name.clone(),
                    offset,
                    len: text.len(),
                    position,
                    annotations,
                    error,
                    policy,
                });
            }
        }
    }
    out
}

/// The policies of `text`: one set, or for a large text two (see `accel::parse`) that together
/// hold the same policies in the same order.
fn parse_policies(text: &str) -> Result<Vec<PolicySet>, Box<cedar_policy::ParseErrors>> {
    if let Some(halves) = accel::parse::in_halves(text) {
        return Ok(halves);
    }
    PolicySet::from_str(text)
        .map(|set| vec![set])
        .map_err(Box::new)
}

/// The policies of a set parsed from one text, in source order: Cedar names them `policy0`,
/// `policy1`, … as they appear.
pub(super) fn in_source_order(set: &PolicySet) -> Vec<&Policy> {
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
    parsed.into_iter().map(|(_, p)| p).collect()
}

/// How to write a valid tier; shown with every invalid-tier problem.
pub(crate) const INVALID_TIER_HELP: &str = "valid: @tier(\"auto\"|\"single\"|\"dual\") permit, @tier(\"single\"|\"dual\") forbid (a gate), or forbid without @tier";

/// Every policy as a permit, in pack order: the same scope and conditions, so that one Cedar
/// evaluation reports every satisfied policy whatever its effect (Cedar only reports the winning
/// effect's policies). The reference path's set (`Pack::decide_unindexed`), built through
/// Cedar's JSON form, the plain way; decisions evaluate forbids as forbids instead.
pub(super) fn shadow_set(policies: &[PolicyInfo]) -> Result<PolicySet, String> {
    let mut shadow = PolicySet::new();
    for p in policies {
        let policy = match p.cedar().effect() {
            cedar_policy::Effect::Permit => p.cedar().clone(),
            cedar_policy::Effect::Forbid => shadow_by_json(p.cedar())?,
        };
        shadow.add(policy).map_err(|e| e.to_string())?;
    }
    Ok(shadow)
}

/// A forbid's shadow through Cedar's JSON form.
fn shadow_by_json(policy: &Policy) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert("effect".into(), Value::String("permit".into()));
    }
    Policy::from_json(Some(policy.id().clone()), json).map_err(|e| e.to_string())
}

/// The file named `name` in `source` (an empty stand-in if it is not there).
pub(super) fn file_of(source: &PackSource, name: &str) -> SourceFile {
    source
        .policies
        .iter()
        .find(|f| f.name == name)
        .cloned()
        .unwrap_or_else(|| SourceFile::new(name, String::new()))
}

fn policy_diagnostic(
    code: DiagnosticCode,
    source: &PackSource,
    p: &PolicyInfo,
    message: String,
) -> SourceDiagnostic {
    SourceDiagnostic::new(code, &file_of(source, p.file()), p.span().into(), message)
        .with_policy(p.id().to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProblemKind {
    /// Leaves nothing to analyse: even lint stops.
    Fatal,
    /// An invalid `@tier`: `Pack::load` stops, lint reports it and goes on.
    InvalidTier,
}

#[derive(Debug, Clone)]
pub(super) struct Problem {
    pub(super) kind: ProblemKind,
    pub(super) diagnostic: SourceDiagnostic,
}

/// The error for problems found while gathering a pack's files.
pub(super) fn refused(problems: Vec<Problem>) -> LoadError {
    LoadError::new(problems.into_iter().map(|p| p.diagnostic).collect())
}

impl Problem {
    fn fatal(diagnostic: SourceDiagnostic) -> Self {
        Self {
            kind: ProblemKind::Fatal,
            diagnostic,
        }
    }
}

/// A file over the size or bracket-nesting limit, as a diagnostic pointing at where it crossed.
fn over_limits(file: &SourceFile, limits: &Limits) -> Option<SourceDiagnostic> {
    let (offset, e) = match limits.check_bytes(file.text.len()) {
        Err(e) => (0, e),
        Ok(()) => {
            let offset = limits.text_too_deep_at(&file.text)?;
            let e = LimitExceeded {
                limit: Limit::TextDepth,
                max: limits.text_depth,
            };
            (offset, e)
        }
    };
    Some(SourceDiagnostic::new(
        DiagnosticCode::Limit,
        file,
        (offset, 1).into(),
        e.to_string(),
    ))
}

/// Everything read from the files before any Cedar set is built.
pub(super) struct Gathered {
    pub(super) source: PackSource,
    pub(super) schema: Option<PackSchema>,
    pub(super) policies: Vec<PolicyInfo>,
    pub(super) rejected: Vec<RejectedPolicy>,
    pub(super) problems: Vec<Problem>,
}

/// Parses the schema and every policy file, assigns ids and roles, and collects every problem
/// in file order.
pub(super) fn gather(source: PackSource) -> Gathered {
    let mut source = source;
    source.policies.sort_by(|a, b| a.name.cmp(&b.name));
    source.schemas.sort_by(|a, b| a.name.cmp(&b.name));
    let mut problems: Vec<Problem> = duplicate_names(&source.policies)
        .into_iter()
        .chain(duplicate_names(&source.schemas))
        .map(Problem::fatal)
        .collect();

    // Files over a limit are not handed to Cedar, whose parser recurses once per bracket.
    let limits = Limits::current();
    let over: Vec<SourceDiagnostic> = source
        .schemas
        .iter()
        .chain(&source.policies)
        .filter_map(|f| over_limits(f, &limits))
        .collect();
    let over_names: Vec<&str> = over.iter().map(|d| d.file.as_str()).collect();
    let schema_over = source
        .schemas
        .iter()
        .any(|f| over_names.contains(&f.name.as_str()));
    let schema = match PackSchema::load(&source.schemas) {
        _ if schema_over => None,
        Ok(s) if !source.schemas.is_empty() => Some(s),
        Ok(_) => None,
        Err(p) => {
            problems.extend(p.into_iter().map(Problem::fatal));
            None
        }
    };

    let mut policies = Vec::new();
    let mut rejected = Vec::new();
    for file in &source.policies {
        if over_names.contains(&file.name.as_str()) {
            continue;
        }
        let mut parsed = parse_file(file);
        policies.append(&mut parsed.policies);
        rejected.append(&mut parsed.rejected);
        problems.append(&mut parsed.problems);
    }

    let mut seen: HashMap<String, String> = HashMap::new();
    let ids = policies
        .iter()
        .map(|p| (p.id(), p.source(), p.file(), p.span()))
        .chain(rejected.iter().map(|r| {
            (
                &r.id,
                format!("{}:{}", r.file, r.position.line),
                r.file.as_str(),
                (r.offset, r.len),
            )
        }));
    let mut duplicates = Vec::new();
    for (id, at, file, span) in ids {
        if let Some(earlier) = seen.insert(id.to_string(), at) {
            duplicates.push(
                SourceDiagnostic::new(
                    DiagnosticCode::DuplicateId,
                    &file_of(&source, file),
                    span.into(),
                    format!("policy id `{id}` is already used by the policy at {earlier}"),
                )
                .with_policy(id.to_string())
                .with_help("every @id must be unique across the pack"),
            );
        }
    }
    problems.extend(duplicates.into_iter().map(Problem::fatal));
    problems.extend(over.into_iter().map(Problem::fatal));
    if let Err(e) = limits.check(Limit::Policies, policies.len() + rejected.len()) {
        let first = source
            .policies
            .first()
            .cloned()
            .unwrap_or_else(|| SourceFile::new("", ""));
        problems.push(Problem::fatal(SourceDiagnostic::new(
            DiagnosticCode::Limit,
            &first,
            (0, 0).into(),
            format!("the pack has {e}"),
        )));
    }

    Gathered {
        source,
        schema,
        policies,
        rejected,
        problems,
    }
}

/// The pack's Cedar set as written.
pub(super) fn build_sets(
    source: &PackSource,
    policies: &[PolicyInfo],
) -> Result<PolicySet, LoadError> {
    let mut original = PolicySet::new();
    let mut problems = Vec::new();
    for p in policies {
        if let Err(e) = original.add(p.cedar().clone()) {
            problems.push(policy_diagnostic(
                DiagnosticCode::Internal,
                source,
                p,
                e.to_string(),
            ));
        }
    }
    if problems.is_empty() {
        Ok(original)
    } else {
        Err(LoadError::new(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack::Pack;

    const TRICKY: &str = r#"
@id("forbid") @reason("a \"forbid\" ( in text )") // forbid
forbid (principal, action == Action::"a", resource) when { context.n > 1 };
@tier("single") forbid(principal, action, resource) unless { resource.x like "*;*" };
permit (principal, action, resource);
@forbid forbid (principal == U::"u", action in [Action::"a"], resource is R);
"#;

    fn load_error(policy: &str, schema: Option<&str>) -> Option<LoadError> {
        Pack::load(PackSource {
            policies: vec![SourceFile::new("p.cedar", policy)],
            schemas: schema
                .map(|s| vec![SourceFile::new("s.cedarschema", s)])
                .unwrap_or_default(),
        })
        .err()
    }

    #[test]
    fn a_misspelled_policy_annotation_is_a_load_error_at_its_key() {
        let policy = "@id(\"d\")\n  @note(\"@teir in a string\") @teir(\"dual\")\npermit (principal, action, resource);";
        let e = load_error(policy, None).unwrap();
        let [p] = e.problems() else { panic!("{e:?}") };
        assert_eq!(p.code, "tollgate::misspelled_annotation");
        assert_eq!((p.position.line, p.position.column), (2, 30));
        assert_eq!(p.policy.as_deref(), Some("d"));
        assert!(p.message.contains("`@teir`") && p.message.contains("did you mean `@tier`?"));
        // Lint stops on it as on any problem that leaves the pack unusable.
        let lint = crate::lint::lint(
            PackSource {
                policies: vec![SourceFile::new("p.cedar", policy)],
                schemas: vec![SourceFile::new(
                    "s.cedarschema",
                    "entity A; action go appliesTo { principal: [A], resource: [A] };",
                )],
            },
            &[],
            "2026-06-01".parse().unwrap(),
        );
        assert!(matches!(lint, Err(crate::lint::LintError::Load(_))));
        // Far keys, and the exact ones, load.
        assert!(load_error("@id(\"d\") @tier(\"dual\") @reason(\"r\") @control(\"c\") @owner(\"o\") @review_by(\"2026-01-01\") @expansion_ok(\"x\") @note(\"n\")\npermit (principal, action, resource);", None).is_none());
    }

    #[test]
    fn misspelled_schema_annotations_are_load_errors_at_their_key() {
        let policy = "@tier(\"auto\") permit (principal, action, resource);";
        let schema = "@human entity H;\n@Human entity A;\n@privilegeExpansion(\"x\")\naction go appliesTo { principal: [A], resource: [A] };";
        let e = load_error(policy, Some(schema)).unwrap();
        let found: Vec<(usize, &str)> = e
            .problems()
            .iter()
            .map(|p| (p.position.line, p.code))
            .collect();
        assert_eq!(
            found,
            [
                (2, "tollgate::misspelled_annotation"),
                (3, "tollgate::misspelled_annotation")
            ]
        );
        assert!(
            e.problems()[0]
                .message
                .contains("entity type `A`: `@Human`")
        );
        assert!(
            e.problems()[1]
                .message
                .contains("did you mean `@privilege_expansion`?")
        );
        let fine = "@human entity A;\n@doc(\"x\") @privilege_expansion(\"x\")\naction go appliesTo { principal: [A], resource: [A] };";
        assert!(load_error(policy, Some(fine)).is_none());
    }

    #[test]
    fn the_shadow_set_is_every_policy_as_a_permit() {
        let pack = Pack::load(PackSource {
            policies: vec![SourceFile::new("p.cedar", TRICKY)],
            schemas: vec![],
        })
        .unwrap();
        let shadow = shadow_set(pack.policies()).unwrap();
        assert_eq!(shadow.num_of_policies(), 4);
        for p in pack.policies() {
            let s = shadow.policy(p.cedar().id()).unwrap();
            assert_eq!(s.effect(), cedar_policy::Effect::Permit);
            let mut expected = p.cedar().to_json().unwrap();
            expected["effect"] = Value::String("permit".into());
            assert_eq!(s.to_json().unwrap(), expected);
        }
    }

    #[test]
    fn large_texts_parse_in_two_halves_with_whole_text_positions() {
        let one = "@tier(\"auto\") permit (principal, action == Action::\"a\", resource) when { context.s == \"x;y\" }; // ;\n";
        let text = one.repeat(70_000 / one.len() + 1);
        let sets = parse_policies(&text).unwrap();
        assert_eq!(sets.len(), 2);
        let parsed: Vec<&Policy> = sets.iter().flat_map(in_source_order).collect();
        assert_eq!(parsed.len(), text.matches("@tier").count());
        let whole = PolicySet::from_str(&text).unwrap();
        for (a, b) in parsed.iter().zip(in_source_order(&whole)) {
            assert_eq!(a.to_cedar(), b.to_cedar());
        }
        // A broken text is reported as a whole, with its position in the whole file.
        let broken = format!("{text}permit (principal, action, resource) when {{ ;");
        assert!(parse_policies(&broken).is_err());
    }
}
