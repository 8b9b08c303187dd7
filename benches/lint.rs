//! `lint` on a synthetic pack of 2,000 policies (`src/synthetic.rs`): the rules compare policies
//! pairwise, so this is where a rule that compares every pair shows. Run:
//! `cargo bench --bench lint`. The 20,000-policy figure in docs/performance.md is the CLI on a
//! pack written by `cargo run --release --example synthetic_pack`.

use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tollgate::synthetic::{self, Shape};
use tollgate_engine::lint::lint;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lint");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(10);
    let today = "2026-06-01".parse().unwrap_or_else(|e| panic!("{e}"));
    let n = 2_000;
    let source = synthetic::pack(Shape::of(n), 7);
    group.bench_function(BenchmarkId::from_parameter(n), |b| {
        // Copying the files in is not linting them: criterion does it outside the timing.
        b.iter_batched(
            || source.clone(),
            |source| lint(source, &[], today).map(|f| f.len()).ok(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
