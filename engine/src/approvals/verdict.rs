//! What verification concludes: the outcome, and a verdict per record with the reason a record
//! does not count.

use std::fmt;

use serde::{Serialize, Serializer};

use super::record::ApprovalDecision;
use crate::EntityRef;
use crate::Tier;
use crate::canonical::Sha256Digest;
use crate::timestamp::Timestamp;
use crate::{Decision, InputError};

/// What the approvals add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The action may proceed.
    Allowed,
    /// More approvals are needed.
    Pending,
    /// The action must not proceed (deny tier, or a counted reject).
    Denied,
}

impl Outcome {
    /// `allowed`, `pending` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Pending => "pending",
            Outcome::Denied => "denied",
        }
    }
}

/// Why a well-formed record does not count. Its text (`Display`) is what the CLI prints, the
/// JSON output's `why` and the audit log record: it is part of the output, not a debug aid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotCounted {
    /// The record approves or rejects another request (this hash).
    OtherRequest(Sha256Digest),
    /// The keyring has no key for the approver.
    NoKey,
    /// The record carries no signature.
    Unsigned,
    /// The signature does not verify against the approver's key.
    BadSignature,
    /// The approver's entity type (this one) is not marked `@human`.
    NotHuman(String),
    /// An approve by the requester itself.
    Requester,
    /// An approve by someone the requester acts for (`acting_for` or a delegation).
    ActsForApprover,
    /// An approve issued after the evaluation time (at this time).
    IssuedInFuture(Timestamp),
    /// An approve valid for no time, or for longer than
    /// [`MAX_APPROVAL_TTL_SECONDS`](super::MAX_APPROVAL_TTL_SECONDS).
    BadValidity,
    /// An approve that expired (at this time).
    Expired(Timestamp),
    /// The eligibility check for the approver decided a tier other than `auto`.
    NotEligible {
        /// The action the request is for.
        action: EntityRef,
        /// What the eligibility check decided.
        tier: Tier,
    },
    /// The eligibility check itself failed: fail closed, the record does not count.
    EligibilityFailed(InputError),
    /// An approve by an approver whose approve already counted.
    Duplicate,
}

impl fmt::Display for NotCounted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotCounted::OtherRequest(hash) => write!(f, "for another request ({hash})"),
            NotCounted::NoKey => f.write_str("approver has no key in the keyring"),
            NotCounted::Unsigned => f.write_str("unsigned"),
            NotCounted::BadSignature => {
                f.write_str("signature does not verify against the approver's key")
            }
            NotCounted::NotHuman(type_name) => {
                write!(f, "approver type {type_name} is not a person (@human)")
            }
            NotCounted::Requester => f.write_str("approver is the requester"),
            NotCounted::ActsForApprover => {
                f.write_str("the requester acts for this approver (acting_for or delegation)")
            }
            NotCounted::IssuedInFuture(at) => write!(f, "issued in the future ({at})"),
            NotCounted::BadValidity => {
                f.write_str("validity is not between 0 and 24 hours after issued_at")
            }
            NotCounted::Expired(at) => write!(f, "expired at {at}"),
            NotCounted::NotEligible { action, tier } => write!(
                f,
                "not eligible to approve {action} (eligibility decided {tier})"
            ),
            NotCounted::EligibilityFailed(e) => {
                write!(f, "not eligible: the eligibility check failed ({e})")
            }
            NotCounted::Duplicate => f.write_str(
                "duplicate: this approver already counted; dual control needs two different people",
            ),
        }
    }
}

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVerdict {
    /// The approver as written in the record.
    pub approver: String,
    /// Approve or reject.
    pub decision: ApprovalDecision,
    /// Why the record did not count; `None` when it counted.
    pub not_counted: Option<NotCounted>,
    /// The record's evidence, for the audit trail (not in the verification's JSON).
    pub evidence: Option<String>,
    /// When the approver signed it, for the audit trail (approval-fatigue statistics time
    /// approvals by it); not in the verification's JSON.
    pub issued_at: Option<Timestamp>,
    /// The record's signature, for the audit trail: it tells one approval from a repeat of it
    /// across verifications. Not in the verification's JSON.
    pub signature: Option<String>,
}

impl RecordVerdict {
    /// Whether the record counted.
    pub fn counted(&self) -> bool {
        self.not_counted.is_none()
    }

    /// Why it counted or did not, for people (the JSON's `why`).
    pub fn why(&self) -> String {
        match (&self.not_counted, self.decision) {
            (Some(why), _) => why.to_string(),
            (None, ApprovalDecision::Approve) => "counted".into(),
            (None, ApprovalDecision::Reject) => "counted: a reject denies the request".into(),
        }
    }
}

/// `{"approver", "decision", "counted", "why"}`: the shape of `verify --format json`, the
/// module's `tollgate_verify` and (with `evidence`) the audit log.
impl Serialize for RecordVerdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct VerdictJson<'a> {
            approver: &'a str,
            decision: ApprovalDecision,
            counted: bool,
            why: String,
        }
        VerdictJson {
            approver: &self.approver,
            decision: self.decision,
            counted: self.counted(),
            why: self.why(),
        }
        .serialize(serializer)
    }
}

/// The result of verifying approvals for one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Allowed, pending or denied.
    pub outcome: Outcome,
    /// The request's tier.
    pub tier: Tier,
    /// Approvals still needed: 0 when allowed, `null` when denied.
    pub missing: Option<u8>,
    /// The request hash.
    pub request: Sha256Digest,
    /// One verdict per record, in file order.
    pub records: Vec<RecordVerdict>,
    /// Set when the audit log turned an `allowed` into `denied`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_by_log: Option<LogDenial>,
    /// The decision the approvals were checked against.
    #[serde(skip)]
    pub decision: Decision,
}

/// Why the audit log denies a request the approvals file would allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogDenial {
    /// The log shows the request allowed before: approvals are single use.
    AlreadyUsed,
    /// The log shows a counted reject of the request: a reject stays even if its line is later
    /// removed from the approvals file.
    RejectedBefore,
}

impl LogDenial {
    /// For people: what the log showed.
    pub fn as_str(self) -> &'static str {
        match self {
            LogDenial::AlreadyUsed => {
                "already used: the audit log shows this request allowed before (approvals are single use)"
            }
            LogDenial::RejectedBefore => {
                "rejected before: the audit log shows a counted reject of this request"
            }
        }
    }
}

impl Verification {
    /// Applies what the audit log showed: an `allowed` becomes `denied`. Pending and denied stay
    /// as they are (the log never loosens an outcome).
    pub fn deny_from_log(&mut self, why: LogDenial) {
        if self.outcome == Outcome::Allowed {
            self.outcome = Outcome::Denied;
            self.missing = None;
            self.denied_by_log = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts are output (CLI, JSON `why`, audit log): each reason keeps its wording.
    #[test]
    fn every_reason_reads_as_before() {
        let at: Timestamp = "2026-06-01T12:30:00Z".parse().unwrap();
        let hash = Sha256Digest::of_bytes(b"other");
        let cases = [
            (
                NotCounted::OtherRequest(hash),
                format!("for another request ({hash})"),
            ),
            (
                NotCounted::NoKey,
                "approver has no key in the keyring".into(),
            ),
            (NotCounted::Unsigned, "unsigned".into()),
            (
                NotCounted::BadSignature,
                "signature does not verify against the approver's key".into(),
            ),
            (
                NotCounted::NotHuman("Agent".into()),
                "approver type Agent is not a person (@human)".into(),
            ),
            (NotCounted::Requester, "approver is the requester".into()),
            (
                NotCounted::ActsForApprover,
                "the requester acts for this approver (acting_for or delegation)".into(),
            ),
            (
                NotCounted::IssuedInFuture(at),
                "issued in the future (2026-06-01T12:30:00Z)".into(),
            ),
            (
                NotCounted::BadValidity,
                "validity is not between 0 and 24 hours after issued_at".into(),
            ),
            (
                NotCounted::Expired(at),
                "expired at 2026-06-01T12:30:00Z".into(),
            ),
            (
                NotCounted::NotEligible {
                    action: "Action::\"deploy\"".parse().unwrap(),
                    tier: Tier::Deny,
                },
                "not eligible to approve Action::\"deploy\" (eligibility decided deny)".into(),
            ),
            (
                NotCounted::EligibilityFailed(InputError::CallerSuppliedNow),
                format!(
                    "not eligible: the eligibility check failed ({})",
                    InputError::CallerSuppliedNow
                ),
            ),
            (
                NotCounted::Duplicate,
                "duplicate: this approver already counted; dual control needs two different people"
                    .into(),
            ),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn a_verdict_serialises_as_counted_and_why() {
        let mut verdict = RecordVerdict {
            approver: "Human::\"alice\"".into(),
            decision: ApprovalDecision::Reject,
            not_counted: None,
            evidence: Some("not now".into()),
            issued_at: None,
            signature: None,
        };
        assert_eq!(
            serde_json::to_string(&verdict).unwrap(),
            r#"{"approver":"Human::\"alice\"","decision":"reject","counted":true,"why":"counted: a reject denies the request"}"#
        );
        verdict.not_counted = Some(NotCounted::Unsigned);
        assert!(!verdict.counted());
        assert_eq!(verdict.why(), "unsigned");
    }
}
