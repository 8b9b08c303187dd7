//! `tollgate bench`: decisions per second and latency percentiles, against plain Cedar.

use std::time::{Duration, Instant};

use miette::miette;
use serde::Serialize;
use tollgate_engine::PreparedEntities;
use tollgate_engine::reference::{PlainRequest, plain_cedar};

use crate::args::{BenchArgs, Format};
use crate::exit;
use crate::io::{
    RequestLines, evaluation_time, load_entities, load_pack, note_no_entities, print, print_json,
};
use crate::render::shown;

#[derive(Debug, Serialize)]
struct Stats {
    decisions: usize,
    decisions_per_sec: f64,
    mean_us: f64,
    p50_us: f64,
    p90_us: f64,
    p99_us: f64,
}

fn measure(budget: Duration, n: usize, mut one: impl FnMut(usize)) -> Stats {
    // Warm caches first, outside the measurement.
    for i in 0..n.min(200) {
        one(i);
    }
    let mut samples: Vec<Duration> = Vec::new();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < budget {
        let t = Instant::now();
        one(i % n);
        samples.push(t.elapsed());
        i += 1;
    }
    let total = start.elapsed();
    samples.sort_unstable();
    let pct = |p: f64| {
        let idx = ((samples.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(samples.len().saturating_sub(1));
        samples.get(idx).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    };
    let sum: Duration = samples.iter().sum();
    Stats {
        decisions: samples.len(),
        decisions_per_sec: samples.len() as f64 / total.as_secs_f64(),
        mean_us: sum.as_secs_f64() * 1e6 / samples.len().max(1) as f64,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
    }
}

pub fn run(args: BenchArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at.at)?;
    let pack = load_pack(&args.pack)?;
    let entities: PreparedEntities = load_entities(&pack, args.entities.as_deref())?;
    note_no_entities(args.entities.is_some());
    let mut requests = Vec::new();
    let mut plain = Vec::new();
    let mut skipped = 0;
    // Why the first skipped line was skipped, so that a file of which nothing can be timed says why.
    let mut first_skip: Option<String> = None;
    let mut lines = RequestLines::open(&args.requests)?;
    loop {
        let chunk = lines.requests(4096)?;
        if chunk.is_empty() {
            break;
        }
        for (number, r) in chunk {
            // Only requests both engines can decide are timed.
            match PlainRequest::new(&pack, &r, at) {
                Ok(p) => {
                    requests.push(r);
                    plain.push(p);
                }
                Err(why) => {
                    skipped += 1;
                    first_skip.get_or_insert_with(|| format!("line {number}: {why}"));
                }
            }
        }
    }
    // Lines that are not requests were reported as they were read; they are not timed either.
    skipped += lines.bad_lines();
    if requests.is_empty() {
        let why = match &first_skip {
            Some(first) => format!("first, {}", shown(first)),
            None => "no line is a request".into(),
        };
        return Err(miette!(
            "{}: no request could be decided ({why})",
            shown(lines.name())
        ));
    }
    let budget = Duration::from_secs_f64(args.time);
    let tollgate = measure(budget, requests.len(), |i| {
        if let Some(r) = requests.get(i) {
            std::hint::black_box(pack.decide(r, &entities, at).ok());
        }
    });
    let cedar = measure(budget, plain.len(), |i| {
        if let Some(p) = plain.get(i) {
            std::hint::black_box(plain_cedar(&pack, &entities, p));
        }
    });
    let ratio = tollgate.mean_us / cedar.mean_us.max(f64::MIN_POSITIVE);
    match args.format {
        Format::Json => {
            print_json(&serde_json::json!({
                "requests": requests.len(), "skipped": skipped, "policies": pack.policies().len(),
                "tollgate": tollgate, "cedar": cedar, "ratio_vs_cedar": ratio,
            }))?;
        }
        Format::Text => {
            let mut text = format!(
                "{} requests ({} skipped), {} policies, one thread, {:.1}s each\n",
                requests.len(),
                skipped,
                pack.policies().len(),
                args.time
            );
            for (name, s) in [("tollgate", &tollgate), ("plain cedar", &cedar)] {
                text.push_str(&format!(
                    "{name:>12}: {:>10.0} decisions/s  mean {:>7.1} µs  p50 {:>7.1} µs  p90 {:>7.1} µs  p99 {:>7.1} µs\n",
                    s.decisions_per_sec, s.mean_us, s.p50_us, s.p90_us, s.p99_us
                ));
            }
            text.push_str(&format!("ratio vs cedar (time per decision): {ratio:.2}\n"));
            print(&text)?;
        }
    }
    Ok(lines.exit_code(exit::OK))
}
