//! An attacker with a gateway token, an approver token, or only network access to a server
//! without `--tokens`: every way tried to get an action through without its approvals, to forge
//! or suppress evidence, to act outside a token, to read what a token must not see, or to crash
//! or hang the server. Each is a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::*;
use tollgate_server::token_hash;

/// A gateway token that, like [`GATEWAY`], may decide for triage-bot: two gateways sharing an
/// agent (say, two replicas of a tool runner with separate tokens).
const TWIN_GATEWAY: &str = "gw-token-twin";

async fn setup() -> (Fixture, Running, Client, Client) {
    let fixture = Fixture::new(&Db::Sqlite);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    (fixture, server, gateway, approver)
}

/// The fixture's token file plus [`TWIN_GATEWAY`].
fn add_twin(fixture: &Fixture) {
    let path = fixture.config.tokens.clone().unwrap();
    let mut tokens: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    tokens["twin-gateway"] = json!({"sha256": token_hash(TWIN_GATEWAY), "roles": ["gateway"],
                                    "principals": ["Agent::\"triage-bot\""]});
    std::fs::write(&path, tokens.to_string()).unwrap();
}

/// Decides `request` and returns (approval id, request hash).
async fn open(gateway: &Client, request: &Value) -> (String, String) {
    let decided = gateway.decide(request).await;
    assert_eq!(decided.status, 200, "{}", decided.text);
    (
        decided.body["approval"]["id"].as_str().unwrap().to_string(),
        decided.body["request"].as_str().unwrap().to_string(),
    )
}

async fn post_record(approver: &Client, id: &str, record: &Value) -> Answer {
    approver
        .post(&format!("/v1/approvals/{id}/records"), record)
        .await
}

fn authzen_single(request_id: &str) -> Value {
    json!({
        "subject": {"type": "Agent", "id": "triage-bot"},
        "action": {"name": "add_token_scope"},
        "resource": {"type": "Token", "id": "ci"},
        "context": {"request_id": request_id, "environment": "prod", "scopes": ["read:logs"]}
    })
}

async fn audit_lines(base: &str) -> Vec<Value> {
    let auditor = Client::new(base, Some(AUDITOR));
    let export = auditor.get("/v1/audit").await;
    assert_eq!(export.status, 200, "{}", export.text);
    export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Getting an action through without its approvals.

/// A signed approval is single use. After the approved request is consumed, the gateway
/// decides the very same request (same `request_id`, hence the same hash) again; a new approval
/// request opens, and the approver's old record — replayed by anyone holding an approver token
/// (or any local process without `--tokens`) — counts again: one human "yes", two executions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumed_approval_cannot_be_replayed_on_a_repeat_decide() {
    let (fixture, server, gateway, approver) = setup().await;
    let request = with_id(single_request(), "replay-1");
    let (first, hash) = open(&gateway, &request).await;
    let carol = fixture.approve("carol", &hash);
    assert_eq!(
        post_record(&approver, &first, &carol).await.body["counted"],
        true
    );
    assert_eq!(gateway.consume(&first).await.status, 200);

    // Deciding the very same request again reports the consumed request.
    let (second, again) = open(&gateway, &request).await;
    assert_eq!(
        second, first,
        "a repeat of a consumed request is that request"
    );
    assert_eq!(again, hash, "the same request hashes the same");
    post_record(&approver, &second, &carol).await;
    let replayed = gateway.consume(&second).await;
    assert_eq!(
        replayed.status, 409,
        "one signed approval ran the action twice: {}",
        replayed.text
    );
    server.stop().await;
}

/// The same request with different added entities is a different call, but approvers sign only
/// the request hash: a record approved on the benign facts counts on the other call too. With
/// the writer fix above at least only one of them can ever be consumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_approval_does_not_run_two_calls_that_differ_only_in_added_facts() {
    let (fixture, server, gateway, approver) = setup().await;
    let request = with_id(single_request(), "facts-replay-1");
    let doc = |id: &str| json!([{"uid": {"type": "Document", "id": id}, "attrs": {"classification": "internal"}, "parents": []}]);
    let a = gateway
        .post(
            "/v1/decide",
            &json!({"request": request, "entities": doc("A")}),
        )
        .await;
    let b = gateway
        .post(
            "/v1/decide",
            &json!({"request": request, "entities": doc("B")}),
        )
        .await;
    let id_a = a.body["approval"]["id"].as_str().unwrap().to_string();
    let id_b = b.body["approval"]["id"].as_str().unwrap().to_string();
    assert_ne!(id_a, id_b);
    let hash = a.body["request"].as_str().unwrap().to_string();
    assert_eq!(b.body["request"], hash.as_str());
    let carol = fixture.approve("carol", &hash);
    post_record(&approver, &id_a, &carol).await;
    post_record(&approver, &id_b, &carol).await;
    let first = gateway.consume(&id_a).await.status;
    let second = gateway.consume(&id_b).await.status;
    assert_eq!(
        (first, second),
        (200, 409),
        "one signed approval for one request hash ran two calls"
    );
    server.stop().await;
}

/// Two gateway tokens that may both act for triage-bot. Gateway B's AuthZEN evaluation of the
/// same call finds the request gateway A opened and — allowed — consumes it: B runs the action
/// A asked the humans for, and A's own consume then fails. Consume is only for the opener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_gateway_cannot_consume_through_authzen() {
    let fixture = Fixture::new(&Db::Sqlite);
    add_twin(&fixture);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let twin = Client::new(&server.base, Some(TWIN_GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let first = gateway
        .post("/access/v1/evaluation", &authzen_single("twin-1"))
        .await;
    assert_eq!(first.body["decision"], false, "{}", first.text);
    let id = first.body["context"]["approval"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = first.body["context"]["request"]
        .as_str()
        .unwrap()
        .to_string();
    post_record(&approver, &id, &fixture.approve("carol", &hash)).await;

    let stolen = twin
        .post("/access/v1/evaluation", &authzen_single("twin-1"))
        .await;
    assert_eq!(stolen.status, 200, "{}", stolen.text);
    assert_eq!(
        stolen.body["decision"], false,
        "a gateway consumed an approval request another gateway opened: {}",
        stolen.text
    );
    // The opener still gets it, once.
    let mine = gateway
        .post("/access/v1/evaluation", &authzen_single("twin-1"))
        .await;
    assert_eq!(mine.body["decision"], true, "{}", mine.text);
    let again = gateway
        .post("/access/v1/evaluation", &authzen_single("twin-1"))
        .await;
    assert_eq!(again.body["decision"], false, "{}", again.text);
    server.stop().await;
}

/// The same twin through `/v1/decide`: the answer hands B the id and state of A's approval
/// request, which B may not read (404) — and which B's AuthZEN would take without the fix
/// above. The call key should include the gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_gateway_never_gets_an_approval_request_it_did_not_open() {
    let fixture = Fixture::new(&Db::Sqlite);
    add_twin(&fixture);
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let twin = Client::new(&server.base, Some(TWIN_GATEWAY));
    let (id, _) = open(&gateway, &with_id(single_request(), "twin-2")).await;
    let (theirs, _) = open(&twin, &with_id(single_request(), "twin-2")).await;
    assert_ne!(
        theirs, id,
        "gateway B was handed gateway A's approval request"
    );
    server.stop().await;
}

/// Consume via AuthZEN and via /consume, at once, many times: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authzen_and_consume_racing_take_the_request_once() {
    let (fixture, server, gateway, approver) = setup().await;
    let evaluation = authzen_single("race-1");
    let first = gateway.post("/access/v1/evaluation", &evaluation).await;
    let id = first.body["context"]["approval"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = first.body["context"]["request"]
        .as_str()
        .unwrap()
        .to_string();
    post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let gateway = gateway.clone();
        let evaluation = evaluation.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                let a = gateway.post("/access/v1/evaluation", &evaluation).await;
                a.body["decision"] == true
            } else {
                gateway.consume(&id).await.status == 200
            }
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1, "the approved request was taken {wins} times");
    let verifications = audit_lines(&server.base)
        .await
        .into_iter()
        .filter(|l| l["consumed"] == true)
        .count();
    assert_eq!(verifications, 1);
    server.stop().await;
}

/// A reject racing a consume: either the consume wins (and the reject is stored after it) or
/// the reject wins and nothing is consumed — never a consume after a counted reject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_racing_a_consume_never_loses_silently() {
    let (fixture, server, gateway, approver) = setup().await;
    for n in 0..6 {
        let (id, hash) = open(&gateway, &with_id(single_request(), &format!("rr-{n}"))).await;
        post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
        let reject = fixture.reject("dave", &hash);
        let (r, c) = tokio::join!(post_record(&approver, &id, &reject), gateway.consume(&id));
        assert_eq!(r.status, 200, "{}", r.text);
        if c.status == 200 {
            // The reject came after: the request shows consumed, the reject is on record.
            assert_eq!(r.body["approval"]["state"], "consumed", "{}", r.text);
        } else {
            assert_eq!(c.status, 409);
            assert_eq!(r.body["approval"]["state"], "denied", "{}", r.text);
            assert_eq!(gateway.consume(&id).await.status, 409);
        }
    }
    server.stop().await;
}

/// Dual: one person twice (two records, even with different evidence and times) is one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dual_is_not_one_person_twice() {
    let (fixture, server, gateway, approver) = setup().await;
    let (id, hash) = open(&gateway, &with_id(dual_request(), "dual-twice")).await;
    let first = post_record(&approver, &id, &fixture.approve("alice", &hash)).await;
    assert_eq!(first.body["counted"], true, "{}", first.text);
    let again = fixture.record(
        "alice",
        &hash,
        tollgate_engine::approvals::ApprovalDecision::Approve,
        ago(5),
        600,
    );
    let second = post_record(&approver, &id, &again).await;
    assert_eq!(second.body["counted"], false, "{}", second.text);
    assert_eq!(second.body["approval"]["state"], "pending");
    assert_eq!(second.body["approval"]["missing"], 1);
    assert_eq!(gateway.consume(&id).await.status, 409);
    server.stop().await;
}

/// A reload that removes an approver's key: the approval stops counting at the next read,
/// and the consume is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_removes_the_key_stops_the_approval_counting() {
    let (fixture, server, gateway, approver) = setup().await;
    let admin = Client::new(&server.base, Some(ADMIN));
    let (id, hash) = open(&gateway, &with_id(single_request(), "rekey-1")).await;
    let posted = post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
    assert_eq!(posted.body["approval"]["state"], "allowed");
    let path = fixture.config.keyring.clone().unwrap();
    let mut keyring: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    keyring.as_object_mut().unwrap().remove("Human::\"carol\"");
    std::fs::write(&path, keyring.to_string()).unwrap();
    assert_eq!(admin.post("/v1/admin/reload", &json!({})).await.status, 200);
    let shown = gateway.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.body["state"], "pending", "{}", shown.text);
    assert_eq!(gateway.consume(&id).await.status, 409);
    server.stop().await;
}

/// A reload that lowers the tier (the production gate removed: deploy to prod becomes single)
/// does not let one approval take a request opened as dual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_lowers_the_tier_keeps_the_stricter_stored_tier() {
    let (fixture, server, gateway, approver) = setup().await;
    let admin = Client::new(&server.base, Some(ADMIN));
    let (id, hash) = open(&gateway, &with_id(dual_request(), "lower-1")).await;
    let production = fixture.config.policies.join("production.cedar");
    let text = std::fs::read_to_string(&production).unwrap();
    let gate = text.find("@tier(\"dual\")").unwrap();
    let start = text[..gate].rfind("\n\n").map_or(0, |i| i + 2);
    let end = text[gate..].find(";").unwrap() + gate + 1;
    std::fs::write(&production, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let reloaded = admin.post("/v1/admin/reload", &json!({})).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text);
    // The tier now is single (a new decide says so); the stored request stays dual.
    let now_single = gateway
        .decide(&with_id(dual_request(), "lower-probe"))
        .await;
    assert_eq!(now_single.body["tier"], "single", "{}", now_single.text);
    let posted = post_record(&approver, &id, &fixture.approve("alice", &hash)).await;
    assert_eq!(posted.body["approval"]["tier"], "dual", "{}", posted.text);
    assert_eq!(
        posted.body["approval"]["state"], "pending",
        "{}",
        posted.text
    );
    assert_eq!(gateway.consume(&id).await.status, 409);
    server.stop().await;
}

/// `--pending-ttl 0`: the request is expired the moment it opens; an approval cannot revive it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_at_exactly_now_is_expired() {
    let mut fixture = Fixture::new(&Db::Sqlite);
    fixture.config.pending_ttl = Duration::ZERO;
    let server = Running::start(fixture.config.clone()).await;
    let gateway = Client::new(&server.base, Some(GATEWAY));
    let approver = Client::new(&server.base, Some(APPROVER));
    let (id, hash) = open(&gateway, &with_id(single_request(), "ttl0")).await;
    let posted = post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
    assert_eq!(
        posted.body["approval"]["state"], "expired",
        "{}",
        posted.text
    );
    assert_eq!(gateway.consume(&id).await.status, 409);
    let authzen = gateway
        .post("/access/v1/evaluation", &authzen_single("ttl0"))
        .await;
    assert_eq!(authzen.body["decision"], false, "{}", authzen.text);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Evidence: forging or suppressing it.

/// Any approver-token holder may post junk (unsigned, or for another request); it is stored
/// and never counts. But the request holds at most 64 records, so 64 junk lines lock out the
/// reject of the person the agent acts for (and every approval): evidence suppressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_records_cannot_crowd_out_a_reject() {
    let (fixture, server, gateway, approver) = setup().await;
    let (id, hash) = open(&gateway, &with_id(single_request(), "crowd-1")).await;
    let mut junk = fixture.approve("carol", &hash);
    junk.as_object_mut().unwrap().remove("signature");
    for _ in 0..64 {
        let a = post_record(&approver, &id, &junk).await;
        assert_eq!(a.body["counted"], false, "{}", a.text);
    }
    // alice, whom triage-bot acts for, stops her own agent.
    let reject = post_record(&approver, &id, &fixture.reject("alice", &hash)).await;
    assert_eq!(
        reject.status, 200,
        "the owner's reject was refused: {}",
        reject.text
    );
    assert_eq!(reject.body["approval"]["state"], "denied");
    server.stop().await;
}

/// The outcome is the gateway's JSON under `outcome`: it cannot set the audit record's own
/// fields, and only the opener of a consumed request reports it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outcome_cannot_forge_audit_fields() {
    let (fixture, server, gateway, approver) = setup().await;
    let other = Client::new(&server.base, Some(OTHER_GATEWAY));
    let (id, hash) = open(&gateway, &with_id(single_request(), "outcome-1")).await;
    let path = format!("/v1/approvals/{id}/outcome");
    let fake = json!({"outcome": {"kind": "verification", "consumed": true}, "kind": "decision"});
    assert_eq!(gateway.post(&path, &fake).await.status, 400);
    let early = gateway.post(&path, &json!({"outcome": "ran"})).await;
    assert_eq!(
        early.status, 409,
        "an outcome before any consume: {}",
        early.text
    );
    post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
    assert_eq!(gateway.consume(&id).await.status, 200);
    let stolen = other.post(&path, &json!({"outcome": "ran"})).await;
    assert_eq!(stolen.status, 404, "{}", stolen.text);
    let body =
        json!({"outcome": {"kind": "verification", "approval_id": "apr_x", "gateway": "ops"}});
    assert_eq!(gateway.post(&path, &body).await.status, 200);
    assert_eq!(gateway.post(&path, &body).await.status, 409);
    let lines = audit_lines(&server.base).await;
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "outcome");
    assert_eq!(last["approval_id"], id.as_str());
    assert_eq!(last["gateway"], "gateway");
    assert_eq!(last["outcome"]["approval_id"], "apr_x");
    server.stop().await;
}

/// The export's `after=`: malformed is 400, unknown 404, never the whole chain or a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_after_with_unknown_or_malformed_hashes() {
    let (_fixture, server, gateway, _approver) = setup().await;
    open(&gateway, &with_id(single_request(), "after-1")).await;
    let auditor = Client::new(&server.base, Some(AUDITOR));
    for bad in [
        "x",
        "sha256:",
        "sha256:zz",
        "%00",
        "sha256:' OR 1=1 --",
        &"a".repeat(5000),
    ] {
        let a = auditor.get(&format!("/v1/audit?after={bad}")).await;
        assert_eq!(a.status, 400, "{bad:.40}: {}", a.text);
    }
    let unknown = format!("sha256:{}", "0".repeat(64));
    assert_eq!(
        auditor
            .get(&format!("/v1/audit?after={unknown}"))
            .await
            .status,
        404
    );
    assert_eq!(auditor.get("/v1/audit?after=x&after=y").await.status, 400);
    assert_eq!(auditor.get("/v1/audit?before=x").await.status, 400);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Reading what a token must not see; acting outside it.

/// A gateway cannot read, long-poll, consume or report on another gateway's request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_cannot_watch_or_touch_another_gateways_request() {
    let (_fixture, server, gateway, _approver) = setup().await;
    let other = Client::new(&server.base, Some(OTHER_GATEWAY));
    let (id, _) = open(&gateway, &with_id(single_request(), "peek-1")).await;
    let started = Instant::now();
    let polled = other.get(&format!("/v1/approvals/{id}?wait=30")).await;
    assert_eq!(polled.status, 404, "{}", polled.text);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the refusal waited"
    );
    assert!(!polled.text.contains("triage-bot"), "{}", polled.text);
    assert_ne!(other.consume(&id).await.status, 200);
    assert!(other.get("/v1/approvals?state=pending").await.status == 403);
    server.stop().await;
}

/// Ids that are not `apr_…`, traversal, encoded slashes, NUL, huge: 404 (or 400), never 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_ids_are_not_found() {
    let (_fixture, server, gateway, approver) = setup().await;
    let long = "a".repeat(10_000);
    for id in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        "apr_",
        "apr_%00",
        "1%20OR%201=1",
        "'%3B--",
        long.as_str(),
    ] {
        for answer in [
            approver.get(&format!("/v1/approvals/{id}")).await,
            gateway.consume(id).await,
            gateway
                .post(
                    &format!("/v1/approvals/{id}/outcome"),
                    &json!({"outcome": 1}),
                )
                .await,
        ] {
            assert!(
                matches!(answer.status, 400 | 404 | 414 | 431),
                "{id:.40}: {} {}",
                answer.status,
                answer.text
            );
        }
    }
    assert_eq!(
        gateway
            .decide(&with_id(single_request(), "alive"))
            .await
            .status,
        200
    );
    server.stop().await;
}

/// `/.well-known/authzen-configuration` echoes only a Host made of host characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authzen_configuration_does_not_echo_a_hostile_host() {
    let (_fixture, server, _gateway, _approver) = setup().await;
    let http = reqwest::Client::new();
    for host in ["evil.example/x?", "a\"b", "x@evil.example", "a b"] {
        let Ok(response) = http
            .get(format!("{}/.well-known/authzen-configuration", server.base))
            .header("host", host)
            .send()
            .await
        else {
            continue;
        };
        let text = response.text().await.unwrap();
        assert!(
            !text.contains("evil") && !text.contains("a\\\"b"),
            "{host}: {text}"
        );
    }
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Loopback-only mode: no tokens, reachable from any local process — and from a browser.

async fn local_server() -> (Fixture, Running) {
    let mut fixture = Fixture::new(&Db::Sqlite);
    fixture.config.tokens = None;
    let server = Running::start(fixture.config.clone()).await;
    (fixture, server)
}

/// Without `--tokens` the server trusts whoever reaches loopback. A web page the local user
/// visits reaches it too: through DNS rebinding (its own name resolving to 127.0.0.1, so the
/// browser sends `Host: attacker.example`) it can read the inbox and consume; and a cross-site
/// form POST (no preflight: the server ignores the content type) can decide and consume.
/// Loopback mode must answer only loopback `Host`s and no cross-origin browser request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_mode_refuses_rebound_hosts_and_browser_origins() {
    let (_fixture, server) = local_server().await;
    let http = reqwest::Client::new();
    let local = Client::new(&server.base, None);
    let (id, _) = open(&local, &with_id(single_request(), "rebind-1")).await;
    let port = server.base.rsplit(':').next().unwrap().to_string();
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".into(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let inbox = http
            .get(format!("{}/v1/approvals", server.base))
            .header("host", host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(inbox.status().as_u16(), 403, "Host: {host} read the inbox");
        let taken = http
            .post(format!("{}/v1/approvals/{id}/consume", server.base))
            .header("host", host.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(taken.status().as_u16(), 403, "Host: {host} reached consume");
    }
    for origin in [
        "https://attacker.example",
        "null",
        "http://localhost.attacker.example",
    ] {
        let decided = http
            .post(format!("{}/v1/decide", server.base))
            .header("origin", origin)
            .header("content-type", "text/plain")
            .body(json!({"request": with_id(single_request(), "csrf-1")}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status().as_u16(), 403, "Origin: {origin} decided");
    }
    // Local callers, and a local page, still work.
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let ok = http
            .get(format!("{}/v1/approvals", server.base))
            .header("host", host.as_str())
            .header("origin", format!("http://{host}"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status().as_u16(), 200, "Host: {host}");
    }
    assert_eq!(local.get(&format!("/v1/approvals/{id}")).await.status, 200);
    server.stop().await;
}

/// With `--tokens`, the Host does not matter (the token does): a reverse proxy's name works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_any_host_is_served() {
    let (_fixture, server, _gateway, _approver) = setup().await;
    let inbox = reqwest::Client::new()
        .get(format!("{}/v1/approvals", server.base))
        .header("host", "tollgate.internal.example")
        .bearer_auth(APPROVER)
        .send()
        .await
        .unwrap();
    assert_eq!(inbox.status().as_u16(), 200);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Crashing or hanging the server with input.

/// Every endpoint that reads a body refuses, with 400 and the field named, what the strict
/// reader refuses — duplicate keys, deep nesting, fractions, numbers beyond i64, invalid UTF-8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_endpoint_refuses_what_the_strict_reader_refuses() {
    let (_fixture, server, gateway, approver) = setup().await;
    let (id, _) = open(&gateway, &with_id(single_request(), "bodies-1")).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    let bad: Vec<Vec<u8>> = vec![
        br#"{"outcome": 1, "outcome": 2}"#.to_vec(),
        format!(r#"{{"outcome": {deep}}}"#).into_bytes(),
        format!(r#"{{"outcome": {deep_obj}}}"#).into_bytes(),
        br#"{"outcome": 1.5}"#.to_vec(),
        br#"{"outcome": 1e400}"#.to_vec(),
        br#"{"outcome": 99999999999999999999999999999}"#.to_vec(),
        b"{\"outcome\": \"\xff\xfe\"}".to_vec(),
        b"{\"outcome\": \"\\ud800\"}".to_vec(),
    ];
    let endpoints = [
        (&gateway, format!("/v1/approvals/{id}/outcome")),
        (&approver, format!("/v1/approvals/{id}/records")),
        (&gateway, "/access/v1/evaluation".to_string()),
        (&gateway, "/access/v1/evaluations".to_string()),
        (&gateway, "/v1/decide".to_string()),
    ];
    for (client, path) in &endpoints {
        for body in &bad {
            let a = client.post_raw(path, body.clone()).await;
            assert_eq!(
                a.status,
                400,
                "{path} {:.60}: {}",
                String::from_utf8_lossy(body),
                a.text
            );
            assert!(a.body["error"]["message"].is_string(), "{}", a.text);
        }
    }
    // AuthZEN: numbers beyond i64 in the context, and a batch beyond 64.
    let mut big = authzen_single("big-1");
    big["context"]["n"] = json!(u64::MAX);
    assert_eq!(
        gateway.post("/access/v1/evaluation", &big).await.status,
        400
    );
    let many: Vec<Value> = (0..65).map(|i| authzen_single(&format!("m{i}"))).collect();
    let batch = gateway
        .post("/access/v1/evaluations", &json!({"evaluations": many}))
        .await;
    assert_eq!(batch.status, 400, "{}", batch.text);
    // An AuthZEN action that is no action, or a person.
    for name in ["Human::\"alice\"", "approve", "", "Action::\"\\u0000\""] {
        let mut e = authzen_single("act-1");
        e["action"]["name"] = json!(name);
        let a = gateway.post("/access/v1/evaluation", &e).await;
        assert!(
            a.status == 400 || a.body["decision"] == false,
            "{name}: {}",
            a.text
        );
    }
    assert_eq!(
        gateway
            .decide(&with_id(single_request(), "alive"))
            .await
            .status,
        200
    );
    server.stop().await;
}

/// A fractional number the audit chain cannot hash (a gateway's `recommendation: {"confidence":
/// 0.9}`, an outcome `1.5`) must be refused at the door: reaching the writer, it failed the
/// whole group commit, so every decision, record and consume batched with it got 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fractional_number_cannot_fail_other_callers_writes() {
    let (_fixture, server, gateway, _approver) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            let request = with_id(single_request(), &format!("frac-{i}"));
            if i % 2 == 0 {
                let body = json!({"request": request, "recommendation": {"confidence": 0.9}});
                let a = gateway.post("/v1/decide", &body).await;
                assert_eq!(a.status, 400, "{}", a.text);
                assert!(a.text.contains("recommendation"), "{}", a.text);
            } else {
                let a = gateway.decide(&request).await;
                assert_eq!(a.status, 200, "an innocent decide failed: {}", a.text);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    server.stop().await;
}

/// `?wait=` beyond any bound is capped or refused, never a panic; a wait on a pending request
/// returns when it ends; a huge query string is refused; many long-polls are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_and_queries_stay_bounded() {
    let (_fixture, server, gateway, approver) = setup().await;
    let (id, _) = open(&gateway, &with_id(single_request(), "wait-1")).await;
    for wait in ["99999999999999999999", "-1", "1.5", "", "0x10", "%00"] {
        let a = gateway
            .get(&format!("/v1/approvals/{id}?wait={wait}"))
            .await;
        assert_eq!(a.status, 400, "wait={wait}: {}", a.text);
    }
    let started = Instant::now();
    let a = gateway.get(&format!("/v1/approvals/{id}?wait=1")).await;
    assert_eq!(a.status, 200);
    assert!(started.elapsed() < Duration::from_secs(4));
    let mut polls = Vec::new();
    for _ in 0..200 {
        let gateway = gateway.clone();
        let id = id.clone();
        polls.push(tokio::spawn(async move {
            gateway
                .get(&format!("/v1/approvals/{id}?wait=2"))
                .await
                .status
        }));
    }
    for p in polls {
        assert_eq!(p.await.unwrap(), 200);
    }
    let huge = "x".repeat(60_000);
    let a = approver.get(&format!("/v1/approvals?state={huge}")).await;
    assert!(a.status >= 400 && a.status < 500, "{}", a.status);
    let many: String = (0..5000).map(|i| format!("k{i}=v&")).collect();
    let a = approver.get(&format!("/v1/approvals?{many}")).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        gateway
            .decide(&with_id(single_request(), "alive"))
            .await
            .status,
        200
    );
    server.stop().await;
}

/// The inbox reads at most 500 open requests, oldest first, and computes their state after: a
/// gateway that opens 500 requests (or leaves 500 denied ones behind) hid every newer request
/// from approvers — here, a denied one is not listed under `?state=denied`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_open_requests_does_not_hide_newer_ones_from_the_inbox() {
    let (fixture, server, gateway, approver) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..500 {
        let gateway = gateway.clone();
        tasks.push(tokio::spawn(async move {
            let mut request = with_id(single_request(), &format!("flood-{i}"));
            request["context"]["scopes"] = json!([format!("junk:{i}")]);
            assert_eq!(gateway.decide(&request).await.status, 200);
        }));
        if tasks.len() == 50 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (id, hash) = open(&gateway, &with_id(single_request(), "after-flood")).await;
    let rejected = post_record(&approver, &id, &fixture.reject("alice", &hash)).await;
    assert_eq!(
        rejected.body["approval"]["state"], "denied",
        "{}",
        rejected.text
    );
    let denied = approver.get("/v1/approvals?state=denied").await;
    assert_eq!(denied.status, 200);
    assert!(
        denied.body["approvals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id.as_str()),
        "the denied request is hidden behind 500 older pending ones"
    );
    let pending = approver.get("/v1/approvals?state=pending").await;
    assert_eq!(pending.body["approvals"].as_array().unwrap().len(), 500);
    assert_eq!(pending.body["truncated"], false, "{:.200}", pending.text);
    // One more pending request: 501 in that state, 500 shown, and the answer says so.
    open(&gateway, &with_id(single_request(), "one-more")).await;
    let pending = approver.get("/v1/approvals?state=pending").await;
    assert_eq!(pending.body["approvals"].as_array().unwrap().len(), 500);
    assert_eq!(pending.body["truncated"], true);
    server.stop().await;
}

/// What approvers are shown is what they sign: the shown request, parsed and hashed as the CLI
/// does, gives `request_hash`, for awkward strings and integers at the edges of i64.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shown_request_hashes_to_the_request_hash() {
    let (_fixture, server, gateway, approver) = setup().await;
    let mut request = with_id(single_request(), "hash-\u{2028}\u{202e}é😀\"\\/\u{0001}");
    request["context"]["recommendation"] =
        json!({"summary": "\u{fffd}\u{0}\u{7f}<script>", "rationale": "\u{feff}\r\n\t"});
    let (id, hash) = open(&gateway, &request).await;
    let shown = approver.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.body["request_hash"], hash.as_str());
    let parsed = tollgate_engine::ProposedAction::from_json(&shown.body["request"]).unwrap();
    assert_eq!(parsed.hash().to_string(), hash);
    server.stop().await;
}

/// A reload that makes the action `deny` denies an allowed, unconsumed request at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_to_deny_denies_an_allowed_request() {
    let (fixture, server, gateway, approver) = setup().await;
    let admin = Client::new(&server.base, Some(ADMIN));
    let (id, hash) = open(&gateway, &with_id(single_request(), "to-deny")).await;
    let posted = post_record(&approver, &id, &fixture.approve("carol", &hash)).await;
    assert_eq!(posted.body["approval"]["state"], "allowed");
    std::fs::write(
        fixture.config.policies.join("zz-freeze.cedar"),
        "forbid (principal, action == Action::\"add_token_scope\", resource);\n",
    )
    .unwrap();
    let reloaded = admin.post("/v1/admin/reload", &json!({})).await;
    assert_eq!(reloaded.status, 200, "{}", reloaded.text);
    let shown = gateway.get(&format!("/v1/approvals/{id}")).await;
    assert_eq!(shown.body["state"], "denied", "{}", shown.text);
    assert_eq!(gateway.consume(&id).await.status, 409);
    let authzen = gateway
        .post("/access/v1/evaluation", &authzen_single("to-deny"))
        .await;
    assert_eq!(authzen.body["decision"], false, "{}", authzen.text);
    server.stop().await;
}
