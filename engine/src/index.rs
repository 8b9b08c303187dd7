//! The action-scope index: per action, only the policies whose scope can match it.
//!
//! Plain Cedar evaluates every policy on every request, about a microsecond each even when the
//! scope rules it out. Most policies name their actions, so grouping them by action at load time
//! makes a decision cost what the request's own action costs. Results are identical to evaluating
//! every policy: a policy left out has an action scope that is false for the request, and a false
//! scope makes a policy unsatisfied without evaluating (or erroring in) its conditions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cedar_policy::{ActionConstraint, EntityUid, Policy, PolicySet, Schema};

/// Shadow policy sets keyed by the request's action.
#[derive(Debug, Default)]
pub(crate) struct ActionIndex {
    by_action: HashMap<EntityUid, PolicySet>,
    /// For actions no scope names: the policies that can match any action.
    fallback: PolicySet,
}

/// Which actions a policy's scope can match.
enum Reach {
    /// Every action (no action constraint, or an `in` the schema cannot resolve).
    All,
    /// Exactly these actions.
    Only(BTreeSet<EntityUid>),
}

impl ActionIndex {
    /// Groups `shadow` policies (already in the pack's order) by the actions they can match.
    /// `schema` resolves `action in Group`; without it (or when the schema declares external
    /// actions, whose groups it does not know) an `in` scope may match anything.
    pub(crate) fn build(shadow: &[Policy], schema: Option<&Schema>) -> Result<Self, String> {
        let hierarchy = schema
            .filter(|s| s.is_complete())
            .map(action_descendants)
            .transpose()?;
        let reaches: Vec<Reach> = shadow
            .iter()
            .map(|p| reach(p, hierarchy.as_ref()))
            .collect();

        // Each action's candidates, as indices in pack order: the policies naming it, then
        // (merged in order) those that reach every action. One pass over the policies, not one
        // per action: 10,000 policies over 500 actions is otherwise five million checks.
        let mut everywhere: Vec<usize> = Vec::new();
        let mut by_action: BTreeMap<&EntityUid, Vec<usize>> = BTreeMap::new();
        for (i, r) in reaches.iter().enumerate() {
            match r {
                Reach::All => everywhere.push(i),
                Reach::Only(actions) => {
                    for action in actions {
                        by_action.entry(action).or_default().push(i);
                    }
                }
            }
        }
        let set_of = |indices: &[usize]| -> Result<PolicySet, String> {
            let mut set = PolicySet::new();
            for p in indices.iter().filter_map(|&i| shadow.get(i)) {
                set.add(p.clone()).map_err(|e| e.to_string())?;
            }
            Ok(set)
        };
        let mut index = Self::default();
        for (action, mut indices) in by_action {
            indices.extend_from_slice(&everywhere);
            indices.sort_unstable();
            indices.dedup();
            index.by_action.insert(action.clone(), set_of(&indices)?);
        }
        index.fallback = set_of(&everywhere)?;
        Ok(index)
    }

    /// No index: every request evaluates every policy.
    pub(crate) fn everything(shadow: &PolicySet) -> Self {
        Self {
            by_action: HashMap::new(),
            fallback: shadow.clone(),
        }
    }

    /// The policies to evaluate for a request on `action`.
    pub(crate) fn candidates(&self, action: &EntityUid) -> &PolicySet {
        self.by_action.get(action).unwrap_or(&self.fallback)
    }
}

fn reach(policy: &Policy, hierarchy: Option<&HashMap<EntityUid, BTreeSet<EntityUid>>>) -> Reach {
    match policy.action_constraint() {
        ActionConstraint::Any => Reach::All,
        ActionConstraint::Eq(a) => Reach::Only(BTreeSet::from([a])),
        ActionConstraint::In(groups) => match hierarchy {
            None => Reach::All,
            Some(h) => Reach::Only(
                groups
                    .iter()
                    .flat_map(|g| {
                        std::iter::once(g.clone()).chain(h.get(g).into_iter().flatten().cloned())
                    })
                    .collect(),
            ),
        },
    }
}

/// For every action or action group, the actions that are (transitively) in it.
fn action_descendants(schema: &Schema) -> Result<HashMap<EntityUid, BTreeSet<EntityUid>>, String> {
    let entities = schema.action_entities().map_err(|e| e.to_string())?;
    let mut out: HashMap<EntityUid, BTreeSet<EntityUid>> = HashMap::new();
    for action in schema.actions() {
        // Walk parents ourselves rather than trust a precomputed closure.
        let mut stack: Vec<EntityUid> = vec![action.clone()];
        let mut seen: BTreeSet<EntityUid> = BTreeSet::new();
        while let Some(current) = stack.pop() {
            for parent in entities.ancestors(&current).into_iter().flatten() {
                if seen.insert(parent.clone()) {
                    stack.push(parent.clone());
                }
            }
        }
        for group in seen {
            out.entry(group).or_default().insert(action.clone());
        }
    }
    Ok(out)
}
