//! A gateway or an approver trying to get an action through without the approvals its tier
//! needs, or to rewrite the facts that decide who may approve. Each way tried is a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use serde_json::json;
use support::*;

async fn setup() -> (Fixture, Running, Client) {
    let fixture = Fixture::new(&Db::Sqlite);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    (fixture, server, gateway)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_decides_only_for_its_own_principals() {
    let (_fixture, server, gateway) = setup().await;
    let mut request = with_id(single_request(), "p-1");
    request["principal"] = json!("Agent::\"helper-bot\"");
    let answer = gateway.decide(&request).await;
    assert_eq!(answer.status, 403, "{}", answer.text);
    // Nor through AuthZEN.
    let answer = gateway
        .post(
            "/access/v1/evaluation",
            &json!({"subject": {"type": "Agent", "id": "helper-bot"}, "action": {"name": "summarize"},
                    "resource": {"type": "Document", "id": "incident-123"}, "context": {"request_id": "x"}}),
        )
        .await;
    assert_eq!(answer.status, 403);
    // A principal the server does not know is refused even for a token listing it.
    let other = Client::new(&server.base, Some(OTHER_GATEWAY));
    let mut ghost = with_id(single_request(), "p-2");
    ghost["principal"] = json!("Agent::\"ghost-bot\"");
    let answer = other.decide(&ghost).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(
        answer.text.contains("not in the server's entities"),
        "{}",
        answer.text
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_entities_cannot_change_who_acts_or_who_approves() {
    let (_fixture, server, gateway) = setup().await;
    let request = with_id(single_request(), "facts-1");
    let cases = [
        // Declare a new human (who could then approve).
        (
            json!([{"uid": {"type": "Human", "id": "mallory"}, "attrs": {"email": "m@x"}, "parents": []}]),
            "@human",
        ),
        // Redefine the principal without its acting_for.
        (
            json!([{"uid": {"type": "Agent", "id": "triage-bot"}, "attrs": {}, "parents": []}]),
            "principal",
        ),
        // Join a group.
        (
            json!([{"uid": {"type": "Document", "id": "new-doc"}, "attrs": {}, "parents": [{"type": "Group", "id": "sre"}]}]),
            "parents",
        ),
        // Rewrite production.
        (
            json!([{"uid": {"type": "Environment", "id": "prod"}, "attrs": {"production": false}, "parents": []}]),
            "server's entities",
        ),
        // A type the token does not list.
        (
            json!([{"uid": {"type": "Session", "id": "s-new"}, "attrs": {}, "parents": []}]),
            "may not add",
        ),
        // An action entity.
        (
            json!([{"uid": {"type": "Action", "id": "approve"}, "attrs": {}, "parents": []}]),
            "action",
        ),
    ];
    for (entities, needle) in cases {
        let answer = gateway
            .post(
                "/v1/decide",
                &json!({"request": request, "entities": entities}),
            )
            .await;
        assert_eq!(answer.status, 400, "{entities}: {}", answer.text);
        assert!(answer.text.contains(needle), "{needle}: {}", answer.text);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_added_facts_are_a_different_call_and_approvers_see_them() {
    let (_fixture, server, gateway) = setup().await;
    let approver = Client::new(&server.base, Some(APPROVER));
    let request = with_id(single_request(), "facts-call-1");
    let ticket = |id: &str| json!([{"uid": {"type": "Document", "id": id}, "attrs": {"classification": "internal"}, "parents": []}]);
    let with_a = gateway
        .post(
            "/v1/decide",
            &json!({"request": request, "entities": ticket("CHG-1")}),
        )
        .await;
    assert_eq!(with_a.status, 200, "{}", with_a.text);
    let with_b = gateway
        .post(
            "/v1/decide",
            &json!({"request": request, "entities": ticket("CHG-2")}),
        )
        .await;
    let without = gateway.decide(&request).await;
    let ids: std::collections::BTreeSet<_> = [&with_a, &with_b, &without]
        .iter()
        .map(|a| a.body["approval"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "facts that differ must not share an approval: {ids:?}"
    );
    let id = with_a.body["approval"]["id"].as_str().unwrap();
    let shown = approver.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(
        shown.body["entities"][0]["uid"]["id"], "CHG-1",
        "{}",
        shown.text
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_hold_for_every_endpoint() {
    let (fixture, server, gateway) = setup().await;
    let anonymous = Client::new(&server.base, None);
    let wrong = Client::new(&server.base, Some("not-a-token"));
    let approver = Client::new(&server.base, Some(APPROVER));
    let auditor = Client::new(&server.base, Some(AUDITOR));
    for client in [&anonymous, &wrong] {
        assert_eq!(client.decide(&single_request()).await.status, 401);
        assert_eq!(client.get("/v1/approvals").await.status, 401);
        assert_eq!(client.get("/v1/audit").await.status, 401);
        assert_eq!(
            client.post("/v1/admin/reload", &json!({})).await.status,
            401
        );
    }
    // An approver cannot decide or consume; a gateway cannot post records or read the audit.
    assert_eq!(approver.decide(&single_request()).await.status, 403);
    let decided = gateway.decide(&with_id(single_request(), "roles-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    assert_eq!(approver.consume(&id).await.status, 403);
    assert_eq!(
        gateway
            .post(
                &format!("/v1/approvals/{id}/records"),
                &fixture.approve("carol", &hash)
            )
            .await
            .status,
        403
    );
    assert_eq!(gateway.get("/v1/approvals").await.status, 403);
    assert_eq!(gateway.get("/v1/audit").await.status, 403);
    assert_eq!(auditor.get("/metrics").await.status, 200);
    assert_eq!(
        auditor.post("/v1/admin/reload", &json!({})).await.status,
        403
    );
    // A gateway sees only the requests it opened.
    let other = Client::new(&server.base, Some(OTHER_GATEWAY));
    assert_eq!(other.get(&format!("/v1/approvals/{id}")).await.status, 404);
    assert_eq!(
        gateway.get(&format!("/v1/approvals/{id}")).await.status,
        200
    );
    // Public: health, OpenAPI, AuthZEN metadata.
    assert_eq!(anonymous.get("/healthz").await.status, 200);
    assert_eq!(anonymous.get("/openapi.json").await.status, 200);
    assert_eq!(
        anonymous
            .get("/.well-known/authzen-configuration")
            .await
            .status,
        200
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_misdirected_records_never_count() {
    let (fixture, server, gateway) = setup().await;
    let approver = Client::new(&server.base, Some(APPROVER));
    let decided = gateway.decide(&with_id(single_request(), "forge-1")).await;
    let id = decided.body["approval"]["id"].as_str().unwrap().to_string();
    let hash = decided.body["request"].as_str().unwrap().to_string();
    let records = format!("/v1/approvals/{id}/records");
    // Signed by erin's key but naming carol.
    let mut forged = fixture.approve("erin", &hash);
    forged["approver"] = json!("Human::\"carol\"");
    assert_eq!(
        approver.post(&records, &forged).await.body["counted"],
        false
    );
    // For another request.
    let other = with_id(single_request(), "forge-other");
    let other_hash = gateway.decide(&other).await.body["request"]
        .as_str()
        .unwrap()
        .to_string();
    let misdirected = approver
        .post(&records, &fixture.approve("carol", &other_hash))
        .await;
    assert_eq!(misdirected.body["counted"], false);
    // The agent itself as approver: not a person.
    let mut agent = fixture.approve("carol", &hash);
    agent["approver"] = json!("Agent::\"triage-bot\"");
    assert_eq!(approver.post(&records, &agent).await.body["counted"], false);
    // Unsigned, or with a duplicated key: not a record at all.
    let mut unsigned = fixture.approve("carol", &hash);
    unsigned.as_object_mut().unwrap().remove("signature");
    assert_eq!(
        approver.post(&records, &unsigned).await.body["counted"],
        false
    );
    let duplicated = format!(
        r#"{{"request":"{hash}","request":"{hash}","approver":"Human::\"carol\"","decision":"approve","issued_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T01:00:00Z","signature":"ed25519:AA=="}}"#
    );
    assert_eq!(approver.post_raw(&records, duplicated).await.status, 400);
    assert_eq!(
        approver.get(&format!("/v1/approvals/{id}")).await.body["state"],
        "pending"
    );
    assert_eq!(gateway.consume(&id).await.status, 409);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_400_and_the_server_stays_up() {
    let (_fixture, server, gateway) = setup().await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<String> = vec![
        String::new(),
        "not json".into(),
        "[]".into(),
        "{}".into(),
        r#"{"request": {}}"#.into(),
        r#"{"request": {"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": "LogStream::\"dev-app\"", "context": {"n": 1.5}}}"#.into(),
        r#"{"request": {"principal": "Agent::\"triage-bot\"", "principal": "Agent::\"x\"", "action": "Action::\"read_logs\"", "resource": "LogStream::\"dev-app\""}}"#.into(),
        r#"{"request": {"principal": "Agent::\"triage-bot\"", "action": "Action::\"no_such_action\"", "resource": "LogStream::\"dev-app\"", "context": {"request_id": "x"}}}"#.into(),
        r#"{"request": {"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": "LogStream::\"dev-app\"", "context": {"request_id": "x", "now": "2026-01-01T00:00:00.000Z"}}}"#.into(),
        r#"{"request": 1, "extra": true}"#.into(),
        format!(r#"{{"request": {deep}}}"#),
        "\u{0}\u{1}".into(),
    ];
    for body in &bodies {
        let answer = gateway.post_raw("/v1/decide", body.clone()).await;
        assert_eq!(answer.status, 400, "{body:.80}: {}", answer.text);
        assert!(
            answer.body["error"]["message"].is_string(),
            "{}",
            answer.text
        );
    }
    // Over the limit: 413, or the connection closed before the whole body was sent (the server
    // answers as soon as the limit is passed); never a decision.
    let too_big = "x".repeat(2 << 20);
    let sent = reqwest::Client::new()
        .post(format!("{}/v1/decide", server.base))
        .bearer_auth(GATEWAY)
        .body(too_big)
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status().as_u16(), 413);
    }
    let invalid_utf8 = vec![b'{', 0xff, 0xfe, b'}'];
    assert_eq!(
        gateway.post_raw("/v1/decide", invalid_utf8).await.status,
        400
    );
    // The bad-input corpus's requests (tests/bad-inputs/request), byte for byte.
    let corpus = root().join("tests/bad-inputs/request");
    let mut sent = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let mut body = b"{\"request\": ".to_vec();
        body.extend(std::fs::read(&path).unwrap());
        body.push(b'}');
        let answer = gateway.post_raw("/v1/decide", body).await;
        assert_eq!(answer.status, 400, "{}: {}", path.display(), answer.text);
        sent += 1;
    }
    assert!(sent >= 20, "the corpus has {sent} requests");
    // Still up, still deciding.
    let fine = gateway
        .decide(&with_id(single_request(), "after-bad"))
        .await;
    assert_eq!(fine.status, 200, "{}", fine.text);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_a_broken_pack_keeps_serving_the_old_one() {
    let (fixture, server, gateway) = setup().await;
    let admin = Client::new(&server.base, Some(ADMIN));
    let before = gateway.decide(&with_id(single_request(), "reload-1")).await;
    assert_eq!(before.status, 200);
    std::fs::write(
        fixture.config.policies.join("broken.cedar"),
        "permit(principal,",
    )
    .unwrap();
    let refused = admin.post("/v1/admin/reload", &json!({})).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("broken.cedar"), "{}", refused.text);
    let after = gateway.decide(&with_id(single_request(), "reload-2")).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body["policy_set"], before.body["policy_set"]);
    // Fixed: the reload takes.
    std::fs::remove_file(fixture.config.policies.join("broken.cedar")).unwrap();
    assert_eq!(admin.post("/v1/admin/reload", &json!({})).await.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tokens_the_server_is_loopback_only_and_has_no_admin_or_audit() {
    let mut fixture = Fixture::new(&Db::Sqlite);
    fixture.config.tokens = None;
    let mut public = fixture.config.clone();
    public.listen = "0.0.0.0:0".parse().unwrap();
    let refused = tollgate_server::Server::start(public).await;
    assert!(refused.is_err());
    let server = Running::start(fixture.config.clone()).await;
    let local = Client::new(&server.base, None);
    assert_eq!(
        local
            .decide(&with_id(single_request(), "local-1"))
            .await
            .status,
        200
    );
    assert_eq!(local.get("/v1/approvals").await.status, 200);
    assert_eq!(local.get("/v1/audit").await.status, 403);
    assert_eq!(local.post("/v1/admin/reload", &json!({})).await.status, 403);
    // No caller entities without a token that lists their types.
    let added = local
        .post(
            "/v1/decide",
            &json!({"request": with_id(single_request(), "local-2"),
                    "entities": [{"uid": {"type": "Document", "id": "d"}, "attrs": {}, "parents": []}]}),
        )
        .await;
    assert_eq!(added.status, 400);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_endpoint_exists_and_the_served_document_is_docs_openapi() {
    let (_fixture, server, gateway) = setup().await;
    let served = gateway.get("/openapi.json").await;
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(served.body, file);
    let http = reqwest::Client::new();
    for (path, methods) in file["paths"].as_object().unwrap() {
        let path = path.replace("{id}", "apr_00000000000000000000000000000000");
        for method in methods.as_object().unwrap().keys() {
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            let answer = http
                .request(method.clone(), format!("{}{path}", server.base))
                .bearer_auth(GATEWAY)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            assert!(
                status != 405 && !text.contains("no such endpoint"),
                "{method} {path} is documented but not served: {status} {text}"
            );
        }
    }
    server.stop().await;
}
