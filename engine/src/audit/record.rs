//! One audit record: built from a decision (and verification), or read back from a log line.

use std::fmt;

use serde::Serialize;
use serde_json::{Value, json};

use super::chain::{ChainProblem, record_hash};
use crate::Decision;
use crate::ProposedAction;
use crate::approvals::{ApprovalDecision, Outcome, RecordVerdict, Verification};
use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::keys::PrivateKey;
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

/// A record's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A bare decision (`decide`).
    Decision,
    /// A verification of approvals (`verify`): it has an `outcome` and `approvals`.
    Verification,
}

impl RecordKind {
    /// `decision` or `verification`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Decision => "decision",
            RecordKind::Verification => "verification",
        }
    }
}

/// A verdict as the log records it: the verification's JSON of it, and its evidence.
#[derive(Serialize)]
struct ApprovalEntry<'a> {
    #[serde(flatten)]
    verdict: &'a RecordVerdict,
    evidence: Option<&'a str>,
    /// When the approver signed, and the signature: `audit stats` times approvals by the one
    /// and counts each once by the other (a verification lists earlier records again).
    issued_at: Option<String>,
    signature: Option<&'a str>,
}

impl AuditEntry<'_> {
    /// The record, chained to `prev` and optionally signed.
    pub fn to_record(&self, prev: Option<Sha256Digest>, key: Option<&PrivateKey>) -> AuditRecord {
        let (kind, outcome, approvals) = match self.verification {
            None => (RecordKind::Decision, None, Vec::new()),
            Some(v) => (
                RecordKind::Verification,
                Some(v.outcome),
                v.records
                    .iter()
                    .map(|verdict| ApprovalEntry {
                        verdict,
                        evidence: verdict.evidence.as_deref(),
                        issued_at: verdict.issued_at.map(|t| t.to_rfc3339()),
                        signature: verdict.signature.as_deref(),
                    })
                    .collect(),
            ),
        };
        // Field order is the order of the line as written (serde_json keeps insertion order):
        // the hash is over canonical JSON, but logs already written must read the same.
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
        sign(&mut record, key);
        AuditRecord::from_json(record)
    }
}

/// Chains `record` to `prev` and signs it: sets `prev` (dropping any `signature`), then adds
/// `signature` over the record's hash. Returns the record and the hash the next record chains
/// to. The plain reference for [`Prelinked`], which a service uses and which is tested equal to
/// it.
///
/// `record` must be a JSON object holding `time` and `kind`; anything else is refused, since a
/// record the chain cannot read back would break `audit verify`.
pub fn seal(
    mut record: Value,
    prev: Option<Sha256Digest>,
    key: Option<&PrivateKey>,
) -> Result<(AuditRecord, Sha256Digest), SealError> {
    let obj = record.as_object_mut().ok_or(SealError::NotAnObject)?;
    if !obj.get("kind").is_some_and(Value::is_string)
        || !obj.get("time").is_some_and(Value::is_string)
    {
        return Err(SealError::NotAnObject);
    }
    obj.remove("signature");
    obj.insert("prev".into(), json!(prev.map(|p| p.to_string())));
    // No `signature` is left, so the record is hashed as it stands (see `record_hash`).
    let hash = Sha256Digest::of_canonical(&record).map_err(|_| SealError::NonInteger)?;
    if let (Some(key), Some(obj)) = (key, record.as_object_mut()) {
        obj.insert(
            "signature".into(),
            Value::String(key.sign(hash.to_string().as_bytes())),
        );
    }
    Ok((AuditRecord::from_json(record), hash))
}

/// A record prepared for chaining: its canonical entries and its line, ready for `prev` (and a
/// few entries known only then) to be added. Building one is most of the cost of [`seal`] and
/// needs nothing but the record, so a service builds it where the record is made, in parallel;
/// [`Prelinked::seal`] does only the sequential part (one SHA-256 and the signature) in the
/// writer that owns the chain.
#[derive(Debug, Clone)]
pub struct Prelinked {
    /// `(key, "key":value)` in canonical order.
    entries: Vec<(String, String)>,
    /// The record's line without its closing brace, in its own field order.
    line: String,
}

/// `"key":value` in canonical form.
fn canonical_entry(key: &str, value: &Value) -> Result<String, SealError> {
    let key =
        to_canonical_json(&Value::String(key.to_string())).map_err(|_| SealError::NonInteger)?;
    let value = to_canonical_json(value).map_err(|_| SealError::NonInteger)?;
    Ok(format!("{key}:{value}"))
}

fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

impl Prelinked {
    /// Prepares `record` (a JSON object with string `time` and `kind`; any `prev` or
    /// `signature` in it is dropped).
    pub fn new(mut record: Value) -> Result<Prelinked, SealError> {
        let obj = record.as_object_mut().ok_or(SealError::NotAnObject)?;
        if !obj.get("kind").is_some_and(Value::is_string)
            || !obj.get("time").is_some_and(Value::is_string)
        {
            return Err(SealError::NotAnObject);
        }
        obj.remove("signature");
        obj.remove("prev");
        let mut entries = Vec::with_capacity(obj.len());
        for (key, value) in obj.iter() {
            entries.push((key.clone(), canonical_entry(key, value)?));
        }
        entries.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut line = record.to_string();
        line.pop();
        Ok(Prelinked { entries, line })
    }

    /// Chains the record to `prev`, adds `extra` entries (keys the record does not have;
    /// those it has are refused) and signs it: the record's line and its hash, as [`seal`]
    /// gives them for the same record.
    pub fn seal(
        &self,
        prev: Option<Sha256Digest>,
        extra: &serde_json::Map<String, Value>,
        key: Option<&PrivateKey>,
    ) -> Result<(String, Sha256Digest), SealError> {
        let prev_value = json!(prev.map(|p| p.to_string()));
        let mut added = Vec::with_capacity(extra.len() + 1);
        added.push(("prev".to_string(), canonical_entry("prev", &prev_value)?));
        for (k, v) in extra {
            if k == "prev" || k == "signature" || self.entries.iter().any(|(have, _)| have == k) {
                return Err(SealError::NotAnObject);
            }
            added.push((k.clone(), canonical_entry(k, v)?));
        }
        let mut all: Vec<&(String, String)> = self.entries.iter().chain(added.iter()).collect();
        all.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut canonical = String::with_capacity(self.line.len() + 128);
        canonical.push('{');
        for (i, (_, entry)) in all.iter().enumerate() {
            if i > 0 {
                canonical.push(',');
            }
            canonical.push_str(entry);
        }
        canonical.push('}');
        let hash = Sha256Digest::of_bytes(canonical.as_bytes());
        let mut line = String::with_capacity(self.line.len() + 256);
        line.push_str(&self.line);
        for (k, v) in extra {
            line.push(',');
            line.push_str(&Value::String(k.clone()).to_string());
            line.push(':');
            line.push_str(&v.to_string());
        }
        line.push_str(",\"prev\":");
        line.push_str(&prev_value.to_string());
        if let Some(key) = key {
            line.push_str(",\"signature\":\"");
            line.push_str(&key.sign(hash.to_string().as_bytes()));
            line.push('"');
        }
        line.push('}');
        Ok((line, hash))
    }
}

/// Why [`seal`] refused a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Not a JSON object with string `time` and `kind`.
    #[error("an audit record must be a JSON object with string `time` and `kind`")]
    NotAnObject,
    /// A fractional number, which canonical JSON cannot hash.
    #[error("an audit record cannot hold a fractional number")]
    NonInteger,
}

/// Adds the audit key's signature over the record's hash, when there is a key.
fn sign(record: &mut Value, key: Option<&PrivateKey>) {
    if let (Some(key), Ok(hash)) = (key, record_hash(record))
        && let Some(obj) = record.as_object_mut()
    {
        obj.insert(
            "signature".into(),
            Value::String(key.sign(hash.to_string().as_bytes())),
        );
    }
}

/// One record of the log: the JSON object the chain hashes, with the fields the engine reads
/// back from it typed.
///
/// The JSON is kept whole beside the typed view: the hash covers the record exactly as written,
/// including fields this version does not know, which a struct would drop or respell. The view
/// is lenient (a field of the wrong type reads as absent) because the chain must be checkable on
/// any object; each check then fails closed on what it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    json: Value,
    prev: Option<String>,
    kind: Option<RecordKind>,
    request_hash: Option<String>,
    outcome: Option<Outcome>,
    counted_reject: bool,
    signature: Option<String>,
}

impl AuditRecord {
    /// Reads log line `index` (1-based); anything but a JSON object is a problem at that line.
    pub fn parse(line: &str, index: usize) -> Result<Self, ChainProblem> {
        match crate::json::parse(line) {
            Ok(v @ Value::Object(_)) => Ok(Self::from_json(v)),
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

    fn from_json(json: Value) -> Self {
        let text = |key: &str| json.get(key).and_then(Value::as_str);
        let counted_reject = json
            .get("approvals")
            .and_then(Value::as_array)
            .is_some_and(|all| {
                all.iter().any(|a| {
                    a.get("decision").and_then(Value::as_str)
                        == Some(ApprovalDecision::Reject.as_str())
                        && a.get("counted").and_then(Value::as_bool) == Some(true)
                })
            });
        Self {
            prev: text("prev").map(String::from),
            kind: text("kind").and_then(|k| {
                [RecordKind::Decision, RecordKind::Verification]
                    .into_iter()
                    .find(|kind| kind.as_str() == k)
            }),
            request_hash: text("request_hash").map(String::from),
            outcome: text("outcome").and_then(|o| {
                [Outcome::Allowed, Outcome::Pending, Outcome::Denied]
                    .into_iter()
                    .find(|outcome| outcome.as_str() == o)
            }),
            counted_reject,
            signature: text("signature").map(String::from),
            json,
        }
    }

    /// `prev` as written: the hash of the record before; `None` for the first record (and for
    /// a `prev` that is not a string, which can match no hash).
    pub fn prev(&self) -> Option<&str> {
        self.prev.as_deref()
    }

    /// `kind`, when it is one this version writes.
    pub fn kind(&self) -> Option<RecordKind> {
        self.kind
    }

    /// `request_hash` as written.
    pub fn request_hash(&self) -> Option<&str> {
        self.request_hash.as_deref()
    }

    /// A verification's `outcome` (`None` for a decision).
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Whether the record shows a reject that counted.
    pub fn counted_reject(&self) -> bool {
        self.counted_reject
    }

    /// The audit key's signature over the record's hash, when signed.
    pub fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }

    /// The request hash of a verification with outcome `allowed`: one that used its approvals.
    pub fn allowed_request(&self) -> Option<&str> {
        let allowed =
            self.kind == Some(RecordKind::Verification) && self.outcome == Some(Outcome::Allowed);
        self.request_hash().filter(|_| allowed)
    }

    /// The hash that chains this record to the next (see [`record_hash`]).
    pub fn hash(&self) -> Result<Sha256Digest, crate::NonIntegerNumber> {
        record_hash(&self.json)
    }

    /// The record's JSON, as written.
    pub fn as_json(&self) -> &Value {
        &self.json
    }

    /// The record's JSON, as written.
    pub fn into_json(self) -> Value {
        self.json
    }
}

/// The log line (without its newline).
impl fmt::Display for AuditRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.json.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prelinked_record_seals_as_seal_does() {
        use crate::audit::{ChainCheck, verify_chain};
        let key = PrivateKey::from_seed([9; 32]);
        let records = [
            json!({"time": "2026-06-01T00:00:00Z", "kind": "decision",
                   "request": {"context": {"prev": null, "z\u{e9}": [1, "a\"b"]}},
                   "approval": {"id": "apr_1"}, "zeta": 1, "outcome": null}),
            json!({"kind": "record", "time": "2026-06-01T00:00:01Z", "prev": "stale", "signature": "old"}),
            json!({"time": "t", "kind": "k", "a": 1, "prevx": 2, "pre": 3, "\u{1F600}": 4, "\u{FFFD}": 5}),
        ];
        let mut prev = None;
        let mut log = String::new();
        for record in records {
            let (sealed, hash) = seal(record.clone(), prev, Some(&key)).unwrap();
            let (line, pre_hash) = Prelinked::new(record)
                .unwrap()
                .seal(prev, &serde_json::Map::new(), Some(&key))
                .unwrap();
            assert_eq!(pre_hash, hash);
            assert_eq!(AuditRecord::parse(&line, 1).unwrap().hash().unwrap(), hash);
            assert_eq!(
                crate::json::parse(&line).unwrap()["signature"],
                sealed.as_json()["signature"]
            );
            log.push_str(&line);
            log.push('\n');
            prev = Some(hash);
        }
        let check = ChainCheck {
            pubkey: Some(key.public_key()),
            ..ChainCheck::default()
        };
        assert_eq!(verify_chain(&log, &check).unwrap().head, prev);
        // Entries added at sealing hash as if the record had them.
        let base = json!({"time": "t", "kind": "decision", "zz": 1});
        let extra = json!({"approval": {"id": "apr_2", "state": "pending"}, "zzz": [1]});
        let mut whole = base.clone();
        whole
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (_, hash) = seal(whole, prev, None).unwrap();
        let (line, pre_hash) = Prelinked::new(base.clone())
            .unwrap()
            .seal(prev, extra.as_object().unwrap(), None)
            .unwrap();
        assert_eq!(pre_hash, hash);
        assert_eq!(AuditRecord::parse(&line, 1).unwrap().hash().unwrap(), hash);
        let clash = json!({"zz": 2});
        assert!(
            Prelinked::new(base)
                .unwrap()
                .seal(prev, clash.as_object().unwrap(), None)
                .is_err()
        );
    }

    #[test]
    fn a_sealed_event_chains_and_verifies_with_the_key() {
        use crate::audit::{ChainCheck, verify_chain};
        let key = PrivateKey::from_seed([7; 32]);
        let (first, h1) = seal(
            json!({"time": "2026-06-01T00:00:00Z", "kind": "outcome", "ok": true}),
            None,
            Some(&key),
        )
        .unwrap();
        let (second, h2) = seal(
            json!({"time": "2026-06-01T00:00:01Z", "kind": "record", "prev": "forged"}),
            Some(h1),
            Some(&key),
        )
        .unwrap();
        assert_eq!(first.hash().unwrap(), h1);
        assert_eq!(second.prev(), Some(h1.to_string().as_str()));
        let log = format!("{first}\n{second}\n");
        let check = ChainCheck {
            pubkey: Some(key.public_key()),
            ..ChainCheck::default()
        };
        let head = verify_chain(&log, &check).unwrap();
        assert_eq!((head.count, head.head), (2, Some(h2)));
        assert_eq!(
            seal(json!([1]), None, None).unwrap_err(),
            SealError::NotAnObject
        );
        assert_eq!(
            seal(json!({"kind": "x"}), None, None).unwrap_err(),
            SealError::NotAnObject
        );
    }

    #[test]
    fn the_view_reads_what_the_checks_read_and_keeps_the_line() {
        let line = r#"{"kind":"verification","request_hash":"sha256:ab","outcome":"allowed","approvals":[{"decision":"reject","counted":true}],"prev":"sha256:cd","extra":1,"signature":"ed25519:x"}"#;
        let record = AuditRecord::parse(line, 1).unwrap();
        assert_eq!(record.to_string(), line);
        assert_eq!(record.kind(), Some(RecordKind::Verification));
        assert_eq!(record.outcome(), Some(Outcome::Allowed));
        assert_eq!(record.allowed_request(), Some("sha256:ab"));
        assert_eq!(record.prev(), Some("sha256:cd"));
        assert_eq!(record.signature(), Some("ed25519:x"));
        assert!(record.counted_reject());
    }

    #[test]
    fn fields_of_the_wrong_type_read_as_absent() {
        let record = AuditRecord::parse(
            r#"{"kind":"decision","outcome":"allowed","request_hash":"sha256:ab","prev":7,"approvals":[{"decision":"reject","counted":"yes"}]}"#,
            1,
        )
        .unwrap();
        assert_eq!(record.prev(), None);
        assert_eq!(record.allowed_request(), None);
        assert!(!record.counted_reject());
        assert_eq!(AuditRecord::parse("[1]", 3).unwrap_err().line, 3);
        assert_eq!(AuditRecord::parse("{", 4).unwrap_err().line, 4);
    }
}
