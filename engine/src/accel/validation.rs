//! Strict validation, scoped to the actions each policy's scope can match.
//!
//! Reference path: `pack::validate` validating every policy against the whole schema. Held
//! equal by `tests/validation_differential.rs` (generated schemas and packs, compared with
//! Cedar's validator over the whole set).
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

use cedar_policy::{
    EntityUid, Policy, PolicyId, PolicySet, Schema, SchemaFragment, ValidationMode, Validator,
};
use serde_json::{Map, Value};

use super::parallel;
use crate::lexical::whole_words;
use crate::schema::PackSchema;
use crate::schema::actions::{ActionHierarchy, ActionScope, Reach};

/// The policies of `policies` (unique ids) the scoped run does not clear: only these need
/// validating against the whole schema. `None` when the schema cannot be taken apart (then
/// every policy does).
pub(crate) fn suspects(schema: &PackSchema, policies: &[&Policy]) -> Option<HashSet<PolicyId>> {
    Scopes::new(schema).map(|scopes| scopes.suspects(policies))
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
    fn suspects(&self, policies: &[&'a Policy]) -> HashSet<PolicyId> {
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
    fn suspects_in(&self, groups: &[(BTreeSet<EntityUid>, Vec<&Policy>)]) -> HashSet<PolicyId> {
        let mut suspects = HashSet::new();
        for (kept, policies) in groups {
            let cleared = self.scoped_schema(kept).and_then(|schema| {
                let mut subset = PolicySet::new();
                for p in policies {
                    subset.add((*p).clone()).ok()?;
                }
                let result = Validator::new(schema).validate(&subset, ValidationMode::Strict);
                let flagged: HashSet<PolicyId> = result
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
