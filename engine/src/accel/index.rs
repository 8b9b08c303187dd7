//! The action-scope index: per action, only the policies whose scope can match it.
//!
//! Reference path: `Pack::decide_unindexed` (public for tests as
//! `reference::decide_unindexed`), every policy as a permit (the shadow set) in one evaluation.
//! Held equal by
//! `tests/index_differential.rs` (generated packs, with and without a schema and action groups,
//! and a pack large enough for the split index) and by
//! `tests/reference_pack.rs::the_index_changes_no_reference_decision`.
//!
//! Plain Cedar evaluates every policy on every request, about a microsecond each even when the
//! scope rules it out. Most policies name their actions, so grouping them by action at load time
//! makes a decision cost what the request's own action costs. Results are identical to evaluating
//! every policy: a policy left out has an action scope that is false for the request, and a false
//! scope makes a policy unsatisfied without evaluating (or erroring in) its conditions.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use cedar_policy::{Effect, EntityUid, Policy, PolicySet};

use crate::schema::actions::{ActionHierarchy, ActionScope, Reach};

/// A set of the pack's policies as written, and (built on first use) the same set without its
/// forbids: the second evaluation a decision needs when a gate is satisfied, because Cedar then
/// reports only the satisfied forbids, not the satisfied permits.
#[derive(Debug, Default)]
pub(crate) struct CandidateSet {
    policies: PolicySet,
    permits: OnceLock<Result<PolicySet, String>>,
}

impl CandidateSet {
    fn new(policies: PolicySet) -> Self {
        Self {
            policies,
            permits: OnceLock::new(),
        }
    }

    /// The policies, forbids as forbids.
    pub(crate) fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The permits of [`CandidateSet::policies`], or why the set could not be built (it cannot
    /// happen: the ids are already unique in `policies`).
    pub(crate) fn permits(&self) -> Result<&PolicySet, &str> {
        self.permits
            .get_or_init(|| {
                let mut set = PolicySet::new();
                for p in self
                    .policies
                    .policies()
                    .filter(|p| p.effect() == Effect::Permit)
                {
                    set.add(p.clone()).map_err(|e| e.to_string())?;
                }
                Ok(set)
            })
            .as_ref()
            .map_err(String::as_str)
    }
}

/// Policy sets (as written) keyed by the request's action.
#[derive(Debug, Default)]
pub(crate) struct ActionIndex {
    by_action: HashMap<EntityUid, CandidateSet>,
    /// The policies that can match any action. Evaluated on their own for actions no scope names.
    everywhere: CandidateSet,
    /// Whether `everywhere` is also copied into each action's set (one Cedar evaluation per
    /// decision) or evaluated beside it (two). Copying costs actions × policies at load time.
    merged: bool,
}

/// At most this many policy copies are made to merge the policies that match every action into
/// each action's set: a few milliseconds of loading, to save a second evaluation per decision.
const MERGE_BUDGET: usize = 16_384;

/// The sets to evaluate for one request: their satisfied and erroring policies together are
/// exactly those of the whole pack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidates<'a> {
    first: &'a CandidateSet,
    second: Option<&'a CandidateSet>,
}

impl<'a> Candidates<'a> {
    /// Every set to evaluate (one or two).
    pub(crate) fn sets(self) -> impl Iterator<Item = &'a CandidateSet> {
        std::iter::once(self.first).chain(self.second)
    }
}

impl<'a> From<&'a CandidateSet> for Candidates<'a> {
    fn from(set: &'a CandidateSet) -> Self {
        Self {
            first: set,
            second: None,
        }
    }
}

impl ActionIndex {
    /// Groups `policies` (already in the pack's order) by the actions they can match.
    /// `hierarchy` resolves `action in Group`; without it (no schema, or one that declares
    /// external actions, whose groups it does not know) an `in` scope may match anything.
    pub(crate) fn build(
        policies: &[Policy],
        hierarchy: Option<&ActionHierarchy>,
    ) -> Result<Self, String> {
        Self::build_within(policies, hierarchy, MERGE_BUDGET)
    }

    /// [`ActionIndex::build`], merging the policies that match every action into each action's
    /// set only if that takes at most `merge_budget` copies.
    fn build_within(
        policies: &[Policy],
        hierarchy: Option<&ActionHierarchy>,
        merge_budget: usize,
    ) -> Result<Self, String> {
        let reaches: Vec<Reach> = policies
            .iter()
            .map(|p| ActionScope::of(p).reach(hierarchy))
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
        let set_of = |indices: &[usize]| -> Result<CandidateSet, String> {
            let mut set = PolicySet::new();
            for p in indices.iter().filter_map(|&i| policies.get(i)) {
                set.add(p.clone()).map_err(|e| e.to_string())?;
            }
            Ok(CandidateSet::new(set))
        };
        let merged = by_action.len().saturating_mul(everywhere.len()) <= merge_budget;
        let mut index = Self {
            merged,
            ..Self::default()
        };
        for (action, mut indices) in by_action {
            if merged {
                indices.extend_from_slice(&everywhere);
                indices.sort_unstable();
                indices.dedup();
            }
            index.by_action.insert(action.clone(), set_of(&indices)?);
        }
        index.everywhere = set_of(&everywhere)?;
        Ok(index)
    }

    /// No index: every request evaluates every policy.
    pub(crate) fn everything(policies: &PolicySet) -> Self {
        Self {
            by_action: HashMap::new(),
            everywhere: CandidateSet::new(policies.clone()),
            merged: true,
        }
    }

    /// The policies to evaluate for a request on `action`.
    pub(crate) fn candidates(&self, action: &EntityUid) -> Candidates<'_> {
        match self.by_action.get(action) {
            None => Candidates::from(&self.everywhere),
            Some(named) if self.merged || self.everywhere.policies.is_empty() => {
                Candidates::from(named)
            }
            Some(named) => Candidates {
                first: named,
                second: Some(&self.everywhere),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const SCHEMA: &str = r#"
        entity U; entity R;
        action g;
        action a in [g] appliesTo { principal: [U], resource: [R] };
        action b in [g] appliesTo { principal: [U], resource: [R] };
        action c appliesTo { principal: [U], resource: [R] };
    "#;

    const POLICIES: &str = r#"
        permit (principal, action == Action::"a", resource);
        permit (principal, action, resource);
        permit (principal, action in Action::"g", resource);
        permit (principal, action in [Action::"c", Action::"x"], resource);
        permit (principal, action, resource) when { context.n > 1 };
    "#;

    fn ids<'a>(sets: impl Iterator<Item = &'a CandidateSet>) -> Vec<String> {
        let mut ids: Vec<String> = sets
            .flat_map(|s| s.policies().policies())
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn split_and_merged_indexes_offer_the_same_policies() {
        let (schema, _) = cedar_policy::Schema::from_cedarschema_str(SCHEMA).unwrap();
        let hierarchy = ActionHierarchy::of(&schema).unwrap();
        let set = PolicySet::from_str(POLICIES).unwrap();
        let policies: Vec<Policy> = set.policies().cloned().collect();
        let merged = ActionIndex::build_within(&policies, Some(&hierarchy), usize::MAX).unwrap();
        let split = ActionIndex::build_within(&policies, Some(&hierarchy), 0).unwrap();
        assert!(merged.merged && !split.merged);
        for action in ["a", "b", "c", "g", "x", "unknown"] {
            let uid = EntityUid::from_str(&format!("Action::\"{action}\"")).unwrap();
            let (m, s) = (merged.candidates(&uid), split.candidates(&uid));
            assert_eq!(m.sets().count(), 1);
            assert_eq!(ids(m.sets()), ids(s.sets()), "{action}");
            // Split sets never repeat a policy: their answers are simply put together.
            let listed = s
                .sets()
                .map(|s| s.policies().num_of_policies())
                .sum::<usize>();
            assert_eq!(listed, ids(s.sets()).len(), "{action}");
        }
        let c = EntityUid::from_str("Action::\"c\"").unwrap();
        assert_eq!(ids(split.candidates(&c).sets()).len(), 3);
    }

    #[test]
    fn a_sets_permits_are_its_permits_only() {
        let set = PolicySet::from_str(
            r#"permit (principal, action, resource);
               forbid (principal, action, resource) when { context.n > 1 };
               @tier("dual") forbid (principal, action, resource);
               permit (principal, action, resource) when { context.n > 1 };"#,
        )
        .unwrap();
        let candidates = CandidateSet::new(set);
        let permits = candidates.permits().unwrap();
        let mut ids: Vec<String> = permits.policies().map(|p| p.id().to_string()).collect();
        ids.sort();
        assert_eq!(ids, ["policy0", "policy3"]);
        assert!(permits.policies().all(|p| p.effect() == Effect::Permit));
        assert_eq!(candidates.policies().num_of_policies(), 4);
    }
}
