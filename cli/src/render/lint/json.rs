//! `--format json`: an array of findings with stable field names (the engine's
//! [`json_findings`] shape, shared with the WASM module).

use tollgate_engine::lint::Finding;
use tollgate_engine::lint::report::json_findings;

use super::{Emitter, Sources};

/// A JSON array, one object per finding.
pub struct Json;

impl Emitter for Json {
    fn emit(&self, findings: &[Finding], sources: &Sources) -> miette::Result<String> {
        let out = json_findings(findings, |l| sources.path(l));
        let mut text = serde_json::to_string_pretty(&out).map_err(|e| miette::miette!("{e}"))?;
        text.push('\n');
        Ok(text)
    }
}
