//! Several replicas on one PostgreSQL: one state, one audit chain, consumes exactly once,
//! long-polls woken by changes made on another replica.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

async fn two_replicas() -> Option<(Fixture, Running, Running)> {
    let db = postgres().await?;
    let fixture = Fixture::new(&db);
    let a = Running::start(fixture.config.clone()).await;
    let b = Running::start(fixture.config.clone()).await;
    Some((fixture, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_consumes_across_two_replicas_succeed_exactly_once() {
    let Some((fixture, a, b)) = two_replicas().await else {
        return;
    };
    let gateway_a = Client::new(&a.base, Some(GATEWAY));
    let approver_b = Client::new(&b.base, Some(APPROVER));
    let decided = gateway_a.decide(&with_id(single_request(), "race-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let posted = approver_b
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    assert_eq!(
        posted.body["approval"]["state"], "allowed",
        "{}",
        posted.text
    );
    let mut tasks = Vec::new();
    for i in 0..50 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            Client::new(&base, Some(GATEWAY))
                .post(&format!("/v1/approvals/{id}/consume"), &json!({}))
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    // One chain across both replicas, with the request allowed once.
    let export = Client::new(&b.base, Some(AUDITOR)).get("/v1/audit").await;
    let check = tollgate_engine::audit::ChainCheck {
        pubkey: Some(fixture.audit_key.public_key()),
        ..Default::default()
    };
    let report = tollgate_engine::audit::audit_chain(&export.text, &check).unwrap();
    assert!(report.repeats.is_empty());
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_poll_on_one_replica_wakes_within_a_second_of_a_record_on_another() {
    let Some((fixture, a, b)) = two_replicas().await else {
        return;
    };
    let gateway_a = Client::new(&a.base, Some(GATEWAY));
    let approver_b = Client::new(&b.base, Some(APPROVER));
    let decided = gateway_a.decide(&with_id(single_request(), "poll-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let poll = {
        let gateway_a = gateway_a.clone();
        let id = id.clone();
        tokio::spawn(async move {
            let answer = gateway_a.get(&format!("/v1/approvals/{id}?wait=20")).await;
            (answer, Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !poll.is_finished(),
        "the long-poll returned before any change"
    );
    let posted = approver_b
        .post(
            &format!("/v1/approvals/{id}/records"),
            &fixture.approve("carol", &hash),
        )
        .await;
    let acknowledged = Instant::now();
    assert_eq!(posted.status, 200);
    let (answer, woke) = poll.await.unwrap();
    assert_eq!(answer.body["state"], "allowed", "{}", answer.text);
    let delay = woke.saturating_duration_since(acknowledged);
    assert!(
        delay < Duration::from_secs(1),
        "woke {delay:?} after the record was acknowledged"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_open_request_per_call_across_replicas() {
    let Some((_fixture, a, b)) = two_replicas().await else {
        return;
    };
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        tasks.push(tokio::spawn(async move {
            Client::new(&base, Some(GATEWAY))
                .decide(&with_id(single_request(), &format!("same-call-{i}")))
                .await
                .body["approval"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        }));
    }
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    a.stop().await;
    b.stop().await;
}
