//! Appending to the audit log: an exclusive lock, one whole write and an fsync, so concurrent
//! appenders keep one valid chain and a crash never leaves a half record that goes unnoticed.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::Sha256Digest;
use tollgate_engine::audit::tail_for_append;

/// Appends the record `build(prev)` returns, where `prev` is the hash of the current last record.
/// Refuses to append to a log whose tail is torn or broken.
pub fn append(
    path: &Path,
    build: impl FnOnce(Option<Sha256Digest>) -> Value,
) -> miette::Result<()> {
    let shown = path.display();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("opening audit log {shown}"))?;
    // Held until `file` is dropped: other appenders wait, so each reads the true tail.
    file.lock()
        .into_diagnostic()
        .wrap_err_with(|| format!("locking audit log {shown}"))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .into_diagnostic()
        .wrap_err_with(|| format!("reading audit log {shown}"))?;
    let head = tail_for_append(&text).map_err(|p| {
        miette!(
            "audit log {shown} is damaged at {p}; refusing to append (run `tollgate audit verify`)"
        )
    })?;
    let mut line = build(head.head).to_string();
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .into_diagnostic()
        .wrap_err_with(|| format!("writing audit log {shown}"))?;
    Ok(())
}

/// Appends the audit record of a decision (and verification) when `--audit` was given.
pub fn record_if_asked(
    args: &crate::cli::AuditArgs,
    at: tollgate_engine::Timestamp,
    request: &tollgate_engine::ProposedAction,
    decision: &tollgate_engine::Decision,
    verification: Option<&tollgate_engine::approvals::Verification>,
) -> miette::Result<()> {
    let Some(path) = &args.audit else {
        return Ok(());
    };
    let key = args
        .sign_key
        .as_deref()
        .map(crate::input::read_key_file)
        .transpose()?;
    let recommendation = match &args.recommendation {
        Some(text) => Some(Value::String(text.clone())),
        None => request.context.get("recommendation").cloned(),
    };
    let entry = tollgate_engine::audit::AuditEntry {
        time: at,
        request,
        recommendation,
        decision,
        verification,
    };
    append(path, |prev| {
        entry.to_record(prev, key.as_ref().map(|k| &k.key))
    })
}
