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
    files: HashMap<(Origin, String), (String, String)>,
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
            .map(|(origin, (name, path, text))| ((origin, name), (path, text)))
            .collect();
        Self { files }
    }

    /// The path to show for `location`'s file.
    pub fn path(&self, location: &Location) -> String {
        self.files
            .get(&(location.origin, location.file.clone()))
            .map_or_else(|| location.file.clone(), |(p, _)| p.clone())
    }

    /// The text of `location`'s file (empty if unknown).
    pub fn text(&self, location: &Location) -> &str {
        self.files
            .get(&(location.origin, location.file.clone()))
            .map_or("", |(_, t)| t.as_str())
    }
}
