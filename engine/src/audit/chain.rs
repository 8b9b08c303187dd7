//! The hash chain: each record's `prev` is the hash of the record before it. Checking a whole
//! log, checking the tail before an append, and reading a log for earlier uses of a request.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::head::ChainHead;
use super::record::{AuditRecord, RecordKind};
use crate::approvals::LogDenial;
use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::keys::PublicKey;

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
    /// The text is a slice of a longer chain (as `GET /v1/audit?after=HASH` exports it), and
    /// this is the hash of the record just before it: the slice's first record's `prev` must be
    /// this hash instead of `null`. Counts, `head` and `count` then speak of the slice alone:
    /// record 1 is the slice's first record.
    pub after: Option<Sha256Digest>,
    /// A head hash stored elsewhere: it must be the hash of a record in the log (of record
    /// `count` when both are given).
    pub head: Option<Sha256Digest>,
    /// A record count stored elsewhere: the log must hold at least this many.
    pub count: Option<usize>,
    /// The service's audit key: every record must carry a valid signature.
    pub pubkey: Option<PublicKey>,
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

/// What one log line (1-based `index`) says against allowing `request` now: a verification
/// that allowed it (its approvals are used up) or one that counted a reject of it. Used to stream
/// a log before recording an `allowed`; a line that is not a JSON object is an error, so a
/// damaged log never passes as one without the earlier verification.
pub fn earlier_verdict(
    line: &str,
    index: usize,
    request: &Sha256Digest,
) -> Result<Option<LogDenial>, ChainProblem> {
    let record = AuditRecord::parse(line, index)?;
    let wanted = request.to_string();
    if record.kind() != Some(RecordKind::Verification)
        || record.request_hash() != Some(wanted.as_str())
    {
        return Ok(None);
    }
    if record.allowed_request().is_some() {
        return Ok(Some(LogDenial::AlreadyUsed));
    }
    Ok(record.counted_reject().then_some(LogDenial::RejectedBefore))
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
        let record = AuditRecord::parse(line, index)?;
        if let Some(request) = record.allowed_request() {
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
        let expected = hashes
            .last()
            .or(check.after.as_ref())
            .map(ToString::to_string);
        if record.prev() != expected.as_deref() {
            return Err(ChainProblem {
                line: index,
                message: match (&expected, hashes.is_empty()) {
                    (None, _) => {
                        "the first record must have `prev: null`: records before it were removed"
                            .into()
                    }
                    (Some(after), true) => format!(
                        "the first record's `prev` must be the hash the slice follows ({after}): records before it were removed or the slice does not follow that record"
                    ),
                    (Some(_), false) => format!(
                        "`prev` does not match the hash of line {}: a record was edited, removed, inserted or reordered",
                        index - 1
                    ),
                },
            });
        }
        let hash = record.hash().map_err(|e| ChainProblem {
            line: index,
            message: e.to_string(),
        })?;
        if let Some(key) = &check.pubkey {
            let signed = record
                .signature()
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
    let last_two: Vec<AuditRecord> = all
        .iter()
        .skip(all.len().saturating_sub(2))
        .map(|(i, l)| AuditRecord::parse(l, *i))
        .collect::<Result<_, _>>()
        .map_err(|p| problem(p.message))?;
    let mut head: Option<Sha256Digest> = None;
    for (offset, record) in last_two.iter().enumerate() {
        let prev = record.prev();
        if offset == 1 && prev != head.map(|h| h.to_string()).as_deref() {
            return Err(problem(
                "the last record's `prev` does not match the record before it".into(),
            ));
        }
        if offset == 0 && from_start && all.len() <= 2 && prev.is_some() {
            return Err(problem("the first record must have `prev: null`".into()));
        }
        head = Some(record.hash().map_err(|e| problem(e.to_string()))?);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `n` chained records, as log lines, each with its hash.
    fn chain(n: usize) -> Vec<(String, Sha256Digest)> {
        let mut out: Vec<(String, Sha256Digest)> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|(_, h)| h.to_string());
            let record = json!({"kind": "decision", "request_hash": format!("sha256:{i:064x}"), "prev": prev});
            let hash = record_hash(&record).unwrap();
            out.push((record.to_string(), hash));
        }
        out
    }

    fn text(lines: &[(String, Sha256Digest)]) -> String {
        lines.iter().map(|(l, _)| format!("{l}\n")).collect()
    }

    fn after(hash: Sha256Digest) -> ChainCheck {
        ChainCheck {
            after: Some(hash),
            ..ChainCheck::default()
        }
    }

    #[test]
    fn a_slice_verifies_after_the_hash_of_the_record_before_it() {
        let all = chain(5);
        let slice = &all[2..];
        let head = verify_chain(&text(slice), &after(all[1].1)).unwrap();
        assert_eq!(head.count, 3, "counts are the slice's own");
        assert_eq!(head.head, Some(all[4].1));
        // The whole log still verifies without it, and a slice from the start with none.
        assert_eq!(
            verify_chain(&text(&all), &ChainCheck::default())
                .unwrap()
                .count,
            5
        );
    }

    #[test]
    fn a_slice_fails_without_after_or_with_a_wrong_one() {
        let all = chain(5);
        let slice = text(&all[2..]);
        let missing = verify_chain(&slice, &ChainCheck::default()).unwrap_err();
        assert_eq!(missing.line, 1);
        assert!(missing.message.contains("prev: null"), "{missing}");
        for wrong in [all[0].1, all[2].1, Sha256Digest::of_bytes(b"x")] {
            let problem = verify_chain(&slice, &after(wrong)).unwrap_err();
            assert_eq!(problem.line, 1, "after {wrong}");
            assert!(problem.message.contains(&wrong.to_string()), "{problem}");
        }
        // A log from the start is not a slice after anything.
        assert_eq!(
            verify_chain(&text(&all), &after(all[0].1))
                .unwrap_err()
                .line,
            1
        );
    }

    #[test]
    fn an_edited_record_in_a_slice_fails_at_the_next_link() {
        let all = chain(5);
        let mut slice: Vec<(String, Sha256Digest)> = all[1..].to_vec();
        slice[1].0 = slice[1].0.replace("\"decision\"", "\"verification\"");
        let problem = verify_chain(&text(&slice), &after(all[0].1)).unwrap_err();
        assert_eq!(problem.line, 3);
        // Editing the slice's first record's `prev` breaks the link to `after`.
        let mut first = all[1..].to_vec();
        first[0].0 = first[0]
            .0
            .replace(&all[0].1.to_string(), &all[1].1.to_string());
        assert_eq!(
            verify_chain(&text(&first), &after(all[0].1))
                .unwrap_err()
                .line,
            1
        );
    }

    #[test]
    fn head_and_count_apply_to_the_slice() {
        let all = chain(5);
        let slice = text(&all[2..]);
        let anchored = ChainCheck {
            after: Some(all[1].1),
            head: Some(all[4].1),
            count: Some(3),
            pubkey: None,
        };
        assert!(verify_chain(&slice, &anchored).is_ok());
        // The whole log's count is more than the slice holds.
        let whole_count = ChainCheck {
            count: Some(5),
            ..anchored.clone()
        };
        assert_eq!(verify_chain(&slice, &whole_count).unwrap_err().line, 4);
        // A head before the slice is not in it.
        let earlier_head = ChainCheck {
            head: Some(all[1].1),
            count: None,
            ..anchored
        };
        assert!(verify_chain(&slice, &earlier_head).is_err());
    }
}
