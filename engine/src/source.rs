//! Source files and positions: what a pack is read from, and how errors point back into it.

use miette::{LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};
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

    /// The length of the text in bytes.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
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

/// The kind of a [`SourceDiagnostic`]: one list of every code the loader reports, each shown
/// as `tollgate::<name>` (stable, for tooling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticCode {
    /// A schema file does not parse, or the schema does not build.
    Schema,
    /// An annotation key close to one tollgate reads.
    MisspelledAnnotation,
    /// A policy does not validate strictly against the schema.
    Validation,
    /// A file name given twice.
    DuplicateFile,
    /// A policy file does not parse.
    Parse,
    /// A policy template (not supported).
    Template,
    /// An empty `@id`.
    InvalidId,
    /// A `@tier` outside the tier table.
    InvalidTier,
    /// A file or pack over a size or nesting limit.
    Limit,
    /// Two policies with one id.
    DuplicateId,
    /// A policy Cedar would not add to a set (cannot happen with unique ids).
    Internal,
}

impl DiagnosticCode {
    /// The code as reported, e.g. `tollgate::parse`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "tollgate::schema",
            Self::MisspelledAnnotation => "tollgate::misspelled_annotation",
            Self::Validation => "tollgate::validation",
            Self::DuplicateFile => "tollgate::duplicate_file",
            Self::Parse => "tollgate::parse",
            Self::Template => "tollgate::template",
            Self::InvalidId => "tollgate::invalid_id",
            Self::InvalidTier => "tollgate::invalid_tier",
            Self::Limit => "tollgate::limit",
            Self::DuplicateId => "tollgate::duplicate_id",
            Self::Internal => "tollgate::internal",
        }
    }
}

/// A problem in one source file, with the span(s) it concerns: rendered by miette with a snippet.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{file}:{}:{}: {message}", position.line, position.column)]
pub struct SourceDiagnostic {
    /// What kind of problem (stable, for tooling): a [`DiagnosticCode`] as text.
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
    pub(crate) src: Snippet,
    #[label(collection)]
    pub(crate) labels: Vec<LabeledSpan>,
}

impl SourceDiagnostic {
    /// Builds a diagnostic at `span` of `file`.
    pub(crate) fn new(
        code: DiagnosticCode,
        file: &SourceFile,
        span: SourceSpan,
        message: impl Into<String>,
    ) -> Self {
        let message = message.into();
        let src = Snippet::around(&file.name, &file.text, span).with_language("cedar");
        Self {
            code: code.as_str(),
            file: file.name.clone(),
            position: line_col(&file.text, span.offset()),
            policy: None,
            labels: src.clip(vec![LabeledSpan::new_with_span(
                Some(short_label(&message)),
                span,
            )]),
            message,
            help: None,
            src,
        }
    }

    /// Replaces the labels with those of an underlying Cedar diagnostic, whose offsets are into
    /// the same file, and moves the reported position to the first of them.
    pub(crate) fn with_labels(mut self, labels: Vec<LabeledSpan>, text: &str) -> Self {
        if let Some(first) = labels.first() {
            self.position = line_col(text, first.offset());
            self.src = Snippet::around(&self.file, text, *first.inner()).with_language("cedar");
            self.labels = self.src.clip(labels);
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

/// The part of a source text a diagnostic shows: the lines around a span, cut to a bounded
/// width and length, with the true line and column of where it starts.
///
/// miette renders whole lines, and a machine-written file can be one line megabytes long: a
/// snippet of it cost as much as the file, and miette's renderer panics on lines wider than
/// 65,535 columns. The message keeps the true line and column; only the snippet is cut.
#[derive(Debug, Clone)]
pub struct Snippet {
    name: String,
    language: Option<String>,
    /// The window's text, a contiguous slice of the file.
    text: String,
    /// Byte offset of the window in the file.
    start: usize,
    /// 0-based line and column (in characters) of the window's start in the file.
    line: usize,
    column: usize,
}

impl Snippet {
    /// At most this many bytes are shown before and after the start of the span on its line.
    pub const WIDTH: usize = 120;
    /// At most this many bytes are shown in all.
    pub const MAX_BYTES: usize = 4096;

    /// The window of `text` around `span` (byte offsets into `text`).
    pub fn around(name: &str, text: &str, span: SourceSpan) -> Self {
        let at = floor_char(text, span.offset());
        // From the start of the span's line, or WIDTH bytes before the span if that is later.
        let line_start = text
            .get(..at)
            .and_then(|t| t.rfind('\n'))
            .map_or(0, |i| i + 1);
        let start = floor_char(text, line_start.max(at.saturating_sub(Self::WIDTH)));
        // To the end of the span's last line, at most WIDTH bytes past the span and MAX_BYTES
        // in all.
        let span_end = floor_char(text, span.offset().saturating_add(span.len())).max(at);
        let last_line_end = text
            .get(span_end..)
            .and_then(|t| t.find('\n'))
            .map_or(text.len(), |i| span_end + i);
        let end = last_line_end
            .min(span_end.saturating_add(Self::WIDTH))
            .min(start.saturating_add(Self::MAX_BYTES));
        let end = ceil_char(text, end.max(start));
        let position = line_col(text, start);
        Self {
            name: name.to_string(),
            language: None,
            text: text.get(start..end).unwrap_or_default().to_string(),
            start,
            line: position.line - 1,
            column: position.column - 1,
        }
    }

    /// Sets the language used to highlight the snippet.
    pub fn with_language(mut self, language: &str) -> Self {
        self.language = Some(language.to_string());
        self
    }

    fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// The labels cut to the window; those entirely outside it are dropped.
    pub fn clip(&self, labels: Vec<LabeledSpan>) -> Vec<LabeledSpan> {
        labels
            .into_iter()
            .filter_map(|l| {
                let from = l.offset().clamp(self.start, self.end());
                let to = l
                    .offset()
                    .saturating_add(l.len())
                    .clamp(self.start, self.end());
                let inside = (l.offset() >= self.start && l.offset() <= self.end()) || to > from;
                inside.then(|| {
                    LabeledSpan::new_with_span(l.label().map(str::to_string), (from, to - from))
                })
            })
            .collect()
    }

    /// 0-based line and column of byte `offset` (within the window) in the file.
    fn position_of(&self, offset: usize) -> (usize, usize) {
        let rel = floor_char(&self.text, offset.saturating_sub(self.start));
        let before = self.text.get(..rel).unwrap_or_default();
        match before.rfind('\n') {
            Some(i) => (
                self.line + before.matches('\n').count(),
                before.get(i + 1..).map_or(0, |s| s.chars().count()),
            ),
            None => (self.line, self.column + before.chars().count()),
        }
    }
}

impl SourceCode for Snippet {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        if span.offset() < self.start || span.offset() > self.end() {
            return Err(MietteError::OutOfBounds);
        }
        // With no context asked for, miette wants where the span starts (for its header);
        // otherwise the whole window.
        let (data, from) = if context_lines_before == 0 && context_lines_after == 0 {
            let rel = floor_char(&self.text, span.offset() - self.start);
            (self.text.get(rel..).unwrap_or_default(), self.start + rel)
        } else {
            (self.text.as_str(), self.start)
        };
        let (line, column) = self.position_of(from);
        let contents = MietteSpanContents::new_named(
            self.name.clone(),
            data.as_bytes(),
            (from, data.len()).into(),
            line,
            column,
            data.lines().count(),
        );
        Ok(Box::new(match &self.language {
            Some(language) => contents.with_language(language.clone()),
            None => contents,
        }))
    }
}

fn floor_char(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
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
