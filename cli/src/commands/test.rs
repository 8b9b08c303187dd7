//! `tollgate test`: run the pack's YAML cases.

use miette::{IntoDiagnostic, WrapErr};
use tollgate_engine::testcase::run_suite;

use crate::args::{Format, TestArgs};
use crate::exit;
use crate::io::{evaluation_time, load_pack, print, print_json};
use crate::render;
use crate::render::test::Coverage;

pub fn run(args: TestArgs) -> miette::Result<u8> {
    let at = evaluation_time(args.at)?;
    let pack = load_pack(&args.pack)?;
    let paths = if args.paths.is_empty() {
        vec![args.pack.policies.join("tests")]
    } else {
        args.paths.clone()
    };
    let report = run_suite(&pack, &paths, at)?;
    let coverage = args.coverage.then(|| {
        let (never, percent) = report.coverage(&pack);
        Coverage { never, percent }
    });
    match args.format {
        Format::Json => print_json(&render::test::json(&report, &pack, coverage.as_ref()))?,
        Format::Text => print(&render::test::text(&report, &pack, coverage.as_ref()))?,
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, render::junit::xml(&report, &pack)?)
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.failed() == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}
