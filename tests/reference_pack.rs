//! Runs every case in `policies/tests/*.yaml` against the reference pack, through the same
//! engine code `tollgate test` uses, and checks the cases cover every tier and every policy.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tollgate_engine::fs::read_pack;
use tollgate_engine::testcase::{find_test_files, load_test_file, run_suite};
use tollgate_engine::{AnnotationKey, Pack, Tier, Timestamp};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference_pack() -> Pack {
    let source = read_pack(&root().join("policies"), Some(&root().join("schemas"))).unwrap();
    Pack::load(source).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn every_reference_case_passes_and_covers_the_pack() {
    let pack = reference_pack();
    let default_at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    // The same runner `tollgate test` uses.
    let report = run_suite(&pack, &[root().join("policies/tests")], default_at).unwrap();
    let mut failures = Vec::new();
    let mut tiers = BTreeSet::new();
    let mut errors_expected = 0;
    for file in &report.files {
        for result in &file.cases {
            if !result.passed() {
                failures.push(format!(
                    "{} / {}: {:?}",
                    rel(&file.path),
                    result.name,
                    result.failures
                ));
            }
            match &result.actual {
                Ok(d) => {
                    tiers.insert(d.tier);
                }
                Err(_) => errors_expected += 1,
            }
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
    assert!(report.passed() >= 30, "only {} cases", report.passed());
    assert!(errors_expected >= 3, "input-error cases: {errors_expected}");
    assert_eq!(
        tiers,
        Tier::ALL.into_iter().collect::<BTreeSet<_>>(),
        "every tier is exercised"
    );
    let (never, percent) = report.coverage(&pack);
    assert!(
        never.is_empty(),
        "policies that never determine a case: {never:?}"
    );
    assert_eq!(percent, 100.0);
}

#[test]
fn the_index_changes_no_reference_decision() {
    let pack = reference_pack();
    let default_at: Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
    for path in find_test_files(&root().join("policies/tests")).unwrap() {
        let loaded = load_test_file(&path).unwrap();
        let entities = pack.entities_from_json(&loaded.entities).unwrap();
        for case in &loaded.file.cases {
            let at = case.at.or(loaded.file.at).unwrap_or(default_at);
            if let Ok(request) = tollgate_engine::ProposedAction::from_json(&case.request) {
                assert_eq!(
                    tollgate_engine::reference::decide_unindexed(&pack, &request, &entities, at),
                    pack.decide(&request, &entities, at),
                    "{}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn reference_pack_has_ids_tiers_reasons_and_controls() {
    let pack = reference_pack();
    for p in pack.policies() {
        assert!(
            p.annotation(AnnotationKey::Id).is_some(),
            "{} has no @id",
            p.source()
        );
        assert!(p.reason().is_some(), "{} has no @reason", p.id());
        assert!(!p.controls().is_empty(), "{} has no @control", p.id());
        if p.effect() == tollgate_engine::Effect::Permit {
            assert!(
                p.annotation(AnnotationKey::Tier).is_some(),
                "{} has no @tier",
                p.id()
            );
        }
    }
}

#[test]
fn schema_annotations_are_read() {
    let pack = reference_pack();
    let schema = pack.schema().unwrap();
    assert!(schema.is_human_type("Human"));
    assert!(!schema.is_human_type("Agent"));
    let expanding: Vec<&str> = schema
        .expansion_actions()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        expanding,
        [
            "Action::\"add_token_scope\"",
            "Action::\"create_nhi\"",
            "Action::\"delegate\"",
            "Action::\"extend_session\"",
            "Action::\"grant_access\"",
        ]
    );
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}
