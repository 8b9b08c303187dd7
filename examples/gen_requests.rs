//! Writes N distinct, valid requests for the reference pack as JSON Lines, for timing
//! `tollgate simulate` on requests that all differ:
//! `cargo run --release --example gen_requests -- 200000 [SEED] > /tmp/req.jsonl`, then
//! `tollgate simulate --requests /tmp/req.jsonl --entities examples/entities.json
//! --at 2026-06-01T12:00:00Z --format csv`. The same N and seed give the same file.
#![forbid(unsafe_code)]

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = || std::io::Error::other("usage: gen_requests COUNT [SEED]");
    let count: u64 = args.next().and_then(|n| n.parse().ok()).ok_or_else(usage)?;
    let seed: u64 = match args.next() {
        Some(s) => s.parse().map_err(|_| usage())?,
        None => 1,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for request in tollgate::requests::requests(seed, count) {
        serde_json::to_writer(&mut out, &request)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
