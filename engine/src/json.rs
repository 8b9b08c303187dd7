//! Strict JSON: the one reader of every JSON input.
//!
//! `serde_json` keeps the last of two equal keys in an object, so
//! `{"resource": "Environment::\"staging\"", …, "resource": "Environment::\"prod\""}` reads as
//! prod while a person reading it sees staging, and a first-key reader of the same bytes sees
//! another record than the engine verifies. Cedar reads an object holding `__entity` (or
//! `__extn`, `__expr`) as that escape and ignores the other keys. This reader refuses both, as
//! well as input over the size and nesting [limits](crate::limits), before anything else sees
//! the data.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::limits::{Limit, LimitExceeded, Limits};
use crate::source::line_col;

/// The keys Cedar reads as an escape when an object holds them, ignoring any others.
const ESCAPES: [&str; 3] = ["__entity", "__extn", "__expr"];

/// Why JSON text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON.
    #[error("{line}:{column}: not valid JSON: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde's description.
        message: String,
    },
    /// Valid JSON whose meaning would depend on the reader.
    #[error("{line}:{column}: {problem}")]
    Ambiguous {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What.
        problem: Ambiguity,
    },
    /// Over a limit.
    #[error("{}{exceeded}", at.map(|(l, c)| format!("{l}:{c}: ")).unwrap_or_default())]
    Limit {
        /// The limit.
        exceeded: LimitExceeded,
        /// Line and column where the limit was crossed, for nesting.
        at: Option<(usize, usize)>,
    },
}

impl JsonError {
    /// The 1-based line and column the error points at, when it points anywhere.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            JsonError::Syntax { line, column, .. } | JsonError::Ambiguous { line, column, .. } => {
                Some((*line, *column))
            }
            JsonError::Limit { at, .. } => *at,
        }
    }

    /// The error without its position (for messages that print it separately).
    pub fn message(&self) -> String {
        match self {
            JsonError::Syntax { message, .. } => format!("not valid JSON: {message}"),
            JsonError::Ambiguous { problem, .. } => problem.to_string(),
            JsonError::Limit { exceeded, .. } => exceeded.to_string(),
        }
    }
}

/// Valid JSON refused because readers disagree on what it means.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ambiguity {
    /// A key appears twice in one object.
    #[error("duplicate key `{key}` in {}", where_(path))]
    DuplicateKey {
        /// The key.
        key: String,
        /// Where the object is, e.g. `context.a[2]` (empty for the outermost value).
        path: String,
    },
    /// An escape object (`__entity`, `__extn`, `__expr`) with other keys beside it.
    #[error(
        "`{escape}` with other keys beside it in {} (Cedar would ignore them): an escape object holds only `{escape}`",
        where_(path)
    )]
    KeysBesideEscape {
        /// The escape key.
        escape: String,
        /// Where the object is.
        path: String,
    },
}

fn where_(path: &str) -> String {
    if path.is_empty() {
        "the outermost object".into()
    } else {
        format!("`{path}`")
    }
}

/// Checks a value that came from elsewhere (YAML test cases and workflows) as if it had been
/// read as JSON: an escape object with other keys beside it, or nesting over the limit, is
/// refused the same way. (YAML's own reader already refuses a key given twice.)
pub fn recheck(value: &Value) -> Result<Value, JsonError> {
    parse(&value.to_string())
}

/// Parses one JSON value under the process's [limits](Limits::current).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    parse_with(text, &Limits::current())
}

/// Parses one JSON value under `limits`: refuses text over [`Limit::FileBytes`], nesting over
/// [`Limit::JsonDepth`], duplicate keys and escape objects with other keys.
pub fn parse_with(text: &str, limits: &Limits) -> Result<Value, JsonError> {
    check_limits(text, limits)?;
    let slot = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Strict {
        path: None,
        problem: &slot,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| error(e, &slot))
}

/// Parses a sequence of JSON values separated by whitespace (a keyring built by appending, or
/// JSON Lines read whole), with the same checks as [`parse`]. Positions are in `text`.
pub fn parse_stream(text: &str) -> Result<Vec<Value>, JsonError> {
    let limits = Limits::current();
    check_limits(text, &limits)?;
    // Find where each value ends with a reader that keeps nothing, then read each piece
    // strictly; the pieces' positions are moved to the whole text's.
    let mut ends = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<IgnoredAny>();
    while let Some(next) = stream.next() {
        next.map_err(|e| syntax(&e))?;
        ends.push(stream.byte_offset());
    }
    let mut values = Vec::with_capacity(ends.len());
    let mut start = 0;
    for end in ends {
        let piece = text.get(start..end).unwrap_or_default();
        let value = parse_with(piece, &limits).map_err(|e| shift(e, text, start))?;
        values.push(value);
        start = end;
    }
    Ok(values)
}

/// Size and nesting, checked on the bytes before any parser recurses.
fn check_limits(text: &str, limits: &Limits) -> Result<(), JsonError> {
    limits
        .check_bytes(text.len())
        .map_err(|exceeded| JsonError::Limit { exceeded, at: None })?;
    if let Some(offset) = limits.json_too_deep_at(text) {
        let at = line_col(text, offset);
        return Err(JsonError::Limit {
            exceeded: LimitExceeded {
                limit: Limit::JsonDepth,
                max: limits.json_depth,
            },
            at: Some((at.line, at.column)),
        });
    }
    Ok(())
}

/// Moves an error's position in a piece starting at byte `start` of `text` to `text`'s.
fn shift(e: JsonError, text: &str, start: usize) -> JsonError {
    let base = line_col(text, start);
    let moved = |line: usize, column: usize| {
        if line == 1 {
            (base.line, base.column + column - 1)
        } else {
            (base.line + line - 1, column)
        }
    };
    match e {
        JsonError::Syntax {
            line,
            column,
            message,
        } => {
            let (line, column) = moved(line, column);
            JsonError::Syntax {
                line,
                column,
                message,
            }
        }
        JsonError::Ambiguous {
            line,
            column,
            problem,
        } => {
            let (line, column) = moved(line, column);
            JsonError::Ambiguous {
                line,
                column,
                problem,
            }
        }
        JsonError::Limit { exceeded, at } => JsonError::Limit {
            exceeded,
            at: at.map(|(l, c)| moved(l, c)),
        },
    }
}

fn syntax(e: &serde_json::Error) -> JsonError {
    // serde's message ends with " at line L column C", which the position already says.
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) if e.line() > 0 => full.get(..i).unwrap_or(&full).to_string(),
        _ => full,
    };
    JsonError::Syntax {
        line: e.line().max(1),
        column: e.column().max(1),
        message,
    }
}

fn error(e: serde_json::Error, slot: &RefCell<Option<Ambiguity>>) -> JsonError {
    match slot.borrow_mut().take() {
        Some(problem) => JsonError::Ambiguous {
            line: e.line().max(1),
            column: e.column().max(1),
            problem,
        },
        None => syntax(&e),
    }
}

/// One step of the path from the outermost value: a key or an index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A linked path, built only when an error needs it.
struct Path<'a> {
    step: Step<'a>,
    parent: Option<&'a Path<'a>>,
}

fn render(path: Option<&Path<'_>>) -> String {
    let mut steps = Vec::new();
    let mut at = path;
    while let Some(p) = at {
        steps.push(&p.step);
        at = p.parent;
    }
    let mut out = String::new();
    for step in steps.into_iter().rev() {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Reads a [`Value`] at `path`, refusing ambiguous objects; the typed reason goes to `problem`
/// (serde's error type carries only text).
#[derive(Clone, Copy)]
struct Strict<'a> {
    path: Option<&'a Path<'a>>,
    problem: &'a RefCell<Option<Ambiguity>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let path = Path {
                step: Step::Index(out.len()),
                parent: self.path,
            };
            let seed = Strict {
                path: Some(&path),
                problem: self.problem,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(self.refuse(Ambiguity::DuplicateKey {
                    key,
                    path: render(self.path),
                }));
            }
            let path = Path {
                step: Step::Key(&key),
                parent: self.path,
            };
            let value = map.next_value_seed(Strict {
                path: Some(&path),
                problem: self.problem,
            })?;
            out.insert(key, value);
        }
        let escape = ESCAPES.iter().find(|e| out.contains_key(**e));
        if let (Some(escape), true) = (escape, out.len() > 1) {
            return Err(self.refuse(Ambiguity::KeysBesideEscape {
                escape: (*escape).to_string(),
                path: render(self.path),
            }));
        }
        Ok(Value::Object(out))
    }
}

impl Strict<'_> {
    fn refuse<E: de::Error>(&self, problem: Ambiguity) -> E {
        let message = problem.to_string();
        *self.problem.borrow_mut() = Some(problem);
        E::custom(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_reads() {
        for text in [
            "{}",
            "[]",
            "null",
            " 1 ",
            r#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}], "c": 18446744073709551615}"#,
        ] {
            assert_eq!(
                parse(text).unwrap(),
                serde_json::from_str::<Value>(text).unwrap()
            );
        }
    }

    #[test]
    fn refuses_duplicate_keys_naming_key_and_place() {
        let text = "{\"resource\": \"Environment::\\\"staging\\\"\",\n \"resource\": \"Environment::\\\"prod\\\"\"}";
        let err = parse(text).unwrap_err();
        assert!(
            matches!(&err, JsonError::Ambiguous { line: 2, problem: Ambiguity::DuplicateKey { key, path }, .. } if key == "resource" && path.is_empty()),
            "{err:?}"
        );
        assert_eq!(
            err.message(),
            "duplicate key `resource` in the outermost object"
        );
        let err = parse(r#"{"context": {"a": [{}, {"x": 1, "x": 1}]}}"#).unwrap_err();
        assert_eq!(
            err.message(),
            "duplicate key `x` in `context.a[1]`",
            "{err:?}"
        );
        // Same key in sibling objects is fine.
        assert!(parse(r#"[{"x": 1}, {"x": 2}]"#).is_ok());
        // Keys equal after unescaping are the same key.
        assert!(parse(r#"{"a": 1, "\u0061": 2}"#).is_err());
    }

    #[test]
    fn refuses_keys_beside_escapes() {
        let err =
            parse(r#"{"type": "A", "id": "x", "__entity": {"type": "A", "id": "y"}}"#).unwrap_err();
        assert!(
            err.message().contains("`__entity` with other keys"),
            "{err}"
        );
        assert!(parse(r#"{"a": {"__extn": {"fn": "ip", "arg": "1.2.3.4"}, "b": 1}}"#).is_err());
        assert!(parse(r#"{"__entity": {"type": "A", "id": "y"}}"#).is_ok());
    }

    #[test]
    fn refuses_deep_nesting_before_parsing() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(&deep).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:65: JSON nesting deeper than 64 (limit json-depth; raise it with --limit json-depth=N)"
        );
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse(&ok).is_ok());
        let mut limits = Limits::default();
        limits.set(Limit::JsonDepth, 120).unwrap();
        let deeper = format!("{}{}", "[".repeat(120), "]".repeat(120));
        assert!(parse_with(&deeper, &limits).is_ok());
    }

    #[test]
    fn refuses_oversized_text() {
        let mut limits = Limits::default();
        limits.set(Limit::FileBytes, 4).unwrap();
        assert!(matches!(
            parse_with("[1, 2]", &limits),
            Err(JsonError::Limit { .. })
        ));
    }

    #[test]
    fn syntax_errors_keep_their_position() {
        let err = parse("{\"a\": 1,}").unwrap_err();
        assert!(
            matches!(
                err,
                JsonError::Syntax {
                    line: 1,
                    column: 9,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(parse("{} {}").is_err());
    }

    #[test]
    fn streams_are_checked_per_value_with_true_positions() {
        let values = parse_stream("{\"a\": 1}\n{\"b\": 2} {}").unwrap();
        assert_eq!(values.len(), 3);
        assert!(parse_stream("").unwrap().is_empty());
        let err = parse_stream("{\"a\": 1}\n{\"b\": 2, \"b\": 3}").unwrap_err();
        assert!(
            matches!(&err, JsonError::Ambiguous { line: 2, .. }),
            "{err:?}"
        );
        let err = parse_stream("{\"a\": 1} {\"b\": 2, \"b\": 3}").unwrap_err();
        assert!(
            matches!(&err, JsonError::Ambiguous { line: 1, column, .. } if *column > 10),
            "{err:?}"
        );
    }
}
