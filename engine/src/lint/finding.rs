//! What lint reports: findings, their rule ids, severities, controls and locations.

use std::fmt;

use serde::Serialize;

use crate::PolicyId;
use crate::source::{LineCol, line_col};

/// A rule's stable id, written kebab-case in every output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RuleId {
    /// A workflow's privilege-expanding step runs `auto` before a later gated step.
    GateAfterExpansion,
    /// An `auto` permit may match a privilege-expanding action with no gate covering it.
    UngatedExpansion,
    /// A non-human principal may satisfy an approval permit.
    SelfApproval,
    /// A permit without `@tier`.
    MissingTier,
    /// A policy without `@id`.
    MissingId,
    /// A `@tier` outside the tier table.
    InvalidTier,
    /// Cedar strict validation.
    Schema,
    /// A policy that can error at run time.
    MayError,
    /// A permit that can never set the tier.
    ShadowedPermit,
    /// An exception without `@owner` and `@review_by`.
    ExceptionUnowned,
    /// An exception past its review date.
    ExceptionExpired,
    /// An auto permit relying on delegation without checking its expiry.
    StandingDelegation,
}

impl RuleId {
    /// The id as written in outputs, e.g. `gate-after-expansion`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::GateAfterExpansion => "gate-after-expansion",
            RuleId::UngatedExpansion => "ungated-expansion",
            RuleId::SelfApproval => "self-approval",
            RuleId::MissingTier => "missing-tier",
            RuleId::MissingId => "missing-id",
            RuleId::InvalidTier => "invalid-tier",
            RuleId::Schema => "schema",
            RuleId::MayError => "may-error",
            RuleId::ShadowedPermit => "shadowed-permit",
            RuleId::ExceptionUnowned => "exception-unowned",
            RuleId::ExceptionExpired => "exception-expired",
            RuleId::StandingDelegation => "standing-delegation",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is. `Error` fails `tollgate lint`; `Warning` fails it only with
/// `--deny warnings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth fixing; does not fail CI by default.
    Warning,
    /// Fails CI.
    Error,
}

impl Severity {
    /// `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A framework control a rule maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Control {
    /// OWASP Top 10 for agentic applications: excessive agency / privilege.
    #[serde(rename = "OWASP-Agentic-A01")]
    OwaspAgenticA01,
    /// MAESTRO governance: human oversight of agent actions.
    #[serde(rename = "MAESTRO-GOV-2")]
    MaestroGov2,
    /// NIST AI Risk Management Framework (govern / manage).
    #[serde(rename = "NIST-AI-RMF")]
    NistAiRmf,
}

impl Control {
    /// The control's tag, e.g. `OWASP-Agentic-A01`.
    pub fn as_str(self) -> &'static str {
        match self {
            Control::OwaspAgenticA01 => "OWASP-Agentic-A01",
            Control::MaestroGov2 => "MAESTRO-GOV-2",
            Control::NistAiRmf => "NIST-AI-RMF",
        }
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kind of input file a location is in; file names are relative to that input's folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// A policy file, named relative to the policies folder.
    Policy,
    /// A workflow file, named relative to the workflows folder.
    Workflow,
}

/// A stretch of a file: byte offset and length, with 1-based start and end positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Where it starts (1-based line and column).
    pub start: LineCol,
    /// Where it ends: the position just past its last character.
    pub end: LineCol,
}

impl Span {
    /// The span of `len` bytes at `offset` in `text`, clamped to the text.
    pub fn in_text(text: &str, offset: usize, len: usize) -> Self {
        let offset = offset.min(text.len());
        let len = len.min(text.len() - offset);
        Self {
            offset,
            len,
            start: line_col(text, offset),
            end: line_col(text, offset + len),
        }
    }
}

impl Span {
    /// [`Span::in_text`] with the text's line starts already indexed: a pack's findings are
    /// placed in logarithmic time each rather than by scanning the file from its start.
    pub(crate) fn in_lines(
        lines: &crate::source::LineIndex<'_>,
        offset: usize,
        len: usize,
    ) -> Self {
        let text_len = lines.text_len();
        let offset = offset.min(text_len);
        let len = len.min(text_len - offset);
        Self {
            offset,
            len,
            start: lines.line_col(offset),
            end: lines.line_col(offset + len),
        }
    }
}

/// A place in one of the inputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    /// Policy or workflow file.
    pub origin: Origin,
    /// File name relative to its folder, `/`-separated.
    pub file: String,
    /// Where in the file.
    pub span: Span,
}

/// Another place that explains a finding (the other step, a responsible policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    /// Where.
    pub location: Location,
    /// What is there.
    pub message: String,
}

/// One problem lint found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule: RuleId,
    /// How serious it is.
    pub severity: Severity,
    /// What is wrong, in one or two sentences.
    pub message: String,
    /// The policies concerned, by id.
    pub policies: Vec<PolicyId>,
    /// Where it is.
    pub location: Location,
    /// Other places that explain it.
    pub related: Vec<Related>,
    /// The framework controls the rule maps to.
    pub controls: Vec<Control>,
    /// How to fix it.
    pub hint: String,
    /// A concrete request that shows the problem, when an exact analysis produced one:
    /// `{"request", "at", "entities"}`, which `tollgate decide` takes as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<serde_json::Value>,
}

impl Finding {
    /// A finding of `rule` at `location`, with the rule's severity and controls.
    pub(crate) fn new(
        rule: &dyn super::Rule,
        location: Location,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            rule: rule.id(),
            severity: rule.severity(),
            message: message.into(),
            policies: Vec::new(),
            location,
            related: Vec::new(),
            controls: rule.controls().to_vec(),
            hint: hint.into(),
            counterexample: None,
        }
    }

    pub(crate) fn with_policies(mut self, ids: impl IntoIterator<Item = PolicyId>) -> Self {
        for id in ids {
            if !self.policies.contains(&id) {
                self.policies.push(id);
            }
        }
        self
    }

    pub(crate) fn with_related(mut self, related: impl IntoIterator<Item = Related>) -> Self {
        self.related.extend(related);
        self
    }

    pub(crate) fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}
