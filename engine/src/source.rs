//! Source files and positions: what a pack is read from, and how errors point back into it.

use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::{Deserialize, Serialize};

/// One named text: a policy file (name relative to the policies folder) or a schema file.
/// This is also the shape the WASM ABI receives, so the CLI and the module name files alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Path relative to the policies folder (or the schema folder), with `/` separators.
    pub name: String,
    /// The exact text.
    pub text: String,
}

impl SourceFile {
    /// A named text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Everything a pack is built from: its policy files and its schema files (possibly none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSource {
    /// Cedar policy files.
    pub policies: Vec<SourceFile>,
    /// Cedar schema files (`.cedarschema`, or `.cedarschema.json` in Cedar's JSON schema format).
    #[serde(default)]
    pub schemas: Vec<SourceFile>,
}

/// A 1-based line and column (in characters) within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

/// Position of byte `offset` in `text`; offsets past the end clamp to the end.
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = text.get(..end).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    LineCol { line, column }
}

/// The line starts of a text, for [`line_col`] answers in logarithmic time: the loader places
/// every policy of a file, and scanning from the start for each was quadratic in the file size.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    /// The same answer as [`line_col`]`(text, offset)`.
    pub(crate) fn line_col(&self, offset: usize) -> LineCol {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        // The number of line starts at or before `end` is the 1-based line.
        let line = self.starts.partition_point(|&s| s <= end).max(1);
        let line_start = self.starts.get(line - 1).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..end)
            .map_or(0, |s| s.chars().count())
            + 1;
        LineCol { line, column }
    }
}

/// A problem in one source file, with the span(s) it concerns: rendered by miette with a snippet.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{file}:{}:{}: {message}", position.line, position.column)]
pub struct SourceDiagnostic {
    /// What kind of problem (stable, for tooling).
    #[diagnostic(code)]
    pub code: &'static str,
    /// File name as given to the loader.
    pub file: String,
    /// Where the problem starts.
    pub position: LineCol,
    /// The id of the policy concerned, when known.
    pub policy: Option<String>,
    /// One-line description.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    #[help]
    pub help: Option<String>,
    #[source_code]
    pub(crate) src: NamedSource<String>,
    #[label(collection)]
    pub(crate) labels: Vec<LabeledSpan>,
}

impl SourceDiagnostic {
    /// Builds a diagnostic at `span` of `file`.
    pub(crate) fn new(
        code: &'static str,
        file: &SourceFile,
        span: SourceSpan,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        Self {
            code,
            file: file.name.clone(),
            position: line_col(&file.text, span.offset()),
            policy: None,
            labels: vec![LabeledSpan::new_with_span(
                Some(short_label(&message)),
                span,
            )],
            message,
            help: None,
            src: NamedSource::new(file.name.clone(), file.text.clone()).with_language("cedar"),
        }
    }

    /// Replaces the labels with those of an underlying Cedar diagnostic, whose offsets are into
    /// the same file, and moves the reported position to the first of them.
    pub(crate) fn with_labels(mut self, labels: Vec<LabeledSpan>, text: &str) -> Self {
        if let Some(first) = labels.first() {
            self.position = line_col(text, first.offset());
            self.labels = labels;
        }
        self
    }

    pub(crate) fn with_policy(mut self, id: impl Into<String>) -> Self {
        self.policy = Some(id.into());
        self
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

fn short_label(message: &str) -> String {
    const MAX: usize = 60;
    if message.chars().count() <= MAX {
        message.to_string()
    } else {
        let cut: String = message.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_line_col() {
        for text in ["", "a", "\n", "ab\ncd\n\né\nf", "x\r\ny\n\n"] {
            let index = LineIndex::new(text);
            for offset in 0..=text.len() + 2 {
                assert_eq!(
                    index.line_col(offset),
                    line_col(text, offset),
                    "{text:?} {offset}"
                );
            }
        }
    }

    #[test]
    fn line_col_counts_from_one() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_col(t, 0), LineCol { line: 1, column: 1 });
        assert_eq!(line_col(t, 3), LineCol { line: 2, column: 1 });
        assert_eq!(line_col(t, 7), LineCol { line: 2, column: 4 });
        assert_eq!(line_col(t, 8), LineCol { line: 3, column: 1 });
        assert_eq!(line_col(t, 999), LineCol { line: 3, column: 2 });
        // Inside a multi-byte char: clamps back to its start.
        assert_eq!(line_col(t, 6), LineCol { line: 2, column: 3 });
    }
}
