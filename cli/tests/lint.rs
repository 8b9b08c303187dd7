//! `tollgate lint` end to end, on real files: what only the binary shows (workflow files and their
//! entities files, policies named after their folder, `--today`, `decide` refusing what lint
//! reports), the bad pack's findings in full, the reference pack clean, the text, JSON and SARIF
//! formats (SARIF validated against the SARIF 2.1.0 schema), exit codes. What each rule finds is
//! tested by its fixtures in `engine/src/lint/rules/fixtures/`.

mod support;

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;
use support::{assert_exit, assert_stderr, repo, text, tollgate_in};

fn reference_schema() -> PathBuf {
    repo().join("schemas/agents.cedarschema")
}

const TODAY: &str = "2026-06-01";

/// A pack written to a temporary folder: `policies/<files>`, `policies/workflows/<files>`,
/// and the schema (the reference schema unless one is given).
struct Pack {
    dir: tempfile::TempDir,
}

impl Pack {
    fn new(policies: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in policies {
            let path = dir.path().join("policies").join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
        fs::create_dir_all(dir.path().join("schemas")).unwrap();
        fs::copy(
            reference_schema(),
            dir.path().join("schemas/agents.cedarschema"),
        )
        .unwrap();
        Self { dir }
    }

    fn with_workflow(self, name: &str, body: &str) -> Self {
        let path = self.dir.path().join("policies/workflows").join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, body).unwrap();
        self
    }

    fn with_file(self, name: &str, body: &str) -> Self {
        fs::write(self.dir.path().join(name), body).unwrap();
        self
    }

    fn run(&self, extra: &[&str]) -> Output {
        let mut args = vec!["lint", "--today", TODAY];
        args.extend_from_slice(extra);
        tollgate_in(self.dir.path(), &args)
    }

    /// Findings as JSON; panics unless lint ran (exit 0 or 1).
    fn findings(&self, extra: &[&str]) -> Vec<Value> {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "lint did not run: {}",
            text(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// `(file, line)` of each finding of `rule`.
    fn hits(&self, rule: &str) -> Vec<(String, u64)> {
        self.findings(&[])
            .iter()
            .filter(|f| f["rule"] == rule)
            .map(|f| {
                (
                    f["file"].as_str().unwrap().to_string(),
                    f["line"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

fn at(file: &str, line: u64) -> (String, u64) {
    (format!("policies/{file}"), line)
}

// ---- gate-after-expansion -------------------------------------------------------------------

const TOKEN_AUTO: &str = r#"@id("token-scope-auto")
@tier("auto")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
"#;

const DEPLOY_GATED: &str = r#"@id("deploy-single")
@tier("single")
permit (principal is Agent, action == Action::"deploy", resource is Environment);
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Token", "id": "ci"}, "attrs": {"environment": "prod", "scopes": []}, "parents": []},
  {"uid": {"type": "Environment", "id": "prod"}, "attrs": {"production": true}, "parents": []}
]"#;

fn workflow(first: (&str, &str), second: (&str, &str)) -> String {
    format!(
        "name: wf\nprincipal: 'Agent::\"bot\"'\nentities: ../../entities.json\nat: 2026-06-01T12:00:00Z\nsteps:\n  - {{action: 'Action::\"{}\"', resource: '{}'}}\n  - {{action: 'Action::\"{}\"', resource: '{}'}}\n",
        first.0, first.1, second.0, second.1
    )
}

#[test]
fn gate_after_expansion_fires_when_the_gate_follows_an_auto_expansion() {
    let pack = Pack::new(&[("tokens.cedar", TOKEN_AUTO), ("deploy.cedar", DEPLOY_GATED)])
        .with_file("entities.json", ENTITIES)
        .with_workflow(
            "wf.yaml",
            &workflow(
                ("add_token_scope", "Token::\"ci\""),
                ("deploy", "Environment::\"prod\""),
            ),
        );
    let findings = pack.findings(&[]);
    let f = findings
        .iter()
        .find(|f| f["rule"] == "gate-after-expansion")
        .expect("gate-after-expansion");
    assert_eq!(f["file"], "policies/workflows/wf.yaml");
    assert_eq!(f["line"], 6);
    assert_eq!(f["severity"], "error");
    let policies: Vec<&str> = f["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(policies, ["token-scope-auto", "deploy-single"]);
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("step 1") && message.contains("step 2"),
        "{message}"
    );
    assert_eq!(f["related"][0]["line"], 7, "{f}");
}

#[test]
fn a_workflow_step_that_does_not_fit_the_schema_stops_lint() {
    let pack = Pack::new(&[("tokens.cedar", TOKEN_AUTO)])
        .with_file("entities.json", ENTITIES)
        .with_workflow(
            "wf.yaml",
            &workflow(
                ("add_token_scope", "Token::\"ci\""),
                ("no_such_action", "Token::\"ci\""),
            ),
        );
    let out = pack.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("wf.yaml") && err.contains("step 2"), "{err}");
}

// ---- missing-id, invalid-tier ---------------------------------------------------------------

#[test]
fn missing_id_fires_and_names_the_positional_id() {
    let pack = Pack::new(&[(
        "sub/p.cedar",
        "@id(\"a\")\n@tier(\"single\")\npermit (principal is Agent, action == Action::\"deploy\", resource);\n\n@tier(\"single\")\npermit (principal is Agent, action == Action::\"rotate_secret\", resource);\n",
    )]);
    assert_eq!(pack.hits("missing-id"), [at("sub/p.cedar", 6)]);
    let f = pack.findings(&[]);
    assert_eq!(f[0]["policies"][0], "sub/p.cedar:2");
}

#[test]
fn invalid_tier_is_reported_and_the_rest_is_still_linted() {
    let pack = Pack::new(&[
        (
            "a.cedar",
            "@id(\"bad\")\n@tier(\"deny\")\npermit (principal is Agent, action == Action::\"deploy\", resource);\n@id(\"auto-forbid\")\n@tier(\"auto\")\nforbid (principal, action == Action::\"deploy\", resource);\n",
        ),
        (
            "b.cedar",
            "@id(\"untiered\")\npermit (principal is Agent, action == Action::\"rotate_secret\", resource);\n",
        ),
    ]);
    assert_eq!(
        pack.hits("invalid-tier"),
        [at("a.cedar", 2), at("a.cedar", 5)]
    );
    assert_eq!(pack.hits("missing-tier"), [at("b.cedar", 2)]);
    assert_eq!(pack.run(&[]).status.code(), Some(1));
    // `decide` refuses the same pack outright.
    let out = tollgate_in(
        pack.dir.path(),
        &[
            "decide",
            "--principal",
            "Agent::\"a\"",
            "--action",
            "Action::\"deploy\"",
            "--resource",
            "Environment::\"prod\"",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

// ---- schema ---------------------------------------------------------------------------------

#[test]
fn schema_reports_cedar_validation_warnings_at_warning_severity() {
    let pack = Pack::new(&[(
        "never.cedar",
        "@id(\"never\")\n@tier(\"single\")\nforbid (principal, action == Action::\"deploy\", resource is Environment)\nwhen { false };\n",
    )]);
    let findings = pack.findings(&[]);
    let f = findings.iter().find(|f| f["rule"] == "schema").unwrap();
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("impossible"), "{f}");
    assert_eq!(pack.run(&[]).status.code(), Some(0));
}

// ---- exception-expired ----------------------------------------------------------------------

const DEPLOY_NONPROD_AUTO: &str = "@id(\"deploy-nonprod-auto\")\n@tier(\"auto\")\npermit (principal is Agent, action == Action::\"deploy\", resource is Environment)\nwhen { !resource.production };\n";

#[test]
fn exception_expired_fires_after_the_review_date_and_follows_today() {
    let owned = DEPLOY_NONPROD_AUTO.replace(
        "@tier(\"auto\")\n",
        "@tier(\"auto\")\n@owner(\"platform\")\n@review_by(\"2026-05-31\")\n",
    );
    let pack = Pack::new(&[("a.cedar", DEPLOY_GATED), ("b.cedar", &owned)]);
    assert_eq!(pack.hits("exception-expired"), [at("b.cedar", 4)]);
    let out = pack.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    // The same pack a day earlier: due, not yet expired.
    let earlier = tollgate_in(pack.dir.path(), &["lint", "--today", "2026-05-31"]);
    assert_eq!(earlier.status.code(), Some(0), "{}", text(&earlier.stdout));
}

// ---- the packs ------------------------------------------------------------------------------

fn lint_repo(args: &[&str]) -> Output {
    let mut all = vec!["lint", "--today", TODAY];
    all.extend_from_slice(args);
    tollgate_in(&repo(), &all)
}

const BAD: [&str; 4] = [
    "--policies",
    "examples/bad-pack/policies",
    "--schema",
    "examples/bad-pack/schemas",
];

#[test]
fn the_reference_pack_lints_clean_even_with_deny_warnings() {
    let out = lint_repo(&["--deny", "warnings"]);
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "no problems found\n");
    let out = lint_repo(&["--format", "json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
}

#[test]
fn the_bad_pack_findings_in_full() {
    let out = lint_repo(&[&BAD[..], &["--format", "json"]].concat());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(String, String, u64, String)> = findings
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["file"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The same list `.ci/run` checks: `rule file:line`, in output order.
    let expected =
        fs::read_to_string(repo().join("examples/bad-pack/expected-findings.txt")).unwrap();
    let want: Vec<String> = expected.lines().map(String::from).collect();
    let got_lines: Vec<String> = got
        .iter()
        .map(|(rule, file, line, _)| format!("{rule} {file}:{line}"))
        .collect();
    assert_eq!(got_lines, want);
    let errors: Vec<&str> = got
        .iter()
        .filter(|g| g.3 == "error")
        .map(|g| g.0.as_str())
        .collect();
    assert_eq!(
        errors,
        [
            "self-approval",
            "schema",
            "invalid-tier",
            "exception-expired",
            "ungated-expansion",
            "gate-after-expansion"
        ]
    );
    // Every rule has its example in the bad pack.
    let mut rules: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    assert_eq!(rules.len(), 12);
}

#[test]
fn text_output_shows_the_snippet_underlined_and_the_hint() {
    let out = lint_repo(&BAD);
    let stdout = text(&out.stdout);
    let expected = "error[ungated-expansion]: auto permit `token-scope-auto` may allow privilege-expanding action `Action::\"add_token_scope\"` (adds a scope to a token) with no human: no gate or forbid covers it (scope-level analysis)
 --> examples/bad-pack/policies/tokens.cedar:7:1
  |
7 | permit (principal is Agent, action == Action::\"add_token_scope\", resource is Token);
  | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  |
  = policies: token-scope-auto
  = controls: OWASP-Agentic-A01, MAESTRO-GOV-2
  = help: ";
    assert!(stdout.contains(expected), "{stdout}");
    assert!(
        stdout.contains("9 |   - name: add a production-write scope to the CI token\n  |     ^^^^"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("found 6 errors and 6 warnings\n"),
        "{stdout}"
    );
}

#[test]
fn json_findings_have_stable_fields() {
    let out = lint_repo(&[&BAD[..], &["--format", "json"]].concat());
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for f in &findings {
        let keys: Vec<&str> = f.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "rule",
                "severity",
                "message",
                "policies",
                "file",
                "line",
                "column",
                "end_line",
                "end_column",
                "controls",
                "hint",
                "related"
            ]
        );
        assert!(!f["controls"].as_array().unwrap().is_empty(), "{f}");
        assert!(!f["hint"].as_str().unwrap().is_empty(), "{f}");
    }
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_rules_levels_and_relative_uris() {
    let out = lint_repo(&[&BAD[..], &["--format", "sarif"]].concat());
    assert_eq!(out.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(repo().join("cli/tests/fixtures/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema check can fail: a broken log is refused.
    let mut broken = sarif.clone();
    broken["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&broken));

    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 12);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 12);
    for r in results {
        let rule = &rules[r["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], r["ruleId"]);
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.starts_with("examples/bad-pack/policies/"), "{uri}");
        assert!(repo().join(uri).is_file(), "{uri}");
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
    }
    let level_of = |id: &str| {
        results
            .iter()
            .find(|r| r["ruleId"] == id)
            .map(|r| r["level"].as_str().unwrap().to_string())
    };
    assert_eq!(level_of("gate-after-expansion").as_deref(), Some("error"));
    assert_eq!(level_of("missing-tier").as_deref(), Some("warning"));
    let gate = rules
        .iter()
        .find(|r| r["id"] == "gate-after-expansion")
        .unwrap();
    assert!(
        gate["fullDescription"]["text"]
            .as_str()
            .unwrap()
            .contains("## Why is this bad?")
    );
    let tags: Vec<&str> = gate["properties"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tags.contains(&"OWASP-Agentic-A01") && tags.contains(&"NIST-AI-RMF"));
}

#[test]
fn sarif_of_a_clean_pack_lists_no_rules() {
    let out = lint_repo(&["--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0));
    let sarif: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"], Value::Array(vec![]));
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"],
        Value::Array(vec![])
    );
}

// ---- exit codes -----------------------------------------------------------------------------

#[test]
fn warnings_pass_unless_denied() {
    let pack = Pack::new(&[(
        "p.cedar",
        "@id(\"rotate\")\npermit (principal is Agent, action == Action::\"rotate_secret\", resource);\n",
    )]);
    assert_eq!(pack.run(&[]).status.code(), Some(0));
    assert_eq!(pack.run(&["--deny", "warnings"]).status.code(), Some(1));
}

#[test]
fn no_schema_exits_2_and_says_why() {
    let pack = Pack::new(&[("p.cedar", TOKEN_AUTO)]);
    fs::remove_dir_all(pack.dir.path().join("schemas")).unwrap();
    let out = pack.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("@privilege_expansion") && err.contains("--schema"),
        "{err}"
    );
}

#[test]
fn unusable_input_exits_2() {
    let pack = Pack::new(&[("p.cedar", "permit (principal, action, resource")]);
    assert_eq!(pack.run(&[]).status.code(), Some(2));
    let pack = Pack::new(&[("p.cedar", TOKEN_AUTO), ("q.cedar", TOKEN_AUTO)]);
    let out = pack.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("token-scope-auto"));
    let pack = Pack::new(&[("p.cedar", TOKEN_AUTO)]);
    let out = tollgate_in(pack.dir.path(), &["lint", "--today", "June 1st"]);
    assert_stderr(&out, 2, "--today");
    assert_eq!(
        pack.run(&["--workflows", "no-such-dir"]).status.code(),
        Some(2)
    );
}
