//! Everything the CLI prints goes through here: decisions formatted for people, untrusted text
//! made safe for a terminal, and one stdout writer that stops quietly on a closed pipe.
//!
//! Text output shows ids, reasons, file names and messages that come from requests, entities,
//! approval records, audit logs and policy files: anyone who can write one of those could put a
//! newline (a forged row), an ANSI escape (recoloured or erased text) or a bidi override
//! (reordered text) in front of the person reading. [`shown`] escapes them. JSON, SARIF and CSV
//! carry the exact text (JSON escapes control characters itself; CSV quotes fields).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{ErrorKind, Write};

use miette::IntoDiagnostic;
use tollgate_engine::{Decision, Tier};

/// Whether `c` must not reach a terminal as is: C0 and C1 controls, DEL, the Unicode line and
/// paragraph separators, and the bidi marks, embeddings, overrides and isolates that reorder
/// text on screen.
fn unsafe_char(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        | '\u{61c}' | '\u{200e}' | '\u{200f}'
        | '\u{2028}' | '\u{2029}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` as it is safe to show in a terminal: every character [`unsafe_char`] names is written
/// as an escape (`\n`, `\r`, `\t`, else `\u{1b}`), so one field stays on one line and looks
/// like what it is. Text without such characters is returned as is.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`shown`] of anything displayable.
pub fn shown_display(value: impl std::fmt::Display) -> String {
    shown(&value.to_string()).into_owned()
}

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

/// One line with the tier, then why. Every field from the pack or the request is [`shown`].
pub fn decision_text(d: &Decision) -> String {
    let mut out = String::new();
    let headline = match d.tier {
        Tier::Auto => "auto: allowed with no human approval".to_string(),
        Tier::Single => "single: allowed once 1 human approves".to_string(),
        Tier::Dual => "dual: allowed once 2 distinct humans approve".to_string(),
        Tier::Deny => "deny: not allowed".to_string(),
    };
    let _ = writeln!(out, "{headline}");
    if d.determining.is_empty() && d.tier == Tier::Deny {
        let _ = writeln!(out, "  no permit matches this request");
    }
    for p in &d.determining {
        let role = match (p.effect.as_str(), p.tier) {
            ("permit", t) => format!("permit ({t})"),
            (_, Tier::Deny) => "forbid".to_string(),
            (_, t) => format!("gate ({t})"),
        };
        let _ = write!(
            out,
            "  {role} {} at {}",
            shown(p.id.as_str()),
            shown(&p.source)
        );
        if let Some(reason) = &p.reason {
            let _ = write!(out, ": {}", shown(reason));
        }
        if !p.controls.is_empty() {
            let _ = write!(out, " [{}]", shown(&p.controls.join(", ")));
        }
        out.push('\n');
    }
    for e in &d.errors {
        let _ = writeln!(
            out,
            "  error in {}: {} (counted fail-closed)",
            shown(&e.policy),
            shown(&e.message)
        );
    }
    let _ = writeln!(
        out,
        "  request {}\n  policy set {}",
        d.request, d.policy_set
    );
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in ["", "Agent::\"triage-bot\"", "é ünïcode ✓ 日本", "a\\nb"] {
            assert!(matches!(shown(s), std::borrow::Cow::Borrowed(t) if t == s));
        }
    }

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(shown("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(shown("x\u{1b}[31mred"), "x\\u{1b}[31mred");
        assert_eq!(
            shown("\u{0}\u{7f}\u{85}\u{9b}"),
            "\\u{0}\\u{7f}\\u{85}\\u{9b}"
        );
        assert_eq!(shown("ab\u{202e}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        assert_eq!(shown("\u{2028}\u{200f}"), "\\u{2028}\\u{200f}");
        // The neighbours of the ranges stay.
        let neighbours = "\u{20}\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}";
        assert_eq!(shown(neighbours), neighbours);
        for s in ["\u{202a}", "\u{202d}", "\u{2069}", "\u{9f}", "\u{1f}"] {
            assert!(!shown(s).chars().any(|c| c.is_control() || c == '\u{202a}'));
        }
    }
}
