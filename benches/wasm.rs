//! The WebAssembly module through wasmtime against the native engine, in one run:
//! - `decide`: one decision on the reference pack (the README's example request with
//!   examples/entities.json), JSON text in and decision JSON out on both sides — the work a
//!   service does per proposed action — and the native decision alone for scale;
//! - the same decision with the entities prepared once (`prepare_entities` in the module,
//!   `entities_from_json` natively): request JSON in, decision JSON out, on both sides;
//! - the same on the 1,200 requests of examples/requests.jsonl in turn, one per iteration: the
//!   mix `wasm/examples/node/bench.mjs` and `examples/python/bench.py` decide, so that the
//!   three hosts can be compared on the same work;
//! - `call_overhead`: a call that does no work (an empty decide input, answered with an error):
//!   the cost of crossing into the module and back, buffers included;
//! - `engine_creation`: a `WasmEngine` from a compiled module, and from bytes already seen
//!   (`WasmEngine::new`, cached). Compiling the module is timed once and printed.
//!
//! `cargo bench --bench wasm` (builds the module first, as the tests do).

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use support::wasm_module::{module, module_bytes, root};
use tollgate_engine::fs::read_pack;
use tollgate_engine::{Pack, PreparedEntities, ProposedAction, Timestamp};
use tollgate_wasm_host::{Limits, WasmEngine, WasmModule};

fn read_json(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(rel)).unwrap()).unwrap()
}

fn input() -> String {
    json!({"request": read_json("examples/request.json"), "entities": read_json("examples/entities.json"),
        "at": "2026-06-01T12:00:00Z"})
    .to_string()
}

/// The native engine doing what the module does per call on prepared entities: parse the input
/// text and the request, decide, serialise.
fn native_decide_prepared(pack: &Pack, entities: &PreparedEntities, input: &str) -> String {
    let input: Value = serde_json::from_str(input).unwrap();
    let request = ProposedAction::from_json(&input["request"]).unwrap();
    let at: Timestamp = input["at"].as_str().unwrap().parse().unwrap();
    serde_json::to_string(&pack.decide(&request, entities, at).unwrap()).unwrap()
}

/// The native engine doing what the module does per call: parse the input text, parse and
/// validate the request and entities, decide, serialise.
fn native_decide(pack: &Pack, input: &str) -> String {
    let input: Value = serde_json::from_str(input).unwrap();
    let request = ProposedAction::from_json(&input["request"]).unwrap();
    let entities = pack.entities_from_json(&input["entities"]).unwrap();
    let at: Timestamp = input["at"].as_str().unwrap().parse().unwrap();
    serde_json::to_string(&pack.decide(&request, &entities, at).unwrap()).unwrap()
}

fn decide(c: &mut Criterion) {
    let Some(module) = module() else {
        return;
    };
    let source = read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap();
    let pack = Pack::load(source.clone()).unwrap();
    let mut engine = WasmEngine::from_module(module, Limits::default()).unwrap();
    let handle = engine
        .load(&serde_json::to_string(&source).unwrap())
        .unwrap()
        .handle;
    let input = input();
    assert_eq!(
        engine.decide(handle, &input).unwrap(),
        native_decide(&pack, &input),
        "the bench compares like with like"
    );
    let request = ProposedAction::from_json(&read_json("examples/request.json")).unwrap();
    let entities = pack
        .entities_from_json(&read_json("examples/entities.json"))
        .unwrap();
    let at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    let set = engine
        .prepare_entities(
            handle,
            &std::fs::read_to_string(root().join("examples/entities.json")).unwrap(),
        )
        .unwrap()
        .handle;
    let request_input =
        json!({"request": read_json("examples/request.json"), "at": "2026-06-01T12:00:00Z"})
            .to_string();
    assert_eq!(
        engine.decide_prepared(set, &request_input).unwrap(),
        native_decide_prepared(&pack, &entities, &request_input),
        "the bench compares like with like"
    );

    // Every line of the mix, as the module's decide input; both sides must agree on each.
    let mix: Vec<String> = std::fs::read_to_string(root().join("examples/requests.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let request: Value = serde_json::from_str(l).unwrap();
            json!({"request": request, "at": "2026-06-01T12:00:00Z"}).to_string()
        })
        .collect();
    for input in &mix {
        assert_eq!(
            engine.decide_prepared(set, input).unwrap(),
            native_decide_prepared(&pack, &entities, input),
            "the bench compares like with like"
        );
    }

    let mut group = c.benchmark_group("decide");
    group.bench_function("native, JSON in and out", |b| {
        b.iter(|| native_decide(&pack, black_box(&input)))
    });
    group.bench_function("wasm, JSON in and out", |b| {
        b.iter(|| engine.decide(handle, black_box(&input)).unwrap())
    });
    group.bench_function("native, prepared entities, request JSON in and out", |b| {
        b.iter(|| native_decide_prepared(&pack, &entities, black_box(&request_input)))
    });
    group.bench_function("wasm, prepared entities, request JSON in and out", |b| {
        b.iter(|| {
            engine
                .decide_prepared(set, black_box(&request_input))
                .unwrap()
        })
    });
    let mut next = 0;
    group.bench_function("native, prepared entities, the requests.jsonl mix", |b| {
        b.iter(|| {
            next = (next + 1) % mix.len();
            native_decide_prepared(&pack, &entities, black_box(&mix[next]))
        })
    });
    group.bench_function("wasm, prepared entities, the requests.jsonl mix", |b| {
        b.iter(|| {
            next = (next + 1) % mix.len();
            engine.decide_prepared(set, black_box(&mix[next])).unwrap()
        })
    });
    group.bench_function("native, decide only (parsed request and entities)", |b| {
        b.iter(|| pack.decide(black_box(&request), &entities, at).unwrap())
    });
    group.finish();
}

fn call_overhead(c: &mut Criterion) {
    let Some(module) = module() else {
        return;
    };
    let mut engine = WasmEngine::from_module(module, Limits::default()).unwrap();
    let source = read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap();
    let handle = engine
        .load(&serde_json::to_string(&source).unwrap())
        .unwrap()
        .handle;
    assert_eq!(
        engine.decide(handle, "").unwrap_err().guest_kind(),
        Some("bad_input")
    );
    c.bench_function("call_overhead/empty decide", |b| {
        b.iter(|| engine.decide(handle, black_box("")).unwrap_err())
    });
}

fn engine_creation(c: &mut Criterion) {
    let (Some(module), Some(bytes)) = (module(), module_bytes()) else {
        return;
    };
    let started = Instant::now();
    let compiled = WasmModule::compile(bytes).unwrap();
    eprintln!(
        "engine_creation/compile the module ({} bytes): {:.2?} (once)",
        bytes.len(),
        started.elapsed()
    );
    drop(compiled);
    let mut group = c.benchmark_group("engine_creation");
    group.bench_function("from a compiled module", |b| {
        b.iter(|| WasmEngine::from_module(black_box(module), Limits::default()).unwrap())
    });
    WasmEngine::new(bytes, Limits::default()).unwrap();
    group.bench_function("WasmEngine::new, bytes seen before", |b| {
        b.iter(|| WasmEngine::new(black_box(bytes), Limits::default()).unwrap())
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decide, call_overhead, engine_creation
}
criterion_main!(benches);
