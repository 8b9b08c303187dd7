//! The tool call a gateway shows approvers (`"call"` beside `request` in a decide): refused
//! unless `request.context.call_digest` is its digest, stored with the approval request, shown
//! by `GET /v1/approvals/{id}` and the inbox, and put in the decision's audit record. Fractional
//! numbers are accepted in its arguments and nowhere else.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[macro_use]
mod support;

use serde_json::{Value, json};
use support::*;
use tollgate_engine::audit::{ChainCheck, audit_chain};
use tollgate_engine::{Sha256Digest, ToolCall};

on_both!(a_matching_call_is_stored_shown_and_audited);
on_both!(a_call_must_be_the_one_the_request_binds);

/// The fixture, with a copy of the reference schema whose agent context declares
/// `call_digest` (as a gateway's schema does).
fn fixture(db: &Db) -> Fixture {
    let mut fixture = Fixture::new(db);
    let schemas = fixture.dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    let text = std::fs::read_to_string(root().join("schemas/agents.cedarschema")).unwrap();
    let anchor = "  request_id: String,\n";
    assert!(
        text.contains(anchor),
        "the agent context declares request_id"
    );
    let text = text.replacen(
        anchor,
        "  request_id: String,\n  call_digest?: String,\n",
        1,
    );
    std::fs::write(schemas.join("agents.cedarschema"), text).unwrap();
    fixture.config.schema = schemas;
    fixture
}

/// A tool call with a fractional argument, which Cedar could not hold but the digest binds.
fn call() -> Value {
    json!({"server": "tokens", "tool": "add_scope",
           "arguments": {"token": "ci", "scopes": ["read:logs"], "ratio": 0.5, "note": null}})
}

fn digest_of(call: &Value) -> String {
    ToolCall::from_json(call).unwrap().digest().to_string()
}

/// examples/request.json (single) with `call_digest` in its context.
fn request(id: &str, digest: Option<&str>) -> Value {
    let mut request = with_id(single_request(), id);
    if let Some(d) = digest {
        request["context"]["call_digest"] = json!(d);
    }
    request
}

async fn a_matching_call_is_stored_shown_and_audited(db: Db) {
    let fixture = fixture(&db);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let digest = digest_of(&call());

    let decided = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("call-1", Some(&digest)), "call": call()}),
        )
        .await;
    assert_eq!(decided.status, 200, "{}", decided.text);
    assert_eq!(decided.body["tier"], "single");
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();

    // Shown as sent, the fraction included, to approvers and to the gateway that opened it.
    let shown = approver.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.body["call"], call());
    assert_eq!(digest_of(&shown.body["call"]), digest);
    let by_gateway = gateway.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(by_gateway.body["call"], call());

    let inbox = approver.get("/v1/approvals?state=pending").await;
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    let item = inbox.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert_eq!(item["call"], call());

    // An approval request opened without a call shows none.
    let plain = gateway.decide(&dual_request()).await;
    assert_eq!(plain.status, 200, "{}", plain.text);
    let plain_id = plain.body["approval"]["id"].as_str().unwrap();
    let plain_shown = approver.get(&format!("/v1/approvals/{plain_id}")).await;
    assert_eq!(
        plain_shown.body["call"],
        Value::Null,
        "{}",
        plain_shown.text
    );

    // The decision's audit record holds the call as its canonical JSON: hashing that text
    // gives the request's call_digest. The chain still verifies.
    let auditor = Client::new(&server.base, Some(AUDITOR));
    let export = auditor.get("/v1/audit").await;
    assert_eq!(export.status, 200, "{}", export.text);
    let records: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let with_call: Vec<&Value> = records.iter().filter(|r| r.get("call").is_some()).collect();
    assert_eq!(with_call.len(), 1, "{}", export.text);
    assert_eq!(with_call[0]["kind"], "decision");
    let text = with_call[0]["call"].as_str().unwrap();
    assert_eq!(
        Sha256Digest::of_bytes(text.as_bytes()).to_string(),
        digest,
        "{text}"
    );
    #[allow(clippy::field_reassign_with_default)]
    let check = {
        let mut check = ChainCheck::default();
        check.pubkey = Some(fixture.audit_key.public_key());
        check
    };
    audit_chain(&export.text, &check).unwrap();
    server.stop().await;
}

async fn a_call_must_be_the_one_the_request_binds(db: Db) {
    let fixture = fixture(&db);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let digest = digest_of(&call());
    let refused = |answer: &Answer, field: &str| {
        assert_eq!(answer.status, 400, "{}", answer.text);
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{field} in {message}");
    };

    // One argument changed after the digest was taken.
    let mut changed = call();
    changed["arguments"]["ratio"] = json!(0.25);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-1", Some(&digest)), "call": changed}),
        )
        .await;
    refused(&answer, "request.context.call_digest");

    // A call, but no call_digest in the context.
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-2", None), "call": call()}),
        )
        .await;
    refused(&answer, "request.context.call_digest");

    // Not a call.
    let mut extra = call();
    extra["extra"] = json!(1);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-3", Some(&digest)), "call": extra}),
        )
        .await;
    refused(&answer, "call");

    // Fractions stay refused outside the call's arguments: in the context, the recommendation,
    // and beside the call's arguments.
    let mut fractional = request("m-4", Some(&digest));
    fractional["context"]["ratio"] = json!(0.5);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": fractional, "call": call()}),
        )
        .await;
    refused(&answer, "request");
    assert!(answer.text.contains("not an integer"), "{}", answer.text);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-5", Some(&digest)), "call": call(),
                    "recommendation": {"confidence": 0.9}}),
        )
        .await;
    refused(&answer, "recommendation");
    let mut beside = call();
    beside["weight"] = json!(0.5);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-6", Some(&digest)), "call": beside}),
        )
        .await;
    refused(&answer, "call");
    // And on the endpoints that take no call at all.
    let answer = gateway
        .post(
            "/access/v1/evaluation",
            &json!({"subject": {"type": "Agent", "id": "triage-bot"},
                    "action": {"name": "add_token_scope"},
                    "resource": {"type": "Token", "id": "ci"},
                    "context": {"request_id": "m-7", "ratio": 0.5}}),
        )
        .await;
    refused(&answer, "body");

    // Nothing refused opened an approval request; the matching call does.
    let approver = Client::new(&server.base, Some(APPROVER));
    let inbox = approver.get("/v1/approvals?state=pending").await;
    assert_eq!(inbox.body["approvals"], json!([]), "{}", inbox.text);
    let answer = gateway
        .post(
            "/v1/decide",
            &json!({"request": request("m-8", Some(&digest)), "call": call()}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    server.stop().await;
}
