//! Approval records as written in the approvals file (JSON Lines) and as signed.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EntityRef;
use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::keys::PrivateKey;
use crate::timestamp::Timestamp;

/// The longest an approval may be valid: longer would be standing privilege, not an approval.
pub const MAX_APPROVAL_TTL_SECONDS: i64 = 24 * 60 * 60;

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalDecision {
    /// The human approves the request.
    Approve,
    /// The human rejects it: a counted reject denies, whatever the tier.
    Reject,
}

impl ApprovalDecision {
    /// `approve` or `reject`, as records spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalDecision::Approve => "approve",
            ApprovalDecision::Reject => "reject",
        }
    }
}

/// One approval record, as read from a JSON line (or made by [`ApprovalRecord::new`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// Hash of the request approved.
    pub request: Sha256Digest,
    /// Who approves.
    pub approver: EntityRef,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// When the human decided.
    pub issued_at: Timestamp,
    /// When an approve stops counting.
    pub expires_at: Timestamp,
    /// Why (required for a reject).
    pub evidence: Option<String>,
    /// `ed25519:<b64>` over the canonical record without this field.
    pub signature: Option<String>,
    /// The canonical JSON that was (or is to be) signed.
    signed: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordJson {
    request: String,
    approver: String,
    decision: ApprovalDecision,
    issued_at: String,
    expires_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// A record that is malformed: an input error, never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("approvals line {line}: {message}")]
pub struct RecordError {
    /// 1-based line number in the approvals file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ApprovalRecord {
    /// An unsigned record; sign it with [`ApprovalRecord::signed_by`].
    pub fn new(
        request: Sha256Digest,
        approver: EntityRef,
        decision: ApprovalDecision,
        issued_at: Timestamp,
        expires_at: Timestamp,
        evidence: Option<String>,
    ) -> Self {
        let mut record = Self {
            request,
            approver,
            decision,
            issued_at,
            expires_at,
            evidence,
            signature: None,
            signed: String::new(),
        };
        record.signed = to_canonical_json(&record.to_json_without_signature()).unwrap_or_default();
        record
    }

    /// The record signed with `key`.
    pub fn signed_by(mut self, key: &PrivateKey) -> Self {
        self.signature = Some(key.sign(self.signed.as_bytes()));
        self
    }

    fn to_json_without_signature(&self) -> Value {
        let mut v = json!({
            "request": self.request.to_string(),
            "approver": self.approver.to_string(),
            "decision": self.decision,
            "issued_at": self.issued_at.to_rfc3339(),
            "expires_at": self.expires_at.to_rfc3339(),
        });
        if let (Some(e), Some(obj)) = (&self.evidence, v.as_object_mut()) {
            obj.insert("evidence".into(), Value::String(e.clone()));
        }
        v
    }

    /// The record as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        let mut v = self.to_json_without_signature();
        if let (Some(s), Some(obj)) = (&self.signature, v.as_object_mut()) {
            obj.insert("signature".into(), Value::String(s.clone()));
        }
        v.to_string()
    }

    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> &[u8] {
        self.signed.as_bytes()
    }

    /// Parses one JSON line. `line` is used in error messages.
    pub fn parse(text: &str, line: usize) -> Result<Self, RecordError> {
        let err = |message: String| RecordError { line, message };
        let value: Value = crate::json::parse(text).map_err(|e| err(e.message()))?;
        let mut unsigned = value.clone();
        if let Some(obj) = unsigned.as_object_mut() {
            obj.remove("signature");
        }
        let raw: RecordJson = serde_json::from_value(value).map_err(|e| err(e.to_string()))?;
        let request = raw
            .request
            .parse()
            .map_err(|e| err(format!("`request`: {e}")))?;
        let approver = raw
            .approver
            .parse::<EntityRef>()
            .map_err(|e| err(format!("`approver`: {e}")))?;
        let issued_at = raw
            .issued_at
            .parse()
            .map_err(|e| err(format!("`issued_at`: {e}")))?;
        let expires_at = raw
            .expires_at
            .parse()
            .map_err(|e| err(format!("`expires_at`: {e}")))?;
        if raw.decision == ApprovalDecision::Reject
            && raw.evidence.as_deref().is_none_or(|e| e.trim().is_empty())
        {
            return Err(err("a reject needs `evidence` (why it was rejected)".into()));
        }
        // The signature covers the record as written, so a verifier in any language checks
        // the same bytes whatever spelling of timestamps the signer used.
        let signed = to_canonical_json(&unsigned).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            request,
            approver,
            decision: raw.decision,
            issued_at,
            expires_at,
            evidence: raw.evidence,
            signature: raw.signature,
            signed,
        })
    }
}

/// Parses a JSON Lines file of records; blank lines are skipped.
pub fn parse_approvals(text: &str) -> Result<Vec<ApprovalRecord>, RecordError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| ApprovalRecord::parse(l, i + 1))
        .collect()
}
