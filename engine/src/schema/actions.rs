//! Which actions a policy's action scope can reach: the one model the decision index, scoped
//! validation and lint share, over the one action-group closure they all read.
//!
//! Cedar's `action == A` compares uids, so it reaches exactly `A`: a gate written
//! `action == Action::"group"` applies only to a request naming the group itself, which no
//! request does. `action in G` reaches `G` and every action (transitively) in it; `in [A, B]`
//! the union.

use std::collections::{BTreeSet, HashMap};

use cedar_policy::{ActionConstraint, EntityUid, Policy, Schema};

/// A policy's action scope, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ActionScope {
    /// `action`: every action.
    Any,
    /// `action == A`: exactly `A`.
    Eq(EntityUid),
    /// `action in A` or `action in [A, B]`: these and every action in them.
    In(Vec<EntityUid>),
}

/// The actions a scope can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every action (no constraint, or an `in` whose groups are not known).
    All,
    /// Exactly these actions.
    Only(BTreeSet<EntityUid>),
}

impl ActionScope {
    /// The scope of `policy`.
    pub(crate) fn of(policy: &Policy) -> Self {
        match policy.action_constraint() {
            ActionConstraint::Any => Self::Any,
            ActionConstraint::Eq(action) => Self::Eq(action),
            ActionConstraint::In(actions) => Self::In(actions),
        }
    }

    /// The actions the scope names (none for `Any`).
    pub(crate) fn named(&self) -> &[EntityUid] {
        match self {
            Self::Any => &[],
            Self::Eq(action) => std::slice::from_ref(action),
            Self::In(groups) => groups,
        }
    }

    /// The actions the scope can reach. Without a `hierarchy` the members of a group are
    /// unknown (they may come from entity data), so an `in` may reach anything.
    pub(crate) fn reach(&self, hierarchy: Option<&ActionHierarchy>) -> Reach {
        match (self, hierarchy) {
            (Self::Any, _) | (Self::In(_), None) => Reach::All,
            (Self::Eq(action), _) => Reach::Only(BTreeSet::from([action.clone()])),
            (Self::In(groups), Some(h)) => {
                Reach::Only(groups.iter().flat_map(|g| h.in_group(g)).collect())
            }
        }
    }
}

/// The schema's action groups, closed transitively: the only such closure in the engine.
#[derive(Debug, Clone, Default)]
pub(crate) struct ActionHierarchy {
    /// For every action group, the actions (transitively) in it.
    descendants: HashMap<EntityUid, BTreeSet<EntityUid>>,
    /// For every action, the groups it is (transitively) in.
    ancestors: HashMap<EntityUid, BTreeSet<EntityUid>>,
}

impl ActionHierarchy {
    /// The hierarchy the schema declares.
    pub(crate) fn of(schema: &Schema) -> Result<Self, String> {
        let entities = schema.action_entities().map_err(|e| e.to_string())?;
        let mut out = Self::default();
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
            for group in &seen {
                out.descendants
                    .entry(group.clone())
                    .or_default()
                    .insert(action.clone());
            }
            if !seen.is_empty() {
                out.ancestors.insert(action.clone(), seen);
            }
        }
        Ok(out)
    }

    /// `group` and every action (transitively) in it.
    pub(crate) fn in_group<'a>(
        &'a self,
        group: &'a EntityUid,
    ) -> impl Iterator<Item = EntityUid> + 'a {
        std::iter::once(group.clone())
            .chain(self.descendants.get(group).into_iter().flatten().cloned())
    }

    /// The groups `action` is (transitively) in.
    pub(crate) fn groups_of(&self, action: &EntityUid) -> impl Iterator<Item = &EntityUid> {
        self.ancestors.get(action).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    const SCHEMA: &str = r#"
        entity U;
        action top;
        action grp in [top];
        action a in [grp] appliesTo { principal: [U], resource: [U] };
        action b appliesTo { principal: [U], resource: [U] };
    "#;

    fn uid(id: &str) -> EntityUid {
        EntityUid::from_str(&format!("Action::\"{id}\"")).unwrap()
    }

    fn reach(policy: &str, hierarchy: Option<&ActionHierarchy>) -> Reach {
        ActionScope::of(&Policy::from_str(policy).unwrap()).reach(hierarchy)
    }

    fn only(ids: &[&str]) -> Reach {
        Reach::Only(ids.iter().map(|id| uid(id)).collect())
    }

    #[test]
    fn eq_is_exact_in_is_closed_and_unions() {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
        let hierarchy = ActionHierarchy::of(&schema).unwrap();
        let h = Some(&hierarchy);
        assert_eq!(reach("permit(principal, action, resource);", h), Reach::All);
        // `==` on a group reaches the group only, never its members.
        assert_eq!(
            reach("permit(principal, action == Action::\"grp\", resource);", h),
            only(&["grp"])
        );
        assert_eq!(
            reach("permit(principal, action in Action::\"top\", resource);", h),
            only(&["top", "grp", "a"])
        );
        assert_eq!(
            reach(
                "permit(principal, action in [Action::\"grp\", Action::\"b\"], resource);",
                h
            ),
            only(&["grp", "a", "b"])
        );
        // Without the hierarchy an `in` may reach anything; `==` is still exact.
        assert_eq!(
            reach(
                "permit(principal, action in Action::\"grp\", resource);",
                None
            ),
            Reach::All
        );
        assert_eq!(
            reach(
                "permit(principal, action == Action::\"a\", resource);",
                None
            ),
            only(&["a"])
        );
        let groups: Vec<&EntityUid> = hierarchy.groups_of(&uid("a")).collect();
        assert_eq!(groups, [&uid("grp"), &uid("top")]);
    }
}
