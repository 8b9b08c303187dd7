//! `tollgate lint`: static analysis of a policy pack and its workflows.

use std::path::{Path, PathBuf};

use tollgate_engine::fs::read_pack;
use tollgate_engine::lint::workflow::read_workflows;
use tollgate_engine::lint::{Finding, LintError, Severity, lint};
use tollgate_engine::{CalendarDate, SourceFile};

use crate::args::{Deny, LintArgs, LintFormat};
use crate::exit;
use crate::io::{evaluation_time, print, schema_path};
use crate::render::lint::{Emitter, Json, Sarif, Sources, Text};

pub fn run(args: LintArgs) -> miette::Result<u8> {
    let today = match args.today {
        Some(day) => day,
        None => CalendarDate::of(evaluation_time(None)?),
    };
    // Before any work: `--smt` without a usable solver is a usage error (exit 2).
    #[cfg(feature = "smt")]
    let mut session = match args.smt.smt {
        true => Some(super::smt::session(&args.smt)?),
        false => None,
    };
    #[cfg(not(feature = "smt"))]
    if args.smt.smt {
        return Err(miette::miette!(
            "--smt: this tollgate was built without the `smt` feature"
        ));
    }
    let Some(schema) = schema_path(&args.pack) else {
        return Err(LintError::NoSchema.into());
    };
    let source = read_pack(&args.pack.policies, Some(&schema))?;
    let workflows_dir = match &args.workflows {
        Some(dir) => Some(dir.clone()),
        None => {
            let default = args.pack.policies.join("workflows");
            default.is_dir().then_some(default)
        }
    };
    let workflows = match &workflows_dir {
        Some(dir) => read_workflows(dir)?,
        None => Vec::new(),
    };

    let sources = Sources::new(
        files_under(&args.pack.policies, &source.policies),
        files_under(
            workflows_dir.as_deref().unwrap_or(Path::new(".")),
            &workflows
                .iter()
                .map(|w| w.source.clone())
                .collect::<Vec<_>>(),
        ),
    );
    #[cfg(feature = "smt")]
    let strict = session.as_ref().map(|_| source.clone());
    let findings = lint(source, &workflows, today)?;
    #[cfg(feature = "smt")]
    let findings = match (session.as_mut(), strict) {
        (Some(session), Some(source)) => super::smt::lint(session, source, findings, today)?,
        _ => findings,
    };

    let output = match args.format {
        LintFormat::Text => Text.emit(&findings, &sources),
        LintFormat::Json => Json.emit(&findings, &sources),
        LintFormat::Sarif => Sarif.emit(&findings, &sources),
    }?;
    print(&output)?;
    Ok(exit_code(&findings, args.deny))
}

/// 1 when a finding is an error, or a warning under `--deny warnings`; else 0.
fn exit_code(findings: &[Finding], deny: Option<Deny>) -> u8 {
    let fails = |f: &Finding| match f.severity {
        Severity::Error => true,
        Severity::Warning => deny == Some(Deny::Warnings),
    };
    if findings.iter().any(fails) {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// Each file with the path a person (and a code-scanning UI at the repository root) would
/// use: relative to the working directory.
fn files_under(dir: &Path, files: &[SourceFile]) -> Vec<(String, String, String)> {
    files
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                display_path(&dir.join(&f.name)),
                f.text.clone(),
            )
        })
        .collect()
}

/// `path` relative to the working directory when it is under it, with `/` separators.
fn display_path(path: &Path) -> String {
    let relative: PathBuf = if path.is_absolute() {
        std::env::current_dir()
            .ok()
            .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
            .unwrap_or_else(|| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let parts: Vec<String> = relative
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let joined = parts.join("/");
    if relative.is_absolute() && !joined.starts_with('/') {
        // A Windows path: keep its own form.
        relative.display().to_string()
    } else {
        joined.replace("//", "/")
    }
}
