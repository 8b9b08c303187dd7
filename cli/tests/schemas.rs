//! The JSON the binary prints matches the JSON Schemas in `docs/schemas/`: decisions of every
//! tier and a fail-closed one, verifications of every outcome, lint findings, audit records,
//! `audit show` and `audit head`. The schemas are themselves checked against the Draft 2020-12
//! meta-schema, and shown to refuse a broken output.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use jsonschema::{Registry, Validator};
use serde_json::Value;
use support::desk::{DEPLOY, Desk};
use support::{AT, ENTITIES, assert_exit, flagged, repo, s, text, tollgate};

const SCHEMAS: [&str; 6] = [
    "decision",
    "verification",
    "lint",
    "audit-record",
    "audit-show",
    "audit-head",
];

fn schema(name: &str) -> Value {
    let path = repo().join(format!("docs/schemas/{name}.schema.json"));
    serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
}

/// A validator for schema `name`, with the other schemas registered under their `$id` so that
/// references between them resolve (and nothing is fetched).
fn validator(name: &str) -> Validator {
    let mut builder = Registry::new();
    for other in SCHEMAS {
        let value = schema(other);
        let id = value["$id"].as_str().unwrap().to_string();
        builder = builder.add(id, value).unwrap();
    }
    let registry = builder.prepare().unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .build(&schema(name))
        .unwrap()
}

#[track_caller]
fn assert_valid(name: &str, instance: &Value) {
    let validator = validator(name);
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {name}: {errors:#?}\n{instance:#}"
    );
}

/// Stdout as JSON; the exit code must be `code`.
#[track_caller]
fn json(out: &Output, code: i32) -> Value {
    assert_exit(out, code);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_schemas_are_valid_draft_2020_12_schemas() {
    let meta = jsonschema::draft202012::meta::validator();
    for name in SCHEMAS {
        let value = schema(name);
        let errors: Vec<String> = meta.iter_errors(&value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(
            value["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert_eq!(
            value["$id"],
            format!("https://tollgate.invalid/schemas/{name}.schema.json")
        );
        // Every schema compiles, references included.
        validator(name);
    }
}

fn decide(request: &[&str]) -> Value {
    let flags = [("--entities", ENTITIES), ("--at", AT), ("--format", "json")];
    json(&tollgate(&flagged("decide", &flags, request)), 0)
}

fn flags<'a>(
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
    context: &'a str,
) -> [&'a str; 8] {
    [
        "--principal",
        principal,
        "--action",
        action,
        "--resource",
        resource,
        "--context",
        context,
    ]
}

#[test]
fn decisions_of_every_tier_and_a_fail_closed_one_match_the_decision_schema() {
    let cases = [
        (
            "auto",
            flags(
                "Agent::\"triage-bot\"",
                "Action::\"summarize\"",
                "Document::\"incident-123\"",
                r#"{"request_id": "r1"}"#,
            ),
        ),
        (
            "single",
            flags(
                "Agent::\"ir-bot\"",
                "Action::\"read_logs\"",
                "LogStream::\"prod-audit\"",
                r#"{"request_id": "r5"}"#,
            ),
        ),
        (
            "dual",
            flags(
                "Agent::\"deploy-bot\"",
                "Action::\"deploy\"",
                "Environment::\"prod\"",
                r#"{"request_id": "c2", "environment": "prod"}"#,
            ),
        ),
        (
            // No permit lets a human approve this: deny, with no determining policy.
            "deny",
            flags(
                "Human::\"alice\"",
                "Action::\"approve\"",
                "Token::\"ci\"",
                r#"{"requested_action": "add_token_scope", "tier": "single"}"#,
            ),
        ),
        (
            // A plain forbid: deny, determined by it.
            "deny",
            flags(
                "Agent::\"triage-bot\"",
                "Action::\"rotate_secret\"",
                "Secret::\"db-staging\"",
                r#"{"request_id": "e2", "delegation": {"granted_by": {"type": "Human", "id": "alice"}, "expires_at": "2026-06-01T11:00:00Z"}}"#,
            ),
        ),
    ];
    for (tier, request) in cases {
        let d = decide(&request);
        assert_eq!(d["tier"], tier, "{d:#}");
        assert_valid("decision", &d);
    }
    let d = decide(&["--request", DEPLOY]);
    assert_valid("decision", &d);

    // An environment missing from the entities: the conditions on it error, and fail-closed
    // keeps the gate. The errors are part of the decision.
    let d = decide(&flags(
        "Agent::\"deploy-bot\"",
        "Action::\"deploy\"",
        "Environment::\"unknown\"",
        r#"{"request_id": "c5"}"#,
    ));
    assert_eq!(d["tier"], "dual", "{d:#}");
    assert!(!d["errors"].as_array().unwrap().is_empty(), "{d:#}");
    assert_valid("decision", &d);

    // The schema is closed and ties the tier to the approvals required.
    let validator = validator("decision");
    let mut broken = d.clone();
    broken["approvals_required"] = 1.into();
    assert!(!validator.is_valid(&broken));
    let mut broken = d.clone();
    broken["tier"] = "maybe".into();
    assert!(!validator.is_valid(&broken));
    let mut broken = d;
    broken["extra"] = true.into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn lint_findings_match_the_lint_schema() {
    let lint = |pack: &[&str]| {
        let mut args = vec!["lint", "--today", "2026-06-01", "--format", "json"];
        args.extend_from_slice(pack);
        tollgate(&args)
    };
    let bad = json(
        &lint(&[
            "--policies",
            "examples/bad-pack/policies",
            "--schema",
            "examples/bad-pack/schemas",
        ]),
        1,
    );
    assert_eq!(bad.as_array().unwrap().len(), 12);
    assert_valid("lint", &bad);
    let clean = json(&lint(&[]), 0);
    assert_eq!(clean, Value::Array(vec![]));
    assert_valid("lint", &clean);
    let mut broken = bad;
    broken[0]["rule"] = "no-such-rule".into();
    assert!(!validator("lint").is_valid(&broken));
}

/// `verify --format json` at the desk, recorded in the audit log signed with `key`; the exit code
/// must be `code`.
fn verify(desk: &Desk, log: &Path, key: &Path, code: i32) -> Value {
    json(
        &desk.verify(&["--format", "json", "--audit", s(log), "--sign-key", s(key)]),
        code,
    )
}

/// `who` signs an approval (or, with `extra`, a reject) at the desk.
fn approve(desk: &Desk, who: &str, extra: &[&str]) {
    let out = desk.approve(who, extra);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn verifications_audit_records_and_heads_match_their_schemas() {
    let desk = Desk::new(&["alice", "bob", "dave"]);
    let (log, key) = (desk.path("audit.jsonl"), desk.path("audit.key"));
    let out = tollgate(&["keygen", "--out", s(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A decision recorded in the log.
    let d = decide(&[
        "--request",
        DEPLOY,
        "--audit",
        s(&log),
        "--sign-key",
        s(&key),
    ]);
    assert_valid("decision", &d);

    // Pending: bob acts for deploy-bot, his approval does not count.
    approve(&desk, "bob", &[]);
    let v = verify(&desk, &log, &key, 3);
    assert_eq!(v["outcome"], "pending", "{v:#}");
    assert_valid("verification", &v);
    // Allowed, with evidence.
    approve(&desk, "alice", &[]);
    approve(&desk, "dave", &["--evidence", "canary healthy"]);
    let v = verify(&desk, &log, &key, 0);
    assert_eq!(v["outcome"], "allowed", "{v:#}");
    assert_valid("verification", &v);
    // Denied by the log: approvals are single use.
    let v = verify(&desk, &log, &key, 4);
    assert_eq!(v["denied_by_log"], "already_used", "{v:#}");
    assert_valid("verification", &v);
    // Denied by a counted reject.
    approve(
        &desk,
        "alice",
        &["--reject", "--evidence", "rollback plan missing"],
    );
    let v = verify(&desk, &log, &key, 4);
    assert_eq!(
        (&v["outcome"], &v["missing"]),
        (&"denied".into(), &Value::Null)
    );
    assert_valid("verification", &v);

    // Every line of the log is an audit record.
    let lines: Vec<Value> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    let kinds: Vec<&str> = lines.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "decision",
            "verification",
            "verification",
            "verification",
            "verification"
        ]
    );
    for record in &lines {
        assert_valid("audit-record", record);
    }
    let mut broken = lines[0].clone();
    broken["outcome"] = "allowed".into();
    assert!(!validator("audit-record").is_valid(&broken));

    let shown = json(
        &tollgate(&["audit", "show", s(&log), "--format", "json"]),
        0,
    );
    assert_eq!(shown, Value::Array(lines));
    assert_valid("audit-show", &shown);

    let head = json(
        &tollgate(&["audit", "head", s(&log), "--format", "json"]),
        0,
    );
    assert_eq!(head["count"], 5);
    assert_valid("audit-head", &head);
    let signed = json(
        &tollgate(&["audit", "head", s(&log), "--sign-key", s(&key)]),
        0,
    );
    assert_eq!(signed["kind"], "tollgate-audit-head");
    assert_valid("audit-head", &signed);
    let empty = desk.path("empty.jsonl");
    fs::write(&empty, "").unwrap();
    let head = json(
        &tollgate(&["audit", "head", s(&empty), "--format", "json"]),
        0,
    );
    assert_valid("audit-head", &head);
    let mut broken = head;
    broken["head"] = signed["head"].clone();
    assert!(!validator("audit-head").is_valid(&broken));
}
