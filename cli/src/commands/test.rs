//! `tollgate test`: run the pack's YAML cases.

use std::fmt::Write as _;

use miette::{IntoDiagnostic, WrapErr};
use tollgate_engine::Pack;
use tollgate_engine::testcase::{CaseResult, SuiteReport, run_suite};

use crate::cli::TestArgs;
use crate::exit;
use crate::input::{evaluation_time, load_pack};
use crate::output::{print, shown};

pub fn run(args: TestArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at.as_deref())?;
    let pack = load_pack(&args.pack)?;
    let paths = if args.paths.is_empty() {
        vec![args.pack.policies.join("tests")]
    } else {
        args.paths.clone()
    };
    let report = run_suite(&pack, &paths, at)?;

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
    if args.coverage {
        let (never, percent) = report.coverage(&pack);
        let _ = writeln!(
            out,
            "coverage: {percent:.1}% of {} policies determined a case",
            pack.policies().len()
        );
        for id in never {
            let source = pack.policy(&id).map(|p| p.source()).unwrap_or_default();
            let _ = writeln!(
                out,
                "  never determining: {} at {}",
                shown(id.as_str()),
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
    print(&out)?;

    if let Some(path) = &args.junit {
        std::fs::write(path, junit(&report, &pack))
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.failed() == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// JUnit XML: one `testsuite` per file, one `testcase` per case.
fn junit(report: &SuiteReport, pack: &Pack) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"tollgate\" tests=\"{}\" failures=\"{}\">",
        report.passed() + report.failed(),
        report.failed()
    );
    for file in &report.files {
        let name = escape(&file.path.display().to_string());
        let failures = file.cases.iter().filter(|c| !c.passed()).count();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\">",
            file.cases.len()
        );
        for case in &file.cases {
            let _ = write!(
                xml,
                "    <testcase name=\"{}\" classname=\"{name}\"",
                escape(&case.name)
            );
            if case.passed() {
                xml.push_str("/>\n");
            } else {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(case.failures.first().map_or("", String::as_str)),
                    escape(&details(case))
                );
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    let _ = writeln!(xml, "  <!-- policy set {} -->", pack.hash());
    xml.push_str("</testsuites>\n");
    xml
}

fn details(case: &CaseResult) -> String {
    let mut s = case.failures.join("\n");
    if let Ok(d) = &case.actual {
        for p in &d.determining {
            let _ = write!(s, "\ndetermining: {} at {}", p.id, p.source);
        }
    }
    s
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
