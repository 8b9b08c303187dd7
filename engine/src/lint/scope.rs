//! Scope-level reasoning: which actions, principal types and resource types a policy can
//! match, and whether one policy's scope contains another's. Conditions are compared only
//! structurally, so every answer here over-approximates what can match (a later issue adds
//! exact SMT analysis).

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::{EntityUid, Policy, PrincipalConstraint, ResourceConstraint};
use serde_json::Value;

use crate::schema::PackSchema;
pub(crate) use crate::schema::actions::ActionScope;
use crate::schema::actions::{ActionHierarchy, Reach};

/// A principal or resource scope constraint, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntityScope {
    /// `principal`
    Any,
    /// `principal == E`
    Eq(EntityUid),
    /// `principal in E`
    In(EntityUid),
    /// `principal is T`
    Is(String),
    /// `principal is T in E`
    IsIn(String, EntityUid),
}

impl EntityScope {
    fn of_principal(c: PrincipalConstraint) -> Self {
        match c {
            PrincipalConstraint::Any => Self::Any,
            PrincipalConstraint::Eq(e) => Self::Eq(e),
            PrincipalConstraint::In(e) => Self::In(e),
            PrincipalConstraint::Is(t) => Self::Is(t.to_string()),
            PrincipalConstraint::IsIn(t, e) => Self::IsIn(t.to_string(), e),
        }
    }

    fn of_resource(c: ResourceConstraint) -> Self {
        match c {
            ResourceConstraint::Any => Self::Any,
            ResourceConstraint::Eq(e) => Self::Eq(e),
            ResourceConstraint::In(e) => Self::In(e),
            ResourceConstraint::Is(t) => Self::Is(t.to_string()),
            ResourceConstraint::IsIn(t, e) => Self::IsIn(t.to_string(), e),
        }
    }

    /// Whether everything `other` matches, `self` matches too. Without entity data only the
    /// cases decidable from the scopes alone answer `true`.
    pub(crate) fn contains(&self, other: &Self) -> bool {
        if self == other {
            return true;
        }
        match (self, other) {
            (Self::Any, _) => true,
            (Self::Is(t), Self::IsIn(u, _)) => t == u,
            (Self::Is(t), Self::Eq(e)) => &e.type_name().to_string() == t,
            (Self::In(e), Self::Eq(x) | Self::In(x) | Self::IsIn(_, x)) => e == x,
            _ => false,
        }
    }

    /// The entity types this scope can match.
    fn types(&self, index: &SchemaIndex<'_>) -> BTreeSet<String> {
        match self {
            Self::Any => index.entity_types.clone(),
            Self::Eq(e) => BTreeSet::from([e.type_name().to_string()]),
            Self::Is(t) | Self::IsIn(t, _) => BTreeSet::from([t.clone()]),
            Self::In(e) => index.types_in(&e.type_name().to_string()),
        }
    }
}

/// An action's `appliesTo`: its principal and resource types.
struct AppliesTo {
    principals: BTreeSet<String>,
    resources: BTreeSet<String>,
}

/// What the schema says about types and actions, indexed once per lint run.
pub(crate) struct SchemaIndex<'a> {
    entity_types: BTreeSet<String>,
    /// For each entity type, the types it can be a member of (transitively).
    ancestors: BTreeMap<String, BTreeSet<String>>,
    /// Actions a request can name (those with `appliesTo`), with principal and resource types.
    requestable: BTreeMap<EntityUid, AppliesTo>,
    /// The action hierarchy (groups), the schema's own.
    hierarchy: &'a ActionHierarchy,
}

impl<'a> SchemaIndex<'a> {
    pub(crate) fn new(pack_schema: &'a PackSchema) -> Self {
        let schema = pack_schema.cedar();
        let entity_types: BTreeSet<String> =
            schema.entity_types().map(ToString::to_string).collect();
        let ancestors = schema
            .entity_types()
            .map(|t| {
                let up = schema
                    .ancestors(t)
                    .map(|it| it.map(ToString::to_string).collect())
                    .unwrap_or_default();
                (t.to_string(), up)
            })
            .collect();
        let requestable = schema
            .actions()
            .filter_map(|a| {
                let principals: BTreeSet<String> = schema
                    .principals_for_action(a)?
                    .map(ToString::to_string)
                    .collect();
                let resources: BTreeSet<String> = schema
                    .resources_for_action(a)?
                    .map(ToString::to_string)
                    .collect();
                (!principals.is_empty() && !resources.is_empty()).then(|| {
                    (
                        a.clone(),
                        AppliesTo {
                            principals,
                            resources,
                        },
                    )
                })
            })
            .collect();
        Self {
            entity_types,
            ancestors,
            requestable,
            hierarchy: pack_schema.action_hierarchy(),
        }
    }

    /// `ty` and every type whose entities can be members of a `ty` entity.
    fn types_in(&self, ty: &str) -> BTreeSet<String> {
        self.ancestors
            .iter()
            .filter(|(t, up)| t.as_str() == ty || up.contains(ty))
            .map(|(t, _)| t.clone())
            .chain(std::iter::once(ty.to_string()))
            .collect()
    }

    /// Every action a request can name.
    pub(crate) fn actions(&self) -> impl Iterator<Item = &EntityUid> {
        self.requestable.keys()
    }
}

/// What lint knows about one policy's scope and conditions.
#[derive(Debug, Clone)]
pub(crate) struct PolicyFacts {
    pub(crate) principal: EntityScope,
    pub(crate) resource: EntityScope,
    pub(crate) action: ActionScope,
    /// Requestable actions the policy can match: its action scope, narrowed to the actions
    /// whose `appliesTo` admits its principal and resource scopes.
    pub(crate) actions: BTreeSet<EntityUid>,
    /// Principal types it can match: its scope, within the `appliesTo` of its actions.
    pub(crate) principal_types: BTreeSet<String>,
    /// Resource types it can match, likewise.
    pub(crate) resource_types: BTreeSet<String>,
    /// Its `when`/`unless` clauses in Cedar's JSON form (`{"kind", "body"}`).
    pub(crate) conditions: Vec<Value>,
}

impl PolicyFacts {
    pub(crate) fn of(policy: &Policy, index: &SchemaIndex<'_>) -> Self {
        let principal = EntityScope::of_principal(policy.principal_constraint());
        let resource = EntityScope::of_resource(policy.resource_constraint());
        let action = ActionScope::of(policy);
        let scoped: BTreeSet<EntityUid> = match action.reach(Some(index.hierarchy)) {
            Reach::All => index.actions().cloned().collect(),
            Reach::Only(actions) => actions,
        };
        // Requests are validated against the schema, so an action only matches where its
        // `appliesTo` admits a principal and a resource type the scope admits.
        let principal_scope = principal.types(index);
        let resource_scope = resource.types(index);
        let actions: BTreeSet<EntityUid> = scoped
            .into_iter()
            .filter(|a| {
                index.requestable.get(a).is_some_and(|at| {
                    !at.principals.is_disjoint(&principal_scope)
                        && !at.resources.is_disjoint(&resource_scope)
                })
            })
            .collect();
        let applies = |pick: fn(&AppliesTo) -> &BTreeSet<String>| {
            actions
                .iter()
                .filter_map(|a| index.requestable.get(a))
                .flat_map(|at| pick(at).iter().cloned())
                .collect::<BTreeSet<String>>()
        };
        let principal_types = principal_scope
            .intersection(&applies(|at| &at.principals))
            .cloned()
            .collect();
        let resource_types = resource_scope
            .intersection(&applies(|at| &at.resources))
            .cloned()
            .collect();
        let conditions = policy
            .to_json()
            .ok()
            .and_then(|j| j.get("conditions").and_then(Value::as_array).cloned())
            .unwrap_or_default();
        Self {
            principal,
            resource,
            action,
            actions,
            principal_types,
            resource_types,
            conditions,
        }
    }

    /// Whether, wherever `other` is satisfied for `action`, `self` is satisfied too: `self`'s
    /// scope contains `other`'s and each of `self`'s conditions is one of `other`'s.
    ///
    /// The rules ask [`PolicyFacts::covers`] of the policies on an action instead; this is the
    /// definition the tests state.
    #[cfg(test)]
    pub(crate) fn implied_by(&self, other: &PolicyFacts, action: &EntityUid) -> bool {
        self.actions.contains(action) && self.covers(other)
    }

    /// [`PolicyFacts::implied_by`] less the action: whether `self`'s principal and resource
    /// scopes contain `other`'s and each of `self`'s conditions is one of `other`'s. A rule
    /// that already knows `self` matches the action (it took `self` from
    /// `LintContext::policies_on`) asks only this, once rather than once per action.
    pub(crate) fn covers(&self, other: &PolicyFacts) -> bool {
        let covers = |mine: &EntityScope, theirs: &EntityScope, their_types: &BTreeSet<String>| {
            mine.contains(theirs)
                // `principal is T` covers any scope whose possible types (per the schema's
                // `appliesTo`) are only `T`, e.g. `principal` on an action only agents take.
                || matches!(mine, EntityScope::Is(t)
                    if !their_types.is_empty() && their_types.iter().all(|x| x == t))
        };
        covers(&self.principal, &other.principal, &other.principal_types)
            && covers(&self.resource, &other.resource, &other.resource_types)
            && self.conditions.iter().all(|c| other.conditions.contains(c))
    }

    /// Whether some condition is an `unless` clause.
    pub(crate) fn has_unless(&self) -> bool {
        self.conditions
            .iter()
            .any(|c| c.get("kind").and_then(Value::as_str) == Some("unless"))
    }
}

/// Whether `uid` is the approval action (`Action::"approve"` in any namespace).
pub(crate) fn is_approve(uid: &EntityUid) -> bool {
    uid.type_name().basename() == "Action" && uid.id().unescaped() == "approve"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    const SCHEMA: &str = r#"
        @human entity Human in [Group];
        entity Group in [Group];
        entity Agent in [Group];
        entity Doc;
        action "grp";
        action read in ["grp"] appliesTo { principal: [Agent], resource: [Doc] };
        action write appliesTo { principal: [Agent], resource: [Doc] };
        action approve appliesTo { principal: [Human], resource: [Doc] };
    "#;

    fn facts(policy: &str) -> PolicyFacts {
        let schema = PackSchema::load(&[crate::SourceFile::new("s.cedarschema", SCHEMA)]).unwrap();
        let index = SchemaIndex::new(&schema);
        PolicyFacts::of(&Policy::from_str(policy).unwrap(), &index)
    }

    fn names(actions: &BTreeSet<EntityUid>) -> Vec<String> {
        actions
            .iter()
            .map(|a| a.id().unescaped().to_string())
            .collect()
    }

    #[test]
    fn action_scopes_expand_groups_to_requestable_actions() {
        assert_eq!(
            names(&facts("permit(principal, action, resource);").actions),
            ["approve", "read", "write"]
        );
        assert_eq!(
            names(&facts("permit(principal, action in Action::\"grp\", resource);").actions),
            ["read"]
        );
        assert_eq!(
            names(&facts("permit(principal is Agent, action, resource);").actions),
            ["read", "write"]
        );
        assert_eq!(
            names(&facts("permit(principal, action == Action::\"write\", resource);").actions),
            ["write"]
        );
        // `==` is exact: naming a group matches no request, whatever its members.
        assert!(
            facts("forbid(principal, action == Action::\"grp\", resource);")
                .actions
                .is_empty()
        );
    }

    const EXPANSION_SCHEMA: &str = r#"
        entity Agent; entity Token;
        action expand_privilege;
        @privilege_expansion("adds a scope")
        action add_token_scope in [expand_privilege] appliesTo { principal: [Agent], resource: [Token] };
    "#;

    fn ungated(gate_scope: &str) -> Vec<Vec<String>> {
        let policies = format!(
            "@id(\"gate\") @tier(\"single\") forbid (principal, {gate_scope}, resource);\n\
             @id(\"auto\") @tier(\"auto\") permit (principal, action == Action::\"add_token_scope\", resource);"
        );
        let source = crate::PackSource {
            policies: vec![crate::SourceFile::new("p.cedar", policies)],
            schemas: vec![crate::SourceFile::new("s.cedarschema", EXPANSION_SCHEMA)],
        };
        crate::lint::lint(source, &[], "2026-06-01".parse().unwrap())
            .unwrap()
            .into_iter()
            .filter(|f| f.rule == crate::lint::RuleId::UngatedExpansion)
            .map(|f| f.policies.iter().map(ToString::to_string).collect())
            .collect()
    }

    #[test]
    fn a_gate_on_action_eq_group_covers_no_member() {
        // Cedar's `==` matches only the group's own uid, which no request names: the gate never
        // applies, so the auto permit on a member expands privilege with no human.
        assert_eq!(
            ungated("action == Action::\"expand_privilege\""),
            [["auto"]]
        );
        // `in` reaches the members: the gate covers the permit.
        assert!(ungated("action in Action::\"expand_privilege\"").is_empty());
    }

    #[test]
    fn principal_types_follow_membership_and_applies_to() {
        let f = facts("permit(principal in Group::\"g\", action, resource);");
        assert_eq!(
            f.principal_types.iter().cloned().collect::<Vec<_>>(),
            ["Agent", "Human"]
        );
        let f =
            facts("permit(principal in Group::\"g\", action == Action::\"approve\", resource);");
        assert_eq!(
            f.principal_types.iter().cloned().collect::<Vec<_>>(),
            ["Human"]
        );
    }

    #[test]
    fn containment_and_implication() {
        let wide = facts("forbid(principal, action, resource is Doc);");
        let narrow = facts(
            "permit(principal is Agent, action == Action::\"read\", resource is Doc) when { true };",
        );
        let read = EntityUid::from_str("Action::\"read\"").unwrap();
        assert!(wide.implied_by(&narrow, &read));
        assert!(!narrow.implied_by(&wide, &read));
        let cond = facts("forbid(principal, action, resource) when { true };");
        assert!(cond.implied_by(&narrow, &read));
        let other = facts("forbid(principal, action, resource) when { false };");
        assert!(!other.implied_by(&narrow, &read));
        // `is Agent` covers an unconstrained principal on an action only agents take.
        let agents_only = facts("forbid(principal is Agent, action, resource);");
        let any_principal = facts("permit(principal, action == Action::\"read\", resource);");
        assert!(agents_only.implied_by(&any_principal, &read));
        let any_action = facts("permit(principal, action, resource);");
        let approve = EntityUid::from_str("Action::\"approve\"").unwrap();
        assert!(!agents_only.implied_by(&any_action, &approve));
        let g = EntityUid::from_str("Group::\"g\"").unwrap();
        assert!(EntityScope::In(g.clone()).contains(&EntityScope::IsIn("Agent".into(), g)));
    }
}
