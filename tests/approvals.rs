//! Approval verification on the reference pack: every reason a record does not count, dual
//! control, rejects, expiry, replay and forgery; and monotonicity as a property.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};
use tollgate_engine::approvals::{
    ApprovalDecision, ApprovalRecord, Outcome, Verification, VerifyError, parse_approvals, verify,
};
use tollgate_engine::fs::read_pack;
use tollgate_engine::keys::{Keyring, PrivateKey, keyring_entry};
use tollgate_engine::{
    EntityRef, Pack, PackSource, PreparedEntities, ProposedAction, SourceFile, Tier, Timestamp,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct World {
    pack: Pack,
    entities: PreparedEntities,
    keyring: Keyring,
}

const PEOPLE: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "mallory"];

fn key_of(who: &str) -> PrivateKey {
    let n = PEOPLE
        .iter()
        .position(|p| *p == who)
        .map_or(99, |i| i as u8 + 1);
    PrivateKey::from_seed([n; 32])
}

fn human(who: &str) -> EntityRef {
    format!("Human::\"{who}\"").parse().unwrap()
}

fn world() -> World {
    let pack =
        Pack::load(read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap())
            .unwrap();
    let text = std::fs::read_to_string(root().join("examples/entities.json")).unwrap();
    let entities = pack
        .entities_from_json(&serde_json::from_str(&text).unwrap())
        .unwrap();
    // Everyone but mallory has a key; helper-bot (an agent) has one too.
    let mut ring: String = PEOPLE
        .iter()
        .filter(|p| **p != "mallory")
        .map(|p| keyring_entry(&human(p), &key_of(p).public_key()) + "\n")
        .collect();
    ring.push_str(&keyring_entry(
        &"Agent::\"helper-bot\"".parse().unwrap(),
        &PrivateKey::from_seed([50; 32]).public_key(),
    ));
    World {
        pack,
        entities,
        keyring: Keyring::parse(&ring).unwrap(),
    }
}

fn at() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn deploy(request_id: &str) -> ProposedAction {
    ProposedAction::from_json(&json!({
        "principal": "Agent::\"deploy-bot\"", "action": "Action::\"deploy\"", "resource": "Environment::\"prod\"",
        "context": {"request_id": request_id}
    }))
    .unwrap()
}

fn record(req: &ProposedAction, who: &str, decision: ApprovalDecision) -> ApprovalRecord {
    let evidence =
        (decision == ApprovalDecision::Reject).then(|| "not during the freeze".to_string());
    ApprovalRecord::new(
        req.hash(),
        human(who),
        decision,
        t("2026-06-01T11:30:00Z"),
        t("2026-06-01T12:30:00Z"),
        evidence,
    )
    .signed_by(&key_of(who))
}

fn approve(req: &ProposedAction, who: &str) -> ApprovalRecord {
    record(req, who, ApprovalDecision::Approve)
}

fn run(w: &World, req: &ProposedAction, records: &[ApprovalRecord]) -> Verification {
    verify(&w.pack, &w.entities, req, records, &w.keyring, at()).unwrap()
}

fn why(v: &Verification, i: usize) -> (bool, String) {
    (v.records[i].counted(), v.records[i].why())
}

#[test]
fn dual_control_needs_two_distinct_eligible_humans() {
    let w = world();
    let req = deploy("r1");
    let v = run(&w, &req, &[approve(&req, "alice")]);
    assert_eq!(
        (v.outcome, v.tier, v.missing),
        (Outcome::Pending, Tier::Dual, Some(1))
    );
    let v = run(&w, &req, &[approve(&req, "alice"), approve(&req, "alice")]);
    assert_eq!((v.outcome, v.missing), (Outcome::Pending, Some(1)));
    assert!(why(&v, 1).1.contains("duplicate"));
    let v = run(&w, &req, &[approve(&req, "alice"), approve(&req, "dave")]);
    assert_eq!((v.outcome, v.missing), (Outcome::Allowed, Some(0)));
}

#[test]
fn the_requesters_own_humans_cannot_approve() {
    let w = world();
    // deploy-bot acts for bob (acting_for in the entities).
    let req = deploy("r2");
    let v = run(&w, &req, &[approve(&req, "bob"), approve(&req, "alice")]);
    assert_eq!(v.outcome, Outcome::Pending);
    assert_eq!(
        why(&v, 0),
        (
            false,
            "the requester acts for this approver (acting_for or delegation)".into()
        )
    );
    // triage-bot acts on carol's delegation: carol may not approve it.
    let req = ProposedAction::from_json(&json!({
        "principal": "Agent::\"triage-bot\"", "action": "Action::\"add_token_scope\"", "resource": "Token::\"ci\"",
        "context": {"request_id": "r3", "scopes": ["read:logs"],
                    "delegation": {"granted_by": {"type": "Human", "id": "carol"}, "expires_at": "2026-06-01T13:00:00Z"}}
    }))
    .unwrap();
    let v = run(&w, &req, &[approve(&req, "carol")]);
    assert_eq!((v.outcome, v.tier), (Outcome::Pending, Tier::Single));
    assert!(!v.records[0].counted());
    let v = run(&w, &req, &[approve(&req, "dave")]);
    assert_eq!(v.outcome, Outcome::Allowed);
}

#[test]
fn forged_records_do_not_count() {
    let w = world();
    let req = deploy("r4");
    // Right fields, signed by someone else's key.
    let forged = ApprovalRecord::new(
        req.hash(),
        human("alice"),
        ApprovalDecision::Approve,
        t("2026-06-01T11:30:00Z"),
        t("2026-06-01T12:30:00Z"),
        None,
    )
    .signed_by(&PrivateKey::from_seed([77; 32]));
    // Right fields, no signature at all.
    let unsigned = ApprovalRecord::new(
        req.hash(),
        human("dave"),
        ApprovalDecision::Approve,
        t("2026-06-01T11:30:00Z"),
        t("2026-06-01T12:30:00Z"),
        None,
    );
    // A genuine record whose expiry was pushed out after signing.
    let edited = approve(&req, "carol")
        .to_json_line()
        .replace("2026-06-01T12:30:00Z", "2026-06-01T13:30:00Z");
    let edited = ApprovalRecord::parse(&edited, 1).unwrap();
    let v = run(
        &w,
        &req,
        &[forged, unsigned, edited, approve(&req, "mallory")],
    );
    assert_eq!(v.outcome, Outcome::Pending);
    assert_eq!(v.missing, Some(2));
    assert_eq!(
        why(&v, 0).1,
        "signature does not verify against the approver's key"
    );
    assert_eq!(why(&v, 1).1, "unsigned");
    assert_eq!(
        why(&v, 2).1,
        "signature does not verify against the approver's key"
    );
    assert_eq!(why(&v, 3).1, "approver has no key in the keyring");
}

#[test]
fn a_keyring_that_shares_a_key_is_invalid() {
    let k = key_of("alice").public_key();
    let text = keyring_entry(&human("alice"), &k) + &keyring_entry(&human("bob"), &k);
    assert!(Keyring::parse(&text).is_err());
}

#[test]
fn replay_on_an_identical_looking_request_does_not_count() {
    let w = world();
    let first = deploy("r5");
    let repeat = deploy("r6");
    let v = run(
        &w,
        &repeat,
        &[approve(&first, "alice"), approve(&first, "dave")],
    );
    assert_eq!((v.outcome, v.missing), (Outcome::Pending, Some(2)));
    assert!(why(&v, 0).1.starts_with("for another request"));
}

#[test]
fn only_people_approve() {
    let w = world();
    let req = deploy("r7");
    let bot = ApprovalRecord::new(
        req.hash(),
        "Agent::\"helper-bot\"".parse().unwrap(),
        ApprovalDecision::Approve,
        t("2026-06-01T11:30:00Z"),
        t("2026-06-01T12:30:00Z"),
        None,
    )
    .signed_by(&PrivateKey::from_seed([50; 32]));
    let v = run(&w, &req, &[bot]);
    assert_eq!(
        why(&v, 0),
        (false, "approver type Agent is not a person (@human)".into())
    );
}

#[test]
fn time_bounds_are_exact() {
    let w = world();
    let req = deploy("r8");
    let make = |issued: &str, expires: &str| {
        ApprovalRecord::new(
            req.hash(),
            human("alice"),
            ApprovalDecision::Approve,
            t(issued),
            t(expires),
            None,
        )
        .signed_by(&key_of("alice"))
    };
    // at == expires_at is expired; one second before is not.
    let v = run(
        &w,
        &req,
        &[make("2026-06-01T11:00:00Z", "2026-06-01T12:00:00Z")],
    );
    assert_eq!(
        why(&v, 0),
        (false, "expired at 2026-06-01T12:00:00Z".into())
    );
    let v = run(
        &w,
        &req,
        &[make("2026-06-01T11:00:00Z", "2026-06-01T12:00:01Z")],
    );
    assert!(v.records[0].counted());
    let v = run(
        &w,
        &req,
        &[make("2026-06-01T12:00:01Z", "2026-06-01T13:00:00Z")],
    );
    assert!(why(&v, 0).1.starts_with("issued in the future"));
    let v = run(
        &w,
        &req,
        &[make("2026-06-01T11:00:00Z", "2026-06-03T11:00:00Z")],
    );
    assert!(why(&v, 0).1.contains("24 hours"));
}

#[test]
fn eligibility_is_a_policy_decision() {
    let w = world();
    let req = deploy("r9");
    let v = run(&w, &req, &[approve(&req, "erin"), approve(&req, "carol")]);
    assert_eq!(v.missing, Some(2));
    assert!(why(&v, 0).1.starts_with("not eligible"));
    assert!(
        why(&v, 1).1.starts_with("not eligible"),
        "carol is an IAM admin, not an SRE"
    );
}

#[test]
fn one_counted_reject_denies_even_an_auto_request() {
    let w = world();
    let summarize = ProposedAction::from_json(&json!({
        "principal": "Agent::\"triage-bot\"", "action": "Action::\"summarize\"", "resource": "Document::\"incident-123\"",
        "context": {"request_id": "r10"}
    }))
    .unwrap();
    let v = run(&w, &summarize, &[]);
    assert_eq!(
        (v.outcome, v.tier, v.missing),
        (Outcome::Allowed, Tier::Auto, Some(0))
    );
    let v = run(
        &w,
        &summarize,
        &[record(&summarize, "dave", ApprovalDecision::Reject)],
    );
    assert_eq!((v.outcome, v.missing), (Outcome::Denied, None));
    // A reject from someone not eligible does not count.
    let v = run(
        &w,
        &summarize,
        &[record(&summarize, "erin", ApprovalDecision::Reject)],
    );
    assert_eq!(v.outcome, Outcome::Allowed);
}

fn reject_dated(req: &ProposedAction, who: &str, issued: &str, expires: &str) -> ApprovalRecord {
    ApprovalRecord::new(
        req.hash(),
        human(who),
        ApprovalDecision::Reject,
        t(issued),
        t(expires),
        Some("stop".into()),
    )
    .signed_by(&key_of(who))
}

#[test]
fn a_reject_counts_whatever_its_dates() {
    let w = world();
    let req = deploy("r17");
    let allowed = [approve(&req, "alice"), approve(&req, "dave")];
    assert_eq!(run(&w, &req, &allowed).outcome, Outcome::Allowed);
    for (issued, expires) in [
        // Issued after the evaluation time (a clock ahead, or a reject made after `--at`).
        ("2026-06-01T12:30:00Z", "2026-06-01T13:30:00Z"),
        // Expired before it.
        ("2026-06-01T10:00:00Z", "2026-06-01T11:00:00Z"),
        // A validity beyond 24 hours, or none at all.
        ("2026-06-01T11:00:00Z", "2026-06-05T11:00:00Z"),
        ("2026-06-01T11:00:00Z", "2026-06-01T11:00:00Z"),
    ] {
        let mut records = allowed.to_vec();
        records.push(reject_dated(&req, "alice", issued, expires));
        let v = run(&w, &req, &records);
        assert_eq!(
            (v.outcome, why(&v, 2)),
            (
                Outcome::Denied,
                (true, "counted: a reject denies the request".into())
            ),
            "issued {issued}, expires {expires}"
        );
    }
}

#[test]
fn the_human_an_agent_acts_for_can_always_reject() {
    let w = world();
    // deploy-bot acts for bob: bob may not approve, but his reject stops it.
    let req = deploy("r18");
    let records = [
        approve(&req, "alice"),
        approve(&req, "dave"),
        reject_dated(&req, "bob", "2026-06-01T12:10:00Z", "2026-06-01T12:11:00Z"),
    ];
    let v = run(&w, &req, &records);
    assert_eq!((v.outcome, v.records[2].counted()), (Outcome::Denied, true));
    // triage-bot acts on carol's delegation: carol's reject counts.
    let req = ProposedAction::from_json(&json!({
        "principal": "Agent::\"triage-bot\"", "action": "Action::\"add_token_scope\"", "resource": "Token::\"ci\"",
        "context": {"request_id": "r19", "scopes": ["read:logs"],
                    "delegation": {"granted_by": {"type": "Human", "id": "carol"}, "expires_at": "2026-06-01T13:00:00Z"}}
    }))
    .unwrap();
    let v = run(
        &w,
        &req,
        &[
            approve(&req, "dave"),
            record(&req, "carol", ApprovalDecision::Reject),
        ],
    );
    assert_eq!((v.outcome, v.records[1].counted()), (Outcome::Denied, true));
    // A person with no tie to the request and not eligible still cannot reject.
    let v = run(
        &w,
        &req,
        &[
            approve(&req, "dave"),
            record(&req, "erin", ApprovalDecision::Reject),
        ],
    );
    assert_eq!(v.outcome, Outcome::Allowed);
}

#[test]
fn deny_tier_is_never_allowed() {
    let w = world();
    let req = ProposedAction::from_json(&json!({
        "principal": "Agent::\"ir-bot\"", "action": "Action::\"grant_access\"", "resource": "LogStream::\"prod-audit\"",
        "context": {"request_id": "r11", "grantee": {"type": "Agent", "id": "ir-bot"}}
    }))
    .unwrap();
    let v = run(
        &w,
        &req,
        &[
            approve(&req, "alice"),
            approve(&req, "carol"),
            approve(&req, "dave"),
        ],
    );
    assert_eq!(
        (v.outcome, v.tier, v.missing),
        (Outcome::Denied, Tier::Deny, None)
    );
}

#[test]
fn missing_entities_and_schema_are_errors() {
    let w = world();
    let ghost = ProposedAction::from_json(&json!({
        "principal": "Agent::\"ghost\"", "action": "Action::\"deploy\"", "resource": "Environment::\"prod\"",
        "context": {"request_id": "r12"}
    }))
    .unwrap();
    let err = verify(&w.pack, &w.entities, &ghost, &[], &w.keyring, at()).unwrap_err();
    assert!(
        matches!(err, VerifyError::MissingEntity(ref m) if m.contains("ghost")),
        "{err}"
    );
    let req = deploy("r13");
    let mut ring = String::new();
    ring.push_str(&keyring_entry(
        &human("zed"),
        &PrivateKey::from_seed([60; 32]).public_key(),
    ));
    let keyring = Keyring::parse(&ring).unwrap();
    let zed = ApprovalRecord::new(
        req.hash(),
        human("zed"),
        ApprovalDecision::Approve,
        t("2026-06-01T11:30:00Z"),
        t("2026-06-01T12:30:00Z"),
        None,
    )
    .signed_by(&PrivateKey::from_seed([60; 32]));
    let err = verify(&w.pack, &w.entities, &req, &[zed], &keyring, at()).unwrap_err();
    assert!(
        matches!(err, VerifyError::MissingEntity(ref m) if m.contains("zed")),
        "{err}"
    );
    let bare = Pack::load(PackSource {
        policies: vec![SourceFile::new(
            "p.cedar",
            "permit(principal, action, resource);",
        )],
        schemas: vec![],
    })
    .unwrap();
    let err = verify(&bare, &bare.no_entities(), &req, &[], &w.keyring, at()).unwrap_err();
    assert_eq!(err, VerifyError::NoSchema);
}

#[test]
fn the_requester_itself_cannot_approve() {
    // A pack where people may also make requests, so the requester can hold a key.
    let schema = r#"
        @human entity Human;
        entity Doc;
        action publish appliesTo { principal: [Human], resource: [Doc] };
        action approve appliesTo { principal: [Human], resource: [Doc], context: { requested_action: String, tier: String } };
    "#;
    let pack = Pack::load(PackSource {
        policies: vec![SourceFile::new(
            "p.cedar",
            "@tier(\"single\") permit(principal, action == Action::\"publish\", resource);\n@tier(\"auto\") permit(principal, action == Action::\"approve\", resource);",
        )],
        schemas: vec![SourceFile::new("s.cedarschema", schema)],
    })
    .unwrap();
    let entities = pack
        .entities_from_json(
            &json!([{"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": []}]),
        )
        .unwrap();
    let req = ProposedAction::from_json(&json!({"principal": "Human::\"alice\"", "action": "Action::\"publish\"", "resource": "Doc::\"d\""})).unwrap();
    let keyring = Keyring::parse(&keyring_entry(
        &human("alice"),
        &key_of("alice").public_key(),
    ))
    .unwrap();
    let v = verify(
        &pack,
        &entities,
        &req,
        &[approve(&req, "alice")],
        &keyring,
        at(),
    )
    .unwrap();
    assert_eq!(
        (v.outcome, why(&v, 0)),
        (
            Outcome::Pending,
            (false, "approver is the requester".into())
        )
    );
}

#[test]
fn malformed_records_are_input_errors() {
    let req = deploy("r14");
    let good = approve(&req, "alice").to_json_line();
    assert_eq!(
        parse_approvals(&format!("{good}\n\n{good}\n"))
            .unwrap()
            .len(),
        2
    );
    let cases = [
        "{not json".to_string(),
        good.replace("sha256:", "sha1:"),
        good.replace("2026-06-01T11:30:00Z", "yesterday"),
        good.replace("\"approve\"", "\"maybe\""),
        good.replace("\"approver\"", "\"approvr\""),
        record(&req, "alice", ApprovalDecision::Reject)
            .to_json_line()
            .replace("not during the freeze", " "),
    ];
    for (i, bad) in cases.iter().enumerate() {
        let err = parse_approvals(&format!("{good}\n{bad}\n")).unwrap_err();
        assert_eq!(err.line, 2, "case {i}: {err}");
    }
}

fn pool(req: &ProposedAction, other: &ProposedAction) -> Vec<ApprovalRecord> {
    vec![
        approve(req, "alice"),
        approve(req, "dave"),
        approve(req, "bob"),
        approve(req, "erin"),
        approve(other, "alice"),
        record(req, "dave", ApprovalDecision::Reject),
        record(req, "erin", ApprovalDecision::Reject),
        approve(req, "mallory"),
    ]
}

fn is_valid_approve(v: &Verification, i: usize) -> bool {
    v.records[i].counted() && v.records[i].decision == ApprovalDecision::Approve
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn outcome_is_monotone_in_approvals(picks in prop::collection::vec(0usize..8, 0..6), extra in 0usize..8, which in 0usize..3) {
        let w = world();
        let reqs = [deploy("m1"), ProposedAction::from_json(&json!({
            "principal": "Agent::\"ir-bot\"", "action": "Action::\"read_logs\"", "resource": "LogStream::\"prod-audit\"",
            "context": {"request_id": "m2"}})).unwrap(), ProposedAction::from_json(&json!({
            "principal": "Agent::\"triage-bot\"", "action": "Action::\"summarize\"", "resource": "Document::\"incident-123\"",
            "context": {"request_id": "m3"}})).unwrap()];
        let req = &reqs[which];
        let all = pool(req, &deploy("other"));
        let base: Vec<ApprovalRecord> = picks.iter().map(|&i| all[i].clone()).collect();
        let before = run(&w, req, &base);
        let mut more = base.clone();
        more.push(all[extra].clone());
        let after = run(&w, req, &more);
        let added = after.records.len() - 1;
        if is_valid_approve(&after, added) && before.outcome == Outcome::Allowed {
            prop_assert_eq!(after.outcome, Outcome::Allowed);
        }
        if after.records[added].counted() && all[extra].decision == ApprovalDecision::Reject && before.outcome == Outcome::Denied {
            prop_assert_eq!(after.outcome, Outcome::Denied);
        }
        if before.outcome == Outcome::Pending && is_valid_approve(&after, added) {
            prop_assert!(after.outcome != Outcome::Denied);
        }
    }

    #[test]
    fn request_hash_is_stable_under_key_order_and_spelling(
        keys in prop::collection::btree_map("[a-z]{1,6}", any::<i64>(), 0..6),
        id in "[a-z-]{1,12}",
        object_form in any::<bool>(),
    ) {
        let ctx: serde_json::Map<String, Value> = keys.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let reversed: serde_json::Map<String, Value> = keys.iter().rev().map(|(k, v)| (k.clone(), json!(v))).collect();
        let a = ProposedAction::from_json(&json!({
            "principal": format!("Agent::\"{id}\""), "action": "Action::\"deploy\"", "resource": "Environment::\"prod\"", "context": ctx,
        })).unwrap();
        let principal = if object_form { json!({"type": "Agent", "id": id}) } else { json!({"__entity": {"id": id, "type": "Agent"}}) };
        let b = ProposedAction::from_json(&json!({
            "context": reversed, "resource": {"type": "Environment", "id": "prod"}, "action": "Action::\"deploy\"", "principal": principal,
        })).unwrap();
        prop_assert_eq!(a.hash(), b.hash());
    }
}
