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

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::approvals::{LogDenial, RecordVerdict, Verification};
use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::decide::Decision;
use crate::keys::{PrivateKey, PublicKey};
use crate::request::ProposedAction;
use crate::timestamp::Timestamp;

/// What one audit record is about.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// When it happened (the evaluation time).
    pub time: Timestamp,
    /// The request, as the caller sent it.
    pub request: &'a ProposedAction,
    /// The AI's recommendation and rationale, if any.
    pub recommendation: Option<Value>,
    /// The decision.
    pub decision: &'a Decision,
    /// The verification of approvals, for a `verify`; `None` for a bare decision.
    pub verification: Option<&'a Verification>,
}

#[derive(Serialize)]
struct ApprovalEntry<'a> {
    approver: &'a str,
    decision: crate::approvals::ApprovalDecision,
    counted: bool,
    why: &'a str,
    evidence: Option<&'a str>,
}

impl<'a> ApprovalEntry<'a> {
    fn of(v: &'a RecordVerdict) -> Self {
        Self {
            approver: &v.approver,
            decision: v.decision,
            counted: v.counted,
            why: &v.why,
            evidence: v.evidence.as_deref(),
        }
    }
}

impl AuditEntry<'_> {
    /// The record's JSON, chained to `prev` and optionally signed.
    pub fn to_record(&self, prev: Option<Sha256Digest>, key: Option<&PrivateKey>) -> Value {
        let (kind, outcome, approvals) = match self.verification {
            None => ("decision", Value::Null, Vec::new()),
            Some(v) => (
                "verification",
                json!(v.outcome),
                v.records.iter().map(ApprovalEntry::of).collect(),
            ),
        };
        let mut record = json!({
            "time": self.time.to_rfc3339(),
            "kind": kind,
            "request": self.request.to_json(),
            "request_hash": self.request.hash(),
            "recommendation": self.recommendation.clone().unwrap_or(Value::Null),
            "decision": self.decision,
            "approvals": approvals,
            "outcome": outcome,
            "prev": prev.map(|p| p.to_string()),
        });
        if let (Some(v), Some(obj)) = (self.verification, record.as_object_mut())
            && let Some(why) = v.denied_by_log
        {
            obj.insert("denied_by_log".into(), json!(why));
        }
        if let (Some(key), Ok(hash)) = (key, record_hash(&record))
            && let Some(obj) = record.as_object_mut()
        {
            obj.insert(
                "signature".into(),
                Value::String(key.sign(hash.to_string().as_bytes())),
            );
        }
        record
    }
}

/// The hash that chains a record: SHA-256 of its canonical JSON without `signature` (so that a
/// signature can be made over it).
pub fn record_hash(record: &Value) -> Result<Sha256Digest, crate::NonIntegerNumber> {
    let mut unsigned = record.clone();
    if let Some(obj) = unsigned.as_object_mut() {
        obj.remove("signature");
    }
    Ok(Sha256Digest::of_bytes(
        to_canonical_json(&unsigned)?.as_bytes(),
    ))
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ChainProblem {
    /// 1-based line of the first bad record (one past the end for a missing tail).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// What to check a log against beyond its own chain.
#[derive(Debug, Clone, Default)]
pub struct ChainCheck {
    /// A head hash stored elsewhere: it must be the hash of a record in the log (of record
    /// `count` when both are given).
    pub head: Option<Sha256Digest>,
    /// A record count stored elsewhere: the log must hold at least this many.
    pub count: Option<usize>,
    /// The service's audit key: every record must carry a valid signature.
    pub pubkey: Option<PublicKey>,
}

/// A log's length and newest hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainHead {
    /// Number of records.
    pub count: usize,
    /// Hash of the newest record; `null` for an empty log.
    pub head: Option<Sha256Digest>,
}

/// What a signed head says it is, so its signature cannot be taken for any other signed text.
const HEAD_KIND: &str = "tollgate-audit-head";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadJson {
    #[serde(default)]
    kind: Option<String>,
    count: usize,
    head: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

/// A stored head that cannot be used to check a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// Not a head record.
    #[error(
        "not a head record ({0}); expected the JSON `tollgate audit head --format json` prints"
    )]
    Malformed(String),
    /// Its head hash is inconsistent with its count.
    #[error("`head` must be null exactly when `count` is 0")]
    Inconsistent,
    /// A signed head but no key to check it with.
    #[error("the head is signed: give --pubkey (the audit key) to check its signature")]
    NoKey,
    /// A key was given but the head carries no signature.
    #[error(
        "the head is unsigned, but --pubkey was given: take it with `tollgate audit head --sign-key`"
    )]
    Unsigned,
    /// The signature does not verify.
    #[error("the head's signature does not verify against the audit key: it was forged or edited")]
    BadSignature,
}

impl ChainHead {
    /// The head as a JSON record signed with the audit key, to be stored away from the log.
    /// The signature covers the canonical JSON of the record without `signature`.
    pub fn signed_record(&self, key: &PrivateKey) -> Value {
        let mut record = self.unsigned_record();
        if let Ok(text) = to_canonical_json(&record)
            && let Some(obj) = record.as_object_mut()
        {
            obj.insert("signature".into(), Value::String(key.sign(text.as_bytes())));
        }
        record
    }

    fn unsigned_record(&self) -> Value {
        json!({
            "kind": HEAD_KIND,
            "count": self.count,
            "head": self.head.map(|h| h.to_string()),
        })
    }

    /// Reads a stored head: `{"count", "head"}` as `audit head --format json` prints it, or the
    /// signed record of `audit head --sign-key`. With `pubkey`, the head must be signed by it;
    /// without, a signed head is refused rather than trusted unchecked.
    pub fn parse(text: &str, pubkey: Option<&PublicKey>) -> Result<Self, HeadError> {
        let value =
            crate::json::parse(text.trim()).map_err(|e| HeadError::Malformed(e.message()))?;
        let raw: HeadJson =
            serde_json::from_value(value).map_err(|e| HeadError::Malformed(e.to_string()))?;
        if raw.kind.as_deref().is_some_and(|k| k != HEAD_KIND) {
            return Err(HeadError::Malformed(format!(
                "`kind` must be \"{HEAD_KIND}\""
            )));
        }
        let head = raw
            .head
            .as_deref()
            .map(str::parse::<Sha256Digest>)
            .transpose()
            .map_err(|e| HeadError::Malformed(format!("`head`: {e}")))?;
        if head.is_none() != (raw.count == 0) {
            return Err(HeadError::Inconsistent);
        }
        let parsed = Self {
            count: raw.count,
            head,
        };
        match (pubkey, raw.signature) {
            (None, None) => Ok(parsed),
            (None, Some(_)) => Err(HeadError::NoKey),
            (Some(_), None) => Err(HeadError::Unsigned),
            (Some(key), Some(signature)) => {
                // The signed bytes are rebuilt from the parsed fields, so a head without `kind`
                // (or with any other spelling) cannot verify.
                let signed = to_canonical_json(&parsed.unsigned_record())
                    .map_err(|e| HeadError::Malformed(e.to_string()))?;
                if key.verifies(signed.as_bytes(), &signature) {
                    Ok(parsed)
                } else {
                    Err(HeadError::BadSignature)
                }
            }
        }
    }
}

/// A request the log shows allowed more than once: its approvals were used twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repeat {
    /// 1-based line of the repeated `allowed` verification.
    pub line: usize,
    /// Line of the first `allowed` verification of the same request.
    pub first: usize,
    /// The request's hash.
    pub request: String,
}

/// An intact log's head and the requests it shows allowed more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Count and head hash.
    pub head: ChainHead,
    /// Repeated `allowed` verifications, in log order.
    pub repeats: Vec<Repeat>,
}

/// The request hash of a record that is a verification with outcome `allowed`.
fn allowed_request(record: &Value) -> Option<&str> {
    let is_allowed = record.get("kind").and_then(Value::as_str) == Some("verification")
        && record.get("outcome").and_then(Value::as_str) == Some("allowed");
    if is_allowed {
        record.get("request_hash").and_then(Value::as_str)
    } else {
        None
    }
}

/// What one log line (1-based `index`) says against allowing `request` now: a verification
/// that allowed it (its approvals are used up) or one that counted a reject of it. Used to stream
/// a log before recording an `allowed`; a line that is not a JSON object is an error, so a
/// damaged log never passes as one without the earlier verification.
pub fn earlier_verdict(
    line: &str,
    index: usize,
    request: &Sha256Digest,
) -> Result<Option<LogDenial>, ChainProblem> {
    let record = parse_record(line, index)?;
    let wanted = request.to_string();
    if record.get("kind").and_then(Value::as_str) != Some("verification")
        || record.get("request_hash").and_then(Value::as_str) != Some(wanted.as_str())
    {
        return Ok(None);
    }
    if allowed_request(&record).is_some() {
        return Ok(Some(LogDenial::AlreadyUsed));
    }
    let counted_reject = record
        .get("approvals")
        .and_then(Value::as_array)
        .is_some_and(|all| {
            all.iter().any(|a| {
                a.get("decision").and_then(Value::as_str) == Some("reject")
                    && a.get("counted").and_then(Value::as_bool) == Some(true)
            })
        });
    Ok(counted_reject.then_some(LogDenial::RejectedBefore))
}

/// Walks every record, checking each link (and signature when a key is given), then the
/// head/count. Returns the log's head when intact, or the first problem.
pub fn verify_chain(text: &str, check: &ChainCheck) -> Result<ChainHead, ChainProblem> {
    audit_chain(text, check).map(|report| report.head)
}

/// [`verify_chain`], also listing every request the log shows allowed more than once (approvals
/// used twice). Tampering is reported first: a repeat is only meaningful in an intact chain.
pub fn audit_chain(text: &str, check: &ChainCheck) -> Result<ChainReport, ChainProblem> {
    let mut hashes: Vec<Sha256Digest> = Vec::new();
    let mut allowed: HashMap<String, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (index, line) in lines(text)? {
        let record = parse_record(line, index)?;
        if let Some(request) = allowed_request(&record) {
            match allowed.get(request) {
                Some(first) => repeats.push(Repeat {
                    line: index,
                    first: *first,
                    request: request.to_string(),
                }),
                None => {
                    allowed.insert(request.to_string(), index);
                }
            }
        }
        let expected = hashes.last().map(ToString::to_string);
        let prev = record.get("prev").and_then(Value::as_str).map(String::from);
        if prev != expected {
            return Err(ChainProblem {
                line: index,
                message: match expected {
                    None => {
                        "the first record must have `prev: null`: records before it were removed"
                            .into()
                    }
                    Some(_) => format!(
                        "`prev` does not match the hash of line {}: a record was edited, removed, inserted or reordered",
                        index - 1
                    ),
                },
            });
        }
        let hash = record_hash(&record).map_err(|e| ChainProblem {
            line: index,
            message: e.to_string(),
        })?;
        if let Some(key) = &check.pubkey {
            let signed = record
                .get("signature")
                .and_then(Value::as_str)
                .is_some_and(|s| key.verifies(hash.to_string().as_bytes(), s));
            if !signed {
                return Err(ChainProblem {
                    line: index,
                    message:
                        "record is unsigned or its signature does not verify against the audit key"
                            .into(),
                });
            }
        }
        hashes.push(hash);
    }
    let count = hashes.len();
    let end = count + 1;
    if let Some(n) = check.count
        && count < n
    {
        return Err(ChainProblem {
            line: end,
            message: format!(
                "the log has {count} records but {n} were recorded: the newest were removed"
            ),
        });
    }
    if let Some(head) = check.head {
        let position = match check.count {
            Some(n) => n
                .checked_sub(1)
                .and_then(|i| hashes.get(i))
                .filter(|h| **h == head)
                .map(|_| n),
            None => hashes.iter().position(|h| *h == head).map(|i| i + 1),
        };
        if position.is_none() {
            return Err(ChainProblem {
                line: check.count.unwrap_or(end).min(end),
                message: format!(
                    "no record has the stored head hash {head}: the newest records were edited or removed"
                ),
            });
        }
    }
    Ok(ChainReport {
        head: ChainHead {
            count,
            head: hashes.last().copied(),
        },
        repeats,
    })
}

/// Why an append was refused: the end of the log is damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TailProblem {
    /// What is wrong.
    pub message: String,
}

/// The head hash of a log that is about to be appended to, from its `tail` only: the text from
/// the start of its second-to-last line to the end (or the whole log when it has fewer lines;
/// then `from_start` is true). Reading only the tail keeps an append O(1) in the log's length.
/// Refuses a log whose last line is torn or whose last link is broken, so that an append never
/// buries damage under a valid-looking record.
pub fn tail_for_append(tail: &str, from_start: bool) -> Result<Option<Sha256Digest>, TailProblem> {
    let problem = |message: String| TailProblem { message };
    let all = lines(tail).map_err(|p| problem(p.message))?;
    let last_two: Vec<Value> = all
        .iter()
        .skip(all.len().saturating_sub(2))
        .map(|(i, l)| parse_record(l, *i))
        .collect::<Result<_, _>>()
        .map_err(|p| problem(p.message))?;
    let mut head: Option<Sha256Digest> = None;
    for (offset, record) in last_two.iter().enumerate() {
        let prev = record.get("prev").and_then(Value::as_str).map(String::from);
        if offset == 1 && prev != head.map(|h| h.to_string()) {
            return Err(problem(
                "the last record's `prev` does not match the record before it".into(),
            ));
        }
        if offset == 0 && from_start && all.len() <= 2 && prev.is_some() {
            return Err(problem("the first record must have `prev: null`".into()));
        }
        head = Some(record_hash(record).map_err(|e| problem(e.to_string()))?);
    }
    Ok(head)
}

/// Non-empty lines with 1-based numbers; a last line without its newline is a torn write.
fn lines(text: &str) -> Result<Vec<(usize, &str)>, ChainProblem> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut number = 0;
    while !rest.is_empty() {
        number += 1;
        let Some(end) = rest.find('\n') else {
            return Err(ChainProblem {
                line: number,
                message: "incomplete last record (no newline): a write was torn".into(),
            });
        };
        let line = rest.get(..end).unwrap_or_default();
        rest = rest.get(end + 1..).unwrap_or_default();
        if line.trim().is_empty() {
            return Err(ChainProblem {
                line: number,
                message: "blank line in the audit log".into(),
            });
        }
        out.push((number, line));
    }
    Ok(out)
}

fn parse_record(line: &str, index: usize) -> Result<Value, ChainProblem> {
    match crate::json::parse(line) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ChainProblem {
            line: index,
            message: "not a JSON object".into(),
        }),
        Err(e) => Err(ChainProblem {
            line: index,
            message: e.message(),
        }),
    }
}
