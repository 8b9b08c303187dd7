//! `lint --smt` and `diff --smt` end to end, on real files and the real cvc5: the scope
//! analysis's miss and false alarms, each with and without `--smt`; counterexamples decided
//! again by `tollgate decide`; the reference and bad packs; exit codes.
//!
//! Without cvc5 these tests print why and pass, except under `TOLLGATE_REQUIRE_SMT=1`
//! (`.ci/run` sets it), where a missing solver fails them.

mod support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{assert_exit, repo, text, tollgate_in};

const TODAY: &str = "2026-12-03";

fn solver() -> bool {
    let found =
        std::process::Command::new(std::env::var_os("CVC5").unwrap_or_else(|| "cvc5".into()))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("TOLLGATE_REQUIRE_SMT").is_none(),
            "TOLLGATE_REQUIRE_SMT is set but cvc5 does not run"
        );
        eprintln!("skipped: --smt needs the cvc5 solver (not on PATH, CVC5 not set)");
    }
    found
}

/// A checkout-like folder: `policies/p.cedar` and the reference schema in `schemas/`.
fn checkout(policies: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("policies")).unwrap();
    fs::create_dir_all(dir.path().join("schemas")).unwrap();
    fs::write(dir.path().join("policies/p.cedar"), policies).unwrap();
    fs::copy(
        repo().join("schemas/agents.cedarschema"),
        dir.path().join("schemas/agents.cedarschema"),
    )
    .unwrap();
    dir
}

fn lint(dir: &Path, extra: &[&str]) -> (Output, Vec<Value>) {
    let mut args = vec!["lint", "--today", TODAY, "--format", "json"];
    args.extend_from_slice(extra);
    let out = tollgate_in(dir, &args);
    let findings = serde_json::from_slice::<Value>(&out.stdout)
        .map(|v| v.as_array().cloned().unwrap_or_default())
        .unwrap_or_default();
    (out, findings)
}

fn rules<'a>(findings: &'a [Value], rule: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["rule"] == rule).collect()
}

/// Decides a finding's counterexample with `tollgate decide` in `dir`, returning the tier.
fn decide_counterexample(dir: &Path, example: &Value) -> String {
    fs::write(dir.join("cx-request.json"), example["request"].to_string()).unwrap();
    fs::write(
        dir.join("cx-entities.json"),
        example["entities"].to_string(),
    )
    .unwrap();
    let mut args = vec![
        "decide",
        "--request",
        "cx-request.json",
        "--entities",
        "cx-entities.json",
        "--format",
        "json",
    ];
    let at = example["at"].as_str().map(str::to_string);
    if let Some(at) = &at {
        args.extend(["--at", at.as_str()]);
    } else {
        args.extend(["--at", "2026-12-03T00:00:00Z"]);
    }
    let out = tollgate_in(dir, &args);
    let decision: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("decide: {e}: {}", text(&out.stderr)));
    decision["tier"].as_str().unwrap().to_string()
}

const PERMIT_AUTO: &str = r#"
@id("scope-auto") @tier("auto") @reason("tokens")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token);
"#;

/// `==` on an action group matches only the group entity: the gate is dead. Both analyses
/// must report the permit; the exact one with a request `decide` confirms is `auto`.
#[test]
fn a_gate_on_action_eq_group_is_reported_with_and_without_smt() {
    let dir = checkout(&format!(
        "{PERMIT_AUTO}\n@id(\"gate-dead\") @tier(\"single\") @reason(\"meant for the group\")\nforbid (principal, action == Action::\"expand_privilege\", resource);\n"
    ));
    let (out, findings) = lint(dir.path(), &[]);
    assert_exit(&out, 1);
    assert_eq!(
        rules(&findings, "ungated-expansion").len(),
        1,
        "{findings:?}"
    );
    if !solver() {
        return;
    }
    let (out, findings) = lint(dir.path(), &["--smt", "--no-smt-cache"]);
    assert_exit(&out, 1);
    let found = rules(&findings, "ungated-expansion");
    assert_eq!(found.len(), 1, "{findings:?}");
    assert_eq!(found[0]["policies"][0], "scope-auto");
    assert_eq!(found[0]["line"], 3);
    assert_eq!(
        decide_counterexample(dir.path(), &found[0]["counterexample"]),
        "auto"
    );
}

/// Safe packs the scope analysis cannot tell from unsafe ones: it reports them ("may"),
/// exact analysis proves them clean.
#[test]
fn scope_false_alarms_are_cleared_by_smt() {
    let cases = [
        (
            "a gate whose condition names the action's group",
            r#"
@id("gate-expansion") @tier("single") @reason("a human first")
forbid (principal, action, resource) when { action in Action::"expand_privilege" };
"#,
        ),
        (
            "gates each narrower by resource type that together cover the permit",
            r#"
@id("gate-token") @tier("single") @reason("a human first")
forbid (principal, action == Action::"add_token_scope", resource is Token);
@id("gate-system") @tier("single") @reason("a human first")
forbid (principal, action == Action::"grant_access", resource is System);
@id("gate-logs") @tier("dual") @reason("two humans for log streams")
forbid (principal, action == Action::"grant_access", resource is LogStream);
"#,
        ),
    ];
    let with_solver = solver();
    for (what, gate) in cases {
        // The permit reaches add_token_scope on Token and grant_access on System and
        // LogStream (their `appliesTo`); no one gate contains it.
        let permit = PERMIT_AUTO
            .replace(
                "action == Action::\"add_token_scope\"",
                "action in [Action::\"add_token_scope\", Action::\"grant_access\"]",
            )
            .replace("resource is Token", "resource");
        let dir = checkout(&format!("{permit}{gate}"));
        let (out, findings) = lint(dir.path(), &[]);
        assert_exit(&out, 1);
        assert_eq!(
            rules(&findings, "ungated-expansion").len(),
            1,
            "{what}: {findings:?}"
        );
        if with_solver {
            let (out, findings) = lint(dir.path(), &["--smt", "--no-smt-cache"]);
            assert_exit(&out, 0);
            assert!(findings.is_empty(), "{what}: {findings:?}");
        }
    }
    // An auto permit that only held before a date already past on --today.
    let dir = checkout(
        r#"
@id("scope-auto-window") @tier("auto") @reason("a migration window, now over")
permit (principal is Agent, action == Action::"add_token_scope", resource is Token)
when { context.now < datetime("2026-06-01") };
"#,
    );
    let (out, findings) = lint(dir.path(), &[]);
    assert_exit(&out, 1);
    assert_eq!(
        rules(&findings, "ungated-expansion").len(),
        1,
        "{findings:?}"
    );
    if with_solver {
        let (out, findings) = lint(dir.path(), &["--smt", "--no-smt-cache"]);
        assert_exit(&out, 0);
        assert!(findings.is_empty(), "{findings:?}");
        // On a day inside the window, the same permit is found.
        let args = [
            "lint",
            "--today",
            "2026-05-01",
            "--format",
            "json",
            "--smt",
            "--no-smt-cache",
        ];
        let out = tollgate_in(dir.path(), &args);
        assert_exit(&out, 1);
        let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let found = rules(&findings, "ungated-expansion");
        assert_eq!(found.len(), 1, "{findings:?}");
        let example = &found[0]["counterexample"];
        let at = example["at"].as_str().unwrap();
        assert!(("2026-05-01".."2026-06-01").contains(&at), "{at}");
        assert_eq!(decide_counterexample(dir.path(), example), "auto");
    }
}

#[test]
fn the_reference_pack_is_clean_with_smt_and_the_bad_pack_is_not() {
    if !solver() {
        return;
    }
    let out = tollgate_in(
        &repo(),
        &["lint", "--today", TODAY, "--smt", "--no-smt-cache"],
    );
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains("exact analysis (cvc5"),
        "{}",
        text(&out.stderr)
    );

    let out = tollgate_in(
        &repo(),
        &[
            "lint",
            "--policies",
            "examples/bad-pack/policies",
            "--schema",
            "examples/bad-pack/schemas",
            "--today",
            "2026-06-01",
            "--format",
            "json",
            "--smt",
            "--no-smt-cache",
        ],
    );
    assert_exit(&out, 1);
    let findings: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let expansion = rules(&findings, "ungated-expansion");
    let confirmed: Vec<&&Value> = expansion
        .iter()
        .filter(|f| !f["counterexample"].is_null())
        .collect();
    assert_eq!(confirmed.len(), 1, "{expansion:?}");
    assert_eq!(confirmed[0]["policies"][0], "token-scope-auto");
    // decide refuses the bad pack (it does not validate): confirm against its tokens policies.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("examples/bad-pack/schemas"),
        &dir.path().join("schemas"),
    );
    fs::create_dir_all(dir.path().join("policies")).unwrap();
    let tokens =
        fs::read_to_string(repo().join("examples/bad-pack/policies/tokens.cedar")).unwrap();
    fs::write(dir.path().join("policies/tokens.cedar"), tokens).unwrap();
    assert_eq!(
        decide_counterexample(dir.path(), &confirmed[0]["counterexample"]),
        "auto"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn diff_smt_finds_a_lowered_tier_without_a_request_corpus() {
    if !solver() {
        return;
    }
    let base = checkout(
        "@id(\"scope-single\") @tier(\"single\") @reason(\"one human\")\npermit (principal is Agent, action == Action::\"add_token_scope\", resource is Token);\n",
    );
    let head = checkout(
        "@id(\"scope-single\") @tier(\"single\") @reason(\"one human\")\npermit (principal is Agent, action == Action::\"add_token_scope\", resource is Token);\n@id(\"scope-dev-auto\") @tier(\"auto\") @reason(\"dev tokens\")\npermit (principal is Agent, action == Action::\"add_token_scope\", resource is Token) when { resource.environment == \"dev\" };\n",
    );
    let run = |b: &Path, h: &Path, format: &str| {
        tollgate_in(
            &repo(),
            &[
                "diff",
                "--smt",
                "--no-smt-cache",
                "--base",
                b.to_str().unwrap(),
                "--head",
                h.to_str().unwrap(),
                "--at",
                "2026-12-03T00:00:00Z",
                "--format",
                format,
            ],
        )
    };
    let out = run(base.path(), head.path(), "json");
    assert_exit(&out, 1);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["weaker"], 1, "{report}");
    assert_eq!(report["summary"]["unknown"], 0, "{report}");
    let weaker = report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["verdict"] == "weaker")
        .unwrap();
    assert_eq!(
        (weaker["base"].as_str(), weaker["head"].as_str()),
        (Some("single"), Some("auto"))
    );
    assert_eq!(
        decide_counterexample(head.path(), &weaker["counterexample"]),
        "auto"
    );
    assert_eq!(
        decide_counterexample(base.path(), &weaker["counterexample"]),
        "single"
    );

    // The other way round nothing is weaker: proved for every environment.
    let out = run(head.path(), base.path(), "text");
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("0 weaker, 0 unknown"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn smt_without_a_solver_exits_2_and_diff_needs_requests_or_smt() {
    let dir = checkout(PERMIT_AUTO);
    let out = support::command_in(dir.path(), &["lint", "--today", TODAY, "--smt"])
        .env("PATH", "/nonexistent")
        .env_remove("CVC5")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("cvc5"), "{}", text(&out.stderr));
    let out = support::command_in(dir.path(), &["lint", "--today", TODAY, "--smt"])
        .env("CVC5", "/bin/true")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = tollgate_in(dir.path(), &["diff", "--base", ".", "--head", "."]);
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("--requests"),
        "{}",
        text(&out.stderr)
    );
}
