//! Canonical JSON (RFC 8785, JCS) and SHA-256 digests over it.
//!
//! Hashes of requests, packs and audit records must be the same in every language and on every
//! host, so they are taken over one canonical byte form: object keys sorted by UTF-16 code units,
//! no whitespace, ECMAScript string escaping. Cedar has no floating-point values, so unlike JCS
//! proper we reject fractional numbers and write integers exactly (JCS would round integers
//! beyond 2^53 through a double, letting two different requests collide).

use std::fmt::{self, Write as _};
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
    write_value(value, &mut out, &mut String::new(), Fractions::Refuse)?;
    Ok(out)
}

/// Writes any JSON value canonically, fractional numbers included, in JCS's ECMAScript form.
///
/// For values that are only digested, never decided on: a tool call's arguments may hold
/// numbers Cedar cannot (`0.5`), and the digest that binds an approval to the call must still
/// cover them. Integers stay exact, as in [`to_canonical_json`].
pub fn to_canonical_json_lossless(value: &Value) -> String {
    let mut out = String::new();
    // Fractions are written, never refused, so this cannot fail.
    let _ = write_value(value, &mut out, &mut String::new(), Fractions::Write);
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fractions {
    Refuse,
    Write,
}

fn write_value(
    value: &Value,
    out: &mut String,
    path: &mut String,
    fractions: Fractions,
) -> Result<(), NonIntegerNumber> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else if let (Fractions::Write, Some(f)) = (fractions, n.as_f64()) {
                write_ecmascript_number(f, out);
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
                let _ = write!(path, "/{i}");
                write_value(item, out, path, fractions)?;
                path.truncate(len);
            }
            out.push(']');
        }
        Value::Object(map) => write_members(map, out, path, fractions)?,
    }
    Ok(())
}

/// Writes an object's members in canonical order, in braces; `path` is where the object is.
fn write_members(
    map: &serde_json::Map<String, Value>,
    out: &mut String,
    path: &mut String,
    fractions: Fractions,
) -> Result<(), NonIntegerNumber> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| utf16_order(a.0, b.0));
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
        write_value(v, out, path, fractions)?;
        path.truncate(len);
    }
    out.push('}');
    Ok(())
}

/// The order of `a` and `b` by UTF-16 code units, which JCS requires for object keys (not UTF-8
/// bytes or chars).
///
/// UTF-8 byte order is code point order, and the two orders differ only between a character
/// from U+E000 to U+FFFF and one above U+FFFF (a surrogate pair in UTF-16). Such characters
/// start with a byte of 0xEE or more; without one in either key, the bytes decide, with no
/// UTF-16 encoding.
pub(crate) fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    let plain = |s: &str| s.bytes().all(|b| b < 0xEE);
    if plain(a) && plain(b) {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Writes a JSON object's canonical form: the [`to_canonical_json`] of `Value::Object(map)`,
/// without building that value. `path` is where the object is, for the error's path.
pub(crate) fn write_object(
    map: &serde_json::Map<String, Value>,
    out: &mut String,
    path: &str,
) -> Result<(), NonIntegerNumber> {
    write_members(map, out, &mut path.to_string(), Fractions::Refuse)
}

/// Writes `s` as a canonical JSON string.
pub(crate) fn write_json_string(s: &str, out: &mut String) {
    write_string(s, out);
}

/// ECMAScript `Number.prototype.toString` (ES2015 7.1.12.1), as JCS requires for numbers.
///
/// Rust's `{:e}` gives the shortest digits that round-trip, as ECMAScript does; only the layout
/// differs.
fn write_ecmascript_number(f: f64, out: &mut String) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i64 = exp.parse().unwrap_or(0);
    // value = 0.d1d2…dk × 10^n
    let k = digits.len() as i64;
    let n = exp + 1;
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

/// ECMAScript `JSON.stringify` string escaping, as JCS requires.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
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
        // A nibble is always a hex digit; `from_digit` gives lowercase.
        let hex_digit = |n: u8| char::from_digit(u32::from(n), 16).map_or(b'0', |c| c as u8);
        let mut text = [0u8; 71];
        let (prefix, hex) = text.split_at_mut(7);
        prefix.copy_from_slice(b"sha256:");
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            pair.copy_from_slice(&[hex_digit(b >> 4), hex_digit(b & 15)]);
        }
        // Only ASCII was written.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
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
    fn lossless_writes_fractions_as_ecmascript_does() {
        // Number samples of RFC 8785, appendix B, and the layout boundaries.
        let cases: [(f64, &str); 14] = [
            (4.5, "4.5"),
            (0.002, "0.002"),
            (1e30, "1e+30"),
            (1e-27, "1e-27"),
            (333333333.3333333, "333333333.3333333"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (-1.5, "-1.5"),
            (-0.0, "0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ];
        for (f, want) in cases {
            assert_eq!(to_canonical_json_lossless(&json!(f)), want, "{f:e}");
        }
        assert_eq!(
            to_canonical_json_lossless(&json!({"b": [1.25, null], "a": 9007199254740993_i64})),
            r#"{"a":9007199254740993,"b":[1.25,null]}"#
        );
    }

    #[test]
    fn key_order_is_utf16_order() {
        let keys = [
            "",
            "a",
            "ab",
            "b",
            "\u{7f}",
            "\u{e9}",
            "\u{d7ff}",
            "\u{e000}",
            "\u{ffff}",
            "\u{10000}",
            "\u{1f600}",
            "a\u{10000}",
            "a\u{ffff}",
            "a\u{e000}b",
            "\u{ee}",
            "\u{fffd}x",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    utf16_order(a, b),
                    a.encode_utf16().cmp(b.encode_utf16()),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn an_object_written_in_place_is_its_canonical_json() {
        let v = json!({"z": [1, {"b": "x\"y", "a": -3}], "\u{10000}": 1, "\u{e000}": 2, "a": null});
        let mut out = String::new();
        write_object(v.as_object().unwrap(), &mut out, "").unwrap();
        assert_eq!(out, to_canonical_json(&v).unwrap());
        let bad = json!({"c": {"x": [1, 2.5]}});
        let mut out = String::new();
        let e = write_object(bad.as_object().unwrap(), &mut out, "/context").unwrap_err();
        assert_eq!(e.path, "/context/c/x/1");
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
