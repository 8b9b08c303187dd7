//! Exact analysis of a tollgate pack over *every* request its schema allows, with Cedar's
//! symbolic compiler (`cedar-policy-symcc`) and the cvc5 SMT solver.
//!
//! The scope-level lint rules over-approximate: they read scopes, not conditions. The checks
//! here decide the same questions exactly, one query per request environment (principal type,
//! action, resource type), and back every "found" answer with a concrete request that the
//! engine itself decides:
//! - [`ungated_expansion`]: can a `@privilege_expansion` action ever be decided `auto`?
//! - [`self_approval`]: can a principal of a non-`@human` type ever be eligible to `approve`?
//! - [`weakenings`]: is a head pack's tier ever lower than a base pack's, for any request?
//!
//! # The reading at a level
//! A request's tier is at most `L` (auto = 0, single = 1, dual = 2) exactly when the pack
//! *read at level L* allows it: the permits of tier `L` or lower, every plain forbid, and every
//! gate of a tier above `L` (a gate is already a Cedar `forbid`). That holds as long as no
//! forbid or gate errors: Cedar skips an erroring policy, tollgate counts an erroring forbid or
//! gate as matched (fail closed). So:
//! - a proof that the reading never allows holds under tollgate's semantics too (tollgate
//!   allows less than the reading does);
//! - a counterexample is re-decided by the engine, and only a confirmed one is reported as
//!   found; an unconfirmed one is `unknown`, never a proof.
//!
//! Each result says which semantics it holds under ([`Semantics`]), from `check_never_errors`
//! on the forbids and gates of its environment.
//!
//! # Time
//! tollgate fills `context.now` itself, never before the day the analysis runs for (so an
//! auto permit that ends on a past date cannot reach `auto` again) and never past the year
//! 9999 (the engine's timestamps). Every reading carries that bound as one extra forbid.

#![forbid(unsafe_code)]
#![deny(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cache;
mod check;
mod counterexample;
mod diff;
mod error;
mod expansion;
mod findings;
mod never_errors;
mod reading;
mod session;
mod solver;

pub use cache::Cache;
pub use check::{Check, ExactResult, Semantics, Verdict};
pub use counterexample::{Confirmed, Counterexample};
pub use diff::{ActionDiff, DiffVerdict, weakenings};
pub use error::SmtError;
pub use expansion::{self_approval, ungated_expansion};
pub use findings::{ExactFinding, ExactLint, exact_lint, merge};
pub use session::{Session, SessionStats};
pub use solver::Cvc5;
