//! The fuzz targets (`src/fuzzing.rs`, run for minutes by cargo-fuzz in `fuzz/`) run here for
//! seconds on every test run: on arbitrary bytes, on mutations of their seeds, and on every
//! input kept in `fuzz/regressions/<target>/` (each one made a target fail once).

use std::path::PathBuf;

use proptest::prelude::*;
use tollgate::fuzzing::{TARGETS, repo, seeds};

fn target(name: &str) -> fn(&[u8]) {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap()
}

/// One edit of a seed: flip, insert or delete a byte, or splice in a byte string that tends to
/// reach corners (deep nesting, duplicate keys, huge numbers, control characters).
#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

const SPLICES: &[&[u8]] = &[
    b"((((((((((((((((((((((((((((((((",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\"resource\": \"Environment::\\\"prod\\\"\", ",
    b"\"__entity\": {\"type\": \"Human\", \"id\": \"x\"}, ",
    b"99999999999999999999999",
    b"-9223372036854775809",
    b"\\u0000\\u001b[31m\\n",
    b"@tier(\"dual\") ",
    b"forbid(principal, action, resource);",
    b"\x00",
    b"null",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (
            any::<usize>(),
            prop_oneof![
                prop::sample::select(SPLICES).prop_map(<[u8]>::to_vec),
                prop::collection::vec(any::<u8>(), 1..8),
            ]
        )
            .prop_map(|(i, s)| Edit::Insert(i, s)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for e in edits {
        let len = out.len().max(1);
        match e {
            Edit::Flip(i, b) => {
                if let Some(x) = out.get_mut(i % len) {
                    *x ^= b | 1;
                }
            }
            Edit::Insert(i, s) => {
                let at = i % (out.len() + 1);
                out.splice(at..at, s.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(out.len());
                if at < end {
                    out.drain(at..end);
                }
            }
        }
    }
    out
}

fn mutated(name: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "{name} has no seeds");
    (
        prop::sample::select(seeds),
        prop::collection::vec(edit(), 1..6),
    )
        .prop_map(|(seed, edits)| apply(&seed, &edits))
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // A failure is shrunk to a small input worth keeping in fuzz/regressions.
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}

macro_rules! smoke {
    ($name:ident, $cases:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn seeds_pass() {
                for seed in seeds(stringify!($name)) {
                    target(stringify!($name))(&seed);
                }
            }

            #[test]
            fn kept_regressions_pass() {
                let dir = repo().join("fuzz/regressions").join(stringify!($name));
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    return;
                };
                let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
                paths.sort();
                for path in paths {
                    let data = std::fs::read(&path).unwrap();
                    let run = std::panic::catch_unwind(|| target(stringify!($name))(&data));
                    assert!(run.is_ok(), "{} fails again", path.display());
                }
            }

            proptest! {
                #![proptest_config(config($cases))]

                #[test]
                fn arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..512)) {
                    target(stringify!($name))(&data);
                }

                #[test]
                fn mutated_seeds(data in mutated(stringify!($name))) {
                    target(stringify!($name))(&data);
                }
            }
        }
    };
}

smoke!(decide_request, 256);
smoke!(load_policies, 64);
smoke!(lint_workflow, 64);
smoke!(verify_approvals, 256);
smoke!(audit_log, 256);
smoke!(wasm_abi, 48);
