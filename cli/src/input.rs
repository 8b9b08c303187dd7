//! Reading the files a command is given, with diagnostics that point into them.

use std::io::Read;
use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic, NamedSource, Report, SourceOffset, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::fs::read_pack;
use tollgate_engine::{Pack, PreparedEntities, Timestamp};

use crate::cli::PackArgs;

/// Reads and loads the pack. Without `--schema`, `schemas/` is used when it exists; with
/// neither, the pack does not load unless `--no-schema` says to go on without one.
pub fn load_pack(args: &PackArgs) -> miette::Result<Pack> {
    let schema = schema_path(args);
    if schema.is_none() && !args.no_schema {
        return Err(no_schema_error());
    }
    let source = read_pack(&args.policies, schema.as_deref())?;
    let pack = Pack::load(source)?;
    Ok(pack)
}

/// Why a command that decides stops without a schema: it carries `@privilege_expansion` and
/// `@human`, validates requests and entities, and is part of the policy-set hash, so deciding
/// without it by accident (run from another folder) would quietly change every decision.
pub fn no_schema_error() -> Report {
    miette!(
        help = "pass --schema PATH (a .cedarschema file or a folder of them), run from the folder \
                holding schemas/, or pass --no-schema to decide without one",
        "no schema: no --schema was given and there is no schemas/ folder in {}",
        std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "the working directory".into())
    )
}

/// The schema path in effect: `--schema`, or `schemas/` when present; none with `--no-schema`.
pub fn schema_path(args: &PackArgs) -> Option<PathBuf> {
    if args.no_schema {
        return None;
    }
    match &args.schema {
        Some(p) => Some(p.clone()),
        None => {
            let default = PathBuf::from("schemas");
            default.is_dir().then_some(default)
        }
    }
}

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &Path) -> miette::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .into_diagnostic()
            .wrap_err("reading stdin")?;
        Ok(("<stdin>".into(), text))
    } else {
        let text = std::fs::read_to_string(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        Ok((path.display().to_string(), text))
    }
}

/// Parses JSON text, pointing at the error's line and column in a snippet.
pub fn parse_json(name: &str, text: &str) -> miette::Result<Value> {
    serde_json::from_str(text).map_err(|e| json_report(name, text, &e))
}

fn json_report(name: &str, text: &str, e: &serde_json::Error) -> Report {
    let offset = SourceOffset::from_location(text, e.line(), e.column());
    let report = miette!(
        labels = vec![miette::LabeledSpan::at_offset(offset.offset(), "here")],
        "{name}:{}:{}: not valid JSON: {e}",
        e.line(),
        e.column()
    );
    report.with_source_code(NamedSource::new(name, text.to_string()).with_language("json"))
}

/// Reads entities for `pack` from `path`, or none.
pub fn load_entities(pack: &Pack, path: Option<&Path>) -> miette::Result<PreparedEntities> {
    let Some(path) = path else {
        return Ok(pack.no_entities());
    };
    let (name, text) = read_input(path)?;
    let value = parse_json(&name, &text)?;
    pack.entities_from_json(&value)
        .wrap_err_with(|| format!("{name}: entities do not fit the pack"))
}

/// `--at`, or the system clock.
pub fn evaluation_time(at: Option<&str>) -> miette::Result<Timestamp> {
    match at {
        Some(s) => s.parse::<Timestamp>().map_err(|e| miette!("--at: {e}")),
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .into_diagnostic()
                .wrap_err("system clock is before 1970")?
                .as_nanos();
            let nanos = i128::try_from(nanos).into_diagnostic()?;
            Timestamp::from_unix_nanos(nanos).map_err(|e| miette!("system clock: {e}"))
        }
    }
}

/// Reads a request file (or stdin for `-`).
pub fn read_request_file(path: &Path) -> miette::Result<(String, tollgate_engine::ProposedAction)> {
    let (name, text) = read_input(path)?;
    let value = parse_json(&name, &text)?;
    let request =
        tollgate_engine::ProposedAction::from_json(&value).map_err(|e| miette!("{name}: {e}"))?;
    Ok((name, request))
}

/// Reads a private key file.
pub fn read_key_file(path: &Path) -> miette::Result<tollgate_engine::keys::KeyFile> {
    let (name, text) = read_input(path)?;
    tollgate_engine::keys::KeyFile::parse(&text).map_err(|e| miette!("{name}: {e}"))
}
