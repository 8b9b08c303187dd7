//! ABI misuse and hostile input: every case is an error result, never a crash or a hang, and the
//! module (or the host) answers the next call correctly.
//!
//! The first tests drive the raw exports through wasmtime, as a careless or hostile host would;
//! the rest go through `tollgate-wasm-host`, whose limits stop what the module cannot refuse.

use std::sync::OnceLock;

use crate::support::wasm_module::{engine, engine_with, module, root};
use serde_json::{Value, json};
use tollgate_engine::fs::read_pack;
use tollgate_engine::{Pack, PackSource, ProposedAction, SourceFile};
use tollgate_wasm_host::{HostError, Limits, WasmEngine};
use wasmtime::{Instance, Store, TypedFunc};

const AT: &str = "2026-06-01T12:00:00Z";

fn pack_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let source = read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap();
        serde_json::to_string(&source).unwrap()
    })
}

fn example_input() -> String {
    let read = |rel: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join(rel)).unwrap()).unwrap()
    };
    json!({"request": read("examples/request.json"), "entities": read("examples/entities.json"), "at": AT})
        .to_string()
}

/// The module with nothing between it and the test.
struct Raw {
    store: Store<()>,
    memory: wasmtime::Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), u32>,
    load: TypedFunc<(u32, u32), u64>,
    decide: TypedFunc<(u32, u32, u32), u64>,
    unload: TypedFunc<u32, u32>,
    prepare: TypedFunc<(u32, u32, u32), u64>,
    release: TypedFunc<u32, u32>,
}

impl Raw {
    fn new() -> Option<Self> {
        // The host's compiled module (fuel metering on): the exports, with no host around them.
        let module = module()?.wasmtime_module();
        let mut store = Store::new(module.engine(), ());
        store.set_fuel(u64::MAX).unwrap();
        let instance = Instance::new(&mut store, module, &[]).unwrap();
        Some(Self {
            memory: instance.get_memory(&mut store, "memory").unwrap(),
            alloc: instance
                .get_typed_func(&mut store, "tollgate_alloc")
                .unwrap(),
            free: instance
                .get_typed_func(&mut store, "tollgate_free")
                .unwrap(),
            load: instance
                .get_typed_func(&mut store, "tollgate_load")
                .unwrap(),
            decide: instance
                .get_typed_func(&mut store, "tollgate_decide")
                .unwrap(),
            unload: instance
                .get_typed_func(&mut store, "tollgate_unload")
                .unwrap(),
            prepare: instance
                .get_typed_func(&mut store, "tollgate_prepare_entities")
                .unwrap(),
            release: instance
                .get_typed_func(&mut store, "tollgate_release_entities")
                .unwrap(),
            store,
        })
    }

    /// A live input buffer holding `bytes`.
    fn input(&mut self, bytes: &[u8]) -> (u32, u32) {
        let len = bytes.len() as u32;
        let ptr = self.alloc.call(&mut self.store, len).unwrap();
        assert_ne!(ptr, 0);
        self.memory
            .write(&mut self.store, ptr as usize, bytes)
            .unwrap();
        (ptr, len)
    }

    /// Reads and frees a packed result; a second free of it must be refused.
    fn take(&mut self, packed: u64) -> Value {
        let (ptr, len) = ((packed >> 32) as u32, packed as u32);
        assert_ne!(packed, 0, "no result");
        let bytes = self.memory.data(&self.store)[ptr as usize..(ptr + len) as usize].to_vec();
        assert_eq!(self.free.call(&mut self.store, (ptr, len)).unwrap(), 1);
        assert_eq!(self.free.call(&mut self.store, (ptr, len)).unwrap(), 0);
        serde_json::from_slice(&bytes).unwrap()
    }

    fn decide_bytes(&mut self, handle: u32, bytes: &[u8]) -> Value {
        let (ptr, len) = if bytes.is_empty() {
            (0, 0)
        } else {
            self.input(bytes)
        };
        let packed = self
            .decide
            .call(&mut self.store, (handle, ptr, len))
            .unwrap();
        if len != 0 {
            assert_eq!(self.free.call(&mut self.store, (ptr, len)).unwrap(), 1);
        }
        self.take(packed)
    }

    fn prepare_bytes(&mut self, handle: u32, bytes: &[u8]) -> Value {
        let (ptr, len) = self.input(bytes);
        let packed = self
            .prepare
            .call(&mut self.store, (handle, ptr, len))
            .unwrap();
        assert_eq!(self.free.call(&mut self.store, (ptr, len)).unwrap(), 1);
        self.take(packed)
    }

    fn load_reference(&mut self) -> u32 {
        let (ptr, len) = self.input(pack_json().as_bytes());
        let packed = self.load.call(&mut self.store, (ptr, len)).unwrap();
        self.free.call(&mut self.store, (ptr, len)).unwrap();
        let out = self.take(packed);
        out["handle"].as_u64().unwrap() as u32
    }
}

fn kind(v: &Value) -> &str {
    v["error"]["kind"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {v}"))
}

#[test]
fn raw_exports_turn_misuse_into_error_results() {
    let Some(mut raw) = Raw::new() else {
        return;
    };
    let handle = raw.load_reference();
    let good = example_input();
    let expected = raw.decide_bytes(handle, good.as_bytes());
    assert_eq!(expected["tier"], "single");

    // Bad handles: never loaded, zero, unloaded.
    assert_eq!(
        kind(&raw.decide_bytes(handle + 1, good.as_bytes())),
        "bad_handle"
    );
    assert_eq!(kind(&raw.decide_bytes(0, good.as_bytes())), "bad_handle");
    assert_eq!(
        kind(&raw.decide_bytes(u32::MAX, good.as_bytes())),
        "bad_handle"
    );

    // Zero length, invalid UTF-8, truncated JSON, JSON of the wrong shape, 10,000-deep nesting.
    assert_eq!(kind(&raw.decide_bytes(handle, b"")), "bad_input");
    assert_eq!(
        kind(&raw.decide_bytes(handle, b"{\"request\": \"\xc3\x28\"}")),
        "bad_input"
    );
    assert_eq!(
        kind(&raw.decide_bytes(handle, &good.as_bytes()[..good.len() / 2])),
        "bad_input"
    );
    assert_eq!(
        kind(&raw.decide_bytes(handle, b"[\"a\", [], \"2026\"]")),
        "bad_input"
    );
    let deep = format!(
        "{{\"request\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(kind(&raw.decide_bytes(handle, deep.as_bytes())), "too_deep");
    let deep_objects = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    assert_eq!(
        kind(&raw.decide_bytes(handle, deep_objects.as_bytes())),
        "too_deep"
    );

    // Pointers the module never handed out, past the end of a buffer, or already freed.
    let packed = raw.decide.call(&mut raw.store, (handle, 16, 64)).unwrap();
    assert_eq!(kind(&raw.take(packed)), "bad_input");
    let (ptr, len) = raw.input(good.as_bytes());
    let packed = raw
        .decide
        .call(&mut raw.store, (handle, ptr, len + 1))
        .unwrap();
    assert_eq!(kind(&raw.take(packed)), "bad_input");
    let packed = raw
        .decide
        .call(&mut raw.store, (handle, ptr + 1, len))
        .unwrap();
    assert_eq!(kind(&raw.take(packed)), "bad_input");
    let packed = raw
        .decide
        .call(&mut raw.store, (handle, ptr, u32::MAX))
        .unwrap();
    assert_eq!(kind(&raw.take(packed)), "bad_input");
    // A wrong length frees nothing; the right one frees once.
    assert_eq!(raw.free.call(&mut raw.store, (ptr, len - 1)).unwrap(), 0);
    assert_eq!(raw.free.call(&mut raw.store, (ptr, len)).unwrap(), 1);
    assert_eq!(raw.free.call(&mut raw.store, (ptr, len)).unwrap(), 0);
    let packed = raw.decide.call(&mut raw.store, (handle, ptr, len)).unwrap();
    assert_eq!(kind(&raw.take(packed)), "bad_input");
    assert_eq!(raw.free.call(&mut raw.store, (12345, 10)).unwrap(), 0);

    // Allocation: nothing for zero bytes or beyond the input cap (50 MB).
    assert_eq!(raw.alloc.call(&mut raw.store, 0).unwrap(), 0);
    assert_eq!(raw.alloc.call(&mut raw.store, 50 * 1024 * 1024).unwrap(), 0);
    assert_eq!(raw.alloc.call(&mut raw.store, u32::MAX).unwrap(), 0);

    // Unloading an unknown handle is refused; the loaded pack still decides as before.
    assert_eq!(raw.unload.call(&mut raw.store, handle + 1).unwrap(), 0);
    assert_eq!(raw.decide_bytes(handle, good.as_bytes()), expected);
    assert_eq!(raw.unload.call(&mut raw.store, handle).unwrap(), 1);
    assert_eq!(
        kind(&raw.decide_bytes(handle, good.as_bytes())),
        "bad_handle"
    );
}

fn examples_entities() -> String {
    std::fs::read_to_string(root().join("examples/entities.json")).unwrap()
}

/// The README request without entities, for a prepared set to complete.
fn example_request() -> String {
    let request: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/request.json")).unwrap(),
    )
    .unwrap();
    json!({"request": request, "at": AT}).to_string()
}

#[test]
fn raw_exports_refuse_entity_sets_that_are_not_the_packs() {
    let Some(mut raw) = Raw::new() else {
        return;
    };
    let first = raw.load_reference();
    let second = raw.load_reference();
    let expected = raw.decide_bytes(first, example_input().as_bytes());
    let prepared = raw.prepare_bytes(
        first,
        format!("{{\"entities\": {}}}", examples_entities()).as_bytes(),
    );
    let set = prepared["entity_set"].as_u64().unwrap();
    assert_eq!(set, 1, "entity set handles count from 1, apart from packs");
    assert!(prepared["entities"].as_u64().unwrap() > 10);
    let with_set = |raw: &mut Raw, handle: u32, set: Value| {
        let mut input: Value = serde_json::from_str(&example_request()).unwrap();
        input["entity_set"] = set;
        raw.decide_bytes(handle, input.to_string().as_bytes())
    };
    assert_eq!(with_set(&mut raw, first, json!(set)), expected);
    // Another pack, a handle never issued, zero, both inline and prepared entities.
    assert_eq!(kind(&with_set(&mut raw, second, json!(set))), "bad_handle");
    assert_eq!(
        kind(&with_set(&mut raw, first, json!(set + 1))),
        "bad_handle"
    );
    assert_eq!(kind(&with_set(&mut raw, first, json!(0))), "bad_handle");
    let mut both: Value = serde_json::from_str(&example_input()).unwrap();
    both["entity_set"] = json!(set);
    assert_eq!(
        kind(&raw.decide_bytes(first, both.to_string().as_bytes())),
        "bad_input"
    );
    // Preparing for a pack that is not loaded, or entities that do not fit.
    let bad = raw.prepare_bytes(second + 1, b"{\"entities\": []}");
    assert_eq!(kind(&bad), "bad_handle");
    let bad = raw.prepare_bytes(first, b"{\"entities\": [{\"uid\": 1}]}");
    assert_eq!(kind(&bad), "input");
    // Released: refused, and released once only.
    assert_eq!(raw.release.call(&mut raw.store, set as u32).unwrap(), 1);
    assert_eq!(raw.release.call(&mut raw.store, set as u32).unwrap(), 0);
    assert_eq!(kind(&with_set(&mut raw, first, json!(set))), "bad_handle");
    // A new set gets a new handle; unloading its pack releases it.
    let again = raw.prepare_bytes(second, b"{\"entities\": null}")["entity_set"]
        .as_u64()
        .unwrap();
    assert_eq!(again, set + 1);
    assert_eq!(raw.unload.call(&mut raw.store, second).unwrap(), 1);
    assert_eq!(raw.release.call(&mut raw.store, again as u32).unwrap(), 0);
    assert_eq!(
        raw.decide_bytes(first, example_input().as_bytes()),
        expected
    );
}

#[test]
fn the_host_refuses_entity_sets_of_other_packs_or_engines() {
    let Some((mut engine, pack, expected)) = loaded() else {
        return;
    };
    let set = engine.prepare_entities(pack, &examples_entities()).unwrap();
    assert!(set.entities > 10);
    assert_eq!(set.handle.pack(), pack);
    assert_eq!(
        engine
            .decide_prepared(set.handle, &example_request())
            .unwrap(),
        expected
    );
    // Entities inline beside the set: refused by the module.
    let got = engine.decide_prepared(set.handle, &example_input());
    assert_eq!(got.unwrap_err().guest_kind(), Some("bad_input"));
    // Not one JSON value: refused before it is wrapped.
    assert!(matches!(
        engine.prepare_entities(pack, r#"[], "at": "2026-06-01T12:00:00Z""#),
        Err(HostError::EntitiesNotJson(_))
    ));
    let stranger = r#"[{"uid": {"type": "Stranger", "id": "x"}, "attrs": {}, "parents": []}]"#;
    assert_eq!(
        engine
            .prepare_entities(pack, stranger)
            .unwrap_err()
            .guest_kind(),
        Some("input")
    );
    // Another engine's set.
    let mut other = engine_with(Limits::default()).unwrap();
    let other_pack = other.load(pack_json()).unwrap().handle;
    let foreign = other.prepare_entities(other_pack, "[]").unwrap().handle;
    assert_eq!(
        engine.decide_prepared(foreign, &example_request()),
        Err(HostError::UnknownEntitySet)
    );
    assert!(!engine.release_entities(foreign));
    // Released, and sets of an unloaded pack.
    let second = engine.prepare_entities(pack, "null").unwrap().handle;
    assert_eq!(engine.entity_sets(), 2);
    assert!(engine.release_entities(set.handle));
    assert!(!engine.release_entities(set.handle));
    assert_eq!(
        engine.decide_prepared(set.handle, &example_request()),
        Err(HostError::UnknownEntitySet)
    );
    assert!(engine.unload(pack));
    assert_eq!(engine.entity_sets(), 0);
    assert_eq!(
        engine.decide_prepared(second, &example_request()),
        Err(HostError::UnknownEntitySet)
    );
    assert_eq!(
        engine.prepare_entities(pack, "[]"),
        Err(HostError::UnknownPack)
    );
}

/// A pack that calls every Cedar extension function family the native engine accepts
/// (decimal, ipaddr, datetime), on literals and on entity attributes.
fn extensions_source() -> PackSource {
    PackSource {
        policies: vec![SourceFile::new(
            "extensions.cedar",
            r#"@id("extensions") @tier("auto")
permit(principal, action, resource) when {
    decimal("1.5").lessThan(resource.limit) &&
    resource.addr.isInRange(ip("10.0.0.0/8")) &&
    datetime("2026-01-01").offset(duration("1d")) < context.now &&
    context.now.toDate() == datetime("2026-06-01")
};
@id("ipv6-hosts")
forbid(principal, action, resource) when { resource.addr.isIpv6() };"#,
        )],
        schemas: vec![],
    }
}

#[test]
fn a_pack_using_every_extension_loads_and_decides_as_natively() {
    let Some(mut engine) = engine() else {
        return;
    };
    let source = extensions_source();
    let native = Pack::load(source.clone()).unwrap();
    let pack = engine
        .load(&serde_json::to_string(&source).unwrap())
        .unwrap_or_else(|e| panic!("the module refused a pack the native engine loads: {e:?}"));
    let request =
        json!({"principal": "Agent::\"a\"", "action": "Action::\"go\"", "resource": "Host::\"h\""});
    let host = |addr: &str, limit: &str| {
        json!([{"uid": {"type": "Host", "id": "h"}, "parents": [], "attrs": {
            "addr": {"__extn": {"fn": "ip", "arg": addr}},
            "limit": {"__extn": {"fn": "decimal", "arg": limit}}}}])
    };
    let mut tiers = Vec::new();
    for entities in [
        host("10.1.2.3", "2.5"),
        host("192.168.0.1", "2.5"),
        host("::1", "2.5"),
    ] {
        let want = native
            .decide(
                &ProposedAction::from_json(&request).unwrap(),
                &native.entities_from_json(&entities).unwrap(),
                AT.parse().unwrap(),
            )
            .unwrap();
        let got = engine
            .decide(
                pack.handle,
                &json!({"request": request, "entities": entities, "at": AT}).to_string(),
            )
            .unwrap();
        assert_eq!(got, serde_json::to_string(&want).unwrap());
        let set = engine
            .prepare_entities(pack.handle, &entities.to_string())
            .unwrap();
        let prepared = engine
            .decide_prepared(
                set.handle,
                &json!({"request": request, "at": AT}).to_string(),
            )
            .unwrap();
        assert_eq!(prepared, got);
        tiers.push(want.tier.as_str().to_string());
    }
    // Each extension decided something: satisfied on the first host, not on the others.
    assert_eq!(tiers, ["auto", "deny", "deny"]);
}

fn loaded() -> Option<(WasmEngine, tollgate_wasm_host::PackHandle, String)> {
    let mut engine = engine()?;
    let pack = engine.load(pack_json()).unwrap();
    let expected = engine.decide(pack.handle, &example_input()).unwrap();
    Some((engine, pack.handle, expected))
}

#[test]
fn the_host_refuses_hostile_input_and_stays_usable() {
    let Some((mut engine, pack, expected)) = loaded() else {
        return;
    };
    let good = example_input();
    // A 50 MB request: refused before it reaches the module.
    let huge = format!(
        "{{\"request\": {{\"context\": {{\"x\": \"{}\"}}}}}}",
        "a".repeat(50 * 1024 * 1024)
    );
    assert!(matches!(
        engine.decide(pack, &huge),
        Err(HostError::InputTooLarge { len, .. }) if len == huge.len()
    ));
    assert_eq!(engine.decide(pack, &good).unwrap(), expected);

    let deep = format!(
        "{{\"request\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    for (input, want) in [
        ("", "bad_input"),
        (&good[..good.len() - 3], "bad_input"),
        ("not json", "bad_input"),
        (&deep, "too_deep"),
    ] {
        let got = engine.decide(pack, input).unwrap_err();
        assert_eq!(got.guest_kind(), Some(want), "{got:?}");
        assert_eq!(engine.decide(pack, &good).unwrap(), expected);
    }

    // Handles: unloaded, or from another engine.
    let mut other = crate::support::wasm_module::engine().unwrap();
    let foreign = other.load(pack_json()).unwrap().handle;
    assert_eq!(engine.decide(foreign, &good), Err(HostError::UnknownPack));
    assert!(other.unload(foreign));
    assert!(!other.unload(foreign));
    assert_eq!(other.decide(foreign, &good), Err(HostError::UnknownPack));

    // Lint without the day it judges exceptions on is refused, and the engine stays usable.
    assert!(engine.info().lint);
    let lint = engine.lint(pack_json()).unwrap_err();
    assert_eq!(lint.guest_kind(), Some("missing_at"));
    assert_eq!(engine.decide(pack, &good).unwrap(), expected);
}

#[test]
fn a_pack_that_does_not_load_names_its_problems() {
    let Some(mut engine) = engine() else {
        return;
    };
    let bad = json!({"policies": [{"name": "x/bad.cedar", "text": "@tier(\"maybe\")\npermit(principal, action, resource);"}]});
    match engine.load(&bad.to_string()) {
        Err(HostError::Guest { kind, problems, .. }) => {
            assert_eq!(kind, "load");
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].file, "x/bad.cedar");
            assert_eq!(problems[0].line, 1);
        }
        other => panic!("{other:?}"),
    }
}

/// `n` groups, each a member of the next.
fn chain_of_groups(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"uid": {"type": "Group", "id": format!("g{i}")}, "attrs": {}, "parents": [{"type": "Group", "id": format!("g{}", i + 1)}]}))
        .collect()
}

fn summarize_with(entities: Vec<Value>) -> String {
    json!({"request": {"principal": "Agent::\"ir-bot\"", "action": "Action::\"summarize\"",
        "resource": "Document::\"incident-123\"", "context": {"request_id": "x"}}, "entities": entities, "at": AT})
    .to_string()
}

#[test]
fn a_deep_entity_hierarchy_is_refused_before_cedar_recurses_through_it() {
    let Some((mut engine, pack, expected)) = loaded() else {
        return;
    };
    // Cedar's transitive closure recurses once per entity of a chain: 2,000 exhaust the stack.
    let got = engine.decide(pack, &summarize_with(chain_of_groups(2_000)));
    assert_eq!(got.unwrap_err().guest_kind(), Some("too_deep"));
    // Just under the cap, the hierarchy is computed and the request decided.
    let depth = engine.info().max_hierarchy_depth;
    let decision = engine
        .decide(pack, &summarize_with(chain_of_groups(depth - 1)))
        .unwrap();
    assert!(decision.starts_with(r#"{"tier":"#), "{decision}");
    assert_eq!(engine.decide(pack, &example_input()).unwrap(), expected);
}

#[test]
fn running_out_of_fuel_stops_the_call_and_the_next_call_works() {
    let Some(mut engine) = engine() else {
        return;
    };
    // What loading the pack and deciding the example cost, to give a second engine a budget that
    // covers them twice over but not loading a pack twenty times the size.
    let pack = engine.load(pack_json()).unwrap().handle;
    let load_fuel = engine.last_fuel_used().unwrap();
    let expected = engine.decide(pack, &example_input()).unwrap();
    let decide_fuel = engine.last_fuel_used().unwrap();
    let budget = 2 * load_fuel.max(decide_fuel);
    let mut big: Value = serde_json::from_str(pack_json()).unwrap();
    let one: Vec<Value> = big["policies"].as_array().unwrap().clone();
    let copies: Vec<Value> = (0..20)
        .flat_map(|i| {
            one.iter().map(move |f| {
                // Same policies under other ids, so the pack still loads (given the fuel).
                let text = f["text"]
                    .as_str()
                    .unwrap()
                    .replace("@id(\"", &format!("@id(\"c{i}-"));
                json!({"name": format!("c{i}/{}", f["name"].as_str().unwrap()), "text": text})
            })
        })
        .collect();
    big["policies"] = Value::Array(copies);
    let big = big.to_string();
    engine.load(&big).unwrap();
    let big_fuel = engine.last_fuel_used().unwrap();
    eprintln!("fuel: load {load_fuel}, decide {decide_fuel}, load x20 {big_fuel}");
    assert!(
        big_fuel > 2 * budget,
        "the big pack is not costly enough to test with"
    );

    let mut limited = engine_with(Limits {
        fuel_per_call: budget,
        ..Limits::default()
    })
    .unwrap();
    let pack = limited.load(pack_json()).unwrap().handle;
    assert_eq!(limited.decide(pack, &example_input()).unwrap(), expected);
    assert_eq!(
        limited.load(&big),
        Err(HostError::FuelExhausted { limit: budget })
    );
    // The instance was replaced and the pack loaded into the new one: same handle, same answer.
    assert_eq!(limited.decide(pack, &example_input()).unwrap(), expected);
}

#[test]
fn reaching_the_memory_cap_stops_the_call_and_the_next_call_works() {
    let Some((_, _, expected)) = loaded() else {
        return;
    };
    let mut limited = engine_with(Limits {
        max_memory_bytes: 48 * 1024 * 1024,
        ..Limits::default()
    })
    .unwrap();
    let pack = limited.load(pack_json()).unwrap().handle;
    // Just under the input cap, and many small values: parsing it needs far more than 48 MiB.
    let n = 1_400_000;
    let many = format!(
        "{{\"request\": {{\"principal\": \"Agent::\\\"a\\\"\", \"action\": \"Action::\\\"summarize\\\"\", \"resource\": \"Document::\\\"d\\\"\", \"context\": {{\"request_id\": \"x\", \"scopes\": [{}]}}}}, \"at\": \"{AT}\"}}",
        vec!["\"s\""; n].join(",")
    );
    assert!(many.len() < 16 * 1024 * 1024);
    let got = limited.decide(pack, &many);
    assert!(matches!(got, Err(HostError::MemoryLimit { .. })), "{got:?}");
    assert_eq!(limited.decide(pack, &example_input()).unwrap(), expected);
}

#[test]
fn a_policy_that_overflows_the_stack_traps_without_harming_other_packs() {
    let Some((mut engine, pack, expected)) = loaded() else {
        return;
    };
    let set = engine.prepare_entities(pack, &examples_entities()).unwrap();
    // Shallow brackets (so the nesting cap lets it through) but a 20,000-term sum: Cedar's
    // parser and evaluator recurse once per term, and on wasm32 nothing guards the stack.
    let text = format!(
        "@tier(\"auto\") permit(principal, action, resource) when {{ {} > 0 }};",
        vec!["1"; 20_000].join(" + ")
    );
    let hostile = json!({"policies": [{"name": "sum.cedar", "text": text}]});
    // Loading may already overflow (it depends on how much of the policy the loader walks);
    // if it does not, evaluating the policy must.
    let trapped = match engine.load(&hostile.to_string()) {
        Err(HostError::Trap(_)) => "load",
        Ok(loaded) => {
            let request = json!({"request": {"principal": "Agent::\"a\"", "action": "Action::\"go\"",
                "resource": "R::\"r\""}, "at": AT});
            let got = engine.decide(loaded.handle, &request.to_string());
            assert!(
                matches!(got, Err(HostError::Trap(_))),
                "expected a trap, got {got:?}"
            );
            "decide"
        }
        other => panic!("expected a trap or a pack, got {other:?}"),
    };
    eprintln!("the 20,000-term policy trapped in {trapped}");
    // The pack loaded before the trap is loaded again into the fresh instance, and the entity
    // set prepared for it prepared again: the host's handles stay valid.
    assert_eq!(
        engine
            .decide_prepared(set.handle, &example_request())
            .unwrap(),
        expected
    );
    assert_eq!(engine.decide(pack, &example_input()).unwrap(), expected);
    assert_eq!(engine.entity_sets(), 1);
}
