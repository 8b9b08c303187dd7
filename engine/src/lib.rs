//! tollgate's policy engine: decides whether an action an AI agent proposes runs automatically,
//! needs one human approval, needs two (dual control), or is denied — on plain Cedar policies
//! annotated with `@tier`.
//!
//! ```no_run
//! use tollgate_engine::{Pack, PackSource, ProposedAction, SourceFile, Timestamp};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pack = Pack::load(PackSource {
//!     policies: vec![SourceFile::new("deploy.cedar", r#"@tier("auto") permit(principal, action, resource);"#)],
//!     schemas: vec![],
//! })?;
//! let request = ProposedAction::from_json_str(
//!     r#"{"principal": "Agent::\"bot\"", "action": "Action::\"summarize\"", "resource": "Doc::\"d\""}"#,
//! )?;
//! let decision = pack.decide(&request, &pack.no_entities(), "2026-06-01T12:00:00Z".parse::<Timestamp>()?)?;
//! assert_eq!(decision.tier.as_str(), "auto");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Nothing in the engine may panic on input: tests are exempt through clippy.toml.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod accel;
mod annotations;
mod api;
mod canonical;
mod lexical;
mod model;
mod pack;
mod schema;
mod source;
mod timestamp;

pub use api::*;

pub mod analysis;
/// Signed approval records and their verification.
pub mod approvals;
/// The hash-chained audit trail.
pub mod audit;
/// Reading packs and files from disk.
#[cfg(feature = "fs")]
pub mod fs;
/// Strict JSON: the one reader of every JSON input (no duplicate keys, bounded size and depth).
pub mod json;
/// Ed25519 keys, signatures and keyrings.
pub mod keys;
/// Bounds on input size and shape, checked before data reaches Cedar or serde.
pub mod limits;
/// Static analysis of a pack: `tollgate lint`.
pub mod lint;
/// Reference paths for benchmarks and differential tests (plain Cedar, no action index); not
/// part of the supported API.
#[doc(hidden)]
pub mod reference;
/// Policy test cases (YAML) and their runner.
pub mod testcase;
