//! What the CLI prints: untrusted text escaped in every text output, a closed stdout (or
//! stderr) never a panic and never a changed exit code, misspelled annotations refused, and no
//! silent decision without a schema.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{
    AT, assert_stderr, batch_args, decide, decide_args, flagged, keygen, pack, repo, text,
    tollgate, tollgate_in,
};

/// A newline that would start a forged row, and an ANSI colour escape.
const EVIL: &str =
    "x\n2    2026-06-01T12:00:00.000Z  decision  Agent::ok  deploy  auto  allowed\u{1b}[31m";

/// Output has no raw control character but the line feeds that end its own lines, and no bidi
/// override.
fn assert_clean(out: &str) {
    for c in out.chars() {
        assert!(
            c == '\n'
                || !(c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
            "raw {c:?} in:\n{out}"
        );
    }
}

fn write_request(dir: &Path, principal_id: &str) {
    let request = serde_json::json!({
        "principal": {"type": "Agent", "id": principal_id},
        "action": "Action::\"deploy\"",
        "resource": "Env::\"prod\"",
    });
    std::fs::write(dir.join("request.json"), request.to_string()).unwrap();
}

// ---- escaping -------------------------------------------------------------------------------

#[test]
fn decide_text_escapes_reasons_ids_and_error_messages() {
    let dir = pack(
        concat!(
            "@id(\"p\\nsingle: FORGED\") @tier(\"dual\")\n",
            "@reason(\"two people\\n  permit (auto) fake at p.cedar:1\\u{1b}[2J\\u{202e}\")\n",
            "permit (principal, action, resource);\n",
            "@id(\"g\") @tier(\"single\")\n",
            "forbid (principal, action, resource) when { principal.level > 3 };\n",
        ),
        None,
    );
    write_request(dir.root(), EVIL);
    let out = decide_no_schema(dir.root(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_clean(&stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // Headline, the permit, the gate, the gate's error, request, policy set: nothing more.
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(lines[0].starts_with("dual:"), "{stdout}");
    assert!(
        lines[1].contains(r"p\nsingle: FORGED") && lines[1].contains(r"\u{1b}[2J\u{202e}"),
        "{stdout}"
    );
    assert!(lines[3].starts_with("  error in g:"), "{stdout}");
}

#[test]
fn audit_show_cannot_be_given_a_forged_row() {
    let dir = pack(
        "@tier(\"auto\") permit (principal, action, resource);",
        None,
    );
    write_request(dir.root(), EVIL);
    let out = decide_no_schema(dir.root(), &["--audit", "audit.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = tollgate_in(dir.root(), &["audit", "show", "audit.jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_clean(&stdout);
    assert_eq!(stdout.lines().count(), 2, "a header and one row:\n{stdout}");
    assert!(stdout.contains(r"Agent::x\n2 "), "{stdout}");
    // The record is kept exactly: JSON shows the id as it is.
    let out = tollgate_in(
        dir.root(),
        &["audit", "show", "audit.jsonl", "--format", "json"],
    );
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["request"]["principal"]["id"], EVIL);
}

#[test]
fn verify_text_escapes_approvers() {
    let dir = tempfile::tempdir().unwrap();
    // Cedar's normalized form of the id: escaped as Rust's `escape_debug` does.
    let approver = format!("Human::\"{}\"", EVIL.escape_debug());
    // The approver is a known person without a key: the record does not count, and is shown.
    let mut entities: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/entities.json")).unwrap(),
    )
    .unwrap();
    entities.push(serde_json::json!({"uid": {"type": "Human", "id": EVIL}, "attrs": {"email": "e@example.com"}, "parents": []}));
    std::fs::write(
        dir.path().join("entities.json"),
        serde_json::Value::Array(entities).to_string(),
    )
    .unwrap();
    let record = serde_json::json!({
        "request": format!("sha256:{}", "0".repeat(64)),
        "approver": approver,
        "decision": "approve",
        "issued_at": "2026-06-01T11:00:00Z",
        "expires_at": "2026-06-01T13:00:00Z",
    });
    std::fs::write(dir.path().join("approvals.jsonl"), format!("{record}\n")).unwrap();
    std::fs::write(dir.path().join("keyring.json"), "{}").unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let out = tollgate(&[
        "verify",
        "--request",
        "examples/deploy-request.json",
        "--approvals",
        &path("approvals.jsonl"),
        "--keyring",
        &path("keyring.json"),
        "--entities",
        &path("entities.json"),
        "--at",
        AT,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_clean(&stdout);
    // The outcome, the one record, the request hash.
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.contains("not counted approve Human::"), "{stdout}");
}

#[test]
fn lint_text_escapes_source_lines_and_messages() {
    let schema = std::fs::read_to_string(repo().join("schemas/agents.cedarschema")).unwrap();
    let dir = pack(
        "// \u{1b}[8m hidden \u{202e}\n@id(\"r\\u{1b}[31m\")\npermit (principal is Agent, action == Action::\"rotate_secret\", resource);\n",
        Some(&schema),
    );
    let out = tollgate_in(dir.root(), &["lint", "--today", "2026-06-01"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_clean(&stdout);
    assert!(
        stdout.contains(r"permit `r\u{1b}[31m` has no `@tier`"),
        "{stdout}"
    );
}

// ---- closed pipes ---------------------------------------------------------------------------

/// Runs `tollgate` in `dir` with stdout a pipe whose reader is closed before anything is
/// written (and stderr too when `close_stderr`); returns the exit code and stderr.
fn with_closed_stdout(dir: &Path, args: &[&str], close_stderr: bool) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    if close_stderr {
        drop(child.stderr.take());
    }
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(&out.stderr))
}

#[test]
fn every_printer_survives_a_closed_stdout_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    // A log larger than a pipe's buffer: the write cannot finish before the reader is gone.
    let row = r#"{"time": "2026-06-01T12:00:00.000Z", "kind": "decision", "request": {"principal": {"type": "Agent", "id": "a"}, "action": {"type": "Action", "id": "deploy"}}, "decision": {"tier": "auto"}, "outcome": "allowed"}"#;
    let log = dir.path().join("big.jsonl");
    std::fs::write(&log, format!("{row}\n").repeat(3000)).unwrap();
    let log = log.to_str().unwrap();
    // The rows carry no `prev`, so `audit show` also fails the chain check: exit 1, its own code.
    let lint_bad_pack = |extra: &[&'static str]| {
        let pack = [
            ("--policies", "examples/bad-pack/policies"),
            ("--schema", "examples/bad-pack/schemas"),
            ("--today", "2026-06-01"),
        ];
        flagged("lint", &pack, extra)
    };
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["audit", "show", log], 1),
        (vec!["audit", "show", log, "--format", "json"], 1),
        (vec!["audit", "verify", log], 1),
        (lint_bad_pack(&["--format", "sarif"]), 1),
        (lint_bad_pack(&[]), 1),
        (vec!["test", "--coverage", "--at", AT], 0),
        (
            decide_args("examples/request.json", "examples/entities.json", &[]),
            0,
        ),
        (batch_args("diff", "examples/requests.jsonl", &[]), 0),
        (vec!["hash", "--request", "examples/request.json"], 0),
    ];
    for (args, code) in &cases {
        let (got, err) = with_closed_stdout(&repo(), args, false);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(got, Some(*code), "{args:?}: {err}");
    }
}

#[test]
fn a_denied_verify_exits_4_even_when_nobody_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let ring = keygen("alice", &dir.path().join("alice.key"));
    std::fs::write(p("keyring.json"), ring).unwrap();
    let out = tollgate(&[
        "approve",
        "--request",
        "examples/deploy-request.json",
        "--approver",
        "Human::\"alice\"",
        "--key",
        &p("alice.key"),
        "--at",
        "2026-06-01T11:50:00Z",
        "--reject",
        "--evidence",
        "change freeze",
        "--entities",
        "examples/entities.json",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::write(p("approvals.jsonl"), &out.stdout).unwrap();
    let args = [
        "verify",
        "--request",
        "examples/deploy-request.json",
        "--approvals",
        &p("approvals.jsonl"),
        "--keyring",
        &p("keyring.json"),
        "--entities",
        "examples/entities.json",
        "--at",
        AT,
    ];
    assert_eq!(tollgate(&args).status.code(), Some(4));
    for close_stderr in [false, true] {
        let (code, err) = with_closed_stdout(&repo(), &args, close_stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(code, Some(4), "{err}");
    }
}

#[test]
fn errors_and_notes_survive_a_closed_stderr() {
    let dir = pack(
        "@tier(\"auto\") permit (principal, action, resource);",
        None,
    );
    write_request(dir.root(), "a");
    // An error (no schema) and a note (no entities), with nobody reading stderr: no panic
    // (exit 101), the command's own code.
    let (code, _) = with_closed_stdout(dir.root(), &["decide", "--request", "request.json"], true);
    assert_eq!(code, Some(2));
    let (code, _) = with_closed_stdout(
        dir.root(),
        &["decide", "--no-schema", "--request", "request.json"],
        true,
    );
    assert_eq!(code, Some(0));
}

// ---- misspelled annotations -----------------------------------------------------------------

fn decide_on(dir: &Path) -> Output {
    write_request(dir, "a");
    decide_no_schema(dir, &[])
}

/// `tollgate decide --no-schema --request request.json --at AT`, then `extra`, in `dir`.
fn decide_no_schema(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "decide",
        "--no-schema",
        "--request",
        "request.json",
        "--at",
        AT,
    ];
    args.extend_from_slice(extra);
    tollgate_in(dir, &args)
}

#[test]
fn a_misspelled_tier_stops_the_pack_naming_file_line_key_and_suggestion() {
    for (key, meant) in [
        ("teir", "tier"),
        ("tir", "tier"),
        ("Tier", "tier"),
        ("TIER", "tier"),
        ("reveiw_by", "review_by"),
        ("reviewBy", "review_by"),
        ("Reason", "reason"),
        ("expansionOk", "expansion_ok"),
        ("controls", "control"),
        ("Id", "id"),
    ] {
        let dir = pack(
            &format!(
                "@id(\"deploy\")\n\n@{key}(\"dual\")\npermit (principal, action, resource);\n"
            ),
            None,
        );
        let out = decide_on(dir.root());
        assert_eq!(out.status.code(), Some(2), "@{key}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains("p.cedar:3:")
                && err.contains(&format!("`@{key}`"))
                && err.contains(&format!("did you mean `@{meant}`?")),
            "@{key}: {err}"
        );
    }
}

#[test]
fn far_annotation_keys_stay_allowed() {
    let dir = pack(
        "@id(\"deploy\") @tier(\"dual\") @note(\"x\") @ticket(\"SEC-1\") @tr(\"\")\npermit (principal, action, resource);\n",
        None,
    );
    let out = decide_on(dir.root());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("dual:"));
}

#[test]
fn lint_stops_on_a_misspelled_annotation_too() {
    let schema = std::fs::read_to_string(repo().join("schemas/agents.cedarschema")).unwrap();
    let dir = pack(
        "@id(\"deploy\")\n@teir(\"dual\")\npermit (principal is Agent, action == Action::\"deploy\", resource);\n",
        Some(&schema),
    );
    for format in ["text", "sarif"] {
        let out = tollgate_in(
            dir.root(),
            &["lint", "--today", "2026-06-01", "--format", format],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains("p.cedar:2:") && err.contains("did you mean `@tier`?"),
            "{err}"
        );
    }
}

#[test]
fn misspelled_schema_annotations_stop_the_pack() {
    const POLICY: &str = "@id(\"p\") @tier(\"auto\") permit (principal, action, resource);";
    for (annotation, meant) in [
        ("@humna", "human"),
        ("@Human", "human"),
        ("@privilege_expansoin(\"x\")", "privilege_expansion"),
        ("@privilegeExpansion(\"x\")", "privilege_expansion"),
    ] {
        let on_action = annotation.contains("xpans");
        let schema = if on_action {
            format!(
                "entity Agent;\nentity Env;\n{annotation}\naction deploy appliesTo {{ principal: Agent, resource: Env }};\n"
            )
        } else {
            format!(
                "{annotation}\nentity Agent;\nentity Env;\naction deploy appliesTo {{ principal: Agent, resource: Env }};\n"
            )
        };
        let dir = pack(POLICY, Some(&schema));
        write_request(dir.root(), "a");
        let out = tollgate_in(
            dir.root(),
            &["decide", "--request", "request.json", "--at", AT],
        );
        assert_eq!(
            out.status.code(),
            Some(2),
            "{annotation}: {}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        let line = if on_action { 3 } else { 1 };
        assert!(
            err.contains(&format!("s.cedarschema:{line}:"))
                && err.contains(&format!("did you mean `@{meant}`?")),
            "{annotation}: {err}"
        );
    }
    // A kebab-case key is not even Cedar: the schema does not parse.
    let schema = "entity Agent;\nentity Env;\n@privilege-expansion(\"x\")\naction deploy appliesTo { principal: Agent, resource: Env };\n";
    let dir = pack(POLICY, Some(schema));
    write_request(dir.root(), "a");
    let out = tollgate_in(
        dir.root(),
        &["decide", "--request", "request.json", "--at", AT],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("s.cedarschema"),
        "{}",
        text(&out.stderr)
    );
}

// ---- schema required ------------------------------------------------------------------------

#[test]
fn no_schema_is_an_error_unless_asked_for() {
    let dir = pack(
        "@tier(\"auto\") permit (principal, action, resource);",
        None,
    );
    write_request(dir.root(), "a");
    std::fs::write(
        dir.root().join("requests.jsonl"),
        std::fs::read(dir.root().join("request.json")).unwrap(),
    )
    .unwrap();
    let decide = ["decide", "--request", "request.json", "--at", AT];
    let simulate = ["simulate", "--requests", "requests.jsonl", "--at", AT];
    let bench = [
        "bench",
        "--requests",
        "requests.jsonl",
        "--at",
        AT,
        "--time",
        "0.01",
    ];
    let test = ["test", "--at", AT];
    let diff = [
        "diff",
        "--base",
        ".",
        "--head",
        ".",
        "--requests",
        "requests.jsonl",
        "--at",
        AT,
    ];
    for args in [&decide[..], &simulate, &bench, &test, &diff] {
        let out = tollgate_in(dir.root(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("no schema") && err.contains("--no-schema"),
            "{args:?}: {err}"
        );
    }
    // With --no-schema each runs (test has no cases folder: still exit 2, for that reason).
    for args in [&decide[..], &simulate, &bench, &diff] {
        let mut args = args.to_vec();
        args.push("--no-schema");
        let out = tollgate_in(dir.root(), &args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Lint and verify read the schema: --no-schema does not help them.
    let out = tollgate_in(dir.root(), &["lint", "--no-schema"]);
    assert_stderr(&out, 2, "needs the pack's schema");
    let out = tollgate_in(dir.root(), &["lint", "--help"]);
    assert!(!text(&out.stdout).contains("--no-schema"));
    let out = tollgate_in(dir.root(), &["decide", "--help"]);
    assert!(text(&out.stdout).contains("--no-schema"));
}

#[test]
fn deciding_without_entities_says_so_on_stderr() {
    let with = decide("examples/request.json", "examples/entities.json", &[]);
    assert_eq!(with.status.code(), Some(0));
    assert!(
        !text(&with.stderr).contains("--entities"),
        "{}",
        text(&with.stderr)
    );
    for args in [
        &["decide", "--request", "examples/request.json", "--at", AT][..],
        &[
            "simulate",
            "--requests",
            "examples/requests-small.jsonl",
            "--at",
            AT,
        ],
    ] {
        let out = tollgate(args);
        let err = text(&out.stderr);
        assert_eq!(
            err.matches("note: no --entities given: every entity is unknown to the policies\n")
                .count(),
            1,
            "{args:?}: {err}"
        );
    }
}
