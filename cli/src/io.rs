//! Input and output: reading the files a command is given (or stdin for `-`), with diagnostics
//! that point into them; the one JSON Lines reader of the batch commands; and the one stdout
//! writer, which stops quietly on a closed pipe.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use miette::{IntoDiagnostic, Report, SourceOffset, WrapErr, miette};
use serde_json::Value;
use tollgate_engine::fs::{read_bytes, read_pack};
use tollgate_engine::json::{self, JsonError};
use tollgate_engine::limits::{Limit, LimitExceeded, Limits};
use tollgate_engine::{Pack, PreparedEntities, ProposedAction, Snippet, Timestamp};

use crate::args::PackArgs;
use crate::render::shown;

// ---- Packs -----------------------------------------------------------------------------------

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

// ---- Whole files -----------------------------------------------------------------------------

/// Whether some input already read stdin: a second `-` would read nothing and be taken for an
/// empty file.
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// Claims stdin for one input.
fn take_stdin() -> miette::Result<()> {
    if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
        return Err(miette!(
            "`-` (stdin) is given for two inputs; stdin can be read only once"
        ));
    }
    Ok(())
}

/// Whether `path` is `-`, stdin.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads a file, or stdin for `-`: a regular file (a FIFO or device could block forever or
/// never end), no larger than the `file-bytes` limit, in UTF-8. Returns the name to show in
/// messages (`<stdin>` for `-`) and the text.
pub fn read_input(path: &Path) -> miette::Result<(String, String)> {
    let max = Limits::current().file_bytes;
    if is_stdin(path) {
        take_stdin()?;
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

/// Reads entities for `pack` from `path` (or stdin for `-`), or none.
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
pub fn evaluation_time(at: Option<Timestamp>) -> miette::Result<Timestamp> {
    if let Some(at) = at {
        return Ok(at);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .into_diagnostic()
        .wrap_err("system clock is before 1970")?
        .as_nanos();
    let nanos = i128::try_from(nanos).into_diagnostic()?;
    Timestamp::from_unix_nanos(nanos).map_err(|e| miette!("system clock: {e}"))
}

/// Reads a request file (or stdin for `-`).
pub fn read_request_file(path: &Path) -> miette::Result<(String, ProposedAction)> {
    let (name, text) = read_input(path)?;
    let value = parse_json(&name, &text)?;
    let request = ProposedAction::from_json(&value).map_err(|e| miette!("{name}: {e}"))?;
    Ok((name, request))
}

/// Reads a private key file.
pub fn read_key_file(path: &Path) -> miette::Result<tollgate_engine::keys::KeyFile> {
    let (name, text) = read_input(path)?;
    tollgate_engine::keys::KeyFile::parse(&text).map_err(|e| miette!("{name}: {e}"))
}

// ---- JSON Lines of requests ------------------------------------------------------------------

/// The longest line read as one: a longer one is cut there (and fails to parse) rather than
/// read into memory whole.
const MAX_LINE_BYTES: u64 = 1 << 24;

/// One non-blank line: its 1-based number and its text, or why it could not be read.
pub struct RawLine {
    pub number: usize,
    pub text: Result<String, String>,
}

impl RawLine {
    /// The line as a request, or why it is not one.
    pub fn request(&self) -> Result<ProposedAction, String> {
        let text = self.text.as_ref().map_err(Clone::clone)?;
        let value = json::parse(text).map_err(|e| e.message())?;
        ProposedAction::from_json_value(value).map_err(|e| e.to_string())
    }
}

/// A JSON Lines file of requests (or stdin for `-`), read in bounded chunks so that memory stays
/// flat however long the input is.
///
/// Its error policy is the one for every batch command: a line that cannot be read as a request
/// is reported on stderr as `file:line: why` and counted ([`RequestLines::report`]), the command
/// goes on with the other lines, and its exit code then says that input was bad
/// ([`RequestLines::exit_code`]). `simulate` shows such lines as `ERROR` rows instead (its rows
/// are numbered by line), with its own exit code 1.
pub struct RequestLines {
    reader: Box<dyn BufRead>,
    /// The file's name as given (`<stdin>` for `-`), for messages.
    name: String,
    number: usize,
    /// Total bytes, when reading a file (for a progress bar).
    pub size: Option<u64>,
    /// Bytes consumed so far.
    pub consumed: u64,
    bad: usize,
}

impl RequestLines {
    /// Opens `path`, or stdin for `-`.
    pub fn open(path: &Path) -> miette::Result<Self> {
        if is_stdin(path) {
            take_stdin()?;
            return Ok(Self::new(
                Box::new(BufReader::new(std::io::stdin())),
                "<stdin>".into(),
                None,
            ));
        }
        // A FIFO or device would block the read forever, as for every other input file.
        let is_file = std::fs::metadata(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("opening {}", path.display()))?
            .is_file();
        if !is_file {
            return Err(miette!(
                "{}: not a regular file (a FIFO, socket or device could block the read)",
                path.display()
            ));
        }
        let file = File::open(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("opening {}", path.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        Ok(Self::new(
            Box::new(BufReader::with_capacity(1 << 16, file)),
            path.display().to_string(),
            size,
        ))
    }

    fn new(reader: Box<dyn BufRead>, name: String, size: Option<u64>) -> Self {
        Self {
            reader,
            name,
            number: 0,
            size,
            consumed: 0,
            bad: 0,
        }
    }

    /// Up to `max` next non-blank lines; empty at the end. A line that is not UTF-8 is returned
    /// as an error for that line; a failing read stops the command.
    pub fn chunk(&mut self, max: usize) -> miette::Result<Vec<RawLine>> {
        let mut out = Vec::with_capacity(max.min(1 << 14));
        while out.len() < max {
            let mut bytes = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_LINE_BYTES)
                .read_until(b'\n', &mut bytes)
                .into_diagnostic()
                .wrap_err_with(|| {
                    format!("{}:{}: cannot read the line", self.name, self.number + 1)
                })?;
            if n == 0 {
                break;
            }
            self.number += 1;
            self.consumed += n as u64;
            let text = String::from_utf8(bytes)
                .map_err(|_| "cannot read the line: not valid UTF-8".to_string());
            if text.as_ref().is_ok_and(|t| t.trim().is_empty()) {
                continue;
            }
            out.push(RawLine {
                number: self.number,
                text,
            });
        }
        Ok(out)
    }

    /// Up to `max` next requests; lines that are not requests are [reported](Self::report).
    /// Empty at the end.
    pub fn requests(&mut self, max: usize) -> miette::Result<Vec<(usize, ProposedAction)>> {
        loop {
            let chunk = self.chunk(max)?;
            if chunk.is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(chunk.len());
            for line in chunk {
                match line.request() {
                    Ok(request) => out.push((line.number, request)),
                    Err(why) => self.report(line.number, &why),
                }
            }
            // A chunk of bad lines only is not the end of the input.
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Says on stderr which line could not be read and why, and counts it.
    pub fn report(&mut self, number: usize, why: &str) {
        self.bad += 1;
        eprint(&format!("{}:{number}: {}\n", shown(&self.name), shown(why)));
    }

    /// How many lines could not be read as a request.
    pub fn bad_lines(&self) -> usize {
        self.bad
    }

    /// The input's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `code`, or [`crate::exit::ERROR`] when some line could not be read: the result then
    /// covers only part of the input, and a script must not take it for the whole.
    pub fn exit_code(&self, code: u8) -> u8 {
        if self.bad > 0 {
            eprint(&format!(
                "{}: {} line{} could not be read as a request\n",
                shown(&self.name),
                self.bad,
                if self.bad == 1 { "" } else { "s" }
            ));
            code.max(crate::exit::ERROR)
        } else {
            code
        }
    }
}

// ---- Output ----------------------------------------------------------------------------------

/// Stdout for a command's output. A closed pipe (`tollgate audit show | head`) is not an error:
/// the writer notes it and drops everything after, and the command still ends with the exit
/// code its result set (a denied `verify` exits 4 whether or not anyone read the output).
/// Other write errors (a full disk) are errors.
pub struct Out {
    inner: std::io::BufWriter<std::io::StdoutLock<'static>>,
    closed: bool,
}

impl Out {
    /// Locks stdout for this command's output.
    pub fn new() -> Self {
        Self {
            inner: std::io::BufWriter::new(std::io::stdout().lock()),
            closed: false,
        }
    }

    /// Writes `text`; `Ok(false)` once the reader has gone away (stop producing output).
    pub fn write(&mut self, text: &str) -> miette::Result<bool> {
        if self.closed {
            return Ok(false);
        }
        let written = self.inner.write_all(text.as_bytes());
        self.settle(written)?;
        Ok(!self.closed)
    }

    /// Whether the reader is still there.
    pub fn is_open(&self) -> bool {
        !self.closed
    }

    /// Flushes, so that streamed output appears as it is produced.
    pub fn flush(&mut self) -> miette::Result<()> {
        if self.closed {
            return Ok(());
        }
        let flushed = self.inner.flush();
        self.settle(flushed)
    }

    fn settle(&mut self, result: std::io::Result<()>) -> miette::Result<()> {
        match result {
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other.into_diagnostic(),
        }
    }
}

/// Writes the whole of `text` to stdout and flushes; a closed pipe is not an error (see [`Out`]).
pub fn print(text: &str) -> miette::Result<()> {
    let mut out = Out::new();
    out.write(text)?;
    out.flush()
}

/// [`print`] with a newline after `text`.
pub fn println(text: &str) -> miette::Result<()> {
    print(&format!("{text}\n"))
}

/// [`println`] of `value` as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> miette::Result<()> {
    println(&serde_json::to_string_pretty(value).map_err(|e| miette!("{e}"))?)
}

/// Writes to stderr, ignoring failure: a closed stderr must not turn into a panic (as
/// `eprintln!` would) or change the exit code.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Says on stderr that no `--entities` were given, so nobody mistakes the decision for one made
/// with the entity data: without entities, every principal's groups and attributes are unknown.
pub fn note_no_entities(given: bool) {
    if !given {
        eprint("note: no --entities given: every entity is unknown to the policies\n");
    }
}
