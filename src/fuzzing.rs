//! Fuzz targets: one function per input kind, each feeding arbitrary bytes to the engine (or the
//! WebAssembly module's guest layer) against the reference pack and asserting invariants.
//!
//! The same functions run under cargo-fuzz (`fuzz/`, coverage-guided, for minutes) and under
//! proptest in `tests/fuzz_smoke.rs` (random and mutated seeds, for seconds in CI). A target
//! returns normally for any input the engine refuses with an error; it panics only when an
//! invariant breaks:
//! - nothing panics, whatever the bytes;
//! - an error never weakens a decision: an erroring plain forbid denies, an erroring gate still
//!   requires its approvals, an erroring permit grants nothing (and so never determines a tier);
//! - a decision is deterministic, and its approvals count matches its tier;
//! - approvals: `allowed` only with enough counted approvals from distinct approvers, each
//!   signed with the approver's key in the keyring; a counted reject always denies;
//! - an audit log that verifies can be appended to, at the head `verify_chain` reports.
//!
//! Multi-part inputs are split at the first NUL byte (`request \0 entities`, `approvals \0
//! keyring`); `fuzz/seeds.sh` writes seeds in that shape from the examples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use tollgate_engine::approvals::{ApprovalDecision, Outcome, parse_approvals, verify};
use tollgate_engine::audit::{ChainCheck, tail_for_append, verify_chain};
use tollgate_engine::keys::Keyring;
use tollgate_engine::lint::WorkflowFile;
use tollgate_engine::{
    CalendarDate, Decision, Effect, Pack, PackSource, PreparedEntities, ProposedAction, SourceFile,
    Tier, Timestamp,
};

/// The evaluation time the examples are written for.
pub const AT: &str = "2026-06-01T12:00:00Z";

/// The repository root (the reference pack and examples are read from it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn at() -> Timestamp {
    AT.parse().unwrap_or_else(|e| panic!("{AT}: {e}"))
}

/// The reference pack's files, as `tollgate` reads them.
pub fn reference_source() -> PackSource {
    let root = repo();
    tollgate_engine::fs::read_pack(&root.join("policies"), Some(&root.join("schemas")))
        .unwrap_or_else(|e| panic!("reading the reference pack: {e}"))
}

struct Reference {
    pack: Pack,
    entities: PreparedEntities,
    entities_json: Value,
    request_json: Value,
    /// A dual-tier request (a production deploy): the one approvals are verified for.
    deploy_json: Value,
}

fn reference() -> &'static Reference {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let pack = Pack::load(reference_source())
            .unwrap_or_else(|e| panic!("loading the reference pack: {e}"));
        let read = |name: &str| -> Value {
            let path = repo().join("examples").join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let entities_json = read("entities.json");
        let entities = pack
            .entities_from_json(&entities_json)
            .unwrap_or_else(|e| panic!("examples/entities.json: {e}"));
        Reference {
            pack,
            entities,
            entities_json,
            request_json: read("request.json"),
            deploy_json: read("deploy-request.json"),
        }
    })
}

/// Splits at the first NUL byte; the second part is empty when there is none.
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (
            data.get(..i).unwrap_or(data),
            data.get(i + 1..).unwrap_or(&[]),
        ),
        None => (data, &[]),
    }
}

fn json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// What fail-closed demands of a decision, checked against the pack's own policy table.
pub fn assert_fail_closed(pack: &Pack, decision: &Decision) {
    assert_eq!(
        decision.approvals_required,
        decision.tier.approvals_required(),
        "approvals_required disagrees with the tier: {decision:?}"
    );
    for error in &decision.errors {
        let Some(policy) = pack.policy(&error.policy) else {
            panic!("an error names a policy the pack does not have: {error:?}");
        };
        match (policy.effect(), policy.tier()) {
            (Effect::Forbid, Tier::Deny) => assert_eq!(
                decision.tier,
                Tier::Deny,
                "an erroring forbid must deny: {decision:?}"
            ),
            (Effect::Forbid, gate) => assert!(
                decision.tier >= gate,
                "an erroring {gate} gate must still require its approvals: {decision:?}"
            ),
            (Effect::Permit, _) => assert!(
                !decision
                    .determining
                    .iter()
                    .any(|d| d.id.as_str() == error.policy),
                "an erroring permit must grant nothing: {decision:?}"
            ),
        }
    }
    if decision.tier != Tier::Deny {
        assert!(
            decision
                .determining
                .iter()
                .any(|d| d.effect == Effect::Permit && d.tier <= decision.tier),
            "a decision that allows must name the permit that grants it: {decision:?}"
        );
    }
}

fn decide_checked(pack: &Pack, request: &ProposedAction, entities: &PreparedEntities) {
    let Ok(first) = pack.decide(request, entities, at()) else {
        return;
    };
    assert_fail_closed(pack, &first);
    let again = pack.decide(request, entities, at());
    assert_eq!(
        again.as_ref(),
        Ok(&first),
        "the same request decided twice differs"
    );
    assert_eq!(first.request, request.hash(), "the decision's request hash");
}

/// `request \0 entities` (both JSON; no entities part means none) → decide with the reference
/// pack.
pub fn decide_request(data: &[u8]) {
    let r = reference();
    let (request, entities) = split(data);
    let Some(request) = json(request) else { return };
    let Ok(request) = ProposedAction::from_json(&request) else {
        return;
    };
    let entities = if entities.is_empty() {
        r.entities.clone()
    } else {
        let Some(value) = json(entities) else { return };
        let Ok(entities) = r.pack.entities_from_json(&value) else {
            return;
        };
        entities
    };
    decide_checked(&r.pack, &request, &entities);
}

/// Policy text → loaded as one more file beside the reference pack, then the example request
/// decided with it (and the text alone, without a schema).
pub fn load_policies(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let r = reference();
    let request = ProposedAction::from_json(&r.request_json)
        .unwrap_or_else(|e| panic!("examples/request.json: {e}"));
    let mut source = reference_source();
    source.policies.push(SourceFile::new("fuzz.cedar", text));
    if let Ok(pack) = Pack::load(source) {
        let entities = pack
            .entities_from_json(&r.entities_json)
            .unwrap_or_else(|e| panic!("the example entities stop fitting the pack: {e}"));
        decide_checked(&pack, &request, &entities);
        // One more file can only add permits (lowering the tier to at most the old one's
        // grant), gates and forbids; it never changes which reference policies match. So the
        // tier is deny, or an added permit determines it, or it is at least the old tier.
        if let (Ok(old), Ok(new)) = (
            r.pack.decide(&request, &r.entities, at()),
            pack.decide(&request, &entities, at()),
        ) && new.tier < old.tier
        {
            assert!(
                new.determining
                    .iter()
                    .any(|d| d.effect == Effect::Permit && d.source.starts_with("fuzz.cedar:")),
                "the tier fell from {} to {} without a new permit: {new:?}",
                old.tier,
                new.tier
            );
        }
    }
    let alone = PackSource {
        policies: vec![SourceFile::new("fuzz.cedar", text)],
        schemas: Vec::new(),
    };
    if let Ok(pack) = Pack::load(alone) {
        decide_checked(&pack, &request, &pack.no_entities());
    }
}

/// Workflow YAML → lint with the reference pack.
pub fn lint_workflow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(workflow) = WorkflowFile::parse(SourceFile::new("fuzz.yaml", text)) else {
        return;
    };
    let today = CalendarDate::of(at());
    let _ = tollgate_engine::lint::lint(reference_source(), &[workflow], today);
}

/// `approvals \0 keyring` → verify the example deploy request with the reference pack and
/// entities.
pub fn verify_approvals(data: &[u8]) {
    let r = reference();
    let (approvals, keyring) = split(data);
    let (Ok(approvals), Ok(keyring)) =
        (std::str::from_utf8(approvals), std::str::from_utf8(keyring))
    else {
        return;
    };
    let (Ok(records), Ok(keyring)) = (parse_approvals(approvals), Keyring::parse(keyring)) else {
        return;
    };
    let request = ProposedAction::from_json(&r.deploy_json)
        .unwrap_or_else(|e| panic!("examples/deploy-request.json: {e}"));
    let Ok(v) = verify(&r.pack, &r.entities, &request, &records, &keyring, at()) else {
        return;
    };
    assert_eq!(v.records.len(), records.len(), "one verdict per record");
    let mut approvers = BTreeSet::new();
    let mut rejected = false;
    for (record, verdict) in records.iter().zip(&v.records) {
        if !verdict.counted() {
            continue;
        }
        let key = keyring
            .get(&record.approver)
            .unwrap_or_else(|| panic!("a record counted without a key: {verdict:?}"));
        let signed = record
            .signature
            .as_deref()
            .is_some_and(|s| key.verifies(record.signed_bytes(), s));
        assert!(
            signed,
            "a record counted without a valid signature: {verdict:?}"
        );
        assert!(
            record.request == request.hash(),
            "counted for another request: {verdict:?}"
        );
        assert!(
            record.approver != request.principal,
            "the requester approved itself: {verdict:?}"
        );
        match record.decision {
            ApprovalDecision::Approve => {
                approvers.insert(record.approver.to_string());
            }
            ApprovalDecision::Reject => rejected = true,
        }
    }
    if rejected {
        assert_eq!(v.outcome, Outcome::Denied, "a counted reject must deny");
    }
    if v.outcome == Outcome::Allowed {
        let required = v.decision.approvals_required.unwrap_or(u8::MAX);
        assert!(
            approvers.len() >= usize::from(required),
            "allowed with {} distinct approvers for tier {}",
            approvers.len(),
            v.tier
        );
    }
}

/// An audit log → `audit verify`; a log that verifies must also accept an append at its head.
pub fn audit_log(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(head) = verify_chain(text, &ChainCheck::default()) else {
        return;
    };
    let whole = tail_for_append(text, true)
        .unwrap_or_else(|p| panic!("a log that verifies refuses an append: {p}"));
    assert_eq!(whole, head.head, "append and verify disagree on the head");
    // Appends read only the last two lines: they must find the same head.
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut starts = body.rmatch_indices('\n').map(|(i, _)| i + 1);
    let (_, second_last) = (starts.next(), starts.next());
    if let Some(start) = second_last {
        let tail = text.get(start..).unwrap_or(text);
        assert_eq!(
            tail_for_append(tail, false).ok(),
            Some(head.head),
            "an append from the tail alone disagrees with verify"
        );
    }
    if let Some(hash) = head.head {
        let check = ChainCheck {
            after: None,
            head: Some(hash),
            count: Some(head.count),
            pubkey: None,
        };
        assert_eq!(
            verify_chain(text, &check),
            Ok(head),
            "its own head must verify"
        );
    }
}

/// Bytes → every export of the WebAssembly module's guest layer (natively): each answers JSON,
/// either a result or `{"error": …}`, and a loaded pack keeps working after any input.
pub fn wasm_abi(data: &[u8]) {
    static PACK_INPUT: OnceLock<Vec<u8>> = OnceLock::new();
    let pack_input = PACK_INPUT
        .get_or_init(|| serde_json::to_vec(&reference_source()).unwrap_or_else(|e| panic!("{e}")));
    let mut guest = tollgate_wasm::Guest::new();
    let loaded: Value = answer(&guest.load(pack_input));
    let handle = loaded
        .get("handle")
        .and_then(Value::as_u64)
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or_else(|| panic!("the reference pack does not load: {loaded}"));
    answer(&guest.decide(handle, data));
    answer(&guest.verify(handle, data));
    answer(&tollgate_wasm::lint(data));
    answer(&guest.load(data));
    let r = reference();
    let example = json!({"request": r.request_json, "entities": r.entities_json, "at": AT});
    let decided = answer(&guest.decide(
        handle,
        &serde_json::to_vec(&example).unwrap_or_else(|e| panic!("{e}")),
    ));
    assert!(
        decided.get("tier").is_some(),
        "the pack stopped deciding after an input: {decided}"
    );
}

fn answer(bytes: &[u8]) -> Value {
    let value: Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("the module answered something other than JSON: {e}"));
    assert!(
        value.is_object(),
        "the module answered a non-object: {value}"
    );
    value
}

/// Seeds for `target`: well-formed inputs from the examples, which fuzzers mutate.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let r = reference();
    let root = repo();
    let read =
        |path: PathBuf| std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let files = |dir: &str, ext: &str| -> Vec<Vec<u8>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        paths.sort();
        paths.into_iter().map(read).collect()
    };
    let joined = |a: &[u8], b: &[u8]| [a, b"\0", b].concat();
    let text = |v: &Value| v.to_string().into_bytes();
    match target {
        "decide_request" => {
            let mut out = vec![
                joined(&text(&r.request_json), &text(&r.entities_json)),
                joined(&text(&r.deploy_json), &text(&r.entities_json)),
            ];
            let lines = read(root.join("examples/requests-small.jsonl"));
            out.extend(
                lines
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
            out
        }
        "load_policies" => [
            files("policies", "cedar"),
            files("examples/bad-pack/policies", "cedar"),
        ]
        .concat(),
        "lint_workflow" => [
            files("policies/workflows", "yaml"),
            files("examples/bad-pack/policies/workflows", "yaml"),
        ]
        .concat(),
        "verify_approvals" => {
            let (records, keyring) = signed_approvals(&r.deploy_json);
            vec![joined(records.as_bytes(), keyring.as_bytes())]
        }
        "audit_log" => vec![audit_log_seed()],
        "wasm_abi" => {
            let (records, keyring) = signed_approvals(&r.deploy_json);
            let approvals: Vec<Value> = records
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let keyring: Value =
                serde_json::from_str(&keyring.replace("}\n{", ",")).unwrap_or(Value::Null);
            vec![
                text(&json!({"request": r.request_json, "entities": r.entities_json, "at": AT})),
                text(
                    &json!({"request": r.deploy_json, "entities": r.entities_json, "approvals": approvals, "keyring": keyring, "at": AT}),
                ),
                text(
                    &json!({"policies": [{"name": "a.cedar", "text": "@tier(\"auto\") permit(principal, action, resource);"}], "schemas": []}),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];

fn key_of(index: usize) -> tollgate_engine::keys::PrivateKey {
    tollgate_engine::keys::PrivateKey::from_seed([u8::try_from(index + 1).unwrap_or(0); 32])
}

/// Approvals of `request` by alice and bob and a reject by carol, signed, with their keyring.
fn signed_approvals(request: &Value) -> (String, String) {
    use tollgate_engine::EntityRef;
    use tollgate_engine::approvals::ApprovalRecord;
    use tollgate_engine::keys::keyring_entry;
    let request = ProposedAction::from_json(request).unwrap_or_else(|e| panic!("{e}"));
    let issued: Timestamp = "2026-06-01T11:50:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let expires: Timestamp = "2026-06-01T12:50:00Z"
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut records = String::new();
    let mut keyring = String::new();
    for (i, who) in PEOPLE.iter().enumerate() {
        let approver: EntityRef = format!("Human::\"{who}\"")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let (decision, evidence) = match *who {
            "carol" => (
                ApprovalDecision::Reject,
                Some("not during the freeze".to_string()),
            ),
            _ => (ApprovalDecision::Approve, None),
        };
        let record = ApprovalRecord::new(
            request.hash(),
            approver.clone(),
            decision,
            issued,
            expires,
            evidence,
        )
        .signed_by(&key_of(i));
        records.push_str(&record.to_json_line());
        records.push('\n');
        keyring.push_str(&keyring_entry(&approver, &key_of(i).public_key()));
        keyring.push('\n');
    }
    (records, keyring)
}

/// A three-record audit log: a decision, then a verification, then another decision.
fn audit_log_seed() -> Vec<u8> {
    use tollgate_engine::audit::AuditEntry;
    let r = reference();
    let request = ProposedAction::from_json(&r.deploy_json).unwrap_or_else(|e| panic!("{e}"));
    let decision = r
        .pack
        .decide(&request, &r.entities, at())
        .unwrap_or_else(|e| panic!("{e}"));
    let (records, keyring) = signed_approvals(&r.deploy_json);
    let records = parse_approvals(&records).unwrap_or_else(|e| panic!("{e}"));
    let keyring = Keyring::parse(&keyring).unwrap_or_else(|e| panic!("{e}"));
    let verification = verify(&r.pack, &r.entities, &request, &records, &keyring, at())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut log = String::new();
    let mut prev = None;
    for verification in [None, Some(&verification), None] {
        let entry = AuditEntry {
            time: at(),
            request: &request,
            recommendation: None,
            decision: &decision,
            verification,
        };
        let record = entry.to_record(prev, None);
        prev = Some(record.hash().unwrap_or_else(|e| panic!("{e}")));
        log.push_str(&record.to_string());
        log.push('\n');
    }
    log.into_bytes()
}

/// A fuzz target: takes any bytes, panics only when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by name, for the smoke tests and the seed script.
pub const TARGETS: &[(&str, Target)] = &[
    ("decide_request", decide_request),
    ("load_policies", load_policies),
    ("lint_workflow", lint_workflow),
    ("verify_approvals", verify_approvals),
    ("audit_log", audit_log),
    ("wasm_abi", wasm_abi),
];
