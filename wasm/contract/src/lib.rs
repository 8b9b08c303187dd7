//! The contract between tollgate's WebAssembly module (`tollgate-wasm`) and its hosts
//! (`tollgate-wasm-host`): the ABI version, the stable error kinds, and the JSON shapes that one
//! side writes and the other reads. Both crates use these definitions, so the two cannot drift
//! apart; `wasm/ABI.md` documents the same contract for hosts in other languages.
//!
//! Only serde: a host that runs the module does not need the engine to speak to it.
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fmt;

use serde::{Deserialize, Serialize};

/// The ABI's version (`tollgate_version().abi`): raised on any incompatible change to the
/// exports or the JSON shapes. A host refuses a module whose version it does not speak.
pub const ABI_VERSION: u32 = 1;

/// The stable, machine-readable part of an error result (`{"error": {"kind", ...}}`); the
/// message beside it is for people and may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Empty input, not UTF-8, not JSON, not an object, a missing or unknown field, a bad
    /// `at`, an input pointer that is not a live buffer.
    BadInput,
    /// Input over `max_input_bytes`.
    TooLarge,
    /// Input nested deeper than the module's caps (JSON, policy text, entity hierarchy).
    TooDeep,
    /// No pack under this handle, no entity set under this handle, or an entity set prepared
    /// for another pack.
    BadHandle,
    /// The call needs the evaluation time and the input has no `at`.
    MissingAt,
    /// The pack does not load; the error lists its problems.
    Load,
    /// The request, entities, approvals, keyring or workflows do not fit the pack.
    Input,
    /// An earlier call trapped part-way; the instance must be replaced.
    Poisoned,
    /// A result that could not be serialised, or every pack or entity set handle used.
    Internal,
}

impl ErrorKind {
    /// Every kind, in the order `wasm/ABI.md` lists them.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::BadInput,
        ErrorKind::TooLarge,
        ErrorKind::TooDeep,
        ErrorKind::BadHandle,
        ErrorKind::MissingAt,
        ErrorKind::Load,
        ErrorKind::Input,
        ErrorKind::Poisoned,
        ErrorKind::Internal,
    ];

    /// The kind as the JSON spells it, e.g. `bad_input`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_input",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::TooDeep => "too_deep",
            ErrorKind::BadHandle => "bad_handle",
            ErrorKind::MissingAt => "missing_at",
            ErrorKind::Load => "load",
            ErrorKind::Input => "input",
            ErrorKind::Poisoned => "poisoned",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error result: `{"error": {"kind", "message"[, "problems"]}}`, `error` its only key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResult {
    /// The error.
    pub error: ErrorBody,
}

/// What an error result says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One of [`ErrorKind`], as a string: a host reads kinds a newer module may add.
    pub kind: String,
    /// For people.
    pub message: String,
    /// For `load`: every problem of the pack. Absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One problem of a pack that does not load (or a warning of one that does), with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// `tollgate_load`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadOutput {
    /// The pack's handle in this instance (from 1, never reused).
    pub handle: u32,
    /// `sha256:` of the canonical pack, as in every decision.
    pub policy_set: String,
    /// Number of policies.
    pub policies: usize,
    /// Cedar validation warnings (the pack loaded despite them).
    pub warnings: Vec<Problem>,
}

/// What the module says about itself (`tollgate_version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleInfo {
    /// tollgate's version.
    pub tollgate: String,
    /// ABI version.
    pub abi: u32,
    /// The largest input of any call.
    pub max_input_bytes: usize,
    /// The deepest JSON nesting accepted.
    pub max_json_depth: usize,
    /// The deepest bracket nesting accepted in policy and schema texts.
    pub max_text_depth: usize,
    /// The longest chain of parents accepted in an entity set.
    pub max_hierarchy_depth: usize,
    /// Whether `tollgate_lint` is implemented.
    pub lint: bool,
    /// Whether `tollgate_prepare_entities` and `tollgate_release_entities` are implemented,
    /// and decide and verify take `entity_set`. Absent (false) in modules older than them.
    #[serde(default)]
    pub prepared_entities: bool,
}

/// `tollgate_prepare_entities`'s result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedOutput {
    /// The entity set's handle in this instance (from 1, never reused; counted apart from
    /// pack handles).
    pub entity_set: u32,
    /// How many entities the input gave.
    pub entities: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_spelt_as_serde_writes_them() {
        for kind in ErrorKind::ALL {
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
    }
}
