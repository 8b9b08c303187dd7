//! `tollgate approvals` against servers the test controls: an honest one, one that lies about
//! the request's hash, one that fails. Whatever the server does, nothing is signed for a request
//! other than the one shown, and the token is sent but never printed.

mod support;

use std::process::Output;

use serde_json::{Value, json};
use support::fake_server::{FakeServer, Routes};
use support::{Scratch, keygen, refused, s, text, tollgate, tollgate_stdin};
use tollgate_engine::ProposedAction;
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord};
use tollgate_engine::keys::Keyring;

const ID: &str = "apr_0123456789abcdef0123456789abcdef";
const TOKEN: &str = "tg-approver-s3cr3t-token";

fn request(environment: &str) -> Value {
    json!({
        "principal": {"type": "Agent", "id": "deploy-bot"},
        "action": {"type": "Action", "id": "deploy"},
        "resource": {"type": "Environment", "id": environment},
        "context": {"request_id": "req-1", "environment": environment}
    })
}

fn hash_of(request: &Value) -> String {
    ProposedAction::from_json(request)
        .unwrap()
        .hash()
        .to_string()
}

/// The approval a server shows: `shown` as the request, `hash` as its request hash.
fn approval(shown: &Value, hash: &str, state: &str) -> Value {
    json!({
        "id": ID, "state": state, "tier": "single",
        "approvals_required": 1, "missing": 1,
        "request": shown, "request_hash": hash,
        "decision": {
            "tier": "single", "approvals_required": 1,
            "determining": [{"id": "deploy-prod-single", "effect": "permit", "tier": "single",
                              "reason": "production deploys need one human",
                              "source": "policies/deploy.cedar:3", "controls": ["SOC2-CC8.1"]}],
            "errors": [], "request": hash, "policy_set": format!("sha256:{}", "f".repeat(64))
        },
        "recommendation": {"summary": "ship the fix"},
        "created_at": "2026-06-01T12:00:00Z", "expires_at": "2026-06-02T12:00:00Z",
        "age_seconds": 125, "records": []
    })
}

fn routes(approval: &Value, post: Option<(u16, Value)>) -> Routes {
    let mut routes = Routes::new();
    routes.insert(
        ("GET", format!("/v1/approvals/{ID}")),
        (200, approval.to_string()),
    );
    routes.insert(
        ("GET", "/v1/approvals?state=pending".into()),
        (200, json!({"approvals": [approval]}).to_string()),
    );
    routes.insert(
        ("GET", "/v1/approvals".into()),
        (200, json!({"approvals": [approval]}).to_string()),
    );
    if let Some((status, body)) = post {
        routes.insert(
            ("POST", format!("/v1/approvals/{ID}/records")),
            (status, body.to_string()),
        );
    }
    routes
}

/// Alice's key and keyring entry in a scratch folder, and a token file.
fn desk() -> (Scratch, Keyring) {
    let dir = Scratch::new();
    let ring = keygen("alice", &dir.path("alice.key"));
    dir.write("token", &format!("{TOKEN}\n"));
    (dir, Keyring::parse(&text(&ring)).unwrap())
}

/// `tollgate approvals --server URL --token-file TOKEN <args>`, stdin empty (not a terminal).
fn approvals(server: &FakeServer, dir: &Scratch, args: &[&str]) -> Output {
    let token = dir.path("token");
    let mut all = vec![
        "approvals",
        "--server",
        &server.url,
        "--token-file",
        s(&token),
    ];
    all.extend_from_slice(args);
    tollgate_stdin(dir.root(), &all, b"")
}

fn approve_args(dir: &Scratch) -> Vec<String> {
    ["approve", ID, "--approver", "Human::\"alice\"", "--key"]
        .iter()
        .map(ToString::to_string)
        .chain([s(&dir.path("alice.key")).to_string(), "--yes".into()])
        .collect()
}

fn run_approve(server: &FakeServer, dir: &Scratch, extra: &[&str]) -> Output {
    let args = approve_args(dir);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    approvals(server, dir, &args)
}

fn no_token_shown(out: &Output) {
    assert!(!text(&out.stdout).contains(TOKEN) && !text(&out.stderr).contains(TOKEN));
}

#[test]
fn an_approval_is_signed_over_the_hash_computed_here_and_posted() {
    let (dir, keyring) = desk();
    let shown = request("prod");
    let hash = hash_of(&shown);
    let mut after = approval(&shown, &hash, "allowed");
    after["missing"] = json!(0);
    let server = FakeServer::start(routes(
        &approval(&shown, &hash, "pending"),
        Some((
            200,
            json!({"counted": true, "why": "counted", "approval": after}),
        )),
    ));
    let out = run_approve(&server, &dir, &["--evidence", "checked the canary"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    no_token_shown(&out);
    // What was signed was shown first: request, tier, policy, controls, recommendation.
    let err = text(&out.stderr);
    for shown_part in [
        &hash,
        "Agent::\"deploy-bot\"",
        "Environment::\"prod\"",
        "deploy-prod-single",
        "production deploys need one human",
        "SOC2-CC8.1",
        "ship the fix",
        "pending",
        "2m5s",
    ] {
        assert!(err.contains(shown_part), "{shown_part} in:\n{err}");
    }
    assert!(
        text(&out.stdout).starts_with("counted: counted\n"),
        "{}",
        text(&out.stdout)
    );

    let posts = server.received_with("POST");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.path, format!("/v1/approvals/{ID}/records"));
    assert_eq!(
        post.headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let record = ApprovalRecord::parse(&post.body, 1).unwrap();
    assert_eq!(record.request.to_string(), hash);
    assert_eq!(record.decision, ApprovalDecision::Approve);
    assert_eq!(record.evidence.as_deref(), Some("checked the canary"));
    let key = keyring.get(&record.approver).unwrap();
    assert!(key.verifies(record.signed_bytes(), record.signature.as_deref().unwrap()));
    let valid = record.expires_at.as_offset_date_time() - record.issued_at.as_offset_date_time();
    assert_eq!(valid.whole_seconds(), 3600, "the default ttl");
}

#[test]
fn a_server_lying_about_the_request_hash_gets_no_signature() {
    let (dir, _) = desk();
    // Shows a staging deploy, names the hash of a production deploy.
    let shown = request("staging");
    let other = hash_of(&request("prod"));
    let server = FakeServer::start(routes(
        &approval(&shown, &other, "pending"),
        Some((
            200,
            json!({"counted": true, "why": "counted", "approval": {}}),
        )),
    ));
    let out = run_approve(&server, &dir, &[]);
    refused(&out, &["hashes to", "nothing signed"]);
    assert!(
        server.received_with("POST").is_empty(),
        "a record was posted"
    );
    assert!(!text(&out.stdout).contains("signature"));
    // Rejections are signed the same way: also refused.
    let key = dir.path("alice.key");
    let out = approvals(
        &server,
        &dir,
        &[
            "reject",
            ID,
            "--approver",
            "Human::\"alice\"",
            "--key",
            s(&key),
            "--evidence",
            "no",
            "--yes",
        ],
    );
    refused(&out, &["hashes to"]);
    assert!(server.received_with("POST").is_empty());
    // `show` refuses to present it as the request too.
    refused(&approvals(&server, &dir, &["show", ID]), &["hashes to"]);
}

#[test]
fn not_counted_exits_1_and_server_errors_exit_2_with_the_message() {
    let (dir, _) = desk();
    let shown = request("prod");
    let hash = hash_of(&shown);
    let pending = approval(&shown, &hash, "pending");
    let server = FakeServer::start(routes(
        &pending,
        Some((
            200,
            json!({"counted": false, "why": "Human::\"alice\" is not in the keyring", "approval": pending}),
        )),
    ));
    let out = run_approve(&server, &dir, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["counted"], false);

    let failing = FakeServer::start(routes(
        &pending,
        Some((
            409,
            json!({"error": {"code": "conflict", "message": "the approval expired"}}),
        )),
    ));
    refused(
        &run_approve(&failing, &dir, &[]),
        &["409", "the approval expired"],
    );
    // An unknown id: the server's 404 message.
    let empty = FakeServer::start(Routes::new());
    refused(
        &approvals(&empty, &dir, &["show", ID]),
        &["404", "no such route"],
    );
}

#[test]
fn approve_refuses_a_request_that_is_not_pending_and_asks_off_a_terminal() {
    let (dir, _) = desk();
    let shown = request("prod");
    let hash = hash_of(&shown);
    let consumed = FakeServer::start(routes(&approval(&shown, &hash, "consumed"), None));
    refused(
        &run_approve(&consumed, &dir, &[]),
        &["consumed", "not pending"],
    );

    let pending = FakeServer::start(routes(&approval(&shown, &hash, "pending"), None));
    let args = approve_args(&dir);
    let without_yes: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--yes")
        .collect();
    refused(&approvals(&pending, &dir, &without_yes), &["--yes"]);
    assert!(pending.received_with("POST").is_empty());
    // The key must be the approver's.
    refused(
        &approvals(
            &pending,
            &dir,
            &[
                "approve",
                ID,
                "--approver",
                "Human::\"bob\"",
                "--key",
                s(&dir.path("alice.key")),
                "--yes",
            ],
        ),
        &["belongs to"],
    );
}

#[test]
fn list_shows_one_line_per_approval_and_json_as_sent() {
    let (dir, _) = desk();
    let shown = request("prod");
    let hash = hash_of(&shown);
    let server = FakeServer::start(routes(&approval(&shown, &hash, "pending"), None));
    let out = approvals(&server, &dir, &["list", "--state", "pending"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    for cell in [
        ID,
        "pending",
        "single",
        "Agent::\"deploy-bot\"",
        "Action::\"deploy\"",
        "2m5s",
    ] {
        assert!(rows[0].contains(cell), "{cell} in {}", rows[0]);
    }
    let gets = server.received_with("GET");
    assert_eq!(gets[0].path, "/v1/approvals?state=pending");
    no_token_shown(&out);

    let json_out = approvals(&server, &dir, &["list", "--format", "json"]);
    let v: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert_eq!(v["approvals"][0]["id"], ID);
}

#[test]
fn the_server_and_token_come_from_the_environment_too() {
    let (dir, _) = desk();
    let shown = request("prod");
    let hash = hash_of(&shown);
    let server = FakeServer::start(routes(&approval(&shown, &hash, "pending"), None));
    let out = support::command_in(dir.root(), &["approvals", "list"])
        .env("TOLLGATE_SERVER", &server.url)
        .env("TOLLGATE_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        server.received()[0]
            .headers
            .get("authorization")
            .map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    // No token: no header.
    let out = support::command_in(dir.root(), &["approvals", "list"])
        .env("TOLLGATE_SERVER", &server.url)
        .env_remove("TOLLGATE_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!server.received()[1].headers.contains_key("authorization"));
}

#[test]
fn an_unreachable_server_and_bad_arguments_exit_2() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    refused(
        &tollgate(&["approvals", "--server", &url, "list"]),
        &["cannot reach the server"],
    );
    let bad_id = tollgate(&["approvals", "--server", &url, "show", "apr_../admin"]);
    refused(&bad_id, &["approval id"]);
    refused(
        &tollgate(&["approvals", "--server", "ftp://x", "list"]),
        &["--server"],
    );
}

/// A tool call and the request binding it (its digest in `context.call_digest`).
fn call_and_request() -> (Value, Value) {
    let call = json!({"server": "files", "tool": "write_file",
                      "arguments": {"path": "/srv/app.conf", "content": "port = 8080\n", "ratio": 0.5}});
    let digest = tollgate_engine::ToolCall::from_json(&call)
        .unwrap()
        .digest()
        .to_string();
    let mut shown = request("prod");
    shown["context"]["call_digest"] = json!(digest);
    (call, shown)
}

#[test]
fn show_prints_the_tool_call_and_whether_its_digest_matches_computed_here() {
    let (dir, _) = desk();
    let (call, shown) = call_and_request();
    let hash = hash_of(&shown);
    let mut pending = approval(&shown, &hash, "pending");
    pending["call"] = call.clone();
    let server = FakeServer::start(routes(&pending, None));
    let out = approvals(&server, &dir, &["show", ID]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown_text = text(&out.stdout);
    for part in [
        "write_file",
        "files",
        "\"path\": \"/srv/app.conf\"",
        "\"content\": \"port = 8080\\n\"",
        "\"ratio\": 0.5",
        "matches request.context.call_digest",
    ] {
        assert!(shown_text.contains(part), "{part} in:\n{shown_text}");
    }
}

#[test]
fn approve_refuses_a_call_whose_digest_is_not_the_requests() {
    let (dir, _) = desk();
    let (mut call, shown) = call_and_request();
    // The server shows other content than the request's digest binds.
    call["arguments"]["content"] = json!("port = 22\n");
    let hash = hash_of(&shown);
    let mut pending = approval(&shown, &hash, "pending");
    pending["call"] = call;
    let server = FakeServer::start(routes(
        &pending,
        Some((
            200,
            json!({"counted": true, "why": "counted", "approval": pending}),
        )),
    ));
    let out = approvals(&server, &dir, &["show", ID]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("DOES NOT MATCH"),
        "{}",
        text(&out.stdout)
    );
    let out = run_approve(&server, &dir, &[]);
    refused(&out, &["tool call", "nothing signed"]);
    assert!(
        server.received_with("POST").is_empty(),
        "a record was posted"
    );
}

#[test]
fn approve_shows_a_matching_call_before_signing() {
    let (dir, _) = desk();
    let (call, shown) = call_and_request();
    let hash = hash_of(&shown);
    let mut pending = approval(&shown, &hash, "pending");
    pending["call"] = call;
    let server = FakeServer::start(routes(
        &pending,
        Some((
            200,
            json!({"counted": true, "why": "counted", "approval": pending}),
        )),
    ));
    let out = run_approve(&server, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("write_file"), "{err}");
    assert!(err.contains("matches request.context.call_digest"), "{err}");
    assert_eq!(server.received_with("POST").len(), 1);
}
