//! Appending to the audit log: an exclusive lock, one whole write and an fsync, so concurrent
//! appenders keep one valid chain and a crash never leaves a half record that goes unnoticed.
//! An append reads only the log's last two lines; the single-use check of `verify` is the one
//! reader of the whole log, and it streams it line by line under the same lock.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use miette::{IntoDiagnostic, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::approvals::{LogDenial, Verification};
use tollgate_engine::audit::{AuditRecord, earlier_verdict, tail_for_append};
use tollgate_engine::{Decision, ProposedAction, Sha256Digest, Timestamp};

use crate::args::AuditArgs;

/// How much of the log's end is read at a time when looking for its last two lines.
const TAIL_CHUNK: u64 = 8 * 1024;

/// An audit log opened for appending, held under its exclusive lock until dropped, so that what
/// is read from it (its tail, an earlier use of a request) is still true when the record lands.
pub struct AuditLog {
    file: File,
    shown: String,
}

impl AuditLog {
    /// Opens (creating if needed) and locks the log. Refuses a path that is not a regular file
    /// (a FIFO, a device, a folder): reading one could hang or never end.
    pub fn open(path: &Path) -> miette::Result<Self> {
        let shown = path.display().to_string();
        let not_regular = || {
            miette!(
                "audit log {shown} is not a regular file (a FIFO, device or folder); give a file path"
            )
        };
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => return Err(not_regular()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(miette!("reading audit log {shown}: {e}")),
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("opening audit log {shown}"))?;
        // The path may have been swapped between the check and the open.
        let regular = file
            .metadata()
            .into_diagnostic()
            .wrap_err_with(|| format!("reading audit log {shown}"))?
            .is_file();
        if !regular {
            return Err(not_regular());
        }
        // Held until `file` is dropped: other appenders wait, so each reads the true tail.
        file.lock()
            .into_diagnostic()
            .wrap_err_with(|| format!("locking audit log {shown}"))?;
        Ok(Self { file, shown })
    }

    /// The first earlier verification of `request` that forbids allowing it now (it was allowed
    /// before, or a reject of it counted), with its line. Streams the whole log line by line; a
    /// line that is not a JSON object is an error (fail closed: a damaged log cannot vouch that
    /// the request was never allowed or rejected).
    pub fn earlier(
        &mut self,
        request: &Sha256Digest,
    ) -> miette::Result<Option<(usize, LogDenial)>> {
        let shown = &self.shown;
        self.file
            .seek(SeekFrom::Start(0))
            .into_diagnostic()
            .wrap_err_with(|| format!("reading audit log {shown}"))?;
        let reader = BufReader::new(&self.file);
        for (i, line) in reader.lines().enumerate() {
            let index = i + 1;
            let line = line
                .into_diagnostic()
                .wrap_err_with(|| format!("reading audit log {shown} at line {index}"))?;
            let found = earlier_verdict(&line, index, request).map_err(|p| {
                miette!(
                    "audit log {shown} is damaged at {p}; cannot check whether the request was already allowed or rejected (run `tollgate audit verify`)"
                )
            })?;
            if let Some(why) = found {
                return Ok(Some((index, why)));
            }
        }
        Ok(None)
    }

    /// Appends the record `build(prev)` returns, where `prev` is the hash of the current last
    /// record. Refuses to append to a log whose tail is torn or broken.
    pub fn append(
        mut self,
        build: impl FnOnce(Option<Sha256Digest>) -> AuditRecord,
    ) -> miette::Result<()> {
        let shown = self.shown.clone();
        let (tail, from_start) = read_tail(&mut self.file)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading audit log {shown}"))?;
        let tail = String::from_utf8(tail).map_err(|_| {
            miette!("audit log {shown} is damaged at its end: not UTF-8; refusing to append (run `tollgate audit verify`)")
        })?;
        let head = tail_for_append(&tail, from_start).map_err(|p| {
            miette!(
                "audit log {shown} is damaged at its end: {p}; refusing to append (run `tollgate audit verify`)"
            )
        })?;
        let mut line = build(head).to_string();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_all())
            .into_diagnostic()
            .wrap_err_with(|| format!("writing audit log {shown}"))?;
        Ok(())
    }
}

/// The log from the start of its second-to-last line to the end, and whether that is the whole
/// log. Reads backwards in chunks, so the cost is the size of the last two records.
fn read_tail(file: &mut File) -> std::io::Result<(Vec<u8>, bool)> {
    let mut start = file.metadata()?.len();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        // Newlines before the last byte: the second one from the end starts the tail.
        let body = buf.get(..buf.len().saturating_sub(1)).unwrap_or_default();
        if let Some(cut) = body
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .map(|(i, _)| i + 1)
        {
            return Ok((buf.split_off(cut), false));
        }
        if start == 0 {
            return Ok((buf, true));
        }
        let step = start.min(TAIL_CHUNK);
        start -= step;
        file.seek(SeekFrom::Start(start))?;
        let mut chunk = vec![0; usize::try_from(step).unwrap_or(0)];
        file.read_exact(&mut chunk)?;
        chunk.append(&mut buf);
        buf = chunk;
    }
}

/// What one audit record says: a decision, and the verification of approvals when there was one.
pub struct Event<'a> {
    pub at: Timestamp,
    pub request: &'a ProposedAction,
    pub decision: &'a Decision,
    pub verification: Option<&'a Verification>,
}

/// Appends the audit record of `event` when `--audit` was given.
pub fn record_if_asked(args: &AuditArgs, event: &Event<'_>) -> miette::Result<()> {
    match &args.audit {
        Some(path) => record(AuditLog::open(path)?, args, event),
        None => Ok(()),
    }
}

/// Appends the audit record of `event` to a log already open and locked.
pub fn record(log: AuditLog, args: &AuditArgs, event: &Event<'_>) -> miette::Result<()> {
    let key = args
        .sign_key
        .as_deref()
        .map(crate::io::read_key_file)
        .transpose()?;
    let recommendation = match &args.recommendation {
        Some(text) => Some(Value::String(text.clone())),
        None => event.request.context.get("recommendation").cloned(),
    };
    let entry = tollgate_engine::audit::AuditEntry {
        time: event.at,
        request: event.request,
        recommendation,
        decision: event.decision,
        verification: event.verification,
    };
    log.append(|prev| entry.to_record(prev, key.as_ref().map(|k| &k.key)))
}
