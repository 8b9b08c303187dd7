//! Why a pack does not load, and why a request cannot be decided: errors, never decisions.

use crate::source::SourceDiagnostic;

/// The pack failed to load. Holds every problem found, each naming its file, line and policy.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{summary}")]
pub struct LoadError {
    summary: String,
    #[related]
    problems: Vec<SourceDiagnostic>,
}

impl LoadError {
    pub(crate) fn new(problems: Vec<SourceDiagnostic>) -> Self {
        let summary = match problems.as_slice() {
            [one] => format!("could not load the policy pack: {one}"),
            [first, rest @ ..] => format!(
                "could not load the policy pack: {first} (and {} more problem{})",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
            [] => "could not load the policy pack".to_string(),
        };
        Self { summary, problems }
    }

    /// Each problem, in file order.
    pub fn problems(&self) -> &[SourceDiagnostic] {
        &self.problems
    }
}

/// A request or entity set that does not fit the pack: an error, never a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum InputError {
    /// The request could not be read.
    #[error(transparent)]
    Request(#[from] crate::model::request::RequestError),
    /// The caller supplied `context.now`; only tollgate's clock may set it.
    #[error(
        "request field `context.now` is set by tollgate from the evaluation time; remove it from the request"
    )]
    #[diagnostic(help("pass the evaluation time with --at (CLI) or \"at\" (WASM) instead"))]
    CallerSuppliedNow,
    /// The context does not fit the schema.
    #[error("request field `context` does not match the schema for {action}: {message}")]
    Context {
        /// The action whose context was checked.
        action: String,
        /// Cedar's message.
        message: String,
    },
    /// The request does not fit the schema (unknown action, wrong principal/resource type, …).
    #[error("request does not match the schema: {0}")]
    Schema(String),
    /// The entities could not be read or do not fit the schema.
    #[error("entities: {0}")]
    Entities(String),
    /// A policy set needed for the decision could not be built (it cannot happen with the
    /// unique ids every pack has); no decision is made.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A Cedar error with its diagnostic causes, on one line (Cedar puts the useful detail there).
pub(crate) fn error_chain(e: &dyn miette::Diagnostic) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    if let Some(help) = e.help() {
        out.push_str(&format!(" (help: {help})"));
    }
    out
}
