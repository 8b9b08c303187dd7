//! The audit chain catches every kind of tampering: edits, deletions, swaps, insertions, torn
//! writes, dropped tails and emptied logs (with a stored head/count, signed or not) and stripped
//! signatures (with the audit key); and it reports requests allowed twice (approvals reused).

use serde_json::json;
use tollgate_engine::audit::{
    AuditEntry, ChainCheck, ChainHead, HeadError, audit_chain, record_hash, tail_for_append,
    verify_chain,
};
use tollgate_engine::keys::PrivateKey;
use tollgate_engine::{Pack, PackSource, ProposedAction, SourceFile, Timestamp};

fn log(n: usize, key: Option<&PrivateKey>) -> Vec<String> {
    let pack = Pack::load(PackSource {
        policies: vec![SourceFile::new(
            "p.cedar",
            "@tier(\"single\") permit(principal, action, resource);",
        )],
        schemas: vec![],
    })
    .unwrap();
    let mut lines = Vec::new();
    let mut prev = None;
    for i in 0..n {
        let request = ProposedAction::from_json(&json!({
            "principal": "Agent::\"bot\"", "action": "Action::\"deploy\"", "resource": "Env::\"prod\"",
            "context": {"request_id": format!("r{i}")}
        }))
        .unwrap();
        let at: Timestamp = format!("2026-06-01T12:00:{:02}Z", i % 60).parse().unwrap();
        let decision = pack.decide(&request, &pack.no_entities(), at).unwrap();
        let entry = AuditEntry {
            time: at,
            request: &request,
            recommendation: Some(json!("deploy the fix")),
            decision: &decision,
            verification: None,
        };
        let record = entry.to_record(prev, key);
        prev = Some(record.hash().unwrap());
        lines.push(record.to_string());
    }
    lines
}

fn text(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn first_bad(lines: &[String], check: &ChainCheck) -> Option<usize> {
    verify_chain(&text(lines), check).err().map(|p| p.line)
}

#[test]
fn an_intact_log_verifies_and_reports_its_head() {
    let lines = log(5, None);
    let head = verify_chain(&text(&lines), &ChainCheck::default()).unwrap();
    assert_eq!(head.count, 5);
    let last: serde_json::Value = serde_json::from_str(&lines[4]).unwrap();
    assert_eq!(head.head, Some(record_hash(&last).unwrap()));
    assert_eq!(verify_chain("", &ChainCheck::default()).unwrap().count, 0);
    assert_eq!(tail_for_append(&text(&lines), true).unwrap(), head.head);
    // Appends read only the last two lines: the same head from the tail alone.
    assert_eq!(
        tail_for_append(&text(&lines[3..]), false).unwrap(),
        head.head
    );
    assert_eq!(tail_for_append("", true).unwrap(), None);
}

#[test]
fn appends_check_the_first_record_only_when_the_tail_is_the_whole_log() {
    let lines = log(3, None);
    // The second record has a `prev`: fine as part of a tail, wrong as the start of a log.
    assert!(tail_for_append(&text(&lines[1..]), false).is_ok());
    assert!(tail_for_append(&text(&lines[1..]), true).is_err());
    assert!(tail_for_append(&text(&lines[1..2]), true).is_err());
}

#[test]
fn an_edited_field_is_caught_at_the_next_record() {
    let mut lines = log(5, None);
    lines[1] = lines[1].replace("deploy the fix", "deploy anything");
    assert_eq!(first_bad(&lines, &ChainCheck::default()), Some(3));
}

#[test]
fn a_deleted_record_is_caught() {
    let mut lines = log(5, None);
    lines.remove(2);
    assert_eq!(first_bad(&lines, &ChainCheck::default()), Some(3));
    let mut lines = log(5, None);
    lines.remove(0);
    assert_eq!(first_bad(&lines, &ChainCheck::default()), Some(1));
}

#[test]
fn swapped_records_are_caught() {
    let mut lines = log(5, None);
    lines.swap(1, 2);
    assert_eq!(first_bad(&lines, &ChainCheck::default()), Some(2));
}

#[test]
fn an_inserted_record_is_caught_even_with_a_valid_prev() {
    let mut lines = log(5, None);
    let mut forged: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    forged["prev"] = json!(
        record_hash(&serde_json::from_str(&lines[1]).unwrap())
            .unwrap()
            .to_string()
    );
    forged["recommendation"] = json!("forged");
    lines.insert(2, forged.to_string());
    assert_eq!(first_bad(&lines, &ChainCheck::default()), Some(4));
}

#[test]
fn a_torn_last_line_is_caught_and_blocks_appends() {
    let lines = log(3, None);
    let mut t = text(&lines);
    t.push_str(&lines[2][..40]);
    assert_eq!(
        verify_chain(&t, &ChainCheck::default()).unwrap_err().line,
        4
    );
    assert!(tail_for_append(&t, true).is_err());
    let tail = format!("{}\n{}", lines[1], &lines[2][..40]);
    assert!(tail_for_append(&tail, false).is_err());
    let cut = &text(&lines)[..text(&lines).len() - 1];
    assert_eq!(
        verify_chain(cut, &ChainCheck::default()).unwrap_err().line,
        3
    );
}

#[test]
fn appends_refuse_a_broken_last_link() {
    let mut lines = log(4, None);
    lines.swap(2, 3);
    assert!(tail_for_append(&text(&lines), true).is_err());
    assert!(tail_for_append(&text(&lines[2..]), false).is_err());
}

#[test]
fn dropped_newest_records_show_against_a_stored_head_or_count() {
    let lines = log(5, None);
    let head = verify_chain(&text(&lines), &ChainCheck::default()).unwrap();
    let cut = &lines[..3];
    assert!(
        verify_chain(&text(cut), &ChainCheck::default()).is_ok(),
        "undetectable without an anchor"
    );
    assert!(
        first_bad(
            cut,
            &ChainCheck {
                head: head.head,
                ..ChainCheck::default()
            }
        )
        .is_some()
    );
    assert!(
        first_bad(
            cut,
            &ChainCheck {
                count: Some(5),
                ..ChainCheck::default()
            }
        )
        .is_some()
    );
    // Growth after the anchor is fine: the stored head is still in the chain.
    let grown = log(7, None);
    assert!(
        first_bad(
            &grown,
            &ChainCheck {
                head: head.head,
                count: Some(5),
                ..ChainCheck::default()
            }
        )
        .is_none()
    );
    // An edit of the newest record shows against the head.
    let mut edited = lines.clone();
    edited[4] = edited[4].replace("deploy the fix", "deploy anything");
    assert!(first_bad(&edited, &ChainCheck::default()).is_none());
    assert_eq!(
        first_bad(
            &edited,
            &ChainCheck {
                head: head.head,
                count: Some(5),
                ..ChainCheck::default()
            }
        ),
        Some(5)
    );
}

#[test]
fn stripped_or_wrong_signatures_show_against_the_audit_key() {
    let key = PrivateKey::from_seed([9; 32]);
    let check = ChainCheck {
        pubkey: Some(key.public_key()),
        ..ChainCheck::default()
    };
    let lines = log(4, Some(&key));
    assert!(first_bad(&lines, &check).is_none());
    let mut stripped = lines.clone();
    let mut v: serde_json::Value = serde_json::from_str(&stripped[3]).unwrap();
    v.as_object_mut().unwrap().remove("signature");
    stripped[3] = v.to_string();
    assert!(
        first_bad(&stripped, &ChainCheck::default()).is_none(),
        "the chain alone does not cover signatures"
    );
    assert_eq!(first_bad(&stripped, &check), Some(4));
    // Rewriting the whole chain without the key: unsigned everywhere.
    assert_eq!(first_bad(&log(4, None), &check), Some(1));
    let other = ChainCheck {
        pubkey: Some(PrivateKey::from_seed([8; 32]).public_key()),
        ..ChainCheck::default()
    };
    assert_eq!(first_bad(&lines, &other), Some(1));
}

#[test]
fn an_emptied_or_cut_log_passes_the_audit_key_but_not_a_stored_head() {
    let key = PrivateKey::from_seed([9; 32]);
    let lines = log(3, Some(&key));
    let head = verify_chain(&text(&lines), &ChainCheck::default()).unwrap();
    let signed_only = ChainCheck {
        pubkey: Some(key.public_key()),
        ..ChainCheck::default()
    };
    // Signatures vouch for each record, not for how many there are.
    assert!(first_bad(&lines[..1], &signed_only).is_none());
    assert!(verify_chain("", &signed_only).is_ok());
    let anchored = ChainCheck {
        after: None,
        head: head.head,
        count: Some(head.count),
        pubkey: Some(key.public_key()),
    };
    assert_eq!(first_bad(&lines[..1], &anchored), Some(2));
    assert_eq!(verify_chain("", &anchored).unwrap_err().line, 1);
    for check in [
        ChainCheck {
            count: Some(3),
            ..ChainCheck::default()
        },
        ChainCheck {
            head: head.head,
            ..ChainCheck::default()
        },
    ] {
        assert!(verify_chain("", &check).is_err());
    }
}

#[test]
fn a_signed_head_round_trips_and_refuses_forgery() {
    let key = PrivateKey::from_seed([9; 32]);
    let lines = log(3, None);
    let head = verify_chain(&text(&lines), &ChainCheck::default()).unwrap();
    let signed = head.signed_record(&key).to_string();
    let public = key.public_key();
    assert_eq!(ChainHead::parse(&signed, Some(&public)), Ok(head));
    // A lowered count (to match a cut log) breaks the signature.
    let forged = signed.replace("\"count\":3", "\"count\":1");
    assert_ne!(forged, signed);
    assert_eq!(
        ChainHead::parse(&forged, Some(&public)),
        Err(HeadError::BadSignature)
    );
    let other = PrivateKey::from_seed([8; 32]).public_key();
    assert_eq!(
        ChainHead::parse(&signed, Some(&other)),
        Err(HeadError::BadSignature)
    );
    assert_eq!(ChainHead::parse(&signed, None), Err(HeadError::NoKey));
    let unsigned = serde_json::to_string(&head).unwrap();
    assert_eq!(ChainHead::parse(&unsigned, None), Ok(head));
    assert_eq!(
        ChainHead::parse(&unsigned, Some(&public)),
        Err(HeadError::Unsigned)
    );
    let empty = ChainHead {
        count: 0,
        head: None,
    };
    assert_eq!(
        ChainHead::parse(&empty.signed_record(&key).to_string(), Some(&public)),
        Ok(empty)
    );
    let some_head = head.head.unwrap();
    assert_eq!(
        ChainHead::parse(
            &format!("{{\"count\": 0, \"head\": \"{some_head}\"}}"),
            None
        ),
        Err(HeadError::Inconsistent)
    );
    assert!(ChainHead::parse("{\"count\": 2, \"head\": null}", None).is_err());
    assert!(ChainHead::parse("2 sha256:00", None).is_err());
}

/// Turns records into verifications of `requests[i]` with `outcomes[i]`, re-chained.
fn verifications(outcomes: &[(&str, &str)]) -> Vec<String> {
    let mut prev: Option<String> = None;
    let mut out = Vec::new();
    for (line, (request, outcome)) in log(outcomes.len(), None).iter().zip(outcomes) {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["kind"] = json!("verification");
        v["outcome"] = json!(outcome);
        v["request_hash"] = json!(request);
        v["prev"] = json!(prev);
        prev = Some(record_hash(&v).unwrap().to_string());
        out.push(v.to_string());
    }
    out
}

#[test]
fn a_request_allowed_twice_is_reported() {
    let a = format!("sha256:{}", "a".repeat(64));
    let b = format!("sha256:{}", "b".repeat(64));
    let once = verifications(&[(&a, "allowed"), (&b, "allowed"), (&a, "denied")]);
    let report = audit_chain(&text(&once), &ChainCheck::default()).unwrap();
    assert!(report.repeats.is_empty());
    let twice = verifications(&[
        (&a, "pending"),
        (&a, "allowed"),
        (&b, "allowed"),
        (&a, "allowed"),
    ]);
    let report = audit_chain(&text(&twice), &ChainCheck::default()).unwrap();
    assert_eq!(report.head.count, 4);
    assert_eq!(
        report
            .repeats
            .iter()
            .map(|r| (r.line, r.first, r.request.as_str()))
            .collect::<Vec<_>>(),
        [(4, 2, a.as_str())]
    );
}
