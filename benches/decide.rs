//! tollgate `decide` against plain Cedar `is_authorized` on the same policies, entities and
//! requests — the reference pack and synthetic packs of 100, 1,000 and 10,000 policies — plus
//! pack loading (parse + validate + index). Run: `cargo bench --bench decide`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use tollgate::synthetic::{self, Shape};
use tollgate_engine::fs::read_pack;
use tollgate_engine::reference::{PlainRequest, decide_unindexed, plain_cedar};
use tollgate_engine::testcase::{find_test_files, load_test_file};
use tollgate_engine::{Pack, PreparedEntities, ProposedAction, Timestamp};

fn at() -> Timestamp {
    "2026-06-01T12:00:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"))
}

struct Case {
    pack: Pack,
    entities: PreparedEntities,
    requests: Vec<ProposedAction>,
    /// The same requests as plain Cedar would receive them: JSON to be parsed per call.
    cedar_inputs: Vec<PlainRequest>,
}

fn case(pack: Pack, entities: &Value, requests: Vec<Value>) -> Case {
    let prepared = pack
        .entities_from_json(entities)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut parsed = Vec::new();
    let mut cedar_inputs = Vec::new();
    for r in requests {
        let Ok(p) = ProposedAction::from_json(&r) else {
            continue;
        };
        // Only requests that are valid decisions (policy tests also hold error cases).
        let Ok(plain) = PlainRequest::new(&pack, &p, at()) else {
            continue;
        };
        cedar_inputs.push(plain);
        parsed.push(p);
    }
    Case {
        pack,
        entities: prepared,
        requests: parsed,
        cedar_inputs,
    }
}

fn reference() -> Case {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let pack = Pack::load(
        read_pack(&root.join("policies"), Some(&root.join("schemas")))
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut requests = Vec::new();
    let mut entities = Value::Null;
    for path in find_test_files(&root.join("policies/tests")).unwrap_or_else(|e| panic!("{e}")) {
        let file = load_test_file(&path).unwrap_or_else(|e| panic!("{e}"));
        entities = file.entities;
        requests.extend(file.file.cases.into_iter().map(|c| c.request));
    }
    case(pack, &entities, requests)
}

fn synthetic_case(n: usize) -> Case {
    let shape = Shape::of(n);
    let pack = Pack::load(synthetic::pack(shape, 7)).unwrap_or_else(|e| panic!("{e}"));
    case(
        pack,
        &synthetic::entities(),
        synthetic::requests(shape, 64, 7),
    )
}

fn compare(c: &mut Criterion, name: &str, case: &Case) {
    let mut group = c.benchmark_group(format!("decide/{name}"));
    group
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(30);
    let n = case.requests.len();
    group.bench_function(BenchmarkId::new("tollgate", n), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % n;
            black_box(
                case.pack
                    .decide(&case.requests[i], &case.entities, at())
                    .ok(),
            )
        })
    });
    group.bench_function(BenchmarkId::new("tollgate-no-index", n), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % n;
            black_box(decide_unindexed(&case.pack, &case.requests[i], &case.entities, at()).ok())
        })
    });
    // Plain Cedar does the same work a service would: build the request from JSON (with the
    // schema) and authorise against every policy.
    group.bench_function(BenchmarkId::new("cedar", n), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % n;
            black_box(plain_cedar(
                &case.pack,
                &case.entities,
                &case.cedar_inputs[i],
            ))
        })
    });
    group.finish();
}

fn decide(c: &mut Criterion) {
    compare(c, "reference", &reference());
    for n in [100, 1_000, 10_000] {
        compare(c, &format!("synthetic-{n}"), &synthetic_case(n));
    }
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    for n in [100, 1_000, 10_000] {
        let source = synthetic::pack(Shape::of(n), 7);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            // Copying the files and dropping the pack are not loading it: criterion does both
            // outside the timing.
            b.iter_batched(
                || source.clone(),
                |source| Pack::load(source).ok(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decide, load);
criterion_main!(benches);
