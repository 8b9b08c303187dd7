//! The guest layer natively: the same code the module runs, minus the exports.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::keys::{PrivateKey, keyring_entry};

use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &str, ext: &str) -> Vec<SourceFile> {
    let mut out: Vec<SourceFile> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            SourceFile::new(
                p.file_name().unwrap().to_string_lossy(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn reference_source() -> PackSource {
    PackSource {
        policies: files("policies", "cedar"),
        schemas: files("schemas", "cedarschema"),
    }
}

fn example(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("examples").join(name)).unwrap())
        .unwrap()
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn error_kind(bytes: &[u8]) -> String {
    let v = json_of(bytes);
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    v["error"]["kind"].as_str().unwrap().to_string()
}

fn loaded() -> (Guest, u32) {
    let mut guest = Guest::new();
    let out = json_of(&guest.load(&serde_json::to_vec(&reference_source()).unwrap()));
    let handle = out["handle"].as_u64().unwrap() as u32;
    (guest, handle)
}

const AT: &str = "2026-06-01T12:00:00Z";

#[test]
fn decides_the_readme_example_exactly_as_the_native_engine() {
    let (guest, handle) = loaded();
    let input =
        json!({"request": example("request.json"), "entities": example("entities.json"), "at": AT});
    let out = guest.decide(handle, &serde_json::to_vec(&input).unwrap());

    let pack = Pack::load(reference_source()).unwrap();
    let native = pack
        .decide(
            &ProposedAction::from_json(&example("request.json")).unwrap(),
            &pack.entities_from_json(&example("entities.json")).unwrap(),
            AT.parse().unwrap(),
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        serde_json::to_string(&native).unwrap()
    );
    assert_eq!(native.tier.as_str(), "single");
}

#[test]
fn load_reports_handle_hash_and_count() {
    let mut guest = Guest::new();
    let out = json_of(&guest.load(&serde_json::to_vec(&reference_source()).unwrap()));
    let pack = Pack::load(reference_source()).unwrap();
    assert_eq!(out["handle"], 1);
    assert_eq!(out["policy_set"], pack.hash().to_string());
    assert_eq!(out["policies"], pack.policies().len());
    assert!(out["warnings"].is_array());
    assert_eq!(guest.loaded(), 1);
}

#[test]
fn handles_are_never_reused() {
    let (mut guest, first) = loaded();
    assert!(guest.unload(first));
    assert!(!guest.unload(first));
    let input = serde_json::to_vec(&reference_source()).unwrap();
    let second = json_of(&guest.load(&input))["handle"].as_u64().unwrap() as u32;
    assert_ne!(first, second);
    let request =
        json!({"request": example("request.json"), "entities": example("entities.json"), "at": AT});
    let out = guest.decide(first, &serde_json::to_vec(&request).unwrap());
    assert_eq!(error_kind(&out), "bad_handle");
    assert!(
        json_of(&guest.decide(second, &serde_json::to_vec(&request).unwrap()))["tier"].is_string()
    );
}

#[test]
fn hostile_and_malformed_input_is_an_error_result() {
    let (mut guest, handle) = loaded();
    let deep = format!(
        "{{\"request\": {}1{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let huge = {
        let mut v = b"{\"request\": \"".to_vec();
        v.resize(50 * 1024 * 1024, b'a');
        v.extend_from_slice(b"\"}");
        v
    };
    let cases: [(&[u8], &str); 7] = [
        (b"", "bad_input"),
        (b"{\"request\": \"\xff\xfe\"}", "bad_input"),
        (b"{\"request\": {\"principal\": ", "bad_input"),
        (b"[1, 2, 3]", "bad_input"),
        (b"{\"request\": {}, \"entitees\": []}", "bad_input"),
        (deep.as_bytes(), "too_deep"),
        (&huge, "too_large"),
    ];
    for (input, kind) in cases {
        assert_eq!(error_kind(&guest.decide(handle, input)), kind);
        assert_eq!(error_kind(&guest.verify(handle, input)), kind);
        assert_eq!(error_kind(&guest.load(input)), kind);
        assert_eq!(error_kind(&lint(input)), kind);
    }
    assert_eq!(error_kind(&guest.decide(handle + 7, b"{}")), "bad_handle");
    assert_eq!(error_kind(&guest.verify(0, b"{}")), "bad_handle");
    // Still usable.
    assert_eq!(guest.loaded(), 1);
}

#[test]
fn duplicate_keys_and_keys_beside_escapes_are_refused() {
    let (guest, handle) = loaded();
    let inputs = [
        // A duplicate key nested in the request: prod for the module, staging for a reader.
        format!(
            r#"{{"request": {{"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": "Environment::\"staging\"", "resource": "Environment::\"prod\""}}, "at": "{AT}"}}"#
        ),
        format!(
            r#"{{"request": {{"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": {{"type": "Environment", "id": "staging", "__entity": {{"type": "Environment", "id": "prod"}}}}}}, "at": "{AT}"}}"#
        ),
        // A duplicate top-level field.
        format!(
            r#"{{"request": {{"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": "Environment::\"staging\""}}, "at": "{AT}", "at": "2030-01-01T00:00:00Z"}}"#
        ),
    ];
    for input in inputs {
        let out = json_of(&guest.decide(handle, input.as_bytes()));
        assert_eq!(out["error"]["kind"], "bad_input", "{out}");
        let message = out["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("duplicate key") || message.contains("`__entity` with other keys"),
            "{message}"
        );
    }
}

#[test]
fn a_request_that_does_not_fit_gets_the_clis_message() {
    let (guest, handle) = loaded();
    let mut request = example("request.json");
    request["context"]["now"] = json!("2020-01-01T00:00:00Z");
    let input = json!({"request": request, "entities": example("entities.json"), "at": AT});
    let out = json_of(&guest.decide(handle, &serde_json::to_vec(&input).unwrap()));
    assert_eq!(out["error"]["kind"], "input");
    assert_eq!(
        out["error"]["message"],
        tollgate_engine::InputError::CallerSuppliedNow.to_string()
    );
}

#[test]
fn time_is_required_exactly_when_the_decision_reads_it() {
    let (guest, handle) = loaded();
    let input = json!({"request": example("request.json"), "entities": example("entities.json")});
    let out = json_of(&guest.decide(handle, &serde_json::to_vec(&input).unwrap()));
    assert_eq!(out["error"]["kind"], "missing_at");

    let bad_at = json!({"request": example("request.json"), "entities": example("entities.json"), "at": "tomorrow"});
    assert_eq!(
        error_kind(&guest.decide(handle, &serde_json::to_vec(&bad_at).unwrap())),
        "bad_input"
    );

    // A schema whose action has no `now`: the decision does not read the time.
    let mut guest = Guest::new();
    let source = json!({
        "policies": [{"name": "p.cedar", "text": "@tier(\"auto\") permit(principal, action, resource);"}],
        "schemas": [{"name": "s.cedarschema", "text": "entity A; entity R; action go appliesTo { principal: A, resource: R };"}],
    });
    let handle = json_of(&guest.load(&serde_json::to_vec(&source).unwrap()))["handle"]
        .as_u64()
        .unwrap() as u32;
    let request = json!({"request": {"principal": "A::\"a\"", "action": "Action::\"go\"", "resource": "R::\"r\""}});
    let out = json_of(&guest.decide(handle, &serde_json::to_vec(&request).unwrap()));
    assert_eq!(out["tier"], "auto", "{out}");

    // Without a schema tollgate always fills `now`, so the time is required.
    let source = json!({"policies": [{"name": "p.cedar", "text": "@tier(\"auto\") permit(principal, action, resource);"}]});
    let handle = json_of(&guest.load(&serde_json::to_vec(&source).unwrap()))["handle"]
        .as_u64()
        .unwrap() as u32;
    assert_eq!(
        error_kind(&guest.decide(handle, &serde_json::to_vec(&request).unwrap())),
        "missing_at"
    );
}

#[test]
fn a_pack_that_does_not_load_lists_every_problem_with_its_place() {
    let mut guest = Guest::new();
    let source = json!({"policies": [
        {"name": "a.cedar", "text": "@tier(\"sometimes\") permit(principal, action, resource);"},
        {"name": "b.cedar", "text": "\n\npermit(principal, action, resource"},
    ]});
    let out = json_of(&guest.load(&serde_json::to_vec(&source).unwrap()));
    assert_eq!(out["error"]["kind"], "load", "{out}");
    let problems = out["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{out}");
    assert_eq!(problems[0]["file"], "a.cedar");
    assert_eq!(problems[1]["file"], "b.cedar");
    assert_eq!(problems[1]["line"], 3);
    assert_eq!(guest.loaded(), 0);
}

#[test]
fn deeply_nested_policy_text_is_refused_before_cedar_parses_it() {
    let mut guest = Guest::new();
    let text = format!(
        "permit(principal, action, resource) when {{ {}true{} }};",
        "(".repeat(5_000),
        ")".repeat(5_000)
    );
    let source = json!({"policies": [{"name": "deep.cedar", "text": text}]});
    let out = json_of(&guest.load(&serde_json::to_vec(&source).unwrap()));
    assert_eq!(out["error"]["kind"], "too_deep");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("deep.cedar:1:")
    );
}

/// The bad pack's sources and its one workflow, with the entities file it names inlined.
fn bad_pack_lint_input() -> Value {
    let bad = root().join("examples/bad-pack");
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    let policies: Vec<Value> = std::fs::read_dir(bad.join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .map(|p| json!({"name": p.file_name().unwrap().to_string_lossy(), "text": read(p.clone())}))
        .collect();
    let entities: Value = serde_json::from_str(&read(bad.join("entities.json"))).unwrap();
    json!({
        "policies": policies,
        "schemas": [{"name": "agents.cedarschema", "text": read(bad.join("schemas/agents.cedarschema"))}],
        "workflows": [{
            "name": "token-then-deploy.yaml",
            "text": read(bad.join("policies/workflows/token-then-deploy.yaml")),
            "entities": entities,
        }],
        "at": "2026-06-01",
    })
}

#[test]
fn lint_reports_every_rule_on_the_bad_pack() {
    assert_eq!(json_of(&version())["lint"], true);
    let out = json_of(&lint(&serde_json::to_vec(&bad_pack_lint_input()).unwrap()));
    let mut rules: Vec<&str> = out
        .as_array()
        .unwrap_or_else(|| panic!("{out}"))
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    rules.sort_unstable();
    let expected =
        std::fs::read_to_string(root().join("examples/bad-pack/expected-findings.txt")).unwrap();
    let mut want: Vec<&str> = expected
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    want.sort_unstable();
    assert_eq!(rules, want);
    // A day given as an instant is the same day.
    let mut at_instant = bad_pack_lint_input();
    at_instant["at"] = json!("2026-06-01T23:59:59Z");
    assert_eq!(
        json_of(&lint(&serde_json::to_vec(&at_instant).unwrap())),
        out
    );
}

#[test]
fn lint_refuses_what_it_cannot_judge() {
    let mut input = bad_pack_lint_input();
    input.as_object_mut().unwrap().remove("at");
    assert_eq!(
        error_kind(&lint(&serde_json::to_vec(&input).unwrap())),
        "missing_at"
    );

    // The workflow names an entities file; without its content, refuse rather than lint less.
    let mut input = bad_pack_lint_input();
    input["workflows"][0]
        .as_object_mut()
        .unwrap()
        .remove("entities");
    let out = json_of(&lint(&serde_json::to_vec(&input).unwrap()));
    assert_eq!(out["error"]["kind"], "input", "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("../../entities.json")
    );

    let mut input = bad_pack_lint_input();
    input["schemas"] = json!([]);
    assert_eq!(
        error_kind(&lint(&serde_json::to_vec(&input).unwrap())),
        "input"
    );

    let mut input = bad_pack_lint_input();
    input["policies"] = json!([{"name": "broken.cedar", "text": "permit(principal,"}]);
    assert_eq!(
        error_kind(&lint(&serde_json::to_vec(&input).unwrap())),
        "load"
    );
}

#[test]
fn version_names_the_abi_and_its_limits() {
    let v = json_of(&version());
    assert_eq!(v["abi"], ABI_VERSION);
    assert_eq!(v["tollgate"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["max_input_bytes"], MAX_INPUT_BYTES);
    assert_eq!(v["max_json_depth"], MAX_JSON_DEPTH);
}

#[test]
fn verify_reads_records_as_lines_or_objects_alike() {
    let (guest, handle) = loaded();
    let request = json!({"principal": "Agent::\"deploy-bot\"", "action": "Action::\"deploy\"",
        "resource": "Environment::\"prod\"", "context": {"request_id": "w1"}});
    let hash = ProposedAction::from_json(&request).unwrap().hash();
    let key = |who: &str| PrivateKey::from_seed([who.len() as u8; 32]);
    let record = |who: &str| {
        ApprovalRecord::new(
            hash,
            format!("Human::\"{who}\"").parse().unwrap(),
            ApprovalDecision::Approve,
            "2026-06-01T11:30:00Z".parse().unwrap(),
            "2026-06-01T12:30:00Z".parse().unwrap(),
            None,
        )
        .signed_by(&key(who))
        .to_json_line()
    };
    let lines = format!("{}\n{}\n", record("alice"), record("dave"));
    let ring = format!(
        "{}{}",
        keyring_entry(
            &"Human::\"alice\"".parse().unwrap(),
            &key("alice").public_key()
        ),
        keyring_entry(
            &"Human::\"dave\"".parse().unwrap(),
            &key("dave").public_key()
        ),
    );
    let records: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ring_object: Value = serde_json::from_str(&ring.replace("}{", ",")).unwrap();
    let as_lines = json!({"request": request, "entities": example("entities.json"),
        "approvals": lines, "keyring": ring, "at": AT});
    let as_objects = json!({"request": request, "entities": example("entities.json"),
        "approvals": records, "keyring": ring_object, "at": AT});
    let a = guest.verify(handle, &serde_json::to_vec(&as_lines).unwrap());
    let b = guest.verify(handle, &serde_json::to_vec(&as_objects).unwrap());
    assert_eq!(a, b);
    // The same entities prepared once verify alike.
    let mut guest = guest;
    let set = prepare(&mut guest, handle, &example("entities.json"));
    let mut prepared = as_lines.clone();
    prepared.as_object_mut().unwrap().remove("entities");
    prepared["entity_set"] = json!(set);
    assert_eq!(
        guest.verify(handle, &serde_json::to_vec(&prepared).unwrap()),
        a
    );
    let guest = guest;
    let v = json_of(&a);
    assert_eq!(v["outcome"], "allowed", "{v}");
    assert_eq!(v["tier"], "dual");

    let mut no_time = as_lines.clone();
    no_time.as_object_mut().unwrap().remove("at");
    assert_eq!(
        error_kind(&guest.verify(handle, &serde_json::to_vec(&no_time).unwrap())),
        "missing_at"
    );
    let mut forged = as_lines;
    forged["approvals"] = json!("{\"not\": \"a record\"}");
    assert_eq!(
        error_kind(&guest.verify(handle, &serde_json::to_vec(&forged).unwrap())),
        "input"
    );
}

/// Prepares `entities` for `handle` and returns the set's handle.
fn prepare(guest: &mut Guest, handle: u32, entities: &Value) -> u32 {
    let out = json_of(&guest.prepare_entities(
        handle,
        &serde_json::to_vec(&json!({ "entities": entities })).unwrap(),
    ));
    assert_eq!(out.as_object().unwrap().len(), 2, "{out}");
    out["entity_set"].as_u64().unwrap() as u32
}

fn decide_with(guest: &Guest, handle: u32, input: &Value) -> Vec<u8> {
    guest.decide(handle, &serde_json::to_vec(input).unwrap())
}

#[test]
fn prepared_entities_decide_as_the_same_entities_inline() {
    let (mut guest, handle) = loaded();
    let entities = example("entities.json");
    let out = json_of(&guest.prepare_entities(
        handle,
        &serde_json::to_vec(&json!({ "entities": entities })).unwrap(),
    ));
    assert_eq!(out["entity_set"], 1);
    assert_eq!(out["entities"], entities.as_array().unwrap().len());
    let set = 1;
    for request in ["request.json", "deploy-request.json"] {
        let inline = json!({"request": example(request), "entities": entities, "at": AT});
        let prepared = json!({"request": example(request), "entity_set": set, "at": AT});
        let expected = decide_with(&guest, handle, &inline);
        assert!(json_of(&expected)["tier"].is_string());
        assert_eq!(decide_with(&guest, handle, &prepared), expected);
    }
    // Without entities (missing, null or empty: the cached empty set), decisions are those of
    // entities_from_json on an empty array, natively.
    let pack = Pack::load(reference_source()).unwrap();
    let native = pack
        .decide(
            &ProposedAction::from_json(&example("request.json")).unwrap(),
            &pack.entities_from_json(&json!([])).unwrap(),
            AT.parse().unwrap(),
        )
        .unwrap();
    let native = serde_json::to_vec(&native).unwrap();
    for input in [
        json!({"request": example("request.json"), "at": AT}),
        json!({"request": example("request.json"), "entities": null, "at": AT}),
        json!({"request": example("request.json"), "entities": [], "at": AT}),
        json!({"request": example("request.json"), "entity_set": prepare(&mut guest, handle, &Value::Null), "at": AT}),
    ] {
        assert_eq!(decide_with(&guest, handle, &input), native, "{input}");
    }
}

#[test]
fn entity_set_misuse_is_a_bad_handle_or_bad_input() {
    let (mut guest, first) = loaded();
    let second = json_of(&guest.load(&serde_json::to_vec(&reference_source()).unwrap()))["handle"]
        .as_u64()
        .unwrap() as u32;
    let entities = example("entities.json");
    let set = prepare(&mut guest, first, &entities);
    let request = example("request.json");
    let with_set = |set: Value| json!({"request": request, "entity_set": set, "at": AT});

    // A set belongs to the pack it was prepared for.
    assert_eq!(
        error_kind(&decide_with(&guest, second, &with_set(json!(set)))),
        "bad_handle"
    );
    // Never issued.
    assert_eq!(
        error_kind(&decide_with(&guest, first, &with_set(json!(set + 100)))),
        "bad_handle"
    );
    // Inline and prepared at once, even with `entities: null`.
    for inline in [entities.clone(), Value::Null] {
        let both = json!({"request": request, "entities": inline, "entity_set": set, "at": AT});
        assert_eq!(error_kind(&decide_with(&guest, first, &both)), "bad_input");
    }
    // Not a handle.
    for bad in [
        Value::Null,
        json!(-1),
        json!("1"),
        json!(1.5),
        json!(u64::MAX),
    ] {
        assert_eq!(
            error_kind(&decide_with(&guest, first, &with_set(bad.clone()))),
            "bad_input",
            "{bad}"
        );
    }
    assert!(json_of(&decide_with(&guest, first, &with_set(json!(set))))["tier"].is_string());

    // Released: gone, and its handle is not issued again.
    assert!(guest.release_entities(set));
    assert!(!guest.release_entities(set));
    assert!(!guest.release_entities(0));
    assert_eq!(
        error_kind(&decide_with(&guest, first, &with_set(json!(set)))),
        "bad_handle"
    );
    let again = prepare(&mut guest, first, &entities);
    assert_ne!(again, set);
    // Entity set handles are counted apart from pack handles.
    assert_eq!(again, 2);

    // Unloading a pack releases its sets, and only its sets.
    let other = prepare(&mut guest, second, &entities);
    assert_eq!(guest.prepared(), 2);
    assert!(guest.unload(first));
    assert_eq!(guest.prepared(), 1);
    assert!(!guest.release_entities(again));
    assert!(json_of(&decide_with(&guest, second, &with_set(json!(other))))["tier"].is_string());
}

#[test]
fn preparing_refuses_what_decide_refuses() {
    let (mut guest, handle) = loaded();
    let prepare_raw = |guest: &mut Guest, handle: u32, input: Value| {
        error_kind(&guest.prepare_entities(handle, &serde_json::to_vec(&input).unwrap()))
    };
    let entities = example("entities.json");
    assert_eq!(
        prepare_raw(&mut guest, handle + 1, json!({ "entities": entities })),
        "bad_handle"
    );
    assert_eq!(
        prepare_raw(&mut guest, handle, json!({"entities": entities, "at": AT})),
        "bad_input"
    );
    assert_eq!(
        prepare_raw(&mut guest, handle, json!([entities])),
        "bad_input"
    );
    assert_eq!(
        error_kind(&guest.prepare_entities(handle, b"")),
        "bad_input"
    );
    // An entity the schema does not know: the same message as inline.
    let stranger = json!([{"uid": {"type": "Stranger", "id": "x"}, "attrs": {}, "parents": []}]);
    let out = guest.prepare_entities(
        handle,
        &serde_json::to_vec(&json!({ "entities": stranger })).unwrap(),
    );
    assert_eq!(error_kind(&out), "input");
    let inline = decide_with(
        &guest,
        handle,
        &json!({"request": example("request.json"), "entities": stranger, "at": AT}),
    );
    assert_eq!(json_of(&out), json_of(&inline));
    // A chain of parents over the cap, refused before Cedar walks it.
    let chain: Vec<Value> = (0..=MAX_HIERARCHY_DEPTH)
        .map(|i| json!({"uid": {"type": "Group", "id": format!("g{i}")}, "attrs": {}, "parents": [{"type": "Group", "id": format!("g{}", i + 1)}]}))
        .collect();
    assert_eq!(
        prepare_raw(&mut guest, handle, json!({ "entities": chain })),
        "too_deep"
    );
    let deep = format!(
        "{{\"entities\": {}{}}}",
        "[".repeat(MAX_JSON_DEPTH + 1),
        "]".repeat(MAX_JSON_DEPTH + 1)
    );
    assert_eq!(
        error_kind(&guest.prepare_entities(handle, deep.as_bytes())),
        "too_deep"
    );
    // Nothing was prepared by any of these.
    assert_eq!(guest.prepared(), 0);
    assert!(json_of(&version())["prepared_entities"] == true);
}
