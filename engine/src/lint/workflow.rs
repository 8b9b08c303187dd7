//! Workflows: ordered chains of tool calls an agent may make (`<policies>/workflows/*.yaml`).
//!
//! ```yaml
//! name: leaked-token-response
//! principal: 'Agent::"ir-bot"'
//! entities: ../../examples/entities.json      # optional: a path relative to this file, or inline
//! at: 2026-06-01T12:00:00Z                    # optional evaluation time (file or step level)
//! steps:
//!   - {action: 'Action::"read_secret_metadata"', resource: 'Secret::"db-prod"'}
//!   - {action: 'Action::"add_token_scope"', resource: 'Token::"ci"', context: {scopes: ["prod:write"]}}
//!   - {action: 'Action::"deploy"', resource: 'Environment::"prod"'}
//! ```

use serde::Deserialize;
use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, Parser};

use crate::model::request::{EntityRef, ProposedAction, RequestError};
use crate::source::SourceFile;
use crate::timestamp::Timestamp;

/// A workflow as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Its name, used in messages and in generated request ids.
    pub name: String,
    /// What the workflow is for (free text).
    #[serde(default)]
    pub description: Option<String>,
    /// The agent that makes every call, e.g. `Agent::"ir-bot"`.
    pub principal: Value,
    /// Entities: a path relative to the file, or an inline Cedar entities array.
    #[serde(default)]
    pub entities: Option<Value>,
    /// Evaluation time for every step that gives none.
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// The calls, in order.
    pub steps: Vec<WorkflowStep>,
}

/// One call of a workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowStep {
    /// What the step does, in words (optional).
    #[serde(default)]
    pub name: Option<String>,
    /// The action, e.g. `Action::"deploy"`.
    pub action: Value,
    /// The resource, e.g. `Environment::"prod"`.
    pub resource: Value,
    /// The request context.
    #[serde(default)]
    pub context: Map<String, Value>,
    /// Evaluation time for this step.
    #[serde(default)]
    pub at: Option<Timestamp>,
}

/// A workflow file that cannot be used.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("{file}: {message}")]
pub struct WorkflowError {
    /// The file, as named in the input.
    pub file: String,
    /// What is wrong (with the step number when it concerns one step).
    pub message: String,
}

/// A parsed workflow file with its entities resolved and each step's position.
#[derive(Debug, Clone)]
pub struct WorkflowFile {
    /// The file: name relative to the workflows folder, and text.
    pub source: SourceFile,
    /// Its content.
    pub workflow: Workflow,
    /// The entities its steps are decided with (Cedar entities JSON; an empty array if none).
    pub entities: Value,
    /// Byte span of each step in the text (the step's first line).
    step_spans: Vec<(usize, usize)>,
}

impl WorkflowFile {
    /// Parses a workflow. Its entities are the inline array it gives, or none; a file that
    /// names an entities file gets them through [`WorkflowFile::with_entities`].
    pub fn parse(source: SourceFile) -> Result<Self, WorkflowError> {
        let err = |message: String| WorkflowError {
            file: source.name.clone(),
            message,
        };
        let workflow: Workflow =
            serde_norway::from_str(&source.text).map_err(|e| err(e.to_string()))?;
        if workflow.steps.is_empty() {
            return Err(err("no steps".into()));
        }
        crate::limits::Limits::current()
            .check(crate::limits::Limit::WorkflowSteps, workflow.steps.len())
            .map_err(|e| err(format!("the workflow has {e}")))?;
        let entities = match &workflow.entities {
            Some(inline @ Value::Array(_)) => crate::json::recheck(inline)
                .map_err(|e| err(format!("entities: {}", e.message())))?,
            _ => Value::Array(Vec::new()),
        };
        for (n, step) in workflow.steps.iter().enumerate() {
            crate::json::recheck(&Value::Object(step.context.clone()))
                .map_err(|e| err(format!("step {}: context: {}", n + 1, e.message())))?;
        }
        let step_spans = step_spans(&source.text, workflow.steps.len());
        Ok(Self {
            source,
            workflow,
            entities,
            step_spans,
        })
    }

    /// The same workflow with these entities (read from the file its `entities:` names).
    pub fn with_entities(mut self, entities: Value) -> Self {
        self.entities = entities;
        self
    }

    /// The path its `entities:` names, relative to the workflow file, if it names one.
    pub fn entities_path(&self) -> Option<&str> {
        self.workflow.entities.as_ref().and_then(Value::as_str)
    }

    /// Byte span of step `index` (0-based) in the file.
    pub(crate) fn step_span(&self, index: usize) -> (usize, usize) {
        self.step_spans.get(index).copied().unwrap_or((0, 0))
    }

    /// The request step `index` (0-based) makes. Where the action's context declares a
    /// `request_id` and the step gives none, a unique one is filled in
    /// (`<workflow name>/step-<n>`), because every proposed action carries one in production.
    pub(crate) fn request(
        &self,
        index: usize,
        declares_request_id: impl Fn(&EntityRef) -> bool,
    ) -> Result<ProposedAction, WorkflowError> {
        let err = |e: RequestError| WorkflowError {
            file: self.source.name.clone(),
            message: format!("step {}: {e}", index + 1),
        };
        let Some(step) = self.workflow.steps.get(index) else {
            return Err(WorkflowError {
                file: self.source.name.clone(),
                message: format!("no step {}", index + 1),
            });
        };
        let principal = EntityRef::from_json(&self.workflow.principal, "principal").map_err(err)?;
        let action = EntityRef::from_json(&step.action, "action").map_err(err)?;
        let resource = EntityRef::from_json(&step.resource, "resource").map_err(err)?;
        let mut context = step.context.clone();
        if !context.contains_key(REQUEST_ID) && declares_request_id(&action) {
            context.insert(
                REQUEST_ID.into(),
                Value::String(format!("{}/step-{}", self.workflow.name, index + 1)),
            );
        }
        ProposedAction::new(principal, action, resource, context).map_err(err)
    }

    /// The evaluation time of step `index`: the step's `at`, else the file's, else `default`.
    pub(crate) fn at(&self, index: usize, default: Timestamp) -> Timestamp {
        self.workflow
            .steps
            .get(index)
            .and_then(|s| s.at)
            .or(self.workflow.at)
            .unwrap_or(default)
    }
}

/// The context attribute that makes each proposed action unique.
pub(crate) const REQUEST_ID: &str = "request_id";

/// The span of each item of the top-level `steps` sequence: from the item's first character
/// to the end of that line. `serde_norway` keeps no positions, so the text is read a second
/// time with an event parser that does; should the two disagree, steps point at the start.
fn step_spans(text: &str, count: usize) -> Vec<(usize, usize)> {
    let mut starts = Vec::new();
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut expect_key = true;
    let mut steps_next = false;
    let mut in_steps = false;
    // A block mapping's start event is marked after its first key: take the key's position.
    let mut first_key_pending = false;
    while let Ok((event, mark)) = parser.next_token() {
        if first_key_pending && depth == 3 && matches!(event, Event::Scalar(..)) {
            let at = byte_offset(text, mark.index());
            if let Some(last) = starts.last_mut() {
                *last = at.min(*last);
            }
            first_key_pending = false;
        }
        let starts_node = matches!(
            event,
            Event::Scalar(..)
                | Event::Alias(_)
                | Event::MappingStart(..)
                | Event::SequenceStart(..)
        );
        if starts_node {
            if depth == 1 {
                if expect_key {
                    steps_next = matches!(&event, Event::Scalar(k, ..) if k == "steps");
                } else {
                    in_steps = steps_next && matches!(event, Event::SequenceStart(..));
                    steps_next = false;
                }
                expect_key = !expect_key;
            } else if depth == 2 && in_steps {
                starts.push(byte_offset(text, mark.index()));
                first_key_pending = matches!(event, Event::MappingStart(..));
            }
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_steps = false;
                }
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    if starts.len() != count {
        return vec![(0, 0); count];
    }
    starts
        .into_iter()
        .map(|start| {
            let line_end = text
                .get(start..)
                .and_then(|rest| rest.find('\n'))
                .map_or(text.len(), |i| start + i);
            let line = text.get(start..line_end).unwrap_or_default();
            (start, line.trim_end().len())
        })
        .collect()
}

/// The parser counts characters; spans are in bytes.
fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(feature = "fs")]
pub use files::*;

#[cfg(feature = "fs")]
mod files {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::fs::{EntitiesFileError, ReadError, read_entities_beside, read_text, relative_name};
    use crate::testcase::find_test_files;

    /// Why the workflows could not be read.
    #[derive(Debug, thiserror::Error, miette::Diagnostic)]
    #[non_exhaustive]
    pub enum WorkflowLoadError {
        /// A file could not be read.
        #[error(transparent)]
        Read(#[from] ReadError),
        /// A workflow is not valid.
        #[error(transparent)]
        Workflow(#[from] WorkflowError),
        /// Its entities file is not JSON.
        #[error("{path}: entities are not valid JSON: {message}")]
        Entities {
            /// The entities file.
            path: PathBuf,
            /// The JSON error.
            message: String,
        },
    }

    /// Reads every `.yaml`/`.yml` workflow under `dir` (recursively), named relative to `dir`,
    /// with the entities each names.
    pub fn read_workflows(dir: &Path) -> Result<Vec<WorkflowFile>, WorkflowLoadError> {
        let mut out = Vec::new();
        for path in find_test_files(dir)? {
            let text = read_text(&path)?;
            let file = WorkflowFile::parse(SourceFile::new(relative_name(dir, &path), text))?;
            let file = match file.entities_path() {
                Some(rel) => {
                    let entities = read_entities_beside(&path, rel).map_err(|e| match e {
                        EntitiesFileError::Read(e) => WorkflowLoadError::Read(e),
                        EntitiesFileError::Json { path, message } => {
                            WorkflowLoadError::Entities { path, message }
                        }
                    })?;
                    file.with_entities(entities)
                }
                None => file,
            };
            out.push(file);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = "name: wf\nprincipal: 'Agent::\"bot\"'\nsteps:\n  - {action: 'Action::\"a\"', resource: 'R::\"r\"'}\n  - action: 'Action::\"b\"'\n    resource: 'R::\"é\"'\n    context: {request_id: mine}\n  - {action: 'Action::\"c\"', resource: 'R::\"r\"', at: 2026-06-01T12:00:00Z}\n";

    fn parse(text: &str) -> Result<WorkflowFile, WorkflowError> {
        WorkflowFile::parse(SourceFile::new("wf.yaml", text))
    }

    #[test]
    fn steps_have_spans_on_their_lines() {
        let wf = parse(FLOW).unwrap();
        let lines: Vec<usize> = (0..3)
            .map(|i| crate::line_col(FLOW, wf.step_span(i).0).line)
            .collect();
        assert_eq!(lines, [4, 5, 8]);
        let (o, l) = wf.step_span(1);
        assert_eq!(&FLOW[o..o + l], "action: 'Action::\"b\"'");
    }

    #[test]
    fn request_ids_are_filled_only_when_declared_and_missing() {
        let wf = parse(FLOW).unwrap();
        let r = wf.request(0, |_| true).unwrap();
        assert_eq!(r.context["request_id"], "wf/step-1");
        let r = wf.request(1, |_| true).unwrap();
        assert_eq!(r.context["request_id"], "mine");
        let r = wf.request(0, |_| false).unwrap();
        assert!(r.context.is_empty());
    }

    #[test]
    fn step_time_wins_over_file_time_over_default() {
        let wf = parse(FLOW).unwrap();
        let default: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(wf.at(0, default), default);
        assert_eq!(wf.at(2, default).to_rfc3339(), "2026-06-01T12:00:00Z");
    }

    #[test]
    fn bad_workflows_are_errors() {
        assert!(parse("name: x\nprincipal: 'A::\"a\"'\nsteps: []\n").is_err());
        assert!(
            parse("name: x\nsteps: [{action: 'Action::\"a\"', resource: 'R::\"r\"'}]\n").is_err()
        );
        assert!(parse(&FLOW.replace("context:", "contxt:")).is_err());
        let wf = parse(&FLOW.replace("'Agent::\"bot\"'", "'nope'")).unwrap();
        let e = wf.request(0, |_| false).unwrap_err();
        assert!(e.to_string().contains("step 1"), "{e}");
    }
}
