//! What leaves the server while an action waits: long-polls woken by changes, and webhook
//! events (CloudEvents, HMAC-signed, no context values) to a real HTTP receiver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use support::*;
use tollgate_server::{SIGNATURE_HEADER, WebhookConfig, webhook_signature};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_when_a_record_arrives_and_ends_at_its_wait() {
    let fixture = Fixture::new(&Db::Sqlite);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let decided = gateway.decide(&with_id(single_request(), "poll-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();

    // Nothing happens: the poll ends after its wait, still pending.
    let started = Instant::now();
    let idle = gateway.get(&format!("/v1/approvals/{id}?wait=1")).await;
    assert_eq!(idle.body["state"], "pending");
    assert!(started.elapsed() >= Duration::from_millis(900));

    let poll = {
        let gateway = gateway.clone();
        let id = id.clone();
        tokio::spawn(async move { gateway.get(&format!("/v1/approvals/{id}?wait=30")).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!poll.is_finished());
    // A record that does not count wakes it too, but it keeps waiting while still pending.
    approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("alice", &hash),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !poll.is_finished(),
        "an uncounted record does not end the wait"
    );
    approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    let answer = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.body["state"], "allowed", "{}", answer.text);
    assert_eq!(
        gateway
            .get(&format!("/v1/approvals/{id}?wait=x"))
            .await
            .status,
        400
    );
    server.stop().await;
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A webhook receiver on loopback that fails the first `failures` deliveries with 500.
async fn receiver(failures: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let seen = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: String| {
                let received = received.clone();
                let seen = seen.clone();
                async move {
                    let mut n = seen.lock().unwrap();
                    *n += 1;
                    if *n <= failures {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    received.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

async fn wait_for(received: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    for _ in 0..100 {
        if received.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    received.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_are_signed_retried_and_carry_no_context_values() {
    let mut fixture = Fixture::new(&Db::Sqlite);
    let (url, received) = receiver(1).await;
    let secret = "a-webhook-secret-of-some-length";
    std::fs::write(fixture.dir.path().join("hook.secret"), secret).unwrap();
    fixture.config.webhook = Some(WebhookConfig {
        url,
        secret: fixture.dir.path().join("hook.secret"),
    });
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let decided = gateway.decide(&with_id(single_request(), "hook-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    // The first delivery failed (500) and was retried.
    let events = wait_for(&received, 1).await;
    assert_eq!(
        events.len(),
        1,
        "the pending event was not delivered after a retry"
    );
    approver
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    let events = wait_for(&received, 2).await;
    assert_eq!(events.len(), 2);
    for (headers, body) in &events {
        let signature = headers[SIGNATURE_HEADER].to_str().unwrap();
        assert_eq!(
            signature,
            webhook_signature(secret.as_bytes(), body.as_bytes())
        );
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["data"]["approval_id"], id.as_str());
        assert_eq!(event["data"]["tier"], "single");
        // The request's context (scopes, recommendation, request id) never leaves in an event.
        for secret_value in ["read:logs", "incident runbook", "hook-1"] {
            assert!(
                !body.contains(secret_value),
                "{secret_value} leaked: {body}"
            );
        }
    }
    let first: Value = serde_json::from_str(&events[0].1).unwrap();
    let second: Value = serde_json::from_str(&events[1].1).unwrap();
    assert_eq!(first["type"], "dev.tollgate.approval.pending");
    assert_eq!(second["type"], "dev.tollgate.approval.changed");
    assert_eq!(second["data"]["state"], "allowed");
    server.stop().await;
}
