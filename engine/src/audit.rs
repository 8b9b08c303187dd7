//! The audit trail: hash-chained JSON Lines records of decisions and approvals.
//!
//! Each record carries `prev`, the hash of the record before it (`null` for the first), so that
//! editing, removing, inserting or reordering any record breaks the chain at the next one. The
//! newest record has no successor to vouch for it: an edit there, or a cut-off tail, shows only
//! against a head hash and count stored elsewhere, or through per-record signatures by the
//! service's audit key. The engine builds and checks records; writing them (with a lock, one
//! write and an fsync) is the caller's job.

use serde::Serialize;
use serde_json::{Value, json};

use crate::approvals::{RecordVerdict, Verification};
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

/// Walks every record, checking each link (and signature when a key is given), then the
/// head/count. Returns the log's head when intact, or the first problem.
pub fn verify_chain(text: &str, check: &ChainCheck) -> Result<ChainHead, ChainProblem> {
    let mut hashes: Vec<Sha256Digest> = Vec::new();
    for (index, line) in lines(text)? {
        let record = parse_record(line, index)?;
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
    Ok(ChainHead {
        count,
        head: hashes.last().copied(),
    })
}

/// The head of a log that is about to be appended to. Refuses a log whose last line is torn or
/// whose last link is broken, so that an append never buries damage under a valid-looking record.
pub fn tail_for_append(text: &str) -> Result<ChainHead, ChainProblem> {
    let all: Vec<(usize, &str)> = lines(text)?;
    let count = all.len();
    let last_two: Vec<Value> = all
        .iter()
        .skip(count.saturating_sub(2))
        .map(|(i, l)| parse_record(l, *i))
        .collect::<Result<_, _>>()?;
    let mut head = None;
    for (offset, record) in last_two.iter().enumerate() {
        let index = count.saturating_sub(last_two.len()) + offset + 1;
        let prev = record.get("prev").and_then(Value::as_str).map(String::from);
        if offset == 1 && prev != head.map(|h: Sha256Digest| h.to_string()) {
            return Err(ChainProblem {
                line: index,
                message: "`prev` does not match the record before it".into(),
            });
        }
        if count == 1 && prev.is_some() {
            return Err(ChainProblem {
                line: index,
                message: "the first record must have `prev: null`".into(),
            });
        }
        head = Some(record_hash(record).map_err(|e| ChainProblem {
            line: index,
            message: e.to_string(),
        })?);
    }
    Ok(ChainHead { count, head })
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
