//! `POST /v1/reach`: which actions an agent can reach at all, over the reference pack and
//! entities, with the gateway's limits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_learns_which_actions_its_agent_can_reach() {
    let fixture = Fixture::new(&Db::Sqlite);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));

    // summarize is in the read_only group agents may use; approve is permitted only to people
    // in approver groups; deploy has permits for agents (with conditions, which are ignored).
    let answer = gateway
        .post(
            "/v1/reach",
            &json!({"principal": "Agent::\"triage-bot\"",
                    "actions": ["Action::\"summarize\"", "Action::\"approve\"",
                                {"type": "Action", "id": "deploy"}]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.body,
        json!({"reachable": ["Action::\"summarize\"", "Action::\"deploy\""]})
    );

    // At most 64 actions.
    let many: Vec<String> = (0..65).map(|i| format!("Action::\"a{i}\"")).collect();
    let answer = gateway
        .post(
            "/v1/reach",
            &json!({"principal": "Agent::\"triage-bot\"", "actions": many}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("actions"), "{}", answer.text);

    // Not an action.
    let answer = gateway
        .post(
            "/v1/reach",
            &json!({"principal": "Agent::\"triage-bot\"", "actions": ["Agent::\"x\""]}),
        )
        .await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("actions[0]"), "{}", answer.text);

    // Only for the gateway's own principals, and only for gateways.
    let answer = gateway
        .post(
            "/v1/reach",
            &json!({"principal": "Agent::\"helper-bot\"", "actions": ["Action::\"summarize\""]}),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    let approver = Client::new(&server.base, Some(APPROVER));
    let answer = approver
        .post(
            "/v1/reach",
            &json!({"principal": "Agent::\"triage-bot\"", "actions": []}),
        )
        .await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    server.stop().await;
}
