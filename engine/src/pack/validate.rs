//! Strict validation, scoped to the actions each policy's scope can match.
//!
//! Cedar's validator type-checks every policy in every request environment of the schema (each
//! action with each of its principal and resource types). A policy scoped to one action is
//! trivially false in the others, but each costs a type check all the same: 10,000 policies over
//! 500 actions is five million of them, six to eight seconds here. Instead, policies are grouped
//! by the actions they can reach and each group is validated against a copy of the schema that
//! declares only those actions (with every entity type, common type and the reached actions'
//! groups).
//!
//! Why the scoped run cannot miss a problem the full run finds:
//! - Cedar type-checks a policy as `principal-scope && action-scope && resource-scope && body`,
//!   and `&&` does not type-check its right side when its left side is `false`. In an
//!   environment whose action the scope cannot match, the action scope is `false`: no error, no
//!   success. The principal scope before it (`==`, `in`, `is` on entity types) is `true`,
//!   `false` or boolean but never an error.
//! - Every environment of a reached action is in the scoped schema, unchanged: the same entity
//!   types, hierarchy and context type.
//! - Where the conditions never name the `action` variable, two reached actions with the same
//!   `appliesTo` give the same environments, so one of them stands for the rest.
//! - The checks outside type checking read entity types (all kept), action ids (a missing one is
//!   reported, so the policy is checked again in full) and the reached actions' `appliesTo`.
//! - A policy is reported impossible when it is false in every environment; the environments
//!   left out are ones where it is false anyway (or that one kept stands for).
//! - Groups that share a scoped schema add environments where a policy's action scope is false
//!   (or that stand for ones it reaches): they can add findings, never hide one.
//!
//! Only "no problem" is taken from the scoped run. A policy the scoped run reports anything for,
//! or a group whose scoped schema cannot be built, is validated again against the full schema,
//! and the pack reports exactly what Cedar says there.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;

use cedar_policy::{
    EntityUid, Policy, PolicySet, Schema, SchemaFragment, ValidationMode, Validator,
};
use miette::LabeledSpan;
use serde_json::{Map, Value};

use super::load::file_of;
use crate::lexical::whole_words;
use crate::model::policy::PolicyId;
use crate::model::policy::{PolicyInfo, RejectedPolicy};
use crate::parallel;
use crate::schema::PackSchema;
use crate::schema::actions::{ActionHierarchy, ActionScope, Reach};
use crate::source::{PackSource, SourceDiagnostic};

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
            "tollgate::validation",
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
    let suspects = Scopes::new(schema).map(|scopes| scopes.suspects(policies));
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

/// How many actions (with their groups) a shared scoped schema may declare.
const BATCH_ACTIONS: usize = 8;

/// What scoping needs from the schema.
struct Scopes<'a> {
    schema: &'a PackSchema,
    /// Each schema fragment in its JSON form.
    fragments: &'a [Value],
    /// The action groups, complete.
    hierarchy: &'a ActionHierarchy,
}

impl<'a> Scopes<'a> {
    /// `None` when the schema cannot be taken apart (then every policy is checked in full).
    fn new(schema: &'a PackSchema) -> Option<Self> {
        Some(Self {
            schema,
            fragments: schema.fragments_json()?,
            hierarchy: schema.complete_action_hierarchy()?,
        })
    }

    /// The policies the scoped run does not clear.
    fn suspects(&self, policies: &[&'a Policy]) -> HashSet<cedar_policy::PolicyId> {
        let mut groups: BTreeMap<BTreeSet<EntityUid>, Vec<&Policy>> = BTreeMap::new();
        // Most policies share their scope with others: work out each scope's actions once.
        let mut kept_for: HashMap<(ActionScope, bool), BTreeSet<EntityUid>> = HashMap::new();
        for policy in policies {
            let scope = ActionScope::of(policy);
            // `==` reaches one action: there is no other for it to stand for.
            let names = !matches!(scope, ActionScope::Eq(_)) && names_action(policy);
            let kept = kept_for
                .entry((scope, names))
                .or_insert_with_key(|(scope, names)| self.kept(scope, *names));
            groups.entry(kept.clone()).or_default().push(policy);
        }
        // Neighbouring groups share one scoped schema while it stays small: building a schema
        // costs more than a policy's type check in the environments of a few more actions (where
        // its scope is false, or which stand for actions it reaches).
        let mut batches: Vec<(BTreeSet<EntityUid>, Vec<&Policy>)> = Vec::new();
        for (kept, group) in groups {
            match batches.last_mut() {
                Some((batch, members)) if batch.union(&kept).count() <= BATCH_ACTIONS => {
                    batch.extend(kept);
                    members.extend(group);
                }
                _ => batches.push((kept, group)),
            }
        }
        let groups = batches;
        // Two halves of about the same number of policies, one per thread where there are two.
        let mut count = 0;
        let middle = groups
            .iter()
            .position(|(_, ps)| {
                count += ps.len();
                count * 2 >= policies.len()
            })
            .map_or(groups.len(), |i| i + 1);
        let (first, second) = groups.split_at(middle);
        let (mut a, b) = parallel::join(
            parallel::worth_a_thread(policies.len()),
            || self.suspects_in(first),
            || self.suspects_in(second),
        );
        a.extend(b);
        a
    }

    /// The policies of `groups` (each with the actions its scoped schema keeps) the scoped run
    /// does not clear.
    fn suspects_in(
        &self,
        groups: &[(BTreeSet<EntityUid>, Vec<&Policy>)],
    ) -> HashSet<cedar_policy::PolicyId> {
        let mut suspects = HashSet::new();
        for (kept, policies) in groups {
            let cleared = self.scoped_schema(kept).and_then(|schema| {
                let mut subset = PolicySet::new();
                for p in policies {
                    subset.add((*p).clone()).ok()?;
                }
                let result = Validator::new(schema).validate(&subset, ValidationMode::Strict);
                let flagged: HashSet<cedar_policy::PolicyId> = result
                    .validation_errors()
                    .map(|e| e.policy_id().clone())
                    .chain(result.validation_warnings().map(|w| w.policy_id().clone()))
                    .collect();
                Some(flagged)
            });
            match cleared {
                Some(flagged) => suspects.extend(flagged),
                None => suspects.extend(policies.iter().map(|p| p.id().clone())),
            }
        }
        suspects
    }

    /// The actions the scoped schema for a policy with this action `scope` declares: those the
    /// scope can reach (one per kind of environment unless the conditions name `action`), the
    /// groups they are in and the actions the scope names.
    fn kept(&self, scope: &ActionScope, conditions_name_action: bool) -> BTreeSet<EntityUid> {
        let reach = match scope.reach(Some(self.hierarchy)) {
            Reach::All => self.schema.actions().cloned().collect(),
            Reach::Only(actions) => actions,
        };
        let reach = if conditions_name_action {
            reach
        } else {
            self.one_per_environment(reach)
        };
        let mut kept: BTreeSet<EntityUid> = scope.named().iter().cloned().collect();
        for action in reach {
            kept.extend(self.hierarchy.groups_of(&action).cloned());
            kept.insert(action);
        }
        kept
    }

    /// One action for each distinct set of request environments among `actions`.
    fn one_per_environment(&self, actions: BTreeSet<EntityUid>) -> BTreeSet<EntityUid> {
        let mut seen: HashSet<&str> = HashSet::new();
        actions
            .into_iter()
            .filter(|a| match self.schema.environment_key(a) {
                Some(key) => seen.insert(key),
                // Not found in the JSON form: keep it rather than guess.
                None => true,
            })
            .collect()
    }

    /// The schema with only the `kept` actions declared.
    fn scoped_schema(&self, kept: &BTreeSet<EntityUid>) -> Option<Schema> {
        let wanted: HashSet<(String, String)> = kept
            .iter()
            .map(|a| (a.type_name().namespace(), a.id().unescaped().to_string()))
            .collect();
        let fragments = self
            .fragments
            .iter()
            .map(|fragment| {
                let object = fragment.as_object()?;
                let mut out = Map::new();
                for (namespace, body) in object {
                    let mut body_out = Map::new();
                    for (key, value) in body.as_object()? {
                        if key == "actions" {
                            let actions: Map<String, Value> = value
                                .as_object()?
                                .iter()
                                .filter(|(name, _)| {
                                    wanted.contains(&(namespace.clone(), (*name).clone()))
                                })
                                .map(|(name, decl)| (name.clone(), decl.clone()))
                                .collect();
                            body_out.insert(key.clone(), Value::Object(actions));
                        } else {
                            body_out.insert(key.clone(), value.clone());
                        }
                    }
                    out.insert(namespace.clone(), Value::Object(body_out));
                }
                SchemaFragment::from_json_value(Value::Object(out)).ok()
            })
            .collect::<Option<Vec<_>>>()?;
        Schema::from_schema_fragments(fragments).ok()
    }
}

/// Whether the policy's conditions may name the `action` variable: the scope names it exactly
/// once, so any other `action` in the code (strings and comments aside) counts. Overcounting
/// (`context.action`) only costs speed.
fn names_action(policy: &Policy) -> bool {
    policy
        .to_cedar()
        .is_none_or(|text| whole_words(&text, "action") != 1)
}
