//! A log's head (count and newest hash) and its signed record, to be stored away from the log:
//! without it, removing or editing the newest records leaves a chain that still verifies.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::canonical::{Sha256Digest, to_canonical_json};
use crate::keys::{PrivateKey, PublicKey};

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
