//! Ed25519 keys in tollgate's text forms, and keyrings mapping approvers to their public keys.
//!
//! Public keys are written `ed25519:<base64 of the 32-byte key>`; signatures
//! `ed25519:<base64 of the 64-byte signature>`. A private key file is JSON:
//! `{"approver": "Human::\"alice\"", "private_key": "ed25519-private:<base64 seed>",
//! "public_key": "ed25519:<base64>"}` (`approver` is absent for a service's audit key).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::EntityRef;

const PUBLIC_PREFIX: &str = "ed25519:";
const PRIVATE_PREFIX: &str = "ed25519-private:";

/// A key or signature string that does not parse, or a keyring that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum KeyError {
    /// Not `ed25519:<base64>` of the right length.
    #[error("`{0}` is not an Ed25519 public key: expected `ed25519:` and the base64 of 32 bytes")]
    BadPublicKey(String),
    /// A private key string that does not parse (its value is not echoed).
    #[error("private key is not `ed25519-private:` and the base64 of a 32-byte seed")]
    BadPrivateKey,
    /// A key file that is not the expected JSON.
    #[error("key file is not valid: {0}")]
    BadKeyFile(String),
    /// The key file's public key does not match its private key.
    #[error("key file's public_key does not match its private_key")]
    MismatchedKeyFile,
    /// A keyring that is not a JSON object of approver → key.
    #[error("keyring is not valid: {0}")]
    BadKeyring(String),
    /// Two approvers share one key: their approvals would not be distinct people.
    #[error(
        "keyring maps one key to two approvers ({0} and {1}); each approver needs a key of their own"
    )]
    SharedKey(String, String),
}

/// An Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Whether `signature` (`ed25519:<b64>`) signs `message` under this key. Uses strict
    /// verification, which rejects malleable and small-order forgeries.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Some(bytes) = signature
            .strip_prefix(PUBLIC_PREFIX)
            .and_then(|b| B64.decode(b).ok())
        else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0.verify_strict(message, &sig).is_ok()
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", B64.encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || KeyError::BadPublicKey(s.to_string());
        let bytes = s.trim().strip_prefix(PUBLIC_PREFIX).ok_or_else(bad)?;
        let bytes: [u8; 32] = B64
            .decode(bytes)
            .map_err(|_| bad())?
            .try_into()
            .map_err(|_| bad())?;
        VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| bad())
    }
}

/// An Ed25519 signing key. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// From a 32-byte seed (the caller supplies randomness: the engine has no RNG).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// `ed25519:<b64 signature>` over `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        format!(
            "{PUBLIC_PREFIX}{}",
            B64.encode(self.0.sign(message).to_bytes())
        )
    }

    fn to_text(&self) -> String {
        format!("{PRIVATE_PREFIX}{}", B64.encode(self.0.to_bytes()))
    }

    fn from_text(s: &str) -> Result<Self, KeyError> {
        let b = s
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(KeyError::BadPrivateKey)?;
        let seed: [u8; 32] = B64
            .decode(b)
            .map_err(|_| KeyError::BadPrivateKey)?
            .try_into()
            .map_err(|_| KeyError::BadPrivateKey)?;
        Ok(Self::from_seed(seed))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public_key())
    }
}

/// A private key file: the key and, for an approver's key, whose it is.
#[derive(Debug, Clone)]
pub struct KeyFile {
    /// The approver the key belongs to (`None` for a service's audit key).
    pub approver: Option<EntityRef>,
    /// The key.
    pub key: PrivateKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approver: Option<String>,
    private_key: String,
    public_key: String,
}

impl KeyFile {
    /// The file's JSON text.
    pub fn to_json(&self) -> String {
        let json = KeyFileJson {
            approver: self.approver.as_ref().map(ToString::to_string),
            private_key: self.key.to_text(),
            public_key: self.key.public_key().to_string(),
        };
        serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
    }

    /// Parses a key file, checking that its public key matches its private key.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let value = crate::json::parse(text).map_err(|e| KeyError::BadKeyFile(e.to_string()))?;
        let json: KeyFileJson =
            serde_json::from_value(value).map_err(|e| KeyError::BadKeyFile(e.to_string()))?;
        let key = PrivateKey::from_text(&json.private_key)?;
        if key.public_key() != json.public_key.parse::<PublicKey>()? {
            return Err(KeyError::MismatchedKeyFile);
        }
        let approver = json
            .approver
            .map(|a| {
                a.parse::<EntityRef>()
                    .map_err(|e| KeyError::BadKeyFile(e.to_string()))
            })
            .transpose()?;
        Ok(Self { approver, key })
    }
}

/// Approvers' public keys. Valid only if no key belongs to two approvers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    keys: BTreeMap<String, PublicKey>,
}

impl Keyring {
    /// Parses `{"Human::\"alice\"": "ed25519:…", …}`, or several such objects one after the
    /// other (so `tollgate keygen … >> keyring.json` builds a keyring). Approver names are
    /// normalised, so spellings of one entity cannot be used to register it twice.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        // Strict: an approver listed twice in one object is refused, not last-wins.
        let objects =
            crate::json::parse_stream(text).map_err(|e| KeyError::BadKeyring(e.to_string()))?;
        for object in objects {
            let object: BTreeMap<String, String> =
                serde_json::from_value(object).map_err(|e| KeyError::BadKeyring(e.to_string()))?;
            entries.extend(object);
        }
        let mut keys = BTreeMap::new();
        let mut owners: BTreeMap<[u8; 32], String> = BTreeMap::new();
        for (approver, key) in entries {
            let who = approver
                .parse::<EntityRef>()
                .map_err(|e| KeyError::BadKeyring(format!("`{approver}`: {e}")))?
                .to_string();
            let key: PublicKey = key.parse()?;
            if let Some(other) = owners.insert(*key.as_bytes(), who.clone()) {
                return Err(KeyError::SharedKey(other, who));
            }
            if keys.insert(who.clone(), key).is_some() {
                return Err(KeyError::BadKeyring(format!("{who} is listed twice")));
            }
        }
        Ok(Self { keys })
    }

    /// The key of `approver`.
    pub fn get(&self, approver: &EntityRef) -> Option<&PublicKey> {
        self.keys.get(&approver.to_string())
    }

    /// Number of approvers.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A keyring entry `{"<approver>": "ed25519:…"}` as one JSON object line.
pub fn keyring_entry(approver: &EntityRef, key: &PublicKey) -> String {
    let mut map = serde_json::Map::new();
    map.insert(
        approver.to_string(),
        serde_json::Value::String(key.to_string()),
    );
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> PrivateKey {
        PrivateKey::from_seed([n; 32])
    }

    #[test]
    fn sign_and_verify() {
        let k = key(1);
        let sig = k.sign(b"hello");
        assert!(k.public_key().verifies(b"hello", &sig));
        assert!(!k.public_key().verifies(b"hellO", &sig));
        assert!(!key(2).public_key().verifies(b"hello", &sig));
        assert!(!k.public_key().verifies(b"hello", "ed25519:AAAA"));
        assert!(!k.public_key().verifies(b"hello", "garbage"));
    }

    #[test]
    fn public_key_round_trips() {
        let p = key(3).public_key();
        assert_eq!(p.to_string().parse::<PublicKey>(), Ok(p));
        assert!("ed25519:AAAA".parse::<PublicKey>().is_err());
        assert!("rsa:AAAA".parse::<PublicKey>().is_err());
    }

    #[test]
    fn key_file_round_trips_and_checks_consistency() {
        let f = KeyFile {
            approver: Some("Human::\"alice\"".parse().unwrap()),
            key: key(4),
        };
        let back = KeyFile::parse(&f.to_json()).unwrap();
        assert_eq!(back.key.public_key(), f.key.public_key());
        assert_eq!(back.approver, f.approver);
        let tampered = f.to_json().replace(
            &key(4).public_key().to_string(),
            &key(5).public_key().to_string(),
        );
        assert_eq!(
            KeyFile::parse(&tampered).unwrap_err(),
            KeyError::MismatchedKeyFile
        );
        assert!(!format!("{:?}", f.key).contains(&f.key.to_text()));
    }

    #[test]
    fn keyring_rejects_a_shared_key() {
        let k = key(6).public_key();
        let text = format!(r#"{{"Human::\"alice\"": "{k}", "Human::\"bob\"": "{k}"}}"#);
        assert!(matches!(
            Keyring::parse(&text),
            Err(KeyError::SharedKey(..))
        ));
        let ok = format!(
            r#"{{"Human::\"alice\"": "{k}", "Human::\"bob\"": "{}"}}"#,
            key(7).public_key()
        );
        let ring = Keyring::parse(&ok).unwrap();
        assert_eq!(ring.get(&"Human::\"alice\"".parse().unwrap()), Some(&k));
    }

    #[test]
    fn keyring_accepts_concatenated_entries() {
        let a = keyring_entry(&"Human::\"alice\"".parse().unwrap(), &key(10).public_key());
        let b = keyring_entry(&"Human::\"bob\"".parse().unwrap(), &key(11).public_key());
        assert_eq!(Keyring::parse(&format!("{a}\n{b}\n")).unwrap().len(), 2);
        assert!(Keyring::parse(&format!("{a}\n{a}\n")).is_err());
        assert!(Keyring::parse("[]").is_err());
    }

    #[test]
    fn keyring_normalises_spellings() {
        let k = key(8).public_key();
        let text = format!(
            r#"{{"Human::\"alice\"": "{k}", "Human :: \"alice\"": "{}"}}"#,
            key(9).public_key()
        );
        assert!(Keyring::parse(&text).is_err());
    }
}
