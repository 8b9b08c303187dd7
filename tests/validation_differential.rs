//! Scoped validation changes nothing: on generated schemas (actions sharing or not sharing their
//! `appliesTo`, action groups, several principal and resource types) and generated policies
//! (every scope form, well- and ill-typed conditions, conditions that name `action`, unknown
//! actions), `Pack::load` reports exactly what Cedar's validator reports over the whole set.

use std::collections::BTreeSet;
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
mod support;

use proptest::prelude::*;
use support::scopes::action_scope;
use tollgate_engine::{Pack, PackSource, SourceFile};

const ENTITIES: &str = r#"
    entity Team;
    entity User in [Team] { level: Long };
    entity Bot { level: Long, owner: User };
    entity Doc { env: String };
    entity Repo { env: String, private: Bool };
"#;

/// The shapes an action may apply to: few, so that actions often share one.
const APPLIES: [&str; 5] = [
    "appliesTo { principal: [User], resource: [Doc], context: { n: Long } }",
    "appliesTo { principal: [User, Bot], resource: [Doc, Repo], context: { n: Long } }",
    "appliesTo { principal: [Bot], resource: [Repo], context: { s: String } }",
    "appliesTo { principal: [User], resource: [Repo], context: { n: Long, s: String } }",
    "",
];

const ACTIONS: [&str; 9] = ["a0", "a1", "a2", "a3", "a4", "a5", "g0", "g1", "a9"];

/// A schema: groups `g1 in g0`, and six actions each with one of the shapes and a group.
fn schema() -> impl Strategy<Value = String> {
    prop::collection::vec((0..APPLIES.len(), 0usize..3), 6).prop_map(|actions| {
        let mut s = String::from(ENTITIES);
        s.push_str("action g0;\naction g1 in [g0];\n");
        for (i, (applies, group)) in actions.into_iter().enumerate() {
            let member = ["", " in [g0]", " in [g1]"]
                .get(group)
                .copied()
                .unwrap_or("");
            let applies = APPLIES.get(applies).copied().unwrap_or("");
            s.push_str(&format!("action a{i}{member} {applies};\n"));
        }
        s
    })
}

fn policy() -> impl Strategy<Value = String> {
    let head = prop::sample::select(vec![
        "@tier(\"auto\") permit",
        "@tier(\"single\") permit",
        "@tier(\"dual\") forbid",
        "forbid",
    ]);
    let principal = prop::sample::select(vec![
        "principal",
        "principal == User::\"u\"",
        "principal is Bot",
        "principal in Team::\"t\"",
        "principal is User in Team::\"t\"",
    ]);
    let resource = prop::sample::select(vec![
        "resource",
        "resource is Doc",
        "resource == Repo::\"r\"",
    ]);
    let condition = prop::sample::select(vec![
        "true",
        "context.n > 1",
        "context.s == \"x\"",
        "context has n && context.n > 1",
        "principal.level > 2",
        "principal.owner.level > 1",
        "resource.env == \"prod\"",
        "resource.private",
        "action == Action::\"a1\" && context.n > 0",
        "action in Action::\"g1\" && resource.private",
        "action == Action::\"a4\" || context.s == \"y\"",
        "(action in Action::\"g1\" && resource.private) || principal.level > 0",
        "(action == Action::\"a2\" && principal.owner.level > 1) || resource.env == \"x\"",
        "principal.nope == 1",
        "1 + \"x\" == 2",
        "Undeclared::\"x\" == principal",
        "false",
    ]);
    let note = prop::sample::select(vec!["", "@reason(\"any action at all\") "]);
    (
        note,
        head,
        principal,
        action_scope(&ACTIONS),
        resource,
        condition,
    )
        .prop_map(|(note, head, principal, action, resource, condition)| {
            format!("{note}{head} ({principal}, {action}, {resource}) when {{ {condition} }};")
        })
}

/// What Cedar's validator says about `policies` (`p0`, `p1`, … in order) over the whole set:
/// `(errors, warnings)` as `(policy, message)`.
type Said = (BTreeSet<(String, String)>, BTreeSet<(String, String)>);

fn cedar_says(schema: &str, policies: &[String]) -> Said {
    let (schema, _) = Schema::from_cedarschema_str(schema).unwrap();
    let mut set = PolicySet::new();
    for (i, text) in policies.iter().enumerate() {
        set.add(Policy::parse(Some(PolicyId::new(format!("p{i}"))), text).unwrap())
            .unwrap();
    }
    let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
    (
        result
            .validation_errors()
            .map(|e| (e.policy_id().to_string(), e.to_string()))
            .collect(),
        result
            .validation_warnings()
            .map(|w| (w.policy_id().to_string(), w.to_string()))
            .collect(),
    )
}

fn tollgate_says(schema: &str, policies: &[String]) -> Said {
    let text: String = policies
        .iter()
        .enumerate()
        .map(|(i, p)| format!("@id(\"p{i}\") {p}\n"))
        .collect();
    let source = PackSource {
        policies: vec![SourceFile::new("p.cedar", text)],
        schemas: vec![SourceFile::new("s.cedarschema", schema)],
    };
    let said = |d: &tollgate_engine::SourceDiagnostic| {
        let id = d.policy.clone().unwrap_or_default();
        let prefix = format!("policy `{id}` does not validate against the schema: ");
        (
            id,
            d.message
                .strip_prefix(&prefix)
                .unwrap_or(&d.message)
                .to_string(),
        )
    };
    match Pack::load(source) {
        Ok(pack) => (BTreeSet::new(), pack.warnings().iter().map(said).collect()),
        Err(e) => (e.problems().iter().map(said).collect(), BTreeSet::new()),
    }
}

/// `Pack::load` shows warnings only when there is no error.
fn as_loaded((errors, warnings): Said) -> Said {
    if errors.is_empty() {
        (errors, warnings)
    } else {
        (errors, BTreeSet::new())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn scoped_validation_reports_what_cedar_reports(
        schema in schema(),
        policies in prop::collection::vec(policy(), 1..10),
    ) {
        prop_assert_eq!(tollgate_says(&schema, &policies), as_loaded(cedar_says(&schema, &policies)));
    }
}

/// `a0` and `a1` have the same `appliesTo`, so one may stand for the other, but only for a
/// policy whose conditions do not name `action`: here `action in g1` is true for `a1` alone,
/// and only there does the condition read an attribute `Doc` lacks (the `||` keeps the policy
/// possible where it does not). The second policy makes the
/// scoped schema declare `g1`, so an undeclared-action error cannot stand in for the real one.
#[test]
fn a_condition_naming_action_is_checked_for_every_action_it_reaches() {
    let schema = r#"
        entity User; entity Doc; entity Repo { nope: Long };
        action g0; action g1;
        action a0 in [g0] appliesTo { principal: [User], resource: [Doc] };
        action a1 in [g0, g1] appliesTo { principal: [User], resource: [Doc] };
        action r in [g1] appliesTo { principal: [User], resource: [Repo] };
    "#;
    let policies = vec![
        "@tier(\"auto\") permit (principal, action in Action::\"g0\", resource) when { (action in Action::\"g1\" && resource.nope == 1) || principal == User::\"x\" };".to_string(),
        "@tier(\"auto\") permit (principal, action == Action::\"r\", resource) when { resource.nope == 1 };".to_string(),
    ];
    let cedar = cedar_says(schema, &policies);
    assert_eq!(cedar.0.len(), 1, "{cedar:?}");
    assert_eq!(tollgate_says(schema, &policies), as_loaded(cedar));
}

/// An unconstrained policy whose condition fits some actions' contexts and not others.
#[test]
fn an_unconstrained_policy_is_checked_in_every_kind_of_environment() {
    let schema = format!(
        "{ENTITIES}action a0 {};\naction a1 {};\naction a2 {};\n",
        APPLIES[0], APPLIES[0], APPLIES[2]
    );
    let policies = vec![
        "@tier(\"auto\") permit (principal, action, resource) when { context.s == \"x\" };"
            .to_string(),
        "@tier(\"auto\") permit (principal is Bot, action, resource) when { true };".to_string(),
        "@tier(\"auto\") permit (principal, action == Action::\"a9\", resource);".to_string(),
        "@tier(\"auto\") permit (principal, action == Action::\"a0\", resource) when { false };"
            .to_string(),
    ];
    let cedar = cedar_says(&schema, &policies);
    assert!(!cedar.0.is_empty(), "{cedar:?}");
    assert_eq!(tollgate_says(&schema, &policies), as_loaded(cedar));
    // And the warnings alone, once the errors are gone.
    let clean: Vec<String> = policies
        .iter()
        .filter(|p| !p.contains("context.s") && !p.contains("a9"))
        .cloned()
        .collect();
    let cedar = cedar_says(&schema, &clean);
    assert!(cedar.0.is_empty() && !cedar.1.is_empty(), "{cedar:?}");
    assert_eq!(tollgate_says(&schema, &clean), as_loaded(cedar));
}

/// The reference pack and a large synthetic one validate clean, as under plain Cedar.
#[test]
fn large_packs_load_as_cedar_validates_them() {
    use tollgate::synthetic::{self, Shape};
    let shape = Shape::of(2_000);
    let source = synthetic::pack(shape, 11);
    let (schema, _) = Schema::from_cedarschema_str(&synthetic::schema(shape)).unwrap();
    let set = PolicySet::from_str(&synthetic::policies(shape, 11)).unwrap();
    assert!(
        Validator::new(schema)
            .validate(&set, ValidationMode::Strict)
            .validation_passed()
    );
    assert_eq!(Pack::load(source).unwrap().policies().len(), 2_000);
}

/// A file large enough to be parsed in two halves: a validation error in the second half still
/// points at its own line.
#[test]
fn errors_in_a_large_file_point_at_their_line() {
    let schema =
        "entity U; entity R { env: String }; action a appliesTo { principal: [U], resource: [R] };";
    let good = "@tier(\"auto\") permit (principal, action == Action::\"a\", resource) when { resource.env == \"prod\" };\n";
    let mut text = good.repeat(1_000);
    text.push_str("@id(\"bad\") @tier(\"auto\") permit (principal, action == Action::\"a\", resource)\n  when { resource.nope == 1 };\n");
    assert!(text.len() > 64 * 1024);
    let source = PackSource {
        policies: vec![SourceFile::new("big.cedar", text)],
        schemas: vec![SourceFile::new("s.cedarschema", schema)],
    };
    let err = Pack::load(source).unwrap_err();
    let [problem] = err.problems() else {
        panic!("{err}")
    };
    assert_eq!(problem.policy.as_deref(), Some("bad"));
    assert_eq!(problem.position.line, 1_002, "{problem:?}");
    assert!(problem.position.column > 1, "{problem:?}");
}

/// A namespaced schema: actions and their groups are found in their namespace, and an
/// unconstrained policy is checked in each kind of environment there.
#[test]
fn namespaced_schemas_validate_as_under_cedar() {
    let schema = r#"
        namespace Acme {
            entity User; entity Doc { env: String };
            action "all";
            action read in ["all"] appliesTo { principal: [User], resource: [Doc], context: { n: Long } };
            action list in ["all"] appliesTo { principal: [User], resource: [Doc], context: { n: Long } };
            action wipe appliesTo { principal: [User], resource: [Doc], context: { s: String } };
        }
    "#;
    let policies = vec![
        "@tier(\"auto\") permit (principal, action in Acme::Action::\"all\", resource) when { context.n > 1 };".to_string(),
        "@tier(\"auto\") permit (principal, action, resource) when { resource.env == \"prod\" };".to_string(),
        "@tier(\"auto\") permit (principal, action == Acme::Action::\"wipe\", resource) when { context.n > 1 };".to_string(),
        "@tier(\"auto\") permit (principal, action, resource) when { context.n > 1 };".to_string(),
    ];
    let cedar = cedar_says(schema, &policies);
    assert_eq!(cedar.0.len(), 2, "{cedar:?}");
    assert_eq!(tollgate_says(schema, &policies), as_loaded(cedar));
    let clean = &policies[..2];
    let cedar = cedar_says(schema, clean);
    assert!(cedar.0.is_empty(), "{cedar:?}");
    assert_eq!(tollgate_says(schema, clean), as_loaded(cedar));
}
