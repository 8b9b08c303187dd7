//! Text for people, in the style of rustc and ruff: the rule, the message, the source line(s)
//! with the span underlined, related places, controls and a hint. Messages, paths and source
//! lines come from the files linted: each is shown through [`shown`], so a control character
//! or bidi override in a policy cannot rewrite what the reviewer sees.

use std::fmt::Write as _;

use tollgate_engine::lint::{Finding, Severity};

use super::{Emitter, Sources};
use crate::render::shown;

/// rustc-like text.
pub struct Text;

/// At most this many lines of a multi-line span are shown.
const MAX_LINES: usize = 4;

impl Emitter for Text {
    fn emit(&self, findings: &[Finding], sources: &Sources) -> miette::Result<String> {
        let mut out = String::new();
        for f in findings {
            render(&mut out, f, sources);
        }
        let errors = findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = findings.len() - errors;
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        if findings.is_empty() {
            out.push_str("no problems found\n");
        } else {
            let _ = writeln!(
                out,
                "found {} and {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            );
        }
        Ok(out)
    }
}

fn render(out: &mut String, f: &Finding, sources: &Sources) {
    let l = &f.location;
    let _ = writeln!(out, "{}[{}]: {}", f.severity, f.rule, shown(&f.message));
    let text = sources.text(l);
    let first = l.span.start.line;
    let last = l.span.end.line.max(first);
    // When a span ends at the very start of a line, that line holds none of it.
    let last = if last > first && l.span.end.column == 1 {
        last - 1
    } else {
        last
    };
    let width = last.to_string().len();
    let pad = " ".repeat(width);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        shown(&sources.path(l)),
        l.span.start.line,
        l.span.start.column
    );
    if !text.is_empty() {
        let _ = writeln!(out, "{pad} |");
        for n in first..=last.min(first + MAX_LINES - 1) {
            let Some(line) = sources.line(l, n) else {
                break;
            };
            let chars = line.chars().count();
            let from = if n == first { l.span.start.column } else { 1 };
            let to = if n == l.span.end.line {
                l.span.end.column
            } else {
                chars + 1
            };
            // Underline leading text only, not the indentation of continuation lines.
            let from = if n == first {
                from
            } else {
                line.chars().take_while(|c| c.is_whitespace()).count() + 1
            };
            // Columns of the line as shown, where an escaped character takes several.
            let (from, to) = (shown_column(line, from), shown_column(line, to));
            let carets = to.saturating_sub(from).max(1);
            let _ = writeln!(out, "{n:>width$} | {}", snippet(line));
            let _ = writeln!(
                out,
                "{pad} | {}{}",
                " ".repeat(from.saturating_sub(1)),
                "^".repeat(carets)
            );
        }
        if last >= first + MAX_LINES {
            let _ = writeln!(out, "{pad} | ...");
        }
        let _ = writeln!(out, "{pad} |");
    }
    for r in &f.related {
        let _ = writeln!(
            out,
            "{pad} = note: {}:{}:{}: {}",
            shown(&sources.path(&r.location)),
            r.location.span.start.line,
            r.location.span.start.column,
            shown(&r.message)
        );
    }
    if !f.policies.is_empty() {
        let ids: Vec<&str> = f.policies.iter().map(|p| p.as_str()).collect();
        let _ = writeln!(out, "{pad} = policies: {}", shown(&ids.join(", ")));
    }
    let controls: Vec<&str> = f.controls.iter().map(|c| c.as_str()).collect();
    let _ = writeln!(out, "{pad} = controls: {}", controls.join(", "));
    if let Some(example) = &f.counterexample {
        let _ = writeln!(
            out,
            "{pad} = counterexample: {}",
            shown(&example.to_string())
        );
    }
    let _ = writeln!(out, "{pad} = help: {}", shown(&f.hint));
    out.push('\n');
}

/// A source line as shown: tabs as four spaces (as rustc does), other controls escaped.
fn snippet(line: &str) -> String {
    shown(&line.replace('\t', "    ")).into_owned()
}

/// The 1-based column at which character column `column` of `line` starts in its [`snippet`].
fn shown_column(line: &str, column: usize) -> usize {
    let before: String = line.chars().take(column.saturating_sub(1)).collect();
    snippet(&before).chars().count() + 1
}
