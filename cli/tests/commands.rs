//! `check`, `fmt` and `completions`; the shared `--format` vocabulary; flags that clap parses
//! into engine types; `-` for stdin; and the one policy for bad request lines.

mod support;

use serde_json::Value;
use support::{
    AT, ENTITIES, REQUEST, Scratch, assert_exit, batch, batch_args, decide, flagged, pack, refused,
    repo, s, spelt, text, tollgate, tollgate_in, tollgate_stdin,
};

const SCHEMA: &str = "schemas";

// ---- check ------------------------------------------------------------------------------------

#[test]
fn check_passes_the_reference_pack_in_text_and_json() {
    let out = tollgate(&["check"]);
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(stdout.contains("policy set sha256:"), "{stdout}");

    let out = tollgate(&["check", "--format", "json"]);
    assert_exit(&out, 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["policies"].as_u64().unwrap() > 0);
    assert!(doc["policy_set"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(doc["warnings"], serde_json::json!([]));
}

#[test]
fn check_prints_warnings_and_still_passes() {
    let dir = pack(
        "@id(\"never\")\n@tier(\"single\")\nforbid (principal, action == Action::\"deploy\", resource is Environment)\nwhen { false };\n",
        None,
    );
    let schema = repo().join(SCHEMA);
    let out = tollgate_in(dir.root(), &["check", "--schema", s(&schema)]);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).contains("1 warning"),
        "{}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("p.cedar") && err.contains("impossible"),
        "{err}"
    );

    let out = tollgate_in(
        dir.root(),
        &["check", "--schema", s(&schema), "--format", "json"],
    );
    assert_exit(&out, 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warning = &doc["warnings"][0];
    assert_eq!(warning["file"], "p.cedar");
    assert_eq!(warning["policy"], "never");
    assert_eq!(warning["line"], 1);
}

#[test]
fn check_fails_a_pack_that_does_not_load_naming_file_and_line() {
    let dir = pack(
        "@id(\"a\") @tier(\"auto\")\npermit(principal, action, resource);\n\npermit(principal, action resource);\n",
        None,
    );
    refused(
        &tollgate_in(dir.root(), &["check", "--no-schema"]),
        &["p.cedar:4"],
    );
    // Without a schema, as every deciding command.
    refused(&tollgate_in(dir.root(), &["check"]), &["no schema"]);
}

// ---- fmt --------------------------------------------------------------------------------------

/// Valid Cedar, badly laid out, with comments and annotations that must survive formatting.
const MESSY: &str = "// Deploys need two people.\n@id(\"prod-deploy\")   @tier(\"dual\")\n@reason(\"two humans approve production deploys\")\npermit(principal,action==Action::\"deploy\",\n      resource)   when {context.environment==\"prod\"   // only prod\n};\n";

#[test]
fn fmt_check_lists_unformatted_files_then_fmt_rewrites_them_keeping_comments_and_annotations() {
    let dir = Scratch::new();
    let messy = dir.write("policies/deploy.cedar", MESSY);
    let neat = dir.write(
        "policies/sub/read.cedar",
        "@id(\"read\")\n@tier(\"auto\")\npermit (principal, action, resource);\n",
    );
    let neat_before = std::fs::read_to_string(&neat).unwrap();

    let out = tollgate_in(dir.root(), &["fmt", "--check"]);
    assert_exit(&out, 1);
    let listed = text(&out.stdout);
    assert!(listed.contains("deploy.cedar"), "{listed}");
    assert!(!listed.contains("read.cedar"), "{listed}");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        MESSY,
        "--check wrote"
    );

    let out = tollgate_in(dir.root(), &["fmt"]);
    assert_exit(&out, 0);
    let formatted = std::fs::read_to_string(&messy).unwrap();
    assert_ne!(formatted, MESSY);
    for kept in [
        "// Deploys need two people.",
        "// only prod",
        "@id(\"prod-deploy\")",
        "@tier(\"dual\")",
        "@reason(\"two humans approve production deploys\")",
    ] {
        assert!(formatted.contains(kept), "lost `{kept}`:\n{formatted}");
    }
    assert_eq!(std::fs::read_to_string(&neat).unwrap(), neat_before);
    assert_exit(&tollgate_in(dir.root(), &["fmt", "--check"]), 0);

    // The formatted pack still loads and decides as before.
    assert_exit(&tollgate_in(dir.root(), &["check", "--no-schema"]), 0);
}

#[test]
fn fmt_reads_stdin_and_writes_stdout() {
    let out = tollgate_stdin(&repo(), &["fmt", "-"], MESSY.as_bytes());
    assert_exit(&out, 0);
    let formatted = text(&out.stdout);
    assert!(formatted.contains("// only prod"), "{formatted}");
    assert!(formatted.contains("@tier(\"dual\")"), "{formatted}");
    let again = tollgate_stdin(&repo(), &["fmt", "--check", "-"], formatted.as_bytes());
    assert_exit(&again, 0);
    assert_exit(
        &tollgate_stdin(&repo(), &["fmt", "--check", "-"], MESSY.as_bytes()),
        1,
    );
}

#[test]
fn fmt_refuses_a_file_that_does_not_parse_and_changes_nothing() {
    let dir = Scratch::new();
    let bad = dir.write(
        "policies/bad.cedar",
        "permit(principal, action resource);\n",
    );
    let messy = dir.write("policies/a.cedar", MESSY);
    refused(&tollgate_in(dir.root(), &["fmt"]), &["bad.cedar"]);
    assert_eq!(
        std::fs::read_to_string(&bad).unwrap(),
        "permit(principal, action resource);\n"
    );
    // Files are formatted in name order: a.cedar comes first, and was formatted.
    assert_ne!(std::fs::read_to_string(&messy).unwrap(), MESSY);
}

// ---- completions ------------------------------------------------------------------------------

#[test]
fn completions_for_each_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = tollgate(&["completions", shell]);
        assert_exit(&out, 0);
        let script = text(&out.stdout);
        for word in ["tollgate", "simulate", "fmt", "check"] {
            assert!(script.contains(word), "{shell}: no `{word}`");
        }
    }
    assert_exit(&tollgate(&["completions", "tcsh"]), 2);
}

// ---- --format ---------------------------------------------------------------------------------

#[test]
fn table_stays_an_alias_of_text() {
    for command in ["simulate", "diff"] {
        let run = |format: &str| {
            batch(
                command,
                "examples/requests-small.jsonl",
                &["--format", format],
            )
        };
        let (table, plain) = (run("table"), run("text"));
        assert_exit(&plain, 0);
        assert_exit(&table, 0);
        assert_eq!(text(&table.stdout), text(&plain.stdout));
    }
}

#[test]
fn every_command_that_prints_a_result_takes_format_json() {
    let dir = Scratch::new();
    let key = dir.path("k.key");
    let runs: Vec<Vec<&str>> = vec![
        vec!["hash", "--request", REQUEST],
        vec!["check"],
        vec!["test", "--at", AT],
        vec!["keygen", "--out", s(&key)],
        batch_args("diff", "examples/requests-small.jsonl", &[]),
    ];
    for mut args in runs {
        args.extend_from_slice(&["--format", "json"]);
        let out = tollgate(&args);
        assert_exit(&out, 0);
        let doc: Result<Value, _> = serde_json::from_slice(&out.stdout);
        assert!(doc.is_ok(), "{args:?}: {}", text(&out.stdout));
    }
}

#[test]
fn test_format_json_lists_every_case() {
    let out = tollgate(&["test", "--at", AT, "--coverage", "--format", "json"]);
    assert_exit(&out, 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let passed = doc["passed"].as_u64().unwrap();
    assert!(passed > 0);
    assert_eq!(doc["failed"], 0);
    let cases: Vec<&Value> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["cases"].as_array().unwrap())
        .collect();
    assert_eq!(cases.len() as u64, passed);
    assert!(cases.iter().all(|c| c["passed"] == true));
    assert!(cases[0]["decision"]["tier"].is_string());
    assert_eq!(doc["coverage"]["percent"], 100.0);
}

// ---- typed flags ------------------------------------------------------------------------------

#[test]
fn bad_flag_values_are_usage_errors_naming_the_flag() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["decide", "--request", REQUEST, "--at", "yesterday"],
            "--at",
        ),
        (
            &[
                "decide",
                "--principal",
                "not an entity",
                "--action",
                "Action::\"x\"",
                "--resource",
                "R::\"r\"",
            ],
            "--principal",
        ),
        (&["lint", "--today", "2026-13-01"], "--today"),
        (
            &["audit", "verify", "log.jsonl", "--head", "sha256:zz"],
            "--head",
        ),
        (
            &["keygen", "--approver", "alice", "--out", "never.key"],
            "--approver",
        ),
        (
            &[
                "approve",
                "--request",
                REQUEST,
                "--approver",
                "Human::\"a\"",
                "--key",
                "k",
                "--ttl",
                "48h",
            ],
            "--ttl",
        ),
        (
            &[
                "bench",
                "--requests",
                "examples/requests-small.jsonl",
                "--time",
                "0",
            ],
            "--time",
        ),
    ];
    for (args, flag) in cases {
        let out = tollgate(args);
        assert_exit(&out, 2);
        let err = text(&out.stderr);
        assert!(
            err.contains("invalid value") && err.contains(flag),
            "{args:?}: {err}"
        );
    }
    assert!(!repo().join("never.key").exists());
}

// ---- stdin ------------------------------------------------------------------------------------

#[test]
fn entities_and_context_read_stdin() {
    let entities = std::fs::read(repo().join(ENTITIES)).unwrap();
    let from_stdin = tollgate_stdin(
        &repo(),
        &[
            "decide",
            "--request",
            REQUEST,
            "--entities",
            "-",
            "--at",
            AT,
        ],
        &entities,
    );
    let from_file = decide(REQUEST, ENTITIES, &[]);
    assert_exit(&from_stdin, 0);
    assert_eq!(text(&from_stdin.stdout), text(&from_file.stdout));

    let request = spelt(
        "Agent::\"triage-bot\"",
        "Action::\"summarize\"",
        "Document::\"incident-123\"",
    );
    let extra = ["--context", "-", "--entities", ENTITIES, "--at", AT];
    let args = flagged("decide", &request, &extra);
    let out = tollgate_stdin(&repo(), &args, br#"{"request_id": "s"}"#);
    assert_exit(&out, 0);
    assert!(
        text(&out.stdout).starts_with("auto:"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn stdin_can_feed_only_one_input() {
    let request = std::fs::read(repo().join(REQUEST)).unwrap();
    let out = tollgate_stdin(
        &repo(),
        &["decide", "--request", "-", "--entities", "-", "--at", AT],
        &request,
    );
    refused(&out, &["stdin can be read only once"]);
}

#[test]
fn help_documents_stdin_for_each_input() {
    for (command, flags) in [
        ("decide", &["--request", "--entities", "--context"][..]),
        ("simulate", &["--requests", "--entities"][..]),
        ("diff", &["--requests", "--entities"][..]),
        ("bench", &["--requests", "--entities"][..]),
        ("verify", &["--request", "--approvals", "--entities"][..]),
        ("approve", &["--request", "--entities"][..]),
    ] {
        let help = text(&tollgate(&[command, "--help"]).stdout);
        for flag in flags {
            let line = help
                .lines()
                .skip_while(|l| !l.trim_start().starts_with(flag))
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(line.contains("`-` reads"), "{command} {flag}: {line}");
        }
    }
    for sub in ["verify", "show", "head"] {
        let help = text(&tollgate(&["audit", sub, "--help"]).stdout);
        assert!(help.contains("`-` reads stdin"), "audit {sub}: {help}");
    }
}

// ---- bad request lines ------------------------------------------------------------------------

/// The small example corpus with a line that is not JSON put in as line 2.
fn requests_with_a_bad_line(dir: &Scratch) -> std::path::PathBuf {
    let good = std::fs::read_to_string(repo().join("examples/requests-small.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().take(3).collect();
    lines.insert(1, "{not json");
    dir.write("in.jsonl", &(lines.join("\n") + "\n"))
}

#[test]
fn diff_and_bench_report_a_bad_line_go_on_and_exit_2() {
    let dir = Scratch::new();
    let input = requests_with_a_bad_line(&dir);
    let run = |command: &str, extra: &[&str]| -> Value {
        let out = batch(command, s(&input), extra);
        assert_exit(&out, 2);
        let err = text(&out.stderr);
        assert!(err.contains("in.jsonl:2: "), "{command}: {err}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let diff = run("diff", &["--format", "json"]);
    assert_eq!(diff["summary"]["requests"], 3, "the other lines still ran");
    let bench = run("bench", &["--time", "0.05", "--format", "json"]);
    assert_eq!(bench["requests"], 3);
    assert_eq!(bench["skipped"], 1);
}
