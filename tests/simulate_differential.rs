//! The decision path equals the reference path on many distinct requests: 100,000 generated
//! requests for the reference pack (`tollgate::requests`: every principal, action and resource
//! type, unknown entities, delegations either side of the evaluation time, gated and forbidden
//! combinations), each decided by `Pack::decide` (action index, forbids evaluated as forbids,
//! the fast context, the request hash written in place) and by `reference::decide_unindexed`
//! (every policy as a permit in one evaluation). Tier, approvals required, determining policies,
//! errors and hashes must agree, and every request's hash must be that of its canonical JSON.
//! Every tenth request is also decided by plain Cedar: where it allows and no policy errors, no
//! forbid or gate applies, so tollgate must grant a permit's tier.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use tollgate::requests;
use tollgate_engine::fs::read_pack;
use tollgate_engine::reference::{PlainRequest, decide_unindexed, plain_cedar};
use tollgate_engine::{Effect, Pack, ProposedAction, Sha256Digest, Tier, Timestamp};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn decisions_equal_the_reference_on_100k_distinct_requests() {
    let source = read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap();
    let pack = Pack::load(source).unwrap();
    let text = std::fs::read_to_string(root().join("examples/entities.json")).unwrap();
    let entities = pack
        .entities_from_json(&serde_json::from_str(&text).unwrap())
        .unwrap();
    let at: Timestamp = requests::AT.parse().unwrap();

    let mut tiers: BTreeMap<String, usize> = BTreeMap::new();
    let mut with_errors = 0;
    let mut hashes = HashSet::new();
    for (n, value) in requests::requests(0x7011_6a7e, 100_000).enumerate() {
        let request = ProposedAction::from_json(&value).unwrap();
        assert_eq!(
            request.hash(),
            Sha256Digest::of_canonical(&request.to_json()).unwrap(),
            "{value}"
        );
        assert!(
            hashes.insert(request.hash()),
            "request {n} repeats: {value}"
        );
        let fast = pack.decide(&request, &entities, at);
        let reference = decide_unindexed(&pack, &request, &entities, at);
        assert_eq!(fast, reference, "{value}");
        let decision = fast.unwrap_or_else(|e| panic!("{value}: {e}"));
        if n % 10 == 0 {
            let plain = PlainRequest::new(&pack, &request, at).unwrap();
            if plain_cedar(&pack, &entities, &plain) == Some(true) && decision.errors.is_empty() {
                assert_ne!(decision.tier, Tier::Deny, "{value}");
                assert!(
                    decision
                        .determining
                        .iter()
                        .all(|p| p.effect == Effect::Permit),
                    "{value}"
                );
            }
        }
        *tiers.entry(decision.tier.to_string()).or_default() += 1;
        with_errors += usize::from(!decision.errors.is_empty());
    }
    // The generator reaches every tier, and policies that error.
    assert_eq!(tiers.len(), 4, "{tiers:?}");
    assert!(tiers.values().all(|&n| n > 1_000), "{tiers:?}");
    assert!(with_errors > 1_000, "{with_errors}");
}
