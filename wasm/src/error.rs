//! Errors the module returns as `{"error": {"kind": ..., "message": ...}}` instead of trapping.

use serde::Serialize;
use tollgate_engine::{LoadError, SourceDiagnostic};

/// Why a call produced no result. [`AbiError::kind`] is the stable, machine-readable part; the
/// message is for people and may change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AbiError {
    /// Zero-length input.
    #[error("empty input: this call takes a JSON document")]
    Empty,
    /// Input over [`crate::MAX_INPUT_BYTES`].
    #[error("input is {len} bytes; the module accepts at most {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// Input that is not UTF-8.
    #[error("input is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// JSON nested deeper than [`crate::MAX_JSON_DEPTH`].
    #[error(
        "input nests arrays and objects deeper than {max} levels (at byte {offset}); refused before parsing"
    )]
    TooDeep {
        /// Offset of the bracket that went too deep.
        offset: usize,
        /// The cap.
        max: usize,
    },
    /// A policy or schema text nested deeper than [`crate::MAX_TEXT_DEPTH`].
    #[error(
        "{file}:{line}:{column}: brackets nest deeper than {max} levels; refused before parsing"
    )]
    TextTooDeep {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The cap.
        max: usize,
    },
    /// An entity hierarchy deeper than [`crate::MAX_HIERARCHY_DEPTH`].
    #[error(
        "entities: a chain of parents up to {depth} entities long; the module accepts at most {max} (refused before Cedar computes the hierarchy)"
    )]
    HierarchyTooDeep {
        /// The bound found.
        depth: usize,
        /// The cap.
        max: usize,
    },
    /// Not JSON, or not the shape this call takes (a missing or unknown field).
    #[error("input is not valid: {0}")]
    BadJson(String),
    /// The input pointer is not inside a live buffer from `tollgate_alloc`.
    #[error(
        "input pointer and length are not inside a live buffer from tollgate_alloc (freed, or never allocated)"
    )]
    BadPointer,
    /// No pack is loaded under this handle.
    #[error("no pack is loaded under handle {0} (never loaded, or unloaded)")]
    BadHandle(u32),
    /// The call needs the evaluation time and the input has no `at`.
    #[error(
        "`at` (the evaluation time, RFC 3339) is required: {why}; the module has no clock and never guesses the time"
    )]
    MissingAt {
        /// Why the time is needed.
        why: String,
    },
    /// `at` is not an RFC 3339 timestamp.
    #[error("`at`: {0}")]
    BadAt(String),
    /// The pack does not load.
    #[error("{message}")]
    Load {
        /// One line summing up.
        message: String,
        /// Every problem, each with its file and position.
        problems: Vec<Problem>,
    },
    /// The request, entities, approvals or keyring do not fit the pack. The message is the one
    /// the CLI prints for the same input.
    #[error("{0}")]
    Input(String),
    /// More packs loaded over the instance's life than handles exist (handles are never reused).
    #[error("every pack handle has been used; instantiate the module again")]
    HandlesExhausted,
    /// An earlier call trapped part-way; the instance's state cannot be trusted.
    #[error("the module trapped in an earlier call; instantiate it again")]
    Poisoned,
    /// A result that could not be serialised (never expected).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AbiError {
    /// The stable kind: `bad_input`, `too_large`, `too_deep`, `bad_handle`, `missing_at`,
    /// `load`, `input`, `poisoned` or `internal`.
    pub fn kind(&self) -> &'static str {
        match self {
            AbiError::Empty
            | AbiError::NotUtf8 { .. }
            | AbiError::BadJson(_)
            | AbiError::BadPointer
            | AbiError::BadAt(_) => "bad_input",
            AbiError::TooLarge { .. } => "too_large",
            AbiError::TooDeep { .. }
            | AbiError::TextTooDeep { .. }
            | AbiError::HierarchyTooDeep { .. } => "too_deep",
            AbiError::BadHandle(_) => "bad_handle",
            AbiError::MissingAt { .. } => "missing_at",
            AbiError::Load { .. } => "load",
            AbiError::Input(_) => "input",
            AbiError::Poisoned => "poisoned",
            AbiError::HandlesExhausted | AbiError::Internal(_) => "internal",
        }
    }

    /// The error as the module returns it: `{"error": {"kind", "message"[, "problems"]}}`.
    pub fn to_json(&self) -> Vec<u8> {
        // The errors a host may meet on every call cost a copy, not a serialisation: this keeps
        // the price of a call that does no work (e.g. an empty input) near the call itself.
        // `constant_errors_are_what_serde_writes` checks that they match.
        match self {
            AbiError::Empty => return EMPTY_JSON.as_bytes().to_vec(),
            AbiError::BadPointer => return BAD_POINTER_JSON.as_bytes().to_vec(),
            AbiError::Poisoned => return POISONED_JSON.as_bytes().to_vec(),
            _ => {}
        }
        self.serialize_json()
    }

    fn serialize_json(&self) -> Vec<u8> {
        let problems = match self {
            AbiError::Load { problems, .. } => problems.as_slice(),
            _ => &[],
        };
        let body = ErrorJson {
            error: ErrorBody {
                kind: self.kind(),
                message: self.to_string(),
                problems,
            },
        };
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"error":{"kind":"internal","message":"error could not be serialised"}}"#.to_vec()
        })
    }
}

const EMPTY_JSON: &str =
    r#"{"error":{"kind":"bad_input","message":"empty input: this call takes a JSON document"}}"#;
const BAD_POINTER_JSON: &str = r#"{"error":{"kind":"bad_input","message":"input pointer and length are not inside a live buffer from tollgate_alloc (freed, or never allocated)"}}"#;
const POISONED_JSON: &str = r#"{"error":{"kind":"poisoned","message":"the module trapped in an earlier call; instantiate it again"}}"#;

impl From<LoadError> for AbiError {
    fn from(e: LoadError) -> Self {
        AbiError::Load {
            message: e.to_string(),
            problems: e.problems().iter().map(Problem::from).collect(),
        }
    }
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    kind: &'static str,
    message: String,
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    problems: &'a [Problem],
}

/// One problem of a pack that does not load (or a warning of one that does), with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Stable code, e.g. `tollgate::invalid_tier` or a Cedar validation code.
    pub code: String,
    /// The file, as named in the load input.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The policy concerned, when known.
    pub policy: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
}

impl From<&SourceDiagnostic> for Problem {
    fn from(d: &SourceDiagnostic) -> Self {
        Self {
            code: d.code.to_string(),
            file: d.file.clone(),
            line: d.position.line,
            column: d.position.column,
            policy: d.policy.clone(),
            message: d.message.clone(),
            help: d.help.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_errors_are_what_serde_writes() {
        for e in [AbiError::Empty, AbiError::BadPointer, AbiError::Poisoned] {
            assert_eq!(
                String::from_utf8(e.to_json()).unwrap(),
                String::from_utf8(e.serialize_json()).unwrap()
            );
        }
    }

    #[test]
    fn load_errors_carry_their_problems() {
        let e = AbiError::Load {
            message: "could not load".into(),
            problems: vec![Problem {
                code: "c".into(),
                file: "f.cedar".into(),
                line: 2,
                column: 3,
                policy: None,
                message: "m".into(),
                help: None,
            }],
        };
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(v["error"]["kind"], "load");
        assert_eq!(v["error"]["problems"][0]["line"], 2);
        let v: serde_json::Value =
            serde_json::from_slice(&AbiError::BadHandle(7).to_json()).unwrap();
        assert!(v["error"].get("problems").is_none());
    }
}
