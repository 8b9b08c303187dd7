//! The JSON shape of lint findings (`tollgate lint --format json`, and the WASM module's
//! `tollgate_lint`): defined once here so that every caller emits the same fields.

use serde::Serialize;

use super::{Finding, Location};

/// One finding with stable field names; positions are 1-based lines and columns.
#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    /// Rule id, e.g. `gate-after-expansion`.
    pub rule: &'static str,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// Ids of the policies concerned.
    pub policies: Vec<&'a str>,
    /// The file, as the caller names it.
    pub file: String,
    /// Start line.
    pub line: usize,
    /// Start column.
    pub column: usize,
    /// End line.
    pub end_line: usize,
    /// End column.
    pub end_column: usize,
    /// Framework controls the rule maps to.
    pub controls: Vec<&'static str>,
    /// How to fix it.
    pub hint: &'a str,
    /// Other places that explain the finding.
    pub related: Vec<JsonRelated<'a>>,
    /// A request that shows the problem (exact analysis only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<&'a serde_json::Value>,
}

/// A related location of a [`JsonFinding`].
#[derive(Debug, Serialize)]
pub struct JsonRelated<'a> {
    /// The file, as the caller names it.
    pub file: String,
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
    /// Why it is related.
    pub message: &'a str,
}

/// `findings` in the JSON shape, each file named by `path_of` (the CLI shows paths relative to
/// the working directory; the WASM module keeps the names it was given).
pub fn json_findings<'a>(
    findings: &'a [Finding],
    path_of: impl Fn(&Location) -> String,
) -> Vec<JsonFinding<'a>> {
    findings
        .iter()
        .map(|f| JsonFinding {
            rule: f.rule.as_str(),
            severity: f.severity.as_str(),
            message: &f.message,
            policies: f.policies.iter().map(|p| p.as_str()).collect(),
            file: path_of(&f.location),
            line: f.location.span.start.line,
            column: f.location.span.start.column,
            end_line: f.location.span.end.line,
            end_column: f.location.span.end.column,
            controls: f.controls.iter().map(|c| c.as_str()).collect(),
            hint: &f.hint,
            related: f
                .related
                .iter()
                .map(|r| JsonRelated {
                    file: path_of(&r.location),
                    line: r.location.span.start.line,
                    column: r.location.span.start.column,
                    message: &r.message,
                })
                .collect(),
            counterexample: f.counterexample.as_ref(),
        })
        .collect()
}
