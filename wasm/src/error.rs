//! Errors the module returns as `{"error": {"kind": ..., "message": ...}}` instead of trapping,
//! and how the engine's errors map to them: by their type (and variant where kinds differ),
//! never by their text. The messages are the engine's own, as the CLI prints them.

use tollgate_engine::approvals::VerifyError;
use tollgate_engine::json::JsonError;
use tollgate_engine::limits::Limit;
use tollgate_engine::lint::{LintError, WorkflowError};
use tollgate_engine::{InputError, LoadError, RequestError, SourceDiagnostic};
use tollgate_wasm_contract::{ErrorBody, ErrorKind, ErrorResult, Problem};

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
    /// JSON the engine's reader refused for one of its limits. The checks before parsing apply
    /// the same limits, so they normally refuse such input first.
    #[error("input is not valid: {message}")]
    OverLimit {
        /// The limit crossed.
        limit: Limit,
        /// The reader's message.
        message: String,
    },
    /// The input pointer is not inside a live buffer from `tollgate_alloc`.
    #[error(
        "input pointer and length are not inside a live buffer from tollgate_alloc (freed, or never allocated)"
    )]
    BadPointer,
    /// No pack is loaded under this handle.
    #[error("no pack is loaded under handle {0} (never loaded, or unloaded)")]
    BadHandle(u32),
    /// No entity set is prepared under this handle.
    #[error(
        "no entity set is prepared under handle {0} (never prepared, released, or its pack was unloaded)"
    )]
    BadEntitySet(u32),
    /// The entity set was prepared for another pack: it was validated against that pack's
    /// schema, so using it with this one could let entities through unchecked.
    #[error(
        "entity set {entity_set} was prepared for pack {prepared_for}, not for pack {handle}; prepare the entities for this pack"
    )]
    EntitySetOfOtherPack {
        /// The entity set.
        entity_set: u32,
        /// The pack it was prepared for.
        prepared_for: u32,
        /// The pack of the call.
        handle: u32,
    },
    /// The input names both inline `entities` and a prepared `entity_set`.
    #[error(
        "input is not valid: `entities` and `entity_set` are both given; pass the entities inline or as a prepared set, not both"
    )]
    EntitiesTwice,
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
    /// More entity sets prepared over the instance's life than handles exist (never reused).
    #[error("every entity set handle has been used; instantiate the module again")]
    EntitySetsExhausted,
    /// An earlier call trapped part-way; the instance's state cannot be trusted.
    #[error("the module trapped in an earlier call; instantiate it again")]
    Poisoned,
    /// A result that could not be serialised (never expected).
    #[error("internal error: {0}")]
    Internal(String),
}

impl AbiError {
    /// The stable kind (`wasm/ABI.md` lists them).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AbiError::Empty
            | AbiError::NotUtf8 { .. }
            | AbiError::BadJson(_)
            | AbiError::BadPointer
            | AbiError::EntitiesTwice
            | AbiError::BadAt(_) => ErrorKind::BadInput,
            AbiError::OverLimit { limit, .. } => match limit {
                Limit::FileBytes => ErrorKind::TooLarge,
                Limit::JsonDepth | Limit::TextDepth | Limit::HierarchyDepth => ErrorKind::TooDeep,
                _ => ErrorKind::BadInput,
            },
            AbiError::TooLarge { .. } => ErrorKind::TooLarge,
            AbiError::TooDeep { .. }
            | AbiError::TextTooDeep { .. }
            | AbiError::HierarchyTooDeep { .. } => ErrorKind::TooDeep,
            AbiError::BadHandle(_)
            | AbiError::BadEntitySet(_)
            | AbiError::EntitySetOfOtherPack { .. } => ErrorKind::BadHandle,
            AbiError::MissingAt { .. } => ErrorKind::MissingAt,
            AbiError::Load { .. } => ErrorKind::Load,
            AbiError::Input(_) => ErrorKind::Input,
            AbiError::Poisoned => ErrorKind::Poisoned,
            AbiError::HandlesExhausted | AbiError::EntitySetsExhausted | AbiError::Internal(_) => {
                ErrorKind::Internal
            }
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
            AbiError::Load { problems, .. } => problems.clone(),
            _ => Vec::new(),
        };
        let body = ErrorResult {
            error: ErrorBody {
                kind: self.kind().as_str().into(),
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

/// A pack that does not load: `load`, with every problem.
impl From<LoadError> for AbiError {
    fn from(e: LoadError) -> Self {
        AbiError::Load {
            message: e.to_string(),
            problems: e.problems().iter().map(problem).collect(),
        }
    }
}

/// A request that cannot be read: `input` (it is JSON of the right shape; the engine reads the
/// entity references and context inside it).
impl From<RequestError> for AbiError {
    fn from(e: RequestError) -> Self {
        AbiError::Input(e.to_string())
    }
}

/// A request or entity set that does not fit the pack: `input`.
impl From<InputError> for AbiError {
    fn from(e: InputError) -> Self {
        AbiError::Input(e.to_string())
    }
}

/// Approvals that cannot be verified (no schema, a missing entity, a bad delegation, or a
/// request that does not fit): `input`.
impl From<VerifyError> for AbiError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Input(e) => e.into(),
            other => AbiError::Input(other.to_string()),
        }
    }
}

/// A workflow that cannot be read or decided: `input`.
impl From<WorkflowError> for AbiError {
    fn from(e: WorkflowError) -> Self {
        AbiError::Input(e.to_string())
    }
}

/// Lint of a pack that does not load is `load`, with its problems; no schema or a workflow
/// that does not fit is `input`.
impl From<LintError> for AbiError {
    fn from(e: LintError) -> Self {
        match e {
            LintError::Load(e) => e.into(),
            LintError::Workflow(e) => e.into(),
            other => AbiError::Input(other.to_string()),
        }
    }
}

/// Input the strict JSON reader refuses: `bad_input`, or for a limit the limit's kind.
impl From<JsonError> for AbiError {
    fn from(e: JsonError) -> Self {
        match &e {
            JsonError::Limit { exceeded, .. } => AbiError::OverLimit {
                limit: exceeded.limit,
                message: e.to_string(),
            },
            _ => AbiError::BadJson(e.to_string()),
        }
    }
}

/// A load problem (or warning) as the ABI reports it.
pub(crate) fn problem(d: &SourceDiagnostic) -> Problem {
    Problem {
        code: d.code.to_string(),
        file: d.file.clone(),
        line: d.position.line,
        column: d.position.column,
        policy: d.policy.clone(),
        message: d.message.clone(),
        help: d.help.clone(),
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
        assert_eq!(e.kind(), ErrorKind::Load);
        assert_eq!(v["error"]["problems"][0]["line"], 2);
        let v: serde_json::Value =
            serde_json::from_slice(&AbiError::BadHandle(7).to_json()).unwrap();
        assert!(v["error"].get("problems").is_none());
    }
}
