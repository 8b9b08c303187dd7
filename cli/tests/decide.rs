//! `tollgate decide` on real files: exit codes, JSON shape, diagnostics.

mod support;

use std::process::Command;

use support::{AT, assert_stderr, decide, decide_spelt, repo, text, tollgate_in};

#[test]
fn decides_the_readme_example() {
    let out = decide("examples/request.json", "examples/entities.json", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("single:"), "{stdout}");
    assert!(
        stdout.contains("token-scope-single at tokens.cedar:"),
        "{stdout}"
    );
}

#[test]
fn json_output_has_the_design_fields() {
    let out = decide(
        "examples/request.json",
        "examples/entities.json",
        &["--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "tier",
            "approvals_required",
            "determining",
            "errors",
            "request",
            "policy_set"
        ]
    );
    assert_eq!(v["tier"], "single");
    assert_eq!(v["approvals_required"], 1);
    let det = &v["determining"][0];
    assert_eq!(det["id"], "token-scope-single");
    assert_eq!(det["effect"], "permit");
    assert_eq!(det["tier"], "single");
    assert_eq!(det["source"], "tokens.cedar:3");
    assert_eq!(
        det["controls"],
        serde_json::json!(["OWASP-Agentic-A01", "MAESTRO-GOV-2"])
    );
    assert!(v["request"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(v["policy_set"].as_str().unwrap().len(), 7 + 64);
}

#[test]
fn deny_has_null_approvals_and_still_exits_zero() {
    let out = decide_spelt(
        "Agent::\"ir-bot\"",
        "Action::\"grant_access\"",
        "LogStream::\"prod-audit\"",
        &[
            "--context",
            r#"{"request_id": "x", "grantee": {"type": "Agent", "id": "ir-bot"}}"#,
            "--entities",
            "examples/entities.json",
            "--at",
            AT,
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tier"], "deny");
    assert!(v["approvals_required"].is_null());
    assert_eq!(v["determining"][0]["id"], "forbid-self-grant");
}

#[test]
fn request_from_stdin() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(repo())
        .args([
            "decide",
            "--request",
            "-",
            "--entities",
            "examples/entities.json",
            "--at",
            AT,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(br#"{"principal": "Agent::\"triage-bot\"", "action": "Action::\"summarize\"", "resource": "Document::\"incident-123\"", "context": {"request_id": "s"}}"#).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("auto:"));
}

fn pack_with(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policies")).unwrap();
    std::fs::write(dir.path().join("policies/bad.cedar"), policy).unwrap();
    std::fs::write(
        dir.path().join("request.json"),
        r#"{"principal": "A::\"a\"", "action": "Action::\"x\"", "resource": "R::\"r\""}"#,
    )
    .unwrap();
    dir
}

#[test]
fn a_policy_that_does_not_parse_exits_2_naming_file_and_line() {
    let dir = pack_with(
        "@tier(\"auto\")\npermit(principal, action, resource);\n\npermit(principal, action resource);\n",
    );
    let out = tollgate_in(
        dir.path(),
        &["decide", "--no-schema", "--request", "request.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.cedar:4:"), "{err}");
}

#[test]
fn an_invalid_tier_exits_2_naming_the_policy() {
    let dir =
        pack_with("\n@id(\"oops\")\n@tier(\"triple\")\npermit(principal, action, resource);\n");
    let out = tollgate_in(
        dir.path(),
        &["decide", "--no-schema", "--request", "request.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.cedar:2:") && err.contains("oops") && err.contains("triple"),
        "{err}"
    );
}

#[test]
fn a_pack_without_schema_decides_only_with_no_schema() {
    let dir = pack_with("@tier(\"dual\")\npermit(principal, action, resource);\n");
    // Run from a folder without schemas/: not a silent schema-less decision.
    let out = tollgate_in(dir.path(), &["decide", "--request", "request.json"]);
    assert_stderr(&out, 2, "--no-schema");
    let out = tollgate_in(
        dir.path(),
        &[
            "decide",
            "--no-schema",
            "--request",
            "request.json",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tier"], "dual");
    assert_eq!(v["determining"][0]["id"], "bad.cedar:1");
}

#[test]
fn malformed_json_request_exits_2_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("req.json");
    std::fs::write(&req, "{\n  \"principal\": \"Agent::\\\"x\\\"\",\n  oops\n}").unwrap();
    let out = tollgate_in(
        &repo(),
        &["decide", "--request", req.to_str().unwrap(), "--at", AT],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("req.json:3:"), "{err}");
}

#[test]
fn a_request_that_violates_the_schema_exits_2() {
    let out = decide_spelt(
        "Agent::\"triage-bot\"",
        "Action::\"summarize\"",
        "Document::\"incident-123\"",
        &["--context", r#"{"request_id": 7}"#, "--at", AT],
    );
    assert_stderr(&out, 2, "does not match the schema");
}

#[test]
fn a_request_that_supplies_now_exits_2() {
    let out = decide_spelt(
        "Agent::\"triage-bot\"",
        "Action::\"summarize\"",
        "Document::\"incident-123\"",
        &[
            "--context",
            r#"{"request_id": "r", "now": "2020-01-01T00:00:00Z"}"#,
        ],
    );
    assert_stderr(&out, 2, "context.now");
}

#[test]
fn bad_at_and_missing_files_exit_2() {
    let out = tollgate_in(
        &repo(),
        &[
            "decide",
            "--request",
            "examples/request.json",
            "--at",
            "tomorrow",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate_in(&repo(), &["decide", "--request", "nope.json", "--at", AT]);
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate_in(
        &repo(),
        &[
            "decide",
            "--request",
            "examples/request.json",
            "--schema",
            "missing.cedarschema",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_exit_codes() {
    let out = tollgate_in(&repo(), &["decide", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Exit codes"));
}
