//! Signed approval records and their verification against a decision.
//!
//! A record counts only if it is for this request's hash, its Ed25519 signature verifies
//! against its approver's key and the approver is a person (`@human`). An approve must also come
//! from someone who is neither the requester nor anyone the requester acts for, be in date, and
//! come from an approver the pack deems eligible. A reject counts from an eligible person or from
//! the requester and anyone it acts for (an owner can always stop their own agent), whatever its
//! dates: stopping an action must never be harder than allowing it. Anyone who can write the
//! approvals file (the agent included) can add lines, but without an approver's private key those
//! lines count for nothing; what it *can* do is delete lines, rejects included, which is why that
//! file must not be writable by the agent.
//!
//! - `record`: the records as written and signed ([`ApprovalRecord`], [`parse_approvals`]).
//! - `verdict`: what verification concludes ([`Verification`], [`RecordVerdict`],
//!   [`NotCounted`]).
//! - `verify`: the checks themselves ([`verify`]).

mod record;
mod verdict;
mod verify;

pub use record::{
    ApprovalDecision, ApprovalRecord, MAX_APPROVAL_TTL_SECONDS, RecordError, parse_approvals,
};
pub use verdict::{LogDenial, NotCounted, Outcome, RecordVerdict, Verification};
pub use verify::{VerifyError, verify};
