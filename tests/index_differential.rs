//! The action-scope index changes nothing: on generated packs (with and without a schema, with
//! action groups, `in` lists, unconstrained scopes and unknown actions) and on every reference
//! case, indexed and full evaluation give identical decisions.

mod support;

use proptest::prelude::*;
use serde_json::json;
use support::scopes::action_scope;
use tollgate_engine::reference::decide_unindexed;
use tollgate_engine::{Pack, PackSource, ProposedAction, SourceFile, Timestamp};

const SCHEMA: &str = r#"
    entity U; entity R;
    action "all";
    action "grp_a" in ["all"];
    action "grp_b" in ["grp_a"];
    action a0 in ["grp_b"] appliesTo { principal: [U], resource: [R], context: { n: Long } };
    action a1 in ["grp_a"] appliesTo { principal: [U], resource: [R], context: { n: Long } };
    action a2 in ["all"] appliesTo { principal: [U], resource: [R], context: { n: Long } };
    action a3 appliesTo { principal: [U], resource: [R], context: { n: Long } };
"#;

/// Without a schema, action groups come from the entity data.
const ACTION_ENTITIES: &str = r#"[
    {"uid": {"type": "Action", "id": "grp_a"}, "attrs": {}, "parents": [{"type": "Action", "id": "all"}]},
    {"uid": {"type": "Action", "id": "grp_b"}, "attrs": {}, "parents": [{"type": "Action", "id": "grp_a"}]},
    {"uid": {"type": "Action", "id": "a0"}, "attrs": {}, "parents": [{"type": "Action", "id": "grp_b"}]},
    {"uid": {"type": "Action", "id": "a1"}, "attrs": {}, "parents": [{"type": "Action", "id": "grp_a"}]},
    {"uid": {"type": "Action", "id": "a2"}, "attrs": {}, "parents": [{"type": "Action", "id": "all"}]}
]"#;

const ACTIONS: [&str; 8] = ["a0", "a1", "a2", "a3", "grp_a", "grp_b", "all", "a9"];

fn policy() -> impl Strategy<Value = String> {
    let head = prop::sample::select(vec![
        "@tier(\"auto\") permit",
        "@tier(\"single\") permit",
        "@tier(\"dual\") permit",
        "@tier(\"single\") forbid",
        "@tier(\"dual\") forbid",
        "forbid",
    ]);
    let cond = prop::sample::select(vec![
        "true",
        "context.n > 1",
        "context.n == 0",
        "context.n < 3",
        "context.missing == 1",
    ]);
    (head, action_scope(&ACTIONS), cond)
        .prop_map(|(h, s, c)| format!("{h} (principal, {s}, resource) when {{ {c} }};\n"))
}

fn at() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn indexed_equals_full(
        policies in prop::collection::vec(policy(), 0..14),
        with_schema in any::<bool>(),
        action in prop::sample::select(ACTIONS.to_vec()),
        n in 0i64..4,
    ) {
        let text: String = if with_schema {
            // The schema rejects unknown actions and `context.missing`; keep the policy set valid.
            policies
                .iter()
                .map(|p| p.replace("context.missing == 1", "context.n == 2").replace("\"a9\"", "\"a3\""))
                .collect()
        } else {
            policies.concat()
        };
        let schemas = if with_schema { vec![SourceFile::new("s.cedarschema", SCHEMA)] } else { vec![] };
        let pack = Pack::load(PackSource { policies: vec![SourceFile::new("p.cedar", text)], schemas }).unwrap();
        let entities = if with_schema {
            pack.no_entities()
        } else {
            pack.entities_from_json(&serde_json::from_str(ACTION_ENTITIES).unwrap()).unwrap()
        };
        let request = ProposedAction::from_json(&json!({
            "principal": "U::\"u\"", "action": format!("Action::\"{action}\""), "resource": "R::\"r\"",
            "context": {"n": n}
        })).unwrap();
        let indexed = pack.decide(&request, &entities, at());
        let full = decide_unindexed(&pack, &request, &entities, at());
        prop_assert_eq!(indexed, full);
    }
}

/// A pack large enough that the policies matching every action are evaluated as a second set
/// beside each action's own (4,000 policies, 400 actions, about 80 unconstrained): decisions
/// are still those of evaluating every policy.
#[test]
fn a_split_index_decides_as_full_evaluation() {
    use tollgate::synthetic::{self, Shape};
    let shape = Shape {
        policies: 4_000,
        actions: 400,
    };
    let pack = Pack::load(synthetic::pack(shape, 5)).unwrap();
    let entities = pack.entities_from_json(&synthetic::entities()).unwrap();
    let mut requests = synthetic::requests(shape, 300, 5);
    // Actions no policy names, and groups: only the unconstrained policies apply.
    requests.push(json!({"principal": "User::\"u1\"", "action": "Action::\"grp3\"", "resource": "Res::\"r1\"", "context": {"n": 1, "env": "prod"}}));
    let mut tiers = std::collections::BTreeSet::new();
    for r in &requests {
        let request = ProposedAction::from_json(r).unwrap();
        let indexed = pack.decide(&request, &entities, at());
        let full = decide_unindexed(&pack, &request, &entities, at());
        if let Ok(d) = &indexed {
            tiers.insert(d.tier.as_str());
        }
        assert_eq!(indexed, full, "{r}");
    }
    // The requests reach more than one outcome, so the comparison is not of one constant.
    assert!(tiers.len() >= 2, "{tiers:?}");
}
