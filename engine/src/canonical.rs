//! Canonical JSON (RFC 8785, JCS) and SHA-256 digests over it.
//!
//! Hashes of requests, packs and audit records must be the same in every language and on every
//! host, so they are taken over one canonical byte form: object keys sorted by UTF-16 code units,
//! no whitespace, ECMAScript string escaping. Cedar has no floating-point values, so unlike JCS
//! proper we reject fractional numbers and write integers exactly (JCS would round integers
//! beyond 2^53 through a double, letting two different requests collide).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// A value that has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("number `{number}` at `{path}` is not an integer: Cedar has no fractional numbers")]
pub struct NonIntegerNumber {
    /// The number as parsed.
    pub number: String,
    /// JSON-pointer-like path to it.
    pub path: String,
}

/// Writes `value` as canonical JSON.
pub fn to_canonical_json(value: &Value) -> Result<String, NonIntegerNumber> {
    let mut out = String::new();
    write_value(value, &mut out, &mut String::new())?;
    Ok(out)
}

fn write_value(value: &Value, out: &mut String, path: &mut String) -> Result<(), NonIntegerNumber> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                return Err(NonIntegerNumber {
                    number: n.to_string(),
                    path: if path.is_empty() {
                        "/".into()
                    } else {
                        path.clone()
                    },
                });
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let len = path.len();
                path.push_str(&format!("/{i}"));
                write_value(item, out, path)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            // JCS orders keys by their UTF-16 code units, not by UTF-8 bytes or chars.
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                let len = path.len();
                path.push('/');
                path.push_str(k);
                write_value(v, out, path)?;
                path.truncate(len);
            }
            out.push('}');
        }
    }
    Ok(())
}

/// ECMAScript `JSON.stringify` string escaping, as JCS requires.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A SHA-256 digest, written `sha256:<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Digest of a value's canonical JSON.
    pub fn of_canonical(value: &Value) -> Result<Self, NonIntegerNumber> {
        Ok(Self::of_bytes(to_canonical_json(value)?.as_bytes()))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is not `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a digest: expected `sha256:` followed by 64 lowercase hex digits")]
pub struct BadDigest(pub String);

impl FromStr for Sha256Digest {
    type Err = BadDigest;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadDigest(s.to_string());
        let hex = s.strip_prefix("sha256:").ok_or_else(bad)?;
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            let (hi, lo) = match pair {
                [h, l] => (digit(*h).ok_or_else(bad)?, digit(*l).ok_or_else(bad)?),
                _ => return Err(bad()),
            };
            *slot = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        to_canonical_json(&v).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        assert_eq!(
            canon(json!({"b": 1, "a": [true, null, "x"]})),
            r#"{"a":[true,null,"x"],"b":1}"#
        );
    }

    #[test]
    fn sorts_by_utf16_code_units() {
        // U+1F600 is a surrogate pair starting 0xD83D, which sorts before U+FB01 (0xFB01) in
        // UTF-16 though after it in code points.
        let v = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(canon(v), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }

    #[test]
    fn escapes_like_ecmascript() {
        assert_eq!(
            canon(json!("a\"b\\c\n\u{1}\u{7f}é")),
            "\"a\\\"b\\\\c\\n\\u0001\u{7f}é\""
        );
    }

    #[test]
    fn integers_are_exact_beyond_2_pow_53() {
        let a = canon(json!(9007199254740993_i64));
        let b = canon(json!(9007199254740992_i64));
        assert_eq!(a, "9007199254740993");
        assert_ne!(a, b);
        assert_eq!(
            canon(json!(-9223372036854775808_i64)),
            "-9223372036854775808"
        );
    }

    #[test]
    fn rejects_fractions() {
        let err = to_canonical_json(&json!({"x": [1.5]}));
        assert_eq!(
            err,
            Err(NonIntegerNumber {
                number: "1.5".into(),
                path: "/x/0".into()
            })
        );
    }

    #[test]
    fn digest_round_trips() {
        let d = Sha256Digest::of_bytes(b"abc");
        let s = d.to_string();
        assert_eq!(
            s,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(s.parse::<Sha256Digest>(), Ok(d));
        assert!(
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
                .parse::<Sha256Digest>()
                .is_err()
        );
        assert!("sha256:abc".parse::<Sha256Digest>().is_err());
        assert!("md5:00".parse::<Sha256Digest>().is_err());
    }
}
