//! `--format json`: an array of findings with stable field names.

use serde::Serialize;
use tollgate_engine::lint::{Finding, Location};

use super::{Emitter, Sources};

/// A JSON array, one object per finding.
pub struct Json;

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: &'a str,
    message: &'a str,
    policies: Vec<&'a str>,
    file: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    controls: Vec<&'a str>,
    hint: &'a str,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    file: String,
    line: usize,
    column: usize,
    message: &'a str,
}

fn place(sources: &Sources, l: &Location) -> (String, usize, usize) {
    (sources.path(l), l.span.start.line, l.span.start.column)
}

impl Emitter for Json {
    fn emit(&self, findings: &[Finding], sources: &Sources) -> miette::Result<String> {
        let out: Vec<JsonFinding<'_>> = findings
            .iter()
            .map(|f| {
                let (file, line, column) = place(sources, &f.location);
                JsonFinding {
                    rule: f.rule.as_str(),
                    severity: f.severity.as_str(),
                    message: &f.message,
                    policies: f.policies.iter().map(|p| p.as_str()).collect(),
                    file,
                    line,
                    column,
                    end_line: f.location.span.end.line,
                    end_column: f.location.span.end.column,
                    controls: f.controls.iter().map(|c| c.as_str()).collect(),
                    hint: &f.hint,
                    related: f
                        .related
                        .iter()
                        .map(|r| {
                            let (file, line, column) = place(sources, &r.location);
                            JsonRelated {
                                file,
                                line,
                                column,
                                message: &r.message,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&out).map_err(|e| miette::miette!("{e}"))?;
        text.push('\n');
        Ok(text)
    }
}
