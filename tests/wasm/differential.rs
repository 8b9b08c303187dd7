//! The WebAssembly module (through the wasmtime host) and the native engine give byte-identical
//! decision JSON: on every case of `policies/tests/*.yaml`, and on generated requests against the
//! reference pack. Input errors carry the same message on both sides.
//!
//! The serialisation compared is `serde_json::to_string(&decision)`: compact, fields in the
//! order of the `Decision` struct. The module returns exactly that; the CLI's `--format json`
//! is the same value pretty-printed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::support::wasm_module::{engine, root};
use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_engine::fs::read_pack;
use tollgate_engine::testcase::{find_test_files, load_test_file};
use tollgate_engine::{Pack, PackSource, ProposedAction, Timestamp};
use tollgate_wasm_host::{EntitySetHandle, HostError, PackHandle, WasmEngine};

fn source() -> &'static PackSource {
    static SOURCE: OnceLock<PackSource> = OnceLock::new();
    SOURCE
        .get_or_init(|| read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap())
}

fn native_pack() -> &'static Pack {
    static PACK: OnceLock<Pack> = OnceLock::new();
    PACK.get_or_init(|| Pack::load(source().clone()).unwrap())
}

/// What the native engine answers: the decision JSON, or the input error's message.
fn native(request: &Value, entities: &Value, at: Timestamp) -> Result<String, String> {
    let pack = native_pack();
    let entities = pack
        .entities_from_json(entities)
        .map_err(|e| e.to_string())?;
    let request = ProposedAction::from_json(request).map_err(|e| e.to_string())?;
    let decision = pack
        .decide(&request, &entities, at)
        .map_err(|e| e.to_string())?;
    Ok(serde_json::to_string(&decision).unwrap())
}

/// What the module answers, in the same terms. Anything but a decision or an input error
/// (a trap, a malformed result, another error kind) fails the test.
fn wasm(
    engine: &mut WasmEngine,
    pack: PackHandle,
    request: &Value,
    entities: &Value,
    at: Timestamp,
) -> Result<String, String> {
    let input = json!({"request": request, "entities": entities, "at": at.to_rfc3339()});
    match engine.decide(pack, &input.to_string()) {
        Ok(json) => Ok(json),
        Err(HostError::Guest { kind, message, .. }) if kind == "input" => Err(message),
        Err(other) => panic!("the module failed: {other:?}"),
    }
}

/// What the module answers with the entities prepared once (`tollgate_prepare_entities`): the
/// decision, or the input error of preparing or deciding.
fn wasm_prepared(
    engine: &mut WasmEngine,
    set: &Result<EntitySetHandle, String>,
    request: &Value,
    at: Timestamp,
) -> Result<String, String> {
    let set = set.clone()?;
    let input = json!({"request": request, "at": at.to_rfc3339()});
    match engine.decide_prepared(set, &input.to_string()) {
        Ok(json) => Ok(json),
        Err(HostError::Guest { kind, message, .. }) if kind == "input" => Err(message),
        Err(other) => panic!("the module failed: {other:?}"),
    }
}

fn prepare(
    engine: &mut WasmEngine,
    pack: PackHandle,
    entities: &Value,
) -> Result<EntitySetHandle, String> {
    match engine.prepare_entities(pack, &entities.to_string()) {
        Ok(set) => Ok(set.handle),
        Err(HostError::Guest { kind, message, .. }) if kind == "input" => Err(message),
        Err(other) => panic!("the module failed: {other:?}"),
    }
}

fn loaded() -> Option<(WasmEngine, PackHandle)> {
    let mut engine = engine()?;
    let pack = engine
        .load(&serde_json::to_string(source()).unwrap())
        .unwrap();
    assert_eq!(pack.policy_set, native_pack().hash().to_string());
    assert_eq!(pack.policies, native_pack().policies().len());
    Some((engine, pack.handle))
}

#[test]
fn every_reference_case_decides_byte_for_byte_alike() {
    let Some((mut engine, pack)) = loaded() else {
        return;
    };
    let default_at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let mut decisions = 0;
    let mut errors = 0;
    let mut tiers = BTreeMap::new();
    let mut prepared = 0;
    for path in find_test_files(&root().join("policies/tests")).unwrap() {
        let file = load_test_file(&path).unwrap();
        // Each file's entities prepared once, as a service would, for all its cases.
        let set = prepare(&mut engine, pack, &file.entities);
        for case in &file.file.cases {
            let at = case.at.or(file.file.at).unwrap_or(default_at);
            let expected = native(&case.request, &file.entities, at);
            let actual = wasm(&mut engine, pack, &case.request, &file.entities, at);
            assert_eq!(
                actual,
                expected,
                "{}: {}: the module and the native engine disagree",
                path.display(),
                case.name
            );
            assert_eq!(
                wasm_prepared(&mut engine, &set, &case.request, at),
                expected,
                "{}: {}: the module with prepared entities and the native engine disagree",
                path.display(),
                case.name
            );
            prepared += usize::from(set.is_ok());
            match &expected {
                Ok(json) => {
                    decisions += 1;
                    let tier = serde_json::from_str::<Value>(json).unwrap()["tier"].clone();
                    *tiers.entry(tier.to_string()).or_insert(0) += 1;
                }
                Err(_) => errors += 1,
            }
        }
    }
    // The comparison must have covered decisions of every tier and input errors.
    assert!(decisions >= 20, "only {decisions} decisions compared");
    assert!(
        prepared >= decisions,
        "only {prepared} cases compared on prepared entities"
    );
    assert!(errors >= 2, "only {errors} input errors compared");
    assert_eq!(tiers.len(), 4, "tiers compared: {tiers:?}");
}

#[test]
fn the_readme_example_decides_alike_without_entities_or_with_another_time_spelling() {
    let Some((mut engine, pack)) = loaded() else {
        return;
    };
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/request.json")).unwrap(),
    )
    .unwrap();
    let entities: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/entities.json")).unwrap(),
    )
    .unwrap();
    let at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let expected = native(&request, &entities, at).unwrap();
    assert!(expected.starts_with(r#"{"tier":"single","approvals_required":1,"#));
    // Another offset for the same instant is the same evaluation time.
    let input =
        json!({"request": request, "entities": entities, "at": "2026-06-01T14:00:00+02:00"});
    assert_eq!(engine.decide(pack, &input.to_string()).unwrap(), expected);
    // No entities: attributes are missing, policies error and fail closed — alike on both sides.
    assert_eq!(
        wasm(&mut engine, pack, &request, &Value::Null, at),
        native(&request, &json!([]), at)
    );
}

/// Everything the generator picks from.
const AGENTS: [&str; 5] = [
    "triage-bot",
    "ir-bot",
    "deploy-bot",
    "helper-bot",
    "ghost-bot",
];
const ACTIONS: [&str; 16] = [
    "summarize",
    "draft",
    "read_secret_metadata",
    "read_logs",
    "deploy",
    "change_config",
    "read_secret",
    "rotate_secret",
    "add_token_scope",
    "extend_session",
    "create_nhi",
    "grant_access",
    "delegate",
    "approve",
    "read_only",
    "drop_database",
];
const RESOURCES: [&str; 20] = [
    "Document::\"incident-123\"",
    "Document::\"exception-42\"",
    "Token::\"ci\"",
    "Token::\"dev-ci\"",
    "Secret::\"db-prod\"",
    "Secret::\"db-staging\"",
    "Session::\"s-prod\"",
    "Session::\"s-dev\"",
    "ServiceAccount::\"report-bot-dev\"",
    "ServiceAccount::\"report-bot-prod\"",
    "ServiceAccount::\"unlabelled-bot\"",
    "Environment::\"prod\"",
    "Environment::\"staging\"",
    "System::\"billing-api\"",
    "LogStream::\"prod-audit\"",
    "LogStream::\"dev-app\"",
    "Agent::\"ir-bot\"",
    "Environment::\"nowhere\"",
    "Token::\"missing\"",
    "Human::\"alice\"",
];
/// Actions and the resource types they apply to (schemas/agents.cedarschema).
const ACTION_RESOURCES: [(&str, &[&str]); 13] = [
    ("summarize", &["Document"]),
    ("draft", &["Document"]),
    ("read_secret_metadata", &["Secret"]),
    ("read_logs", &["LogStream"]),
    ("deploy", &["Environment"]),
    ("change_config", &["Environment"]),
    ("read_secret", &["Secret"]),
    ("rotate_secret", &["Secret"]),
    ("add_token_scope", &["Token"]),
    ("extend_session", &["Session"]),
    ("create_nhi", &["ServiceAccount"]),
    ("grant_access", &["System", "LogStream"]),
    ("delegate", &["Agent"]),
];
const ENVIRONMENTS: [&str; 4] = ["dev", "staging", "prod", "moon"];
const SCOPES: [&str; 4] = ["read:logs", "write:repo", "admin", "read:repo"];
const HUMANS: [&str; 3] = ["alice", "bob", "nobody"];

fn entities() -> &'static Vec<Value> {
    static ENTITIES: OnceLock<Vec<Value>> = OnceLock::new();
    ENTITIES.get_or_init(|| {
        serde_json::from_str(
            &std::fs::read_to_string(root().join("examples/entities.json")).unwrap(),
        )
        .unwrap()
    })
}

fn context_strategy() -> impl Strategy<Value = Value> {
    (
        "[a-z0-9-]{1,12}",
        proptest::option::of(proptest::sample::select(&ENVIRONMENTS[..])),
        proptest::option::of(proptest::sample::subsequence(&SCOPES[..], 0..=3)),
        proptest::option::of(-5i64..600),
        proptest::option::of((proptest::sample::select(&HUMANS[..]), -120i64..240)),
        proptest::option::of(proptest::sample::select(&AGENTS[..])),
        any::<bool>(),
    )
        .prop_map(|(id, env, scopes, minutes, delegation, grantee, rec)| {
            let mut c = serde_json::Map::new();
            c.insert("request_id".into(), json!(id));
            if let Some(env) = env {
                c.insert("environment".into(), json!(env));
            }
            if let Some(scopes) = scopes {
                c.insert("scopes".into(), json!(scopes));
            }
            if let Some(m) = minutes {
                c.insert("session_minutes".into(), json!(m));
            }
            if let Some((who, offset)) = delegation {
                // Minutes relative to 2026-06-01T12:00:00Z.
                let expires = Timestamp::from_unix_nanos(
                    (1_780_315_200 + offset * 60) as i128 * 1_000_000_000,
                )
                .unwrap();
                c.insert(
                    "delegation".into(),
                    json!({"granted_by": {"type": "Human", "id": who}, "expires_at": {"__extn": {"fn": "datetime", "arg": expires.to_cedar_datetime()}}}),
                );
            }
            if let Some(g) = grantee {
                c.insert("grantee".into(), json!({"type": "Agent", "id": g}));
            }
            if rec {
                c.insert("recommendation".into(), json!({"summary": "do it"}));
            }
            Value::Object(c)
        })
}

/// A request, an entity set and an evaluation time, all against the reference pack. Some
/// entities are dropped: missing attributes make policies error, which must fail closed
/// identically on both sides.
fn case_strategy() -> impl Strategy<Value = (Value, Value, Timestamp)> {
    // Mostly a resource of a type the action applies to (else nearly every request is a schema
    // error); sometimes any resource, or an action the schema refuses, for the input errors.
    let action_and_resource = prop_oneof![
        9 => proptest::sample::select(&ACTION_RESOURCES[..]).prop_flat_map(|(action, types)| {
            let resources: Vec<&'static str> = RESOURCES
                .iter()
                .copied()
                .filter(|r| types.iter().any(|t| r.starts_with(&format!("{t}::"))))
                .collect();
            (Just(action), proptest::sample::select(resources))
        }),
        1 => (proptest::sample::select(&ACTIONS[..]), proptest::sample::select(&RESOURCES[..])),
    ];
    (
        proptest::sample::select(&AGENTS[..]),
        action_and_resource,
        context_strategy(),
        proptest::collection::vec(proptest::bool::weighted(0.85), 29),
        0i64..(60 * 24 * 2),
    )
        .prop_map(|(principal, (action, resource), context, keep, minute)| {
            let request = json!({
                "principal": format!("Agent::\"{principal}\""),
                "action": format!("Action::\"{action}\""),
                "resource": resource,
                "context": context,
            });
            let entities = Value::Array(
                entities()
                    .iter()
                    .zip(keep.iter().chain(std::iter::repeat(&true)))
                    .filter(|(_, k)| **k)
                    .map(|(e, _)| e.clone())
                    .collect(),
            );
            // Minutes from 2026-06-01T00:00:00Z.
            let at =
                Timestamp::from_unix_nanos((1_780_272_000 + minute * 60) as i128 * 1_000_000_000)
                    .unwrap();
            (request, entities, at)
        })
}

#[test]
fn the_generator_reaches_every_tier_and_input_errors() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = case_strategy();
    let mut tiers: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..300 {
        let (request, entities, at) = strategy.new_tree(&mut runner).unwrap().current();
        let key = match native(&request, &entities, at) {
            Ok(json) => serde_json::from_str::<Value>(&json).unwrap()["tier"].to_string(),
            Err(_) => "input error".to_string(),
        };
        *tiers.entry(key).or_insert(0) += 1;
    }
    assert_eq!(tiers.len(), 5, "{tiers:?}");
    assert!(tiers.values().all(|&n| n >= 5), "{tiers:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn generated_requests_decide_byte_for_byte_alike((request, entities, at) in case_strategy()) {
        static ENGINE: OnceLock<Option<std::sync::Mutex<(WasmEngine, PackHandle)>>> = OnceLock::new();
        let Some(shared) = ENGINE.get_or_init(|| loaded().map(std::sync::Mutex::new)) else {
            return Ok(());
        };
        let mut guard = shared.lock().unwrap();
        let (engine, pack) = &mut *guard;
        let expected = native(&request, &entities, at);
        let actual = wasm(engine, *pack, &request, &entities, at);
        prop_assert_eq!(actual, expected);
    }
}

/// Lint through the module gives the native engine's findings, in the JSON shape of
/// `tollgate lint --format json`, on the reference pack (clean) and on the bad pack (every rule).
#[test]
fn lint_finds_the_same_through_the_module() {
    use tollgate_engine::lint::report::json_findings;
    use tollgate_engine::lint::{lint, workflow::read_workflows};
    let Some(mut engine) = engine() else {
        return;
    };
    let today = "2026-06-01".parse().unwrap();
    for (policies, schemas, min_findings) in [
        ("policies", "schemas", 0),
        (
            "examples/bad-pack/policies",
            "examples/bad-pack/schemas",
            12,
        ),
    ] {
        let source = read_pack(&root().join(policies), Some(&root().join(schemas))).unwrap();
        let workflows = read_workflows(&root().join(policies).join("workflows")).unwrap();
        let findings = lint(source.clone(), &workflows, today).unwrap();
        assert!(findings.len() >= min_findings, "{policies}: {findings:?}");
        let native = serde_json::to_string(&json_findings(&findings, |l| l.file.clone())).unwrap();

        let workflows: Vec<Value> = workflows
            .iter()
            .map(|w| json!({"name": w.source.name, "text": w.source.text, "entities": w.entities}))
            .collect();
        let input = json!({
            "policies": source.policies,
            "schemas": source.schemas,
            "workflows": workflows,
            "at": "2026-06-01",
        });
        let through_wasm = engine.lint(&input.to_string()).unwrap();
        assert_eq!(through_wasm, native, "{policies}");
    }
}
