//! `tollgate serve` and `tollgate approvals` end to end: the real binary serves the reference
//! pack on a temporary SQLite database with bearer tokens; an agent's request is decided over
//! HTTP, listed, approved with a key from `tollgate keygen` through the CLI, consumed exactly
//! once, and the server's audit chain (whole and as a slice) verifies with `tollgate audit`.

mod support;

use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use support::{ENTITIES, REQUEST, Scratch, keygen, listening_url, repo, s, text};
use tollgate_engine::audit::record_hash;

const GATEWAY: &str = "tg-gateway-test-token";
const APPROVER: &str = "tg-approver-test-token";
const AUDITOR: &str = "tg-auditor-test-token";

/// A running `tollgate serve`, killed when dropped (a test that fails must not leave it).
struct Serving {
    child: Child,
    url: String,
    dir: Scratch,
}

impl Serving {
    /// Starts the server on a free loopback port with the reference pack and the example
    /// entities, carol and alice's keyring, an audit key, a gateway, an approver and an auditor
    /// token, and a fresh SQLite database.
    fn start() -> Self {
        let dir = Scratch::new();
        let mut ring = String::new();
        for who in ["carol", "alice"] {
            ring.push_str(&text(&keygen(who, &dir.path(&format!("{who}.key")))));
        }
        dir.write("keyring.json", &ring);
        let entry = |token: &str, roles: &[&str]| {
            json!({"sha256": tollgate_server::token_hash(token), "roles": roles,
                   "principals": ["Agent::\"triage-bot\""]})
        };
        let tokens = json!({
            "gateway": entry(GATEWAY, &["gateway"]),
            "approver": entry(APPROVER, &["approver"]),
            "auditor": entry(AUDITOR, &["auditor"]),
        });
        dir.write("tokens.json", &tokens.to_string());
        dir.write("approver.token", APPROVER);
        let audit = support::tollgate(&["keygen", "--out", s(&dir.path("audit.key"))]);
        assert_eq!(audit.status.code(), Some(0), "{}", text(&audit.stderr));
        let db = format!("sqlite://{}", s(&dir.path("tollgate.db")));
        let stderr = std::fs::File::create(dir.path("serve.log")).unwrap();
        let mut child = support::command_in(
            &repo(),
            &[
                "serve",
                "--policies",
                "policies",
                "--schema",
                "schemas",
                "--entities",
                ENTITIES,
                "--keyring",
                s(&dir.path("keyring.json")),
                "--audit-key",
                s(&dir.path("audit.key")),
                "--db",
                &db,
                "--listen",
                "127.0.0.1:0",
                "--tokens",
                s(&dir.path("tokens.json")),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
        let url = match listening_url(&mut child) {
            Ok(url) => url,
            Err(line) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no `listening on` line but {line:?}; stderr:\n{}",
                    std::fs::read_to_string(dir.path("serve.log")).unwrap_or_default()
                );
            }
        };
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            url: url.to_string(),
            child,
            dir,
        }
    }

    /// `tollgate approvals --server URL --token-file APPROVER <args>`.
    fn approvals(&self, args: &[&str]) -> Output {
        let token = self.dir.path("approver.token");
        let mut all = vec![
            "approvals",
            "--server",
            &self.url,
            "--token-file",
            s(&token),
        ];
        all.extend_from_slice(args);
        support::command_in(self.dir.root(), &all)
            .env_remove("TOLLGATE_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `POST path` as the gateway.
    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(GATEWAY)
            .json(body)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap())
    }

    /// `GET path` as the auditor: a 200's body.
    fn get(&self, path: &str) -> String {
        let response = reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(AUDITOR)
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "GET {path}");
        response.text().unwrap()
    }

    /// Sends SIGTERM and returns the exit code.
    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success());
        self.child.wait().unwrap().code()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sign(serving: &Serving, id: &str, who: &str, extra: &[&str]) -> Output {
    let key = serving.dir.path(&format!("{who}.key"));
    let approver = format!("Human::\"{who}\"");
    let mut args = vec![
        "approve",
        id,
        "--approver",
        &approver,
        "--key",
        s(&key),
        "--yes",
    ];
    args.extend_from_slice(extra);
    serving.approvals(&args)
}

#[test]
fn decide_list_approve_consume_once_then_stop_on_sigterm() {
    let serving = Serving::start();
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join(REQUEST)).unwrap()).unwrap();
    let (status, decided) = serving.post("/v1/decide", &json!({"request": request}));
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["tier"], "single", "{decided}");
    let id = decided["approval"]["id"].as_str().unwrap().to_string();
    assert_eq!(decided["approval"]["state"], "pending", "{decided}");

    // The inbox lists it, one line with its id, state and tier.
    let list = serving.approvals(&["list", "--state", "pending"]);
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let row = text(&list.stdout)
        .lines()
        .find(|l| l.starts_with(&id))
        .map(String::from)
        .unwrap_or_else(|| panic!("{id} not listed:\n{}", text(&list.stdout)));
    assert!(row.contains("pending") && row.contains("single"), "{row}");

    // Without the approver's token the server refuses, and the CLI says why (exit 2).
    let anonymous = support::command_in(
        serving.dir.root(),
        &["approvals", "--server", &serving.url, "list"],
    )
    .env_remove("TOLLGATE_TOKEN")
    .output()
    .unwrap();
    assert_eq!(
        anonymous.status.code(),
        Some(2),
        "{}",
        text(&anonymous.stderr)
    );
    assert!(
        text(&anonymous.stderr).contains("401"),
        "{}",
        text(&anonymous.stderr)
    );
    for out in [&list, &anonymous] {
        assert!(!text(&out.stdout).contains(APPROVER) && !text(&out.stderr).contains(APPROVER));
    }

    // Alice is an SRE: she may not approve a token scope, so her approval is posted but does
    // not count (exit 1); carol, an identity administrator, may (exit 0).
    let alice = sign(&serving, &id, "alice", &[]);
    assert_eq!(alice.status.code(), Some(1), "{}", text(&alice.stderr));
    assert!(
        text(&alice.stdout).starts_with("NOT counted"),
        "{}",
        text(&alice.stdout)
    );
    let carol = sign(&serving, &id, "carol", &["--evidence", "ticket IAM-7"]);
    assert_eq!(carol.status.code(), Some(0), "{}", text(&carol.stderr));
    assert!(
        text(&carol.stdout).starts_with("counted"),
        "{}",
        text(&carol.stdout)
    );
    let show = serving.approvals(&["show", &id, "--format", "json"]);
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["state"], "allowed", "{shown}");
    // An approval of a request no longer pending is refused before anything is signed.
    let again = sign(&serving, &id, "carol", &[]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("not pending"),
        "{}",
        text(&again.stderr)
    );

    // Consumed exactly once.
    let consume = format!("/v1/approvals/{id}/consume");
    let (first, body) = serving.post(&consume, &json!({}));
    assert_eq!(first, 200, "{body}");
    assert_eq!(body["state"], "consumed", "{body}");
    let (second, body) = serving.post(&consume, &json!({}));
    assert_eq!(second, 409, "{body}");

    // The server's audit chain: whole, and a slice after its first record, which
    // `audit verify --after` checks against the hash it follows (and only against it).
    let whole = serving.get("/v1/audit");
    let first: Value = serde_json::from_str(whole.lines().next().unwrap()).unwrap();
    let after = record_hash(&first).unwrap().to_string();
    let slice = serving.get(&format!("/v1/audit?after={after}"));
    assert_eq!(slice.lines().count() + 1, whole.lines().count());
    let whole_file = serving.dir.write("audit.jsonl", &whole);
    let slice_file = serving.dir.write("slice.jsonl", &slice);
    let audit_key = serving.dir.path("audit.key");
    let verify = |file: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["audit", "verify", s(file), "--pubkey", s(&audit_key)];
        args.extend_from_slice(extra);
        support::tollgate(&args)
    };
    let out = verify(&whole_file, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = verify(&slice_file, &["--after", &after]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(verify(&slice_file, &[]).status.code(), Some(1));

    assert_eq!(serving.terminate(), Some(0));
}
