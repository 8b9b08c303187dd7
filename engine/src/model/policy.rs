//! A policy of the pack as tollgate sees it: its id, tier role, source position and the
//! annotations tollgate reads.

use std::collections::BTreeMap;
use std::fmt;

use cedar_policy::Policy;
use serde::Serialize;

use crate::model::tier::{Effect, InvalidTier, PolicyRole, Tier};
use crate::source::LineCol;

/// A policy's id: its `@id("...")`, or `<file>:<N>` for the N-th policy of a file without one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyId(String);

impl PolicyId {
    pub(crate) fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Comparisons with text, so that code matching a decision's policy ids against names reads
// as it did when ids were strings.
impl PartialEq<str> for PolicyId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PolicyId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PolicyId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl AsRef<str> for PolicyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<PolicyId> for String {
    fn from(id: PolicyId) -> Self {
        id.0
    }
}

/// The annotation keys tollgate reads on policies. Any other key is the pack's own (or, when
/// close to one of these, refused as a misspelling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AnnotationKey {
    /// `@tier`: the approval tier of a permit or gate.
    Tier,
    /// `@id`: the policy's id.
    Id,
    /// `@reason`: shown to humans with a decision.
    Reason,
    /// `@control`: the framework controls the policy implements, comma-separated.
    Control,
    /// `@owner`: who answers for an exception.
    Owner,
    /// `@review_by`: the date an exception must be reviewed by.
    ReviewBy,
    /// `@expansion_ok`: why an `auto` permit on a privilege-expanding action is acceptable.
    ExpansionOk,
}

impl AnnotationKey {
    /// Every key, in the order they are documented.
    pub const ALL: [AnnotationKey; 7] = [
        Self::Tier,
        Self::Id,
        Self::Reason,
        Self::Control,
        Self::Owner,
        Self::ReviewBy,
        Self::ExpansionOk,
    ];

    /// The key as written after `@`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tier => "tier",
            Self::Id => "id",
            Self::Reason => "reason",
            Self::Control => "control",
            Self::Owner => "owner",
            Self::ReviewBy => "review_by",
            Self::ExpansionOk => "expansion_ok",
        }
    }
}

impl fmt::Display for AnnotationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a policy's text is: its file, the byte span of its text (annotations included) and
/// the line and column it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub(crate) file: String,
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) position: LineCol,
}

impl Placement {
    /// `<file>:<line>`, the form decisions report.
    pub(crate) fn source(&self) -> String {
        format!("{}:{}", self.file, self.position.line)
    }
}

/// One policy of the pack with what tollgate knows about it.
#[derive(Debug, Clone)]
pub struct PolicyInfo {
    id: PolicyId,
    role: PolicyRole,
    ordinal: usize,
    at: Placement,
    annotations: BTreeMap<String, String>,
    policy: Policy,
}

impl PolicyInfo {
    /// A policy read from its file: `policy` already carries `id` as its Cedar id.
    pub(crate) fn new(
        id: PolicyId,
        role: PolicyRole,
        ordinal: usize,
        at: Placement,
        annotations: BTreeMap<String, String>,
        policy: Policy,
    ) -> Self {
        Self {
            id,
            role,
            ordinal,
            at,
            annotations,
            policy,
        }
    }

    /// The policy's id.
    pub fn id(&self) -> &PolicyId {
        &self.id
    }
    /// Permit, gate or forbid, with its tier.
    pub fn role(&self) -> PolicyRole {
        self.role
    }
    /// The tier the policy contributes (`deny` for a plain forbid).
    pub fn tier(&self) -> Tier {
        self.role.tier()
    }
    /// Permit or forbid, as written.
    pub fn effect(&self) -> Effect {
        self.role.effect()
    }
    /// The file the policy is in, relative to the policies folder.
    pub fn file(&self) -> &str {
        &self.at.file
    }
    /// 1-based position of the policy among the policies of its file.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }
    /// Byte offset and length of the policy's text (annotations included) in its file.
    pub fn span(&self) -> (usize, usize) {
        (self.at.offset, self.at.len)
    }
    /// Line and column where the policy starts.
    pub fn position(&self) -> LineCol {
        self.at.position
    }
    /// `<file>:<line>`, the form decisions report.
    pub fn source(&self) -> String {
        self.at.source()
    }
    /// The value of one of tollgate's annotations, if present.
    pub fn annotation(&self, key: AnnotationKey) -> Option<&str> {
        self.annotations.get(key.as_str()).map(String::as_str)
    }
    /// All annotations, tollgate's and the pack's own.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }
    /// `@reason`, shown to humans with a decision.
    pub fn reason(&self) -> Option<&str> {
        self.annotation(AnnotationKey::Reason)
    }
    /// `@control`, split on commas.
    pub fn controls(&self) -> Vec<String> {
        self.annotation(AnnotationKey::Control)
            .map(|c| {
                c.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }
    /// The policy's text exactly as written in its file (annotations included).
    pub fn text(&self) -> String {
        self.policy.to_cedar().unwrap_or_default()
    }
    /// The Cedar policy as parsed, under its tollgate id.
    pub(crate) fn cedar(&self) -> &Policy {
        &self.policy
    }
}

/// A policy whose `@tier` is outside the tier table: `Pack::load` refuses the pack, lint
/// reports the policy and analyses the rest.
#[derive(Debug, Clone)]
pub(crate) struct RejectedPolicy {
    pub(crate) id: PolicyId,
    pub(crate) effect: Effect,
    pub(crate) file: String,
    pub(crate) offset: usize,
    pub(crate) len: usize,
    pub(crate) position: LineCol,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) error: InvalidTier,
    pub(crate) policy: Policy,
}
