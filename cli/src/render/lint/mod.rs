//! Rendering lint findings: one emitter per format behind one trait. Findings are data from
//! the engine; these only format them.

mod json;
mod sarif;
mod text;

use std::collections::HashMap;

use tollgate_engine::lint::{Finding, Location, Origin};

pub use json::Json;
pub use sarif::Sarif;
pub use text::Text;

/// An output format.
pub trait Emitter {
    /// Everything to print for `findings`.
    fn emit(&self, findings: &[Finding], sources: &Sources) -> miette::Result<String>;
}

/// The files findings point into: display path (relative to the working directory) and text,
/// by origin and name.
pub struct Sources {
    files: HashMap<(Origin, String), SourceText>,
}

/// A file's display path and text, with where each of its lines starts.
struct SourceText {
    path: String,
    text: String,
    /// The offset of each piece of `text.split_inclusive('\n')`: line `n` is the `n`-th piece
    /// with its line ending cut as [`str::lines`] cuts it. Found once per file, so showing a
    /// finding's line does not split the whole file again (lint was quadratic in the file size).
    starts: Vec<usize>,
}

impl SourceText {
    fn new(path: String, text: String) -> Self {
        let mut starts = Vec::new();
        let mut at = 0;
        for piece in text.split_inclusive('\n') {
            starts.push(at);
            at += piece.len();
        }
        Self { path, text, starts }
    }

    /// Line `n` (1-based), as `text.lines().nth(n - 1)`.
    fn line(&self, n: usize) -> Option<&str> {
        let start = *self.starts.get(n.checked_sub(1)?)?;
        let end = self.starts.get(n).copied().unwrap_or(self.text.len());
        let piece = self.text.get(start..end)?;
        // `str::lines`: a `\n` ends the line, and a `\r` just before it goes with it.
        Some(match piece.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => piece,
        })
    }
}

impl Sources {
    /// `policies` and `workflows` as `(name, display path, text)`.
    pub fn new(
        policies: Vec<(String, String, String)>,
        workflows: Vec<(String, String, String)>,
    ) -> Self {
        let files = policies
            .into_iter()
            .map(|f| (Origin::Policy, f))
            .chain(workflows.into_iter().map(|f| (Origin::Workflow, f)))
            .map(|(origin, (name, path, text))| ((origin, name), SourceText::new(path, text)))
            .collect();
        Self { files }
    }

    /// The path to show for `location`'s file.
    pub fn path(&self, location: &Location) -> String {
        self.files
            .get(&(location.origin, location.file.clone()))
            .map_or_else(|| location.file.clone(), |f| f.path.clone())
    }

    /// The text of `location`'s file (empty if unknown).
    pub fn text(&self, location: &Location) -> &str {
        self.files
            .get(&(location.origin, location.file.clone()))
            .map_or("", |f| f.text.as_str())
    }

    /// Line `n` (1-based) of `location`'s file, as `text(location).lines().nth(n - 1)`.
    pub fn line(&self, location: &Location, n: usize) -> Option<&str> {
        self.files
            .get(&(location.origin, location.file.clone()))
            .and_then(|f| f.line(n))
    }
}
