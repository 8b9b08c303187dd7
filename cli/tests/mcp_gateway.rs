//! `tollgate mcp` end to end, on real parts: the official Python MCP client talks to the gateway,
//! which fronts the npm reference servers (`server-filesystem` on a scratch folder,
//! `server-everything`) and asks a real `tollgate serve` of `examples/mcp` for every decision.
//! Approvals are signed with `tollgate approvals`, as an approver would.
//!
//! Each test tries to get a call through without the approvals its tier needs.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use support::mcp::{Deps, PyClient, RawClient, Serving, result_text};
use support::{Scratch, s};

/// A filesystem root with a workspace (writes need a human) and a protected folder (never).
fn root() -> Scratch {
    let dir = Scratch::new();
    dir.write("root/workspace/hello.txt", "hello from the workspace\n");
    dir.write("root/protected/secret.txt", "the secret\n");
    dir.write("root/readme.txt", "outside the workspace\n");
    dir
}

/// A filesystem root, a serve, and the Python client through the gateway with `approval_wait`.
fn files_session(deps: &Deps, approval_wait: &str) -> (Serving, Scratch, PathBuf, PyClient) {
    let serve = Serving::start();
    let files = root();
    let root = files.path("root");
    let config = serve.config("filesystem.yaml", approval_wait);
    let client = PyClient::start(
        deps,
        &config,
        &deps.filesystem(&root),
        &files.path("client.log"),
    );
    (serve, files, root, client)
}

fn is_error(result: &Value) -> bool {
    result["isError"] == json!(true)
}

fn gate(result: &Value) -> &Value {
    &result["_meta"]["dev.tollgate/gate"]
}

#[test]
fn files_are_read_on_their_own_written_once_approved_and_never_around_a_forbid() {
    let Some(deps) = Deps::find() else { return };
    let (serve, files, root, mut client) = files_session(&deps, "3s");
    let p = |rel: &str| s(&root.join(rel)).to_string();

    // tools/list passes through.
    let tools = client.list();
    for tool in ["read_text_file", "write_file", "move_file"] {
        assert!(tools.iter().any(|t| t == tool), "{tools:?}");
    }

    // auto: the file comes back, and nobody was asked.
    let read = client.call_result(
        "read_text_file",
        json!({"path": p("workspace/hello.txt")}),
        30,
    );
    assert!(!is_error(&read), "{read}");
    assert!(
        result_text(&read).contains("hello from the workspace"),
        "{read}"
    );
    assert!(serve.approvals("pending").is_empty());

    // single: the call waits, an approver approves, it writes exactly once.
    let a = p("workspace/a.txt");
    let args = json!({"path": a, "content": "A"});
    let config_long = serve.config("filesystem.yaml", "60s");
    let mut waiting = PyClient::start(
        &deps,
        &config_long,
        &deps.filesystem(&root),
        &files.path("client2.log"),
    );
    let tag = waiting.call("write_file", args.clone(), 90);
    let pending = serve.pending_for(&args);
    assert_eq!(pending["call"]["tool"], json!("write_file"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!Path::new(&a).exists(), "written before anyone approved");
    let id = pending["id"].as_str().unwrap().to_string();
    serve.sign("approve", &id, "alice");
    let done = waiting.wait(&tag, 60);
    let result = &done["result"];
    assert!(!is_error(result), "{done}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "A");
    assert!(
        !waiting.progress(&tag).is_empty(),
        "no progress while waiting"
    );
    let shown = serve.get(&format!("/v1/approvals/{id}"));
    assert_eq!(shown["state"], json!("consumed"), "{shown}");
    // The same call again is a new call: it needs a new approval, and nothing is written.
    std::fs::write(&a, "changed by a human").unwrap();
    let again = client.call_result("write_file", args.clone(), 30);
    assert!(
        is_error(&again) && gate(&again)["state"] == json!("pending"),
        "{again}"
    );
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "changed by a human");

    // Approve content A; a call with content B is another call: pending again, file unchanged.
    let b = p("workspace/b.txt");
    let with_a = json!({"path": b, "content": "A"});
    let first = client.call_result("write_file", with_a.clone(), 30);
    assert!(
        is_error(&first) && gate(&first)["state"] == json!("pending"),
        "{first}"
    );
    let approval_a = gate(&first)["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        result_text(&first).contains(&format!("tollgate approvals approve {approval_a}")),
        "{first}"
    );
    serve.sign("approve", &approval_a, "alice");
    let with_b = client.call_result("write_file", json!({"path": b, "content": "B"}), 30);
    assert!(
        is_error(&with_b) && gate(&with_b)["state"] == json!("pending"),
        "{with_b}"
    );
    assert_ne!(gate(&with_b)["approvals"][0]["id"], json!(approval_a));
    assert!(
        !Path::new(&b).exists(),
        "content B was written on content A's approval"
    );
    // The approved content itself goes through, once.
    let ran = client.call_result("write_file", with_a, 30);
    assert!(!is_error(&ran), "{ran}");
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "A");

    // Rejected: never reaches the server.
    let c = p("workspace/c.txt");
    let args_c = json!({"path": c, "content": "C"});
    let tag = waiting.call("write_file", args_c.clone(), 90);
    let pending = serve.pending_for(&args_c);
    serve.sign("reject", pending["id"].as_str().unwrap(), "bob");
    let done = waiting.wait(&tag, 60);
    assert!(
        is_error(&done["result"]) && gate(&done["result"])["state"] == json!("denied"),
        "{done}"
    );
    assert!(!Path::new(&c).exists());

    // deny: a move out of the workspace returns the reasons and moves nothing.
    let moved = client.call_result(
        "move_file",
        json!({"source": a, "destination": p("moved.txt")}),
        30,
    );
    assert!(is_error(&moved), "{moved}");
    assert!(
        result_text(&moved).contains("Nothing outside a workspace folder is written"),
        "{moved}"
    );
    assert!(Path::new(&a).exists() && !root.join("moved.txt").exists());

    // `..` cannot walk around a forbid: decided (and forwarded) as the resolved path.
    let escape = client.call_result(
        "write_file",
        json!({"path": p("workspace/../escaped.txt"), "content": "x"}),
        30,
    );
    assert!(
        is_error(&escape) && gate(&escape)["state"] == json!("denied"),
        "{escape}"
    );
    assert!(!root.join("escaped.txt").exists());
    let secret = client.call_result(
        "read_text_file",
        json!({"path": p("workspace/../protected/secret.txt")}),
        30,
    );
    assert!(is_error(&secret), "{secret}");
    assert!(!result_text(&secret).contains("the secret"), "{secret}");
    // A relative path is refused: the server would resolve it against a folder nobody decided on.
    let relative = client.call_result(
        "read_text_file",
        json!({"path": "protected/secret.txt"}),
        30,
    );
    assert!(
        is_error(&relative) && !result_text(&relative).contains("the secret"),
        "{relative}"
    );
}

#[test]
fn a_call_cancelled_while_it_waits_never_runs_even_once_approved() {
    let Some(deps) = Deps::find() else { return };
    let (serve, _files, root, mut client) = files_session(&deps, "60s");
    let target = root.join("workspace/cancelled.txt");
    let args = json!({"path": s(&target), "content": "never"});
    // The SDK gives up after 3 s and sends notifications/cancelled.
    let tag = client.call("write_file", args.clone(), 3);
    let pending = serve.pending_for(&args);
    let done = client.wait(&tag, 30);
    assert!(done.get("error").is_some(), "{done}");
    let id = pending["id"].as_str().unwrap();
    serve.sign("approve", id, "alice");
    std::thread::sleep(Duration::from_secs(2));
    assert!(!target.exists(), "a cancelled call ran");
    // Allowed, never consumed: the approval is still there for a call the client makes again.
    assert_eq!(
        serve.get(&format!("/v1/approvals/{id}"))["state"],
        json!("allowed")
    );
}

#[test]
fn progress_passes_through_and_a_denied_tool_never_reaches_the_server() {
    let Some(deps) = Deps::find() else { return };
    let serve = Serving::start();
    let scratch = Scratch::new();
    let config = serve.config("everything.yaml", "3s");
    let mut client = PyClient::start(
        &deps,
        &config,
        &deps.everything(),
        &scratch.path("client.log"),
    );

    // hide_denied: get-env and the tools no policy names are left out; echo stays.
    let tools = client.list();
    assert!(tools.iter().any(|t| t == "echo"), "{tools:?}");
    assert!(!tools.iter().any(|t| t == "get-env"), "{tools:?}");

    let echo = client.call_result("echo", json!({"message": "hi"}), 30);
    assert_eq!(result_text(&echo), "Echo: hi");

    let tag = client.call(
        "trigger-long-running-operation",
        json!({"duration": 2, "steps": 4}),
        60,
    );
    let done = client.wait(&tag, 60);
    assert!(!is_error(&done["result"]), "{done}");
    assert!(
        client.progress(&tag).len() >= 2,
        "{:?}",
        client.progress(&tag)
    );

    // resources/read is decided like a call: a static document is read, another is refused.
    let read = client.read("demo://resource/static/document/features.md");
    assert!(read.get("result").is_some(), "{read}");
    let refused = client.read("demo://resource/dynamic/text/1");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("tollgate denied"),
        "{refused}"
    );

    // Still decided when called though hidden: denied, with its environment never read.
    let env = client.call_result("get-env", json!({}), 30);
    assert!(
        is_error(&env) && gate(&env)["tier"] == json!("deny"),
        "{env}"
    );
    assert!(!result_text(&env).contains("PATH"), "{env}");
}

#[test]
fn frames_are_checked_before_anything_is_relayed() {
    let Some(deps) = Deps::find() else { return };
    let serve = Serving::start();
    let scratch = Scratch::new();
    let config = serve.config("everything.yaml", "3s");
    let mut raw = RawClient::start(&config, &deps.everything(), &scratch.path("gateway.log"));

    // A batch is refused whole; none of its calls is answered by the server.
    raw.line(r#"[{"jsonrpc": "2.0", "id": 101, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "batched"}}}]"#);
    let refused = raw
        .next(10, |m| m["error"]["code"] == json!(-32600))
        .expect("batch refused");
    assert_eq!(refused["id"], Value::Null);
    // Not JSON, or JSON with a key twice: a parse error, never forwarded.
    raw.line(r#"{"jsonrpc": "2.0", "id": 102, "method": "tools/call""#);
    assert!(
        raw.next(10, |m| m["error"]["code"] == json!(-32700))
            .is_some()
    );
    raw.line(r#"{"jsonrpc": "2.0", "id": 103, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "a"}}, "method": "ping"}"#);
    assert!(
        raw.next(10, |m| m["error"]["code"] == json!(-32700))
            .is_some()
    );
    // Parameters of the wrong shape.
    raw.line(r#"{"jsonrpc": "2.0", "id": 104, "method": "tools/call", "params": {"name": "echo", "arguments": ["x"]}}"#);
    assert_eq!(raw.answer(&json!(104), 10)["error"]["code"], json!(-32602));

    // Progress and cancellation pass through to the server with ids intact: after the cancel,
    // the long operation never answers.
    raw.line(r#"{"jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 4, "steps": 8}, "_meta": {"progressToken": "tok-1"}}}"#);
    let progress = raw
        .next(20, |m| m["method"] == json!("notifications/progress"))
        .expect("progress from the server");
    assert_eq!(progress["params"]["progressToken"], json!("tok-1"));
    raw.line(r#"{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "long", "reason": "test"}}"#);
    raw.line(r#"{"jsonrpc": "2.0", "id": 105, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "still here"}}}"#);
    assert_eq!(
        raw.answer(&json!(105), 20)["result"]["content"][0]["text"],
        json!("Echo: still here")
    );
    let answered = raw.next(6, |m| m["id"] == json!("long"));
    assert!(
        answered.is_none(),
        "the cancelled call was answered: {answered:?}"
    );

    // A tools/call sent as a notification (no id) is dropped, never relayed ungated.
    raw.line(r#"{"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "get-env", "arguments": {}}}"#);
    raw.line(r#"{"jsonrpc": "2.0", "id": 106, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "after"}}}"#);
    assert_eq!(
        raw.answer(&json!(106), 20)["result"]["content"][0]["text"],
        json!("Echo: after")
    );
    assert!(
        !raw.seen.iter().any(|m| m.to_string().contains("PATH")),
        "{:?}",
        raw.seen
    );

    // No answer to any of the refused frames' ids ever came from the server.
    for id in [101, 102, 103] {
        assert!(
            raw.next(1, |m| m["id"] == json!(id)).is_none(),
            "{id} was forwarded"
        );
    }
    assert_eq!(raw.close(), Some(0));
}

#[test]
fn without_the_gateway_token_or_with_serve_gone_every_call_is_refused() {
    let Some(deps) = Deps::find() else { return };
    let mut serve = Serving::start_with_tokens("tg-mcp-gateway-token");
    let scratch = Scratch::new();
    let config = serve.config("everything.yaml", "3s");
    // Another token: serve answers 401, and the gateway refuses rather than forwards.
    let wrong = std::fs::read_to_string(&config).unwrap().replace(
        s(&serve.dir.path("gateway.token")),
        s(&scratch.write("wrong.token", "tg-guess")),
    );
    let wrong = scratch.write("wrong.yaml", &wrong);
    let mut guessing = PyClient::start(
        &deps,
        &wrong,
        &deps.everything(),
        &scratch.path("guess.log"),
    );
    let refused = guessing.call_result("echo", json!({"message": "guess"}), 30);
    assert!(
        is_error(&refused) && result_text(&refused).contains("401"),
        "{refused}"
    );
    drop(guessing);
    let mut client = PyClient::start(
        &deps,
        &config,
        &deps.everything(),
        &scratch.path("client.log"),
    );
    assert_eq!(
        result_text(&client.call_result("echo", json!({"message": "up"}), 30)),
        "Echo: up"
    );
    serve.kill();
    let down = client.call_result("echo", json!({"message": "down"}), 30);
    assert!(is_error(&down), "{down}");
    assert!(result_text(&down).contains("unreachable"), "{down}");
    assert!(!result_text(&down).contains("Echo: down"), "{down}");
}

#[test]
fn a_move_needs_two_people_and_one_is_not_enough() {
    let Some(deps) = Deps::find() else { return };
    // With tokens this time: the gateway's, and one for the approvers and the auditor.
    let serve = Serving::start_with_tokens("tg-mcp-gateway-token");
    let files = root();
    let root = files.path("root");
    let config = serve.config("filesystem.yaml", "60s");
    let mut client = PyClient::start(
        &deps,
        &config,
        &deps.filesystem(&root),
        &files.path("client.log"),
    );
    let source = root.join("workspace/hello.txt");
    let destination = root.join("workspace/renamed.txt");
    let args = json!({"source": s(&source), "destination": s(&destination)});
    let tag = client.call("move_file", args.clone(), 90);
    // Two requests (source and destination), each needing two approvals.
    let start = std::time::Instant::now();
    let ids = loop {
        let pending: Vec<String> = serve
            .approvals("pending")
            .into_iter()
            .filter(|a| a["call"]["arguments"] == args)
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        if pending.len() == 2 {
            break pending;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{pending:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for id in &ids {
        serve.sign("approve", id, "alice");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        source.exists() && !destination.exists(),
        "moved on one person's approval"
    );
    for id in &ids {
        serve.sign("approve", id, "bob");
    }
    let done = client.wait(&tag, 60);
    assert!(!is_error(&done["result"]), "{done}");
    assert!(!source.exists() && destination.exists());
    for id in &ids {
        assert_eq!(
            serve.get(&format!("/v1/approvals/{id}"))["state"],
            json!("consumed")
        );
    }
    // Each approval's outcome is in the audit chain: forwarded, and not an error.
    let start = std::time::Instant::now();
    loop {
        let audit = serve.get_text("/v1/audit");
        let outcomes: Vec<Value> = audit
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["kind"] == json!("outcome"))
            .collect();
        let reported = ids.iter().all(|id| {
            outcomes.iter().any(|o| {
                o["approval_id"] == json!(id)
                    && o["outcome"] == json!({"forwarded": true, "is_error": false})
            })
        });
        if reported {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{outcomes:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_example_pack_passes_its_tests_and_lint_and_its_configurations_load() {
    let pack = [
        "--policies",
        "examples/mcp/policies",
        "--schema",
        "examples/mcp/schema",
    ];
    let out = support::tollgate(&[&["test"][..], &pack].concat());
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stdout));
    let out = support::tollgate(&[&["lint", "--deny", "warnings"][..], &pack].concat());
    assert_eq!(out.status.code(), Some(0), "{}", support::text(&out.stdout));
    for example in ["filesystem.yaml", "everything.yaml"] {
        let path = support::repo().join("examples/mcp").join(example);
        tollgate_mcp::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
    // A configuration that does not load stops the gateway before it starts anything (exit 2).
    let scratch = Scratch::new();
    let bad = scratch.write("bad.yaml", "agent: 'Agent::\"coder\"'\nname: x\nserver: http://127.0.0.1:1\ntools:\n  t: {context: {request_id: '{x}'}}\n");
    let out = support::tollgate(&["mcp", "--config", s(&bad), "--", "/nonexistent/server"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        support::text(&out.stderr).contains("tools.t.context.request_id"),
        "{}",
        support::text(&out.stderr)
    );
}

#[test]
fn a_tool_redefined_after_it_was_listed_is_denied_when_pinned() {
    let Some(deps) = Deps::find() else { return };
    let serve = Serving::start();
    let scratch = Scratch::new();
    let config = serve.config("everything.yaml", "3s");
    let pinned = std::fs::read_to_string(&config).unwrap() + "pin_tools: true\n";
    let config = scratch.write("pinned.yaml", &pinned);
    let server = vec![
        s(&deps.python).to_string(),
        s(&support::repo().join("cli/tests/mcp/rugpull.py")).to_string(),
    ];
    let mut client = PyClient::start(&deps, &config, &server, &scratch.path("client.log"));
    assert_eq!(client.list(), ["echo"]);
    let first = client.call_result("echo", json!({"message": "one"}), 30);
    assert_eq!(result_text(&first), "Echo: one (1)", "{first}");
    // The server has now changed echo's description; the next listing shows it.
    client.list();
    let second = client.call_result("echo", json!({"message": "two"}), 30);
    assert!(is_error(&second), "{second}");
    assert!(
        result_text(&second).contains("definition changed"),
        "{second}"
    );
}
