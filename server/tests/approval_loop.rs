//! The approval loop end to end, on SQLite and on PostgreSQL: decide, wait, approve, consume
//! once; and the ways an action could get through without its approvals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[macro_use]
mod support;

use serde_json::{Value, json};
use support::*;
use tollgate_engine::approvals::ApprovalDecision;
use tollgate_engine::audit::{ChainCheck, ChainHead, audit_chain};

on_both!(single_loop_runs_exactly_once);
on_both!(dual_needs_two_distinct_eligible_people);
on_both!(a_reject_denies_and_cannot_be_removed);
on_both!(an_approval_expired_before_the_second_arrived_does_not_count);
on_both!(authzen_says_true_exactly_once);
on_both!(pending_requests_expire);

async fn setup(db: Db) -> (Fixture, Running, Client, Client) {
    let fixture = Fixture::new(&db);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    (fixture, server, gateway, approver)
}

/// The whole chain as exported verifies with the audit key, with no request allowed twice.
async fn audit_verifies(fixture: &Fixture, base: &str) -> usize {
    let auditor = Client::new(base, Some(AUDITOR));
    let export = auditor.get("/v1/audit").await;
    assert_eq!(export.status, 200);
    let head = auditor.get("/v1/audit/head").await;
    assert_eq!(head.status, 200, "{}", head.text);
    let stored = ChainHead::parse(&head.text, Some(&fixture.audit_key.public_key())).unwrap();
    // Field by field: the check may grow fields this test leaves at their defaults.
    #[allow(clippy::field_reassign_with_default)]
    let check = {
        let mut check = ChainCheck::default();
        check.head = stored.head;
        check.count = Some(stored.count);
        check.pubkey = Some(fixture.audit_key.public_key());
        check
    };
    let report = audit_chain(&export.text, &check).unwrap();
    assert!(
        report.repeats.is_empty(),
        "a request was allowed twice: {:?}",
        report.repeats
    );
    report.head.count
}

async fn single_loop_runs_exactly_once(db: Db) {
    let (fixture, server, gateway, approver) = setup(db).await;
    let request = with_id(single_request(), "loop-1");
    let decided = gateway.decide(&request).await;
    assert_eq!(decided.status, 200, "{}", decided.text);
    assert_eq!(decided.body["tier"], "single");
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    assert_eq!(decided.body["approval"]["state"], "pending");

    // A repeat of the same call (new request id) finds the same request.
    let again = gateway
        .decide(&with_id(single_request(), "loop-1-retry"))
        .await;
    assert_eq!(again.body["approval"]["id"], id.as_str());

    // Nothing to consume yet.
    assert_eq!(gateway.consume(&id).await.status, 409);

    let inbox = approver.get("/v1/approvals?state=pending").await;
    assert_eq!(inbox.status, 200);
    let item = inbox.body["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(item["tier"], "single");
    assert_eq!(item["missing"], 1);
    assert!(item["decision"]["determining"][0]["reason"].is_string());
    let hash = item["request_hash"].as_str().unwrap().to_string();

    // alice is who triage-bot acts for: stored, not counted.
    let by_alice = approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("alice", &hash),
        )
        .await;
    assert_eq!(by_alice.status, 200, "{}", by_alice.text);
    assert_eq!(by_alice.body["counted"], false);
    assert_eq!(by_alice.body["approval"]["state"], "pending");

    let by_carol = approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    assert_eq!(by_carol.body["counted"], true, "{}", by_carol.text);
    assert_eq!(by_carol.body["approval"]["state"], "allowed");

    // Another gateway cannot take it; its opener can, once.
    let other = Client::new(&server.base, Some(OTHER_GATEWAY));
    assert_eq!(other.consume(&id).await.status, 404);
    let taken = gateway.consume(&id).await;
    assert_eq!(taken.status, 200, "{}", taken.text);
    assert_eq!(taken.body["request"]["context"]["request_id"], "loop-1");
    assert_eq!(gateway.consume(&id).await.status, 409);

    let outcome = gateway
        .post(
            &format!("/v1/approvals/{id}/outcome"),
            &json!({"outcome": {"status": "succeeded"}}),
        )
        .await;
    assert_eq!(outcome.status, 200, "{}", outcome.text);
    assert_eq!(
        gateway
            .post(
                &format!("/v1/approvals/{id}/outcome"),
                &json!({"outcome": "again"})
            )
            .await
            .status,
        409
    );
    let shown = gateway.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.body["state"], "consumed");

    // Consumed: the next decide of the call opens a new request.
    let next = gateway.decide(&with_id(single_request(), "loop-2")).await;
    assert_ne!(next.body["approval"]["id"], id.as_str());
    assert_eq!(next.body["approval"]["state"], "pending");

    // decide ×3 (two opened requests), 2 records, consume, outcome.
    assert_eq!(audit_verifies(&fixture, &server.base).await, 7);
    server.stop().await;
}

async fn dual_needs_two_distinct_eligible_people(db: Db) {
    let (fixture, server, gateway, approver) = setup(db).await;
    let decided = gateway.decide(&with_id(dual_request(), "dual-1")).await;
    assert_eq!(decided.body["tier"], "dual", "{}", decided.text);
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let post = |record: Value| {
        let approver = approver.clone();
        let id = id.clone();
        async move {
            approver
                .post(&format!("/v1/approvals/{id}/records"), &record)
                .await
        }
    };
    // bob is who deploy-bot acts for; erin is in no approving group.
    assert_eq!(
        post(fixture.approve("bob", &hash)).await.body["counted"],
        false
    );
    assert_eq!(
        post(fixture.approve("erin", &hash)).await.body["counted"],
        false
    );
    let first = post(fixture.approve("alice", &hash)).await;
    assert_eq!(first.body["counted"], true, "{}", first.text);
    assert_eq!(first.body["approval"]["missing"], 1);
    // The same person twice is one approval.
    let twice = post(fixture.approve("alice", &hash)).await;
    assert_eq!(twice.body["counted"], false);
    assert_eq!(twice.body["approval"]["state"], "pending");
    assert_eq!(gateway.consume(&id).await.status, 409);
    let second = post(fixture.approve("dave", &hash)).await;
    assert_eq!(
        second.body["approval"]["state"], "allowed",
        "{}",
        second.text
    );
    assert_eq!(gateway.consume(&id).await.status, 200);
    audit_verifies(&fixture, &server.base).await;
    server.stop().await;
}

async fn a_reject_denies_and_cannot_be_removed(db: Db) {
    let (fixture, server, gateway, approver) = setup(db).await;
    let decided = gateway.decide(&with_id(single_request(), "reject-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let records = format!("/v1/approvals/{id}/records");
    let rejected = approver
        .post(&records, &fixture.reject("dave", &hash))
        .await;
    assert_eq!(rejected.body["counted"], true, "{}", rejected.text);
    assert_eq!(rejected.body["approval"]["state"], "denied");
    // Approvals after the reject change nothing.
    let late = approver
        .post(&records, &fixture.approve("carol", &hash))
        .await;
    assert_eq!(late.body["approval"]["state"], "denied");
    assert_eq!(gateway.consume(&id).await.status, 409);
    // No endpoint removes or edits a record.
    let http = reqwest::Client::new();
    for method in [
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
    ] {
        for path in [
            format!("/v1/approvals/{id}/records"),
            format!("/v1/approvals/{id}"),
        ] {
            let status = http
                .request(method.clone(), format!("{}{path}", server.base))
                .bearer_auth(APPROVER)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, 405, "{method} {path}");
        }
    }
    // A new decide of the call opens a new request: the denied one stays denied.
    let next = gateway.decide(&with_id(single_request(), "reject-2")).await;
    assert_ne!(next.body["approval"]["id"], id.as_str());
    let old = approver.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(old.body["state"], "denied");
    // A reload (same files) recomputes: still denied.
    let admin = Client::new(&server.base, Some(ADMIN));
    assert_eq!(admin.post("/v1/admin/reload", &json!({})).await.status, 200);
    assert_eq!(
        approver.get(&format!("/v1/approvals/{id}")).await.body["state"],
        "denied"
    );
    audit_verifies(&fixture, &server.base).await;
    server.stop().await;
}

async fn an_approval_expired_before_the_second_arrived_does_not_count(db: Db) {
    let (fixture, server, gateway, approver) = setup(db).await;
    let decided = gateway.decide(&with_id(dual_request(), "expiry-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let records = format!("/v1/approvals/{id}/records");
    // alice signed two hours ago for one hour: expired before dave's arrives.
    let stale = fixture.record("alice", &hash, ApprovalDecision::Approve, ago(7200), 3600);
    let first = approver.post(&records, &stale).await;
    assert_eq!(first.body["counted"], false, "{}", first.text);
    assert!(
        first.body["why"].as_str().unwrap().contains("expired"),
        "{}",
        first.text
    );
    let second = approver
        .post(&records, &fixture.approve("dave", &hash))
        .await;
    assert_eq!(second.body["approval"]["state"], "pending");
    assert_eq!(second.body["approval"]["missing"], 1);
    assert_eq!(gateway.consume(&id).await.status, 409);
    server.stop().await;
}

async fn authzen_says_true_exactly_once(db: Db) {
    let (fixture, server, gateway, approver) = setup(db).await;
    let evaluation = json!({
        "subject": {"type": "Agent", "id": "triage-bot"},
        "action": {"name": "add_token_scope"},
        "resource": {"type": "Token", "id": "ci"},
        "context": {"request_id": "authzen-1", "environment": "prod", "scopes": ["read:logs"]}
    });
    let first = gateway.post("/access/v1/evaluation", &evaluation).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["decision"], false);
    assert_eq!(first.body["context"]["tier"], "single");
    let id = first.body["context"]["approval"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = approver.get(&format!("/v1/approvals/{id}")).await;
    let hash = shown.body["request_hash"].as_str().unwrap().to_string();
    approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    let allowed = gateway.post("/access/v1/evaluation", &evaluation).await;
    assert_eq!(allowed.body["decision"], true, "{}", allowed.text);
    for _ in 0..3 {
        let after = gateway.post("/access/v1/evaluation", &evaluation).await;
        assert_eq!(after.body["decision"], false, "{}", after.text);
    }
    // `properties` are refused: facts come from the server.
    let mut with_props = evaluation.clone();
    with_props["subject"]["properties"] = json!({"human": true});
    assert_eq!(
        gateway
            .post("/access/v1/evaluation", &with_props)
            .await
            .status,
        400
    );
    // Batch: auto is true, deny false.
    let batch = gateway
        .post(
            "/access/v1/evaluations",
            &json!({
                "subject": {"type": "Agent", "id": "triage-bot"},
                "evaluations": [
                    {"action": {"name": "read_logs"}, "resource": {"type": "LogStream", "id": "dev-app"}, "context": {"request_id": "b1"}},
                    {"action": {"name": "summarize"}, "resource": {"type": "Document", "id": "incident-123"}, "context": {"request_id": "b2"}}
                ]
            }),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.text);
    assert_eq!(batch.body["evaluations"].as_array().unwrap().len(), 2);
    audit_verifies(&fixture, &server.base).await;
    server.stop().await;
}

async fn pending_requests_expire(db: Db) {
    let mut fixture = Fixture::new(&db);
    fixture.config.pending_ttl = std::time::Duration::from_secs(1);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let decided = gateway.decide(&with_id(single_request(), "ttl-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let shown = gateway.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.body["state"], "expired");
    // An approval arriving late is stored but the request stays expired.
    let late = approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    assert_eq!(late.body["approval"]["state"], "expired");
    assert_eq!(gateway.consume(&id).await.status, 409);
    let expired = approver.get("/v1/approvals?state=expired").await;
    assert!(
        expired.body["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str())
    );
    // The next decide opens a new one.
    let next = gateway.decide(&with_id(single_request(), "ttl-2")).await;
    assert_ne!(next.body["approval"]["id"], id.as_str());
    server.stop().await;
}
