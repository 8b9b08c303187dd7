//! Lints every fixture in `fixtures/` and compares the findings with the fixture's markers.
//!
//! A fixture is `<stem>.cedar`, named after the rule it exercises (`<rule>.cedar` or
//! `<rule>_<case>.cedar`, the rule id with `_` for `-`). Beside it, optionally:
//! `<stem>.cedarschema` (otherwise `agents.cedarschema`, a copy of the reference schema) and
//! `<stem>.yaml`, a workflow with inline entities. A line that must be reported ends with
//! `// expect: rule-id[, rule-id...]` (`# expect:` in the workflow). Every rule runs on every
//! fixture and the set of `(file, line, rule)` found must equal the set marked: markers document
//! the other rules' findings too, so a fixture also shows what a change to any rule does to it.
//! Lint runs on 2026-06-01.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::lint::{Finding, RULES, WorkflowFile, lint};
use crate::source::{PackSource, SourceFile};

const DEFAULT_SCHEMA: &str = "agents.cedarschema";
const TODAY: &str = "2026-06-01";

/// `(file, line, rule id)`.
type Mark = (String, usize, String);

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lint/rules/fixtures")
}

/// The policy fixtures' stems, sorted.
fn stems() -> Vec<String> {
    let mut stems: Vec<String> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .map(|p| p.file_stem().unwrap().to_str().unwrap().to_string())
        .collect();
    stems.sort();
    stems
}

/// The markers in `text` (file `name`): `// expect: a, b` or `# expect: a, b` at a line's end.
fn markers(name: &str, text: &str) -> BTreeSet<Mark> {
    let mut out = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let Some((before, rest)) = line.split_once("expect:") else {
            continue;
        };
        let before = before.trim_end();
        assert!(
            before.ends_with("//") || before.ends_with('#'),
            "{name}:{}: `expect:` must follow `//` or `#`",
            i + 1
        );
        for rule in rest.split(',') {
            let rule = rule.trim();
            assert!(
                RULES.iter().any(|r| r.id().as_str() == rule),
                "{name}:{}: no rule `{rule}`",
                i + 1
            );
            out.insert((name.to_string(), i + 1, rule.to_string()));
        }
    }
    out
}

/// Lints fixture `stem`; returns the findings and the markers of its files.
fn run(stem: &str) -> (Vec<Finding>, BTreeSet<Mark>) {
    let dir = fixtures_dir();
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
    let policy_name = format!("{stem}.cedar");
    let policy = read(&policy_name);
    let mut expected = markers(&policy_name, &policy);
    let schema_name = format!("{stem}.cedarschema");
    let schema_name = if dir.join(&schema_name).is_file() {
        schema_name
    } else {
        DEFAULT_SCHEMA.to_string()
    };
    let source = PackSource {
        policies: vec![SourceFile::new(policy_name, policy)],
        schemas: vec![SourceFile::new(schema_name.clone(), read(&schema_name))],
    };
    let workflow_name = format!("{stem}.yaml");
    let mut workflows = Vec::new();
    if dir.join(&workflow_name).is_file() {
        let text = read(&workflow_name);
        expected.extend(markers(&workflow_name, &text));
        workflows.push(WorkflowFile::parse(SourceFile::new(workflow_name, text)).unwrap());
    }
    let findings = lint(source, &workflows, TODAY.parse().unwrap())
        .unwrap_or_else(|e| panic!("{stem}: lint did not run: {e}"));
    (findings, expected)
}

#[test]
fn every_fixture_reports_exactly_its_markers() {
    let mut failures = String::new();
    for stem in stems() {
        let (findings, expected) = run(&stem);
        let found: BTreeSet<Mark> = findings
            .iter()
            .map(|f| {
                (
                    f.location.file.clone(),
                    f.location.span.start.line,
                    f.rule.to_string(),
                )
            })
            .collect();
        for (file, line, rule) in expected.difference(&found) {
            let _ = writeln!(failures, "  {file}:{line}: expected `{rule}`, not reported");
        }
        for mark @ (file, line, rule) in found.difference(&expected) {
            let message = findings
                .iter()
                .find(|f| {
                    (
                        &f.location.file,
                        f.location.span.start.line,
                        f.rule.as_str(),
                    ) == (&mark.0, mark.1, mark.2.as_str())
                })
                .map_or("", |f| f.message.as_str());
            let _ = writeln!(failures, "  {file}:{line}: unexpected `{rule}`: {message}");
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures disagree with their `expect:` markers:\n{failures}"
    );
}

#[test]
fn every_rule_has_a_fixture_that_it_fires_on() {
    let stems = stems();
    for r in RULES {
        let id = r.id().as_str();
        let prefix = id.replace('-', "_");
        let own: Vec<&String> = stems
            .iter()
            .filter(|s| **s == prefix || s.starts_with(&format!("{prefix}_")))
            .collect();
        assert!(!own.is_empty(), "`{id}` has no fixture `{prefix}.cedar`");
        let fires = own
            .iter()
            .any(|s| run(s).1.iter().any(|(_, _, rule)| rule == id));
        assert!(fires, "no fixture of `{id}` marks a finding of it");
    }
}

#[test]
fn markers_are_parsed_from_line_ends_only() {
    let text = "permit (principal, action, resource); // expect: missing-id, missing-tier\n\n# expect: schema\n// no marker\n";
    let got: Vec<(usize, String)> = markers("f", text)
        .into_iter()
        .map(|(_, line, rule)| (line, rule))
        .collect();
    assert_eq!(
        got,
        [
            (1, "missing-id".to_string()),
            (1, "missing-tier".to_string()),
            (3, "schema".to_string())
        ]
    );
}

/// The finding of `rule` in fixture `stem` (the first, in output order).
fn finding(stem: &str, rule: &str) -> Finding {
    run(stem)
        .0
        .into_iter()
        .find(|f| f.rule.as_str() == rule)
        .unwrap_or_else(|| panic!("{stem}: no `{rule}`"))
}

#[test]
fn messages_say_what_was_found_and_what_fail_closed_makes_of_it() {
    let f = finding("ungated_expansion", "ungated-expansion");
    assert!(
        f.message.contains("may allow") && f.message.contains("delegate"),
        "{}",
        f.message
    );
    let f = finding("self_approval_agent_approver", "self-approval");
    assert!(f.message.contains("`Agent`"), "{}", f.message);
    let may: Vec<String> = run("may_error")
        .0
        .into_iter()
        .filter(|f| f.rule.as_str() == "may-error")
        .map(|f| f.message)
        .collect();
    assert_eq!(may.len(), 2, "{may:?}");
    assert!(may[0].contains("gate counts as satisfied"), "{may:?}");
    assert!(
        may[1].contains("grants nothing") && may[1].contains("`team`"),
        "{may:?}"
    );
}

#[test]
fn schema_findings_carry_cedars_span_message_help_and_severity() {
    let findings = run("schema").0;
    let schema: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule.as_str() == "schema")
        .collect();
    let error = schema[0];
    assert_eq!(
        (
            error.location.span.start.line,
            error.location.span.start.column
        ),
        (5, 8)
    );
    assert_eq!(error.severity, crate::lint::Severity::Error);
    assert!(error.message.contains("`prod`"), "{}", error.message);
    assert!(error.hint.contains("production"), "{}", error.hint);
    let warning = schema[1];
    assert_eq!(warning.severity, crate::lint::Severity::Warning);
    assert!(
        warning.message.contains("impossible"),
        "{}",
        warning.message
    );
}
