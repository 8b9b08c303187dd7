//! Which actions a principal can reach at all: those at least one `permit` policy's scope can
//! match, whatever the resource and context.
//!
//! A gateway uses this to hide tools an agent could never be allowed to call, rather than list
//! them and have every call denied. Hiding must never hide what a decision could permit, so the
//! answer over-approximates: conditions (`when`, `unless`) and the resource scope are ignored,
//! an `in` whose membership is unknown (an action group the schema does not close, a principal
//! not among the entities) counts as matching, and so does a permit of any tier. Only the
//! principal and action scopes of permits are read: an action no permit's scope names for this
//! principal is denied by every decision (Cedar denies by default), so it is safe to hide.

use cedar_policy::{Effect, EntityUid, Policy, PrincipalConstraint};

use super::{Pack, PreparedEntities};
use crate::model::request::EntityRef;
use crate::schema::actions::{ActionScope, Reach};

impl Pack {
    /// The actions of `actions` (in the order given) that at least one `permit` policy's scope
    /// can match for `principal`, with `entities` for the principal's groups and the schema's
    /// action groups for `action in [...]`. Sound for hiding: when unsure, an action is kept.
    pub fn reachable_actions(
        &self,
        principal: &EntityRef,
        actions: &[EntityRef],
        entities: &PreparedEntities,
    ) -> Vec<EntityRef> {
        let principal = principal.uid();
        // Without a schema, or with one whose action groups are not all known, an `in`
        // reaches every action.
        let hierarchy = self.schema().and_then(|s| s.complete_action_hierarchy());
        let reaches: Vec<Reach> = self
            .cedar_policies()
            .policies()
            .filter(|p| p.effect() == Effect::Permit)
            .filter(|p| principal_may_match(p, principal, entities))
            .map(|p| ActionScope::of(p).reach(hierarchy))
            .collect();
        actions
            .iter()
            .filter(|action| {
                reaches.iter().any(|reach| match reach {
                    Reach::All => true,
                    Reach::Only(set) => set.contains(action.uid()),
                })
            })
            .cloned()
            .collect()
    }
}

/// Whether `policy`'s principal scope can match `principal`: `==` exactly, `in` by the
/// entities' (transitive) ancestors, `is` by type. A principal the entities do not hold may be
/// in anything, so `in` then matches.
fn principal_may_match(
    policy: &Policy,
    principal: &EntityUid,
    entities: &PreparedEntities,
) -> bool {
    let within = |group: &EntityUid| {
        group == principal
            || match entities.cedar().ancestors(principal) {
                Some(mut ancestors) => ancestors.any(|a| a == group),
                None => true,
            }
    };
    let typed = |ty: &cedar_policy::EntityTypeName| ty == principal.type_name();
    match policy.principal_constraint() {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Eq(e) => &e == principal,
        PrincipalConstraint::In(e) => within(&e),
        PrincipalConstraint::Is(t) => typed(&t),
        PrincipalConstraint::IsIn(t, e) => typed(&t) && within(&e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::source::{PackSource, SourceFile};

    const SCHEMA: &str = r#"
        entity Group;
        entity Agent in [Group];
        entity Bot;
        entity Doc;
        action "files";
        action read in ["files"] appliesTo { principal: [Agent, Bot], resource: [Doc] };
        action write in ["files"] appliesTo { principal: [Agent, Bot], resource: [Doc] };
        action deploy appliesTo { principal: [Agent, Bot], resource: [Doc] };
        action wipe appliesTo { principal: [Agent, Bot], resource: [Doc] };
    "#;

    fn pack(policies: &str) -> Pack {
        Pack::load(PackSource {
            policies: vec![SourceFile::new("p.cedar", policies)],
            schemas: vec![SourceFile::new("s.cedarschema", SCHEMA)],
        })
        .unwrap()
    }

    fn r(text: &str) -> EntityRef {
        text.parse().unwrap()
    }

    fn all() -> Vec<EntityRef> {
        ["read", "write", "deploy", "wipe"]
            .iter()
            .map(|a| r(&format!("Action::\"{a}\"")))
            .collect()
    }

    fn reachable(pack: &Pack, principal: &str) -> Vec<String> {
        let entities = pack
            .entities_from_json(&json!([
                {"uid": {"type": "Agent", "id": "coder"},
                 "attrs": {}, "parents": [{"type": "Group", "id": "devs"}]},
                {"uid": {"type": "Agent", "id": "loner"}, "attrs": {}, "parents": []},
                {"uid": {"type": "Group", "id": "devs"}, "attrs": {}, "parents": []},
            ]))
            .unwrap();
        pack.reachable_actions(&r(principal), &all(), &entities)
            .iter()
            .map(|a| a.id().to_string())
            .collect()
    }

    #[test]
    fn an_action_group_reaches_its_members() {
        let p = pack(r#"@tier("auto") permit(principal, action in Action::"files", resource);"#);
        assert_eq!(reachable(&p, "Agent::\"coder\""), ["read", "write"]);
    }

    #[test]
    fn a_principal_group_is_read_from_the_entities() {
        let p = pack(
            r#"@tier("single") permit(principal in Group::"devs", action == Action::"deploy", resource);"#,
        );
        assert_eq!(reachable(&p, "Agent::\"coder\""), ["deploy"]);
        assert!(reachable(&p, "Agent::\"loner\"").is_empty());
        // A principal the entities do not hold may be in anything: kept.
        assert_eq!(reachable(&p, "Agent::\"stranger\""), ["deploy"]);
    }

    #[test]
    fn is_matches_by_type() {
        let p =
            pack(r#"@tier("auto") permit(principal is Bot, action == Action::"read", resource);"#);
        assert_eq!(reachable(&p, "Bot::\"b\""), ["read"]);
        assert!(reachable(&p, "Agent::\"coder\"").is_empty());
    }

    #[test]
    fn an_action_only_a_forbid_names_is_unreachable() {
        let p = pack(
            r#"@tier("auto") permit(principal, action == Action::"read", resource);
               forbid(principal, action == Action::"wipe", resource);"#,
        );
        assert_eq!(reachable(&p, "Agent::\"coder\""), ["read"]);
    }

    #[test]
    fn conditions_and_resources_are_ignored() {
        let p = pack(
            r#"@tier("dual") permit(principal == Agent::"coder", action == Action::"wipe", resource == Doc::"x")
               when { false };"#,
        );
        assert_eq!(reachable(&p, "Agent::\"coder\""), ["wipe"]);
        assert!(reachable(&p, "Agent::\"loner\"").is_empty());
    }
}
