//! The engine's public surface, in one place. Everything a caller names is re-exported here;
//! the modules behind it are private, and no Cedar type appears in a public signature, so the
//! engine can change how it uses Cedar without changing its callers.

pub use crate::canonical::{
    BadDigest, NonIntegerNumber, Sha256Digest, to_canonical_json, to_canonical_json_lossless,
};
pub use crate::model::call::{BadToolCall, ToolCall};
pub use crate::model::decision::{Decision, DeterminingPolicy, PolicyError};
pub use crate::model::policy::{AnnotationKey, PolicyId, PolicyInfo};
pub use crate::model::request::{EntityRef, ProposedAction, RequestError};
pub use crate::model::tier::{Effect, InvalidTier, PolicyRole, Tier, UnknownTier};
pub use crate::pack::{
    InputError, LoadError, NOW, Pack, PreparedEntities, ValidationCache, pack_hash,
};
pub use crate::schema::{EXPANSION_ANNOTATION, HUMAN_ANNOTATION, PackSchema};
pub use crate::source::{
    DiagnosticCode, LineCol, PackSource, Snippet, SourceDiagnostic, SourceFile, line_col,
};
pub use crate::timestamp::{BadDate, BadTimestamp, CalendarDate, Timestamp};
