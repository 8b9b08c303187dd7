//! Reading the files a command is given, with diagnostics that point into them.

use std::io::Read;
use std::path::{Path, PathBuf};

use miette::{IntoDiagnostic, Report, SourceOffset, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::fs::{read_bytes, read_pack};
use tollgate_engine::json::{self, JsonError};
use tollgate_engine::limits::{Limit, LimitExceeded, Limits};
use tollgate_engine::{Pack, PreparedEntities, Snippet, Timestamp};

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

/// Reads a file, or stdin for `-`: a regular file (a FIFO or device could block forever or
/// never end), no larger than the `file-bytes` limit, in UTF-8.
pub fn read_input(path: &Path) -> miette::Result<(String, String)> {
    let max = Limits::current().file_bytes;
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
        std::io::stdin()
            .take(cap)
            .read_to_end(&mut bytes)
            .into_diagnostic()
            .wrap_err("reading stdin")?;
        if bytes.len() > max {
            let exceeded = LimitExceeded {
                limit: Limit::FileBytes,
                max,
            };
            return Err(miette!("<stdin>: {exceeded}"));
        }
        let text = String::from_utf8(bytes).map_err(|_| miette!("<stdin>: not valid UTF-8"))?;
        Ok(("<stdin>".into(), text))
    } else {
        let name = path.display().to_string();
        let bytes = read_bytes(path, max)?;
        let text = String::from_utf8(bytes).map_err(|_| miette!("{name}: not valid UTF-8"))?;
        Ok((name, text))
    }
}

/// Parses JSON text strictly (no duplicate keys, no keys beside an `__entity` escape, within
/// the size and depth limits), pointing at the error's line and column in a snippet.
pub fn parse_json(name: &str, text: &str) -> miette::Result<Value> {
    json::parse(text).map_err(|e| json_report(name, text, &e))
}

/// `name:line:column: message`, with a snippet of the line around the error (a window: the
/// line may be megabytes long).
pub fn json_report(name: &str, text: &str, e: &JsonError) -> Report {
    let Some((line, column)) = e.position() else {
        return miette!("{name}: {}", e.message());
    };
    let offset = SourceOffset::from_location(text, line, column).offset();
    let snippet = Snippet::around(name, text, (offset, 0).into()).with_language("json");
    let labels = snippet.clip(vec![miette::LabeledSpan::at_offset(offset, "here")]);
    let report = miette!(labels = labels, "{name}:{line}:{column}: {}", e.message());
    report.with_source_code(snippet)
}

/// Reads entities for `pack` from `path`, or none.
pub fn load_entities(pack: &Pack, path: Option<&Path>) -> miette::Result<PreparedEntities> {
    let Some(path) = path else {
        return Ok(pack.no_entities());
    };
    let (name, text) = read_input(path)?;
    let value = parse_json(&name, &text)?;
    Limits::current()
        .check_entities(&value)
        .map_err(|e| miette!("{name}: {e}"))?;
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
