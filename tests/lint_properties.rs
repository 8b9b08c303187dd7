//! Lint findings do not depend on how a pack is split into files or ordered: renaming policy
//! files, moving policies between files and reordering them leaves the set of findings, by rule
//! and policy `@id`, unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proptest::prelude::*;
use tollgate_engine::fs::read_pack;
use tollgate_engine::lint::workflow::read_workflows;
use tollgate_engine::lint::{Finding, WorkflowFile, lint};
use tollgate_engine::{PackSource, SourceFile};

fn bad_pack() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bad-pack")
}

/// Every policy of the bad pack as its own text, annotations included.
fn policies(dir: &Path) -> Vec<String> {
    let source = read_pack(&dir.join("policies"), None).unwrap();
    let mut out = Vec::new();
    for file in &source.policies {
        let set = cedar_policy::PolicySet::from_str(&file.text).unwrap();
        let mut texts: Vec<(usize, String)> = set
            .policies()
            .map(|p| {
                let text = p.to_cedar().unwrap();
                (file.text.find(&text).unwrap(), text)
            })
            .collect();
        texts.sort();
        out.extend(texts.into_iter().map(|(_, t)| t));
    }
    out
}

/// A finding as the property compares it: its rule and the `@id`s of its policies (a policy
/// without `@id` is named by position, which is exactly what this test changes).
fn key(f: &Finding, known_ids: &[String]) -> (String, Vec<String>) {
    let mut ids: Vec<String> = f
        .policies
        .iter()
        .map(|p| {
            if known_ids.iter().any(|k| k == p.as_str()) {
                p.to_string()
            } else {
                "<no @id>".to_string()
            }
        })
        .collect();
    ids.sort();
    (f.rule.to_string(), ids)
}

fn findings(
    files: Vec<SourceFile>,
    schema: &[SourceFile],
    workflows: &[WorkflowFile],
    known_ids: &[String],
) -> Vec<(String, Vec<String>)> {
    let source = PackSource {
        policies: files,
        schemas: schema.to_vec(),
    };
    let mut keys: Vec<_> = lint(source, workflows, "2026-06-01".parse().unwrap())
        .unwrap()
        .iter()
        .map(|f| key(f, known_ids))
        .collect();
    keys.sort();
    keys
}

struct Fixture {
    policies: Vec<String>,
    schema: Vec<SourceFile>,
    workflows: Vec<WorkflowFile>,
    ids: Vec<String>,
    baseline: Vec<(String, Vec<String>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(load_fixture)
}

fn load_fixture() -> Fixture {
    let dir = bad_pack();
    let policies = policies(&dir);
    let source = read_pack(&dir.join("policies"), Some(&dir.join("schemas"))).unwrap();
    let workflows = read_workflows(&dir.join("policies/workflows")).unwrap();
    let ids: Vec<String> = policies
        .iter()
        .filter_map(|p| {
            cedar_policy::Policy::from_str(p)
                .ok()?
                .annotation("id")
                .map(String::from)
        })
        .collect();
    let baseline = findings(source.policies.clone(), &source.schemas, &workflows, &ids);
    Fixture {
        policies,
        schema: source.schemas,
        workflows,
        ids,
        baseline,
    }
}

#[test]
fn the_fixture_covers_every_rule() {
    let f = fixture();
    let mut rules: Vec<&str> = f.baseline.iter().map(|(r, _)| r.as_str()).collect();
    rules.dedup();
    assert_eq!(rules.len(), 12, "{rules:?}");
    assert_eq!(f.policies.len(), 14);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn renaming_and_reordering_policies_keeps_the_findings(
        order in Just((0..17usize).collect::<Vec<_>>()).prop_shuffle(),
        assignment in proptest::collection::vec(0..4usize, 17),
        names in proptest::collection::vec("[a-z]{1,6}(/[a-z]{1,4})?", 4),
    ) {
        let f = fixture();
        prop_assume!(f.policies.len() <= 17);
        let mut files: BTreeMap<String, String> = BTreeMap::new();
        for &i in order.iter().filter(|&&i| i < f.policies.len()) {
            let slot = assignment[i];
            // Distinct names even when the generator repeats one.
            let name = format!("{}-{slot}.cedar", names[slot]);
            let text = files.entry(name).or_default();
            text.push_str(&f.policies[i]);
            text.push_str("\n\n");
        }
        let files: Vec<SourceFile> = files
            .into_iter()
            .map(|(name, text)| SourceFile::new(name, text))
            .collect();
        let got = findings(files, &f.schema, &f.workflows, &f.ids);
        prop_assert_eq!(&got, &f.baseline);
    }
}
