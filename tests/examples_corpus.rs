//! `examples/requests.jsonl` and `examples/requests-small.jsonl` are generated from a seed:
//! this test proves the shipped files match the generator (set `TOLLGATE_REGENERATE=1` to
//! rewrite them), and that every request in them is decidable by the reference pack.

use std::path::PathBuf;

use tollgate::corpus::{requests, to_jsonl};
use tollgate_engine::fs::read_pack;
use tollgate_engine::{Pack, ProposedAction, Timestamp};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_corpora_match_the_generator_and_decide() {
    for (name, count, seed) in [
        ("requests.jsonl", 1200, 2026),
        ("requests-small.jsonl", 20, 7),
    ] {
        let path = root().join("examples").join(name);
        let expected = to_jsonl(&requests(count, seed));
        if std::env::var_os("TOLLGATE_REGENERATE").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let shipped = std::fs::read_to_string(&path).unwrap();
        assert!(
            shipped == expected,
            "{name} differs from the generator: run with TOLLGATE_REGENERATE=1"
        );

        let pack =
            Pack::load(read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap())
                .unwrap();
        let text = std::fs::read_to_string(root().join("examples/entities.json")).unwrap();
        let entities = pack
            .entities_from_json(&serde_json::from_str(&text).unwrap())
            .unwrap();
        let at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
        let mut tiers = std::collections::BTreeMap::new();
        for line in shipped.lines() {
            let r = ProposedAction::from_json_str(line).unwrap();
            let d = pack
                .decide(&r, &entities, at)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            *tiers.entry(d.tier).or_insert(0) += 1;
        }
        if count >= 1000 {
            assert_eq!(tiers.len(), 4, "every tier appears: {tiers:?}");
        }
    }
}
