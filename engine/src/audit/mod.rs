//! The audit trail: hash-chained JSON Lines records of decisions and approvals.
//!
//! Each record carries `prev`, the hash of the record before it (`null` for the first), so that
//! editing, removing, inserting or reordering any record breaks the chain at the next one. The
//! newest record has no successor to vouch for it: an edit there, or a cut-off tail, shows only
//! against a head hash and count stored elsewhere, or through per-record signatures by the
//! service's audit key. The engine builds and checks records; writing them (with a lock, one
//! write and an fsync) is the caller's job.
//!
//! The log also backs two rules the approvals file alone cannot: approvals are single use, and a
//! counted reject stays counted. Before recording an `allowed`, the caller streams the log through
//! [`earlier_verdict`] and denies a request the log shows allowed or rejected before;
//! [`audit_chain`] reports any request allowed twice.
//!
//! - `record`: one record, built ([`AuditEntry`]) or read back ([`AuditRecord`]).
//! - `chain`: the links between records ([`audit_chain`], [`tail_for_append`]).
//! - `head`: a log's head, stored elsewhere to catch a cut or edited end ([`ChainHead`]).
//! - `stats`: approval-fatigue numbers from a log ([`audit_stats`]).

mod chain;
mod head;
mod record;
pub mod stats;

pub use chain::{
    ChainCheck, ChainProblem, ChainReport, Repeat, TailProblem, audit_chain, earlier_verdict,
    record_hash, tail_for_append, verify_chain,
};
pub use head::{ChainHead, HeadError};
pub use record::{AuditEntry, AuditRecord, Prelinked, RecordKind, SealError, seal};
pub use stats::{AuditStats, StatsOptions, audit_stats};
