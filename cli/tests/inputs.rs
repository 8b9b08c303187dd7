//! Hostile and malformed input through the real binary: duplicate JSON keys, very long lines,
//! deep nesting, non-regular files, and the `--limit` settings.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::desk::DEPLOY;
use support::{
    AT, ENTITIES, REQUEST, Scratch, assert_stderr, batch, decide, decide_spelt, refused, repo, s,
    text, tollgate, verify_args,
};

fn decide_request(request: &Path) -> Output {
    decide(s(request), ENTITIES, &[])
}

// --- Duplicate keys ---------------------------------------------------------------------------

#[test]
fn a_duplicate_key_in_a_request_is_refused_naming_key_file_and_line() {
    let dir = Scratch::new();
    let request = dir.write(
        "dup.json",
        "{\"principal\": \"Agent::\\\"triage-bot\\\"\",\n \"action\": \"Action::\\\"read_logs\\\"\",\n \"resource\": \"Environment::\\\"staging\\\"\",\n \"resource\": \"Environment::\\\"prod\\\"\"}\n",
    );
    for out in [
        tollgate(&["hash", "--request", s(&request)]),
        decide_request(&request),
    ] {
        refused(&out, &["dup.json:4:", "duplicate key `resource`"]);
    }
}

#[test]
fn keys_beside_an_entity_escape_are_refused() {
    let dir = Scratch::new();
    let request = dir.write(
        "escape.json",
        r#"{"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"",
 "resource": {"type": "Environment", "id": "staging", "__entity": {"type": "Environment", "id": "prod"}}}"#,
    );
    refused(
        &tollgate(&["hash", "--request", s(&request)]),
        &["escape.json:2:", "`__entity` with other keys", "`resource`"],
    );
}

#[test]
fn duplicate_keys_in_context_and_entities_are_refused() {
    let out = decide_spelt(
        "Agent::\"triage-bot\"",
        "Action::\"read_logs\"",
        "Environment::\"staging\"",
        &[
            "--context",
            r#"{"environment": "staging", "environment": "prod"}"#,
            "--at",
            AT,
        ],
    );
    refused(&out, &["--context:1:", "duplicate key `environment`"]);

    let dir = Scratch::new();
    let entities = dir.write(
        "entities.json",
        r#"[{"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": [], "parents": [{"type": "Group", "id": "sre"}]}]"#,
    );
    let out = decide(REQUEST, s(&entities), &[]);
    refused(
        &out,
        &["entities.json:1:", "duplicate key `parents` in `[0]`"],
    );
}

/// A pack folder with the repository's policies and schema, for commands that need one.
fn verify_with(approvals: &Path, keyring: &Path) -> Output {
    tollgate(&[
        "verify",
        "--request",
        "examples/deploy-request.json",
        "--entities",
        ENTITIES,
        "--approvals",
        s(approvals),
        "--keyring",
        s(keyring),
        "--at",
        AT,
    ])
}

/// A key for `who` in `dir`, and its keyring line.
fn keygen(dir: &Scratch, who: &str, file: &str) -> (PathBuf, String) {
    let key = dir.path(file);
    let out = tollgate(&[
        "keygen",
        "--approver",
        &format!("Human::\"{who}\""),
        "--out",
        s(&key),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (key, text(&out.stdout).trim().to_string())
}

#[test]
fn a_keyring_listing_an_approver_twice_in_one_object_is_refused() {
    let dir = Scratch::new();
    let approvals = dir.write("approvals.jsonl", "");
    let (_, first) = keygen(&dir, "alice", "a1.key");
    let (_, second) = keygen(&dir, "alice", "a2.key");
    // {"Human::\"alice\"": key1,\n "Human::\"alice\"": key2}: the last would silently win.
    let keyring = dir.write(
        "keyring.json",
        &format!(
            "{},\n {}\n",
            first.trim_end_matches('}'),
            second.trim_start_matches('{')
        ),
    );
    refused(
        &verify_with(&approvals, &keyring),
        &["keyring.json", "2:", "duplicate key `Human::\"alice\"`"],
    );
}

/// `tollgate approve --request REQUEST` as alice with `key`, issued `at`, then `extra`.
fn approve_as_alice(request: &str, key: &Path, at: &str, extra: &[&str]) -> Output {
    let args = [
        "approve",
        "--request",
        request,
        "--approver",
        "Human::\"alice\"",
        "--key",
        s(key),
        "--at",
        at,
    ];
    tollgate(&[&args[..], extra].concat())
}

#[test]
fn an_approval_record_with_a_duplicate_key_is_refused() {
    let dir = Scratch::new();
    let (key, line) = keygen(&dir, "alice", "alice.key");
    let keyring = dir.write("keyring.json", &line);
    let out = approve_as_alice(
        "examples/deploy-request.json",
        &key,
        "2026-06-01T11:50:00Z",
        &["--entities", "examples/entities.json", "--yes"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A first-key reader sees mallory approving; the signature covers alice.
    let record = text(&out.stdout).replacen('{', "{\"approver\": \"Human::\\\"mallory\\\"\",", 1);
    let approvals = dir.write("approvals.jsonl", &format!("\n{record}"));
    refused(
        &verify_with(&approvals, &keyring),
        &["approvals.jsonl", "line 2", "duplicate key `approver`"],
    );
}

#[test]
fn a_key_file_with_a_duplicate_key_is_refused() {
    let dir = Scratch::new();
    let (key, _) = keygen(&dir, "alice", "alice.key");
    let original = std::fs::read_to_string(&key).unwrap();
    let doubled = original.replacen('{', "{\"approver\": \"Human::\\\"mallory\\\"\",", 1);
    std::fs::write(&key, doubled).unwrap();
    let out = approve_as_alice("examples/deploy-request.json", &key, AT, &[]);
    refused(&out, &["alice.key", "duplicate key `approver`"]);
}

#[test]
fn an_audit_record_with_a_duplicate_key_does_not_verify() {
    let dir = Scratch::new();
    let log = dir.path("audit.jsonl");
    let out = decide(REQUEST, ENTITIES, &["--audit", s(&log)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record = std::fs::read_to_string(&log).unwrap();
    // A first-key reader would see an allowed verification; a last-key reader the true
    // record, which the chain hashes: the record must not pass.
    let forged = record.replacen('{', "{\"outcome\": \"allowed\",", 1);
    std::fs::write(&log, &forged).unwrap();
    let out = tollgate(&["audit", "verify", s(&log)]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("duplicate key `outcome`"), "{all}");
    refused(
        &tollgate(&["audit", "show", s(&log)]),
        &["audit.jsonl:1:", "duplicate key `outcome`"],
    );
}

#[test]
fn request_lines_with_duplicate_keys_are_refused_in_diff_and_simulate() {
    let dir = Scratch::new();
    let requests = dir.write(
        "requests.jsonl",
        "{\"principal\": \"Agent::\\\"triage-bot\\\"\", \"action\": \"Action::\\\"read_logs\\\"\", \"resource\": \"Environment::\\\"staging\\\"\", \"resource\": \"Environment::\\\"prod\\\"\"}\n",
    );
    let out = tollgate(&[
        "diff",
        "--base-policies",
        "policies",
        "--head-policies",
        "policies",
        "--requests",
        s(&requests),
        "--entities",
        ENTITIES,
        "--at",
        AT,
    ]);
    refused(&out, &["requests.jsonl:1:", "duplicate key `resource`"]);
    let out = batch("simulate", s(&requests), &[]);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(all.contains("duplicate key `resource`"), "{all}");
}

// --- Very long lines ---------------------------------------------------------------------------

/// Filler that pushes what follows past column 70,000 of one line.
fn filler() -> String {
    "x".repeat(70_000)
}

#[test]
fn a_json_error_past_column_65535_is_reported_not_a_crash() {
    let dir = Scratch::new();
    let entities = dir.write(
        "entities.json",
        &format!(
            r#"[{{"uid": {{"type": "Human", "id": "{}"}}, "attrs": {{}}, "parents": []}},]"#,
            filler()
        ),
    );
    let out = decide(REQUEST, s(&entities), &[]);
    refused(&out, &["entities.json:1:700", "not valid JSON"]);
    let request = dir.write(
        "request.json",
        &format!(
            r#"{{"principal": "Agent::\"{}\"", "action": "Action::\"a\"", "resource": "R::\"r\"",}}"#,
            filler()
        ),
    );
    let (key, _) = keygen(&dir, "alice", "alice.key");
    for out in [
        tollgate(&["hash", "--request", s(&request)]),
        approve_as_alice(s(&request), &key, AT, &[]),
        tollgate(&[
            "verify",
            "--request",
            s(&request),
            "--entities",
            ENTITIES,
            "--approvals",
            s(&request),
            "--keyring",
            s(&request),
            "--at",
            AT,
        ]),
    ] {
        refused(&out, &["request.json:1:700", "not valid JSON"]);
    }
    let context = format!(r#"{{"a": "{}",}}"#, filler());
    let out = decide_spelt(
        "Agent::\"triage-bot\"",
        "Action::\"read_logs\"",
        "Environment::\"staging\"",
        &["--context", &context, "--at", AT],
    );
    refused(&out, &["--context:1:700", "not valid JSON"]);
}

/// A pack folder: `policies/` with the given files and `schemas/` with the repository's schema
/// unless a schema text is given.
fn pack(dir: &Scratch, policy: &str, schema: Option<&str>) -> (PathBuf, PathBuf) {
    let policies = dir.path("policies");
    dir.write("policies/p.cedar", policy);
    let schema_path = match schema {
        Some(text) => dir.write("schemas/s.cedarschema", text),
        None => repo().join("schemas"),
    };
    (policies, schema_path)
}

fn decide_in(policies: &Path, schema: &Path) -> Output {
    tollgate(&[
        "decide",
        "--policies",
        s(policies),
        "--schema",
        s(schema),
        "--request",
        REQUEST,
        "--at",
        AT,
    ])
}

#[test]
fn cedar_and_schema_errors_past_column_65535_are_reported_not_a_crash() {
    let dir = Scratch::new();
    let policy = format!(
        "@tier(\"auto\") permit(principal, action, resource) when {{ context.request_id == \"{}\" }} oops;",
        filler()
    );
    let (policies, schema) = pack(&dir, &policy, None);
    refused(&decide_in(&policies, &schema), &["p.cedar:1:700"]);

    let dir = Scratch::new();
    let good = "@tier(\"auto\") permit(principal, action, resource);";
    let schema_text = format!("entity Agent; entity A {{ \"{}\": String }} oops", filler());
    let (policies, schema) = pack(&dir, good, Some(&schema_text));
    refused(&decide_in(&policies, &schema), &["s.cedarschema:1:700"]);
}

// --- Deep nesting ------------------------------------------------------------------------------

#[test]
fn deeply_nested_parentheses_in_a_policy_are_refused_naming_the_limit() {
    for depth in [1_000, 50_000] {
        let dir = Scratch::new();
        let policy = format!(
            "@tier(\"auto\") permit(principal, action, resource) when {{ {}true{} }};",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let (policies, schema) = pack(&dir, &policy, None);
        refused(
            &decide_in(&policies, &schema),
            &[
                "p.cedar:1:",
                "brackets nested deeper than 64",
                "--limit text-depth=N",
            ],
        );
    }
}

#[test]
fn deeply_nested_schema_is_refused_naming_the_limit() {
    let dir = Scratch::new();
    let schema = format!(
        "type T = {}{{}}{};",
        "{ a: ".repeat(2_000),
        " }".repeat(2_000)
    );
    let (policies, schema) = pack(
        &dir,
        "@tier(\"auto\") permit(principal, action, resource);",
        Some(&schema),
    );
    refused(
        &decide_in(&policies, &schema),
        &["s.cedarschema:1:", "limit text-depth"],
    );
}

#[test]
fn deeply_nested_json_in_context_is_refused_naming_the_limit() {
    // One argument can hold at most 128 KiB: 50,000 levels on the command line, 100,000 in a
    // file.
    let nested = |depth: usize| format!(r#"{{"a": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let deep = nested(50_000);
    let out = decide_spelt(
        "Agent::\"triage-bot\"",
        "Action::\"read_logs\"",
        "Environment::\"staging\"",
        &["--context", &deep, "--at", AT],
    );
    refused(
        &out,
        &[
            "--context:1:",
            "JSON nesting deeper than 64 (limit json-depth; raise it with --limit json-depth=N)",
        ],
    );
    let dir = Scratch::new();
    let request = dir.write(
        "deep.json",
        &format!(
            r#"{{"principal": "Agent::\"triage-bot\"", "action": "Action::\"read_logs\"", "resource": "Environment::\"staging\"", "context": {}}}"#,
            nested(100_000)
        ),
    );
    refused(
        &decide_request(&request),
        &["deep.json:1:", "limit json-depth"],
    );
}

#[test]
fn json_depth_can_be_raised_up_to_its_ceiling() {
    let context = format!(r#"{{"a": {}1{}}}"#, "[".repeat(90), "]".repeat(90));
    let decide = |limit: Option<&str>| {
        let mut args = vec![
            "decide",
            "--principal",
            "Agent::\"triage-bot\"",
            "--action",
            "Action::\"read_logs\"",
            "--resource",
            "Environment::\"staging\"",
            "--context",
            &context,
            "--at",
            AT,
        ];
        if let Some(l) = limit {
            args.extend(["--limit", l]);
        }
        tollgate(&args)
    };
    refused(&decide(None), &["limit json-depth"]);
    let out = decide(Some("json-depth=100"));
    let err = text(&out.stderr);
    assert!(!err.contains("json-depth"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_stderr(&decide(Some("json-depth=100000")), 2, "at most 120");
}

#[test]
fn a_deep_entity_hierarchy_is_refused_naming_the_limit() {
    let dir = Scratch::new();
    let chain: Vec<String> = (0..150)
        .map(|i| {
            format!(
                r#"{{"uid": {{"type": "Group", "id": "g{i}"}}, "attrs": {{}}, "parents": [{{"type": "Group", "id": "g{}"}}]}}"#,
                i + 1
            )
        })
        .collect();
    let entities = dir.write("chain.json", &format!("[{}]", chain.join(",\n")));
    let out = decide(REQUEST, s(&entities), &[]);
    refused(
        &out,
        &[
            "chain.json",
            "a chain of parents longer than 100",
            "--limit hierarchy-depth=N",
        ],
    );
}

// --- Counts and sizes --------------------------------------------------------------------------

#[test]
fn counts_and_sizes_are_limited_and_the_message_names_the_flag() {
    refused(
        &decide(REQUEST, ENTITIES, &["--limit", "entities=2"]),
        &["entities.json: more than 2 entities (limit entities; raise it with --limit entities=N)"],
    );
    refused(
        &tollgate(&["hash", "--request", REQUEST, "--limit", "file-bytes=10"]),
        &[
            "request.json",
            "larger than 10 bytes",
            "--limit file-bytes=N",
        ],
    );
    refused(
        &tollgate(&[
            "decide",
            "--request",
            REQUEST,
            "--at",
            AT,
            "--limit",
            "policies=3",
        ]),
        &["more than 3 policies", "--limit policies=N"],
    );
    let out = tollgate(&[
        "lint",
        "--today",
        "2026-06-01",
        "--limit",
        "workflow-steps=1",
    ]);
    refused(&out, &["more than 1 steps", "--limit workflow-steps=N"]);
    // Within the limits, the same commands run.
    let out = tollgate(&["hash", "--request", REQUEST, "--limit", "file-bytes=100000"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_bad_limit_setting_is_a_usage_error() {
    for bad in ["json-depht=3", "entities", "entities=-1", "entities=0"] {
        let out = tollgate(&["hash", "--request", REQUEST, "--limit", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("--limit"),
            "{}",
            text(&out.stderr)
        );
    }
}

// --- Non-regular files -------------------------------------------------------------------------

/// Runs `tollgate` with a deadline: a reader blocked on a FIFO would otherwise hang the test.
fn tollgate_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "tollgate {args:?} still running after {limit:?}: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
fn fifo(dir: &Scratch, name: &str) -> PathBuf {
    let path = dir.path(name);
    let status = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(status.success());
    path
}

#[cfg(unix)]
#[test]
fn fifos_as_input_files_are_refused_not_waited_on() {
    let dir = Scratch::new();
    let keyring = fifo(&dir, "keyring.json");
    let approvals = fifo(&dir, "approvals.jsonl");
    let log = fifo(&dir, "audit.jsonl");
    let empty = dir.write("empty.jsonl", "");
    let wait = Duration::from_secs(20);
    for (args, name) in [
        (
            verify_args(DEPLOY, ENTITIES, s(&empty), s(&keyring)),
            "keyring.json",
        ),
        (
            verify_args(DEPLOY, ENTITIES, s(&approvals), s(&empty)),
            "approvals.jsonl",
        ),
        (vec!["audit", "verify", s(&log)], "audit.jsonl"),
        (vec!["audit", "show", s(&log)], "audit.jsonl"),
        (vec!["hash", "--request", s(&log)], "audit.jsonl"),
    ] {
        let out = tollgate_within(&args, wait);
        refused(&out, &[name, "not a regular file"]);
    }
}

#[test]
fn stdin_stays_allowed() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .args(["hash", "--request", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(repo().join(REQUEST)).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("sha256:"));
}
