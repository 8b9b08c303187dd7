//! Times `Pack::load` of a synthetic pack, then a reload through a `ValidationCache` after one
//! policy changed: `cargo run --release --example load_time -- 10000 [RUNS]` (under
//! `taskset -c 0` for one core). Prints each run and the medians.
#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use tollgate::synthetic::{self, Shape};
use tollgate_engine::{Pack, PackSource, SourceFile, ValidationCache};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let policies: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let source = synthetic::pack(Shape::of(policies), 7);
    let mut plain = Vec::new();
    for run in 0..runs {
        let copy = source.clone();
        let start = Instant::now();
        let pack = Pack::load(copy)?;
        let took = start.elapsed();
        drop(pack);
        println!("load {run}: {took:?}");
        plain.push(took);
    }
    // One policy more in a file of its own: a reload validates it alone.
    let cache = ValidationCache::new();
    Pack::load_cached(source.clone(), &cache)?;
    let mut changed = source.clone();
    changed.policies.push(SourceFile::new(
        "zz-extra.cedar",
        "@id(\"extra\") @tier(\"single\") permit(principal, action, resource);",
    ));
    let mut cached = Vec::new();
    for run in 0..runs {
        let copy: PackSource = if run % 2 == 0 {
            changed.clone()
        } else {
            source.clone()
        };
        let start = Instant::now();
        let pack = Pack::load_cached(copy, &cache)?;
        let took = start.elapsed();
        drop(pack);
        println!(
            "reload {run}: {took:?} ({} validated)",
            cache.last_validated()
        );
        cached.push(took);
    }
    println!(
        "{policies} policies: load median {:?}, cached reload median {:?}",
        median(plain),
        median(cached)
    );
    Ok(())
}
