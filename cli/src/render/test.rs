//! `test` results: failing cases with why, coverage, and the count.

use std::fmt::Write as _;

use serde_json::{Value, json};
use tollgate_engine::Pack;
use tollgate_engine::testcase::SuiteReport;

use super::shown;

/// Policies that determined no case, and the share that did (with `--coverage`).
pub struct Coverage {
    pub never: Vec<String>,
    pub percent: f64,
}

/// Each failing case, then coverage, then `N passed, N failed`.
pub fn text(report: &SuiteReport, pack: &Pack, coverage: Option<&Coverage>) -> String {
    let mut out = String::new();
    for file in &report.files {
        for case in file.cases.iter().filter(|c| !c.passed()) {
            let _ = writeln!(
                out,
                "FAIL {}: {}",
                shown(&file.path.display().to_string()),
                shown(&case.name)
            );
            for f in &case.failures {
                let _ = writeln!(out, "  {}", shown(f));
            }
            if let Ok(d) = &case.actual {
                for p in &d.determining {
                    let _ = writeln!(
                        out,
                        "  determining: {} ({} {}) at {}",
                        shown(p.id.as_str()),
                        p.effect,
                        p.tier,
                        shown(&p.source)
                    );
                }
            }
        }
    }
    if let Some(coverage) = coverage {
        let _ = writeln!(
            out,
            "coverage: {:.1}% of {} policies determined a case",
            coverage.percent,
            pack.policies().len()
        );
        for id in &coverage.never {
            let source = pack.policy(id).map(|p| p.source()).unwrap_or_default();
            let _ = writeln!(
                out,
                "  never determining: {} at {}",
                shown(id),
                shown(&source)
            );
        }
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        report.passed(),
        report.failed()
    );
    out
}

/// One object: every case with its outcome, coverage when asked, and the counts.
pub fn json(report: &SuiteReport, pack: &Pack, coverage: Option<&Coverage>) -> Value {
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|file| {
            let cases: Vec<Value> = file
                .cases
                .iter()
                .map(|case| {
                    let (decision, error) = match &case.actual {
                        Ok(d) => (json!(d), Value::Null),
                        Err(e) => (Value::Null, json!(e)),
                    };
                    json!({
                        "name": case.name,
                        "passed": case.passed(),
                        "failures": case.failures,
                        "decision": decision,
                        "error": error,
                    })
                })
                .collect();
            json!({"path": file.path.display().to_string(), "cases": cases})
        })
        .collect();
    json!({
        "files": files,
        "coverage": coverage.map(|c| json!({"percent": c.percent, "never_determining": c.never})),
        "policy_set": pack.hash(),
        "passed": report.passed(),
        "failed": report.failed(),
    })
}
