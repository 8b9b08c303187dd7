//! What one exact check found for one request environment.

use std::time::Duration;

use tollgate_engine::lint::RuleId;

use crate::counterexample::Confirmed;

/// Which lint question an [`ExactResult`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// Can a `@privilege_expansion` action be decided `auto`?
    UngatedExpansion,
    /// Can a non-`@human` principal be eligible to `approve` (decide `auto` on it)?
    SelfApproval,
}

impl Check {
    /// The lint rule whose question this is (and whose findings it replaces).
    pub fn rule(self) -> RuleId {
        match self {
            Check::UngatedExpansion => RuleId::UngatedExpansion,
            Check::SelfApproval => RuleId::SelfApproval,
        }
    }
}

/// The answer for one request environment.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// No request of the environment can: proved by the solver.
    Proved,
    /// A request that can, decided by the engine to confirm it.
    Found(Box<Confirmed>),
    /// Neither: the solver gave up or failed, or its request was not confirmed. Never safe.
    Unknown(String),
}

/// Which semantics a result holds under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Semantics {
    /// No forbid or gate can error in this environment: Cedar's reading and tollgate's
    /// fail-closed decision agree on every request.
    Exact,
    /// These forbids or gates can error. A proof still holds (tollgate counts an erroring
    /// forbid or gate as matched, so it allows less than the reading); a finding holds because
    /// the engine confirmed it.
    FailClosed {
        /// Their ids.
        may_error: Vec<String>,
    },
    /// Not established (the never-errors queries did not all answer).
    Unchecked,
}

/// One check on one request environment.
#[derive(Debug, Clone)]
pub struct ExactResult {
    /// The question.
    pub check: Check,
    /// The principal type, e.g. `Agent`.
    pub principal_type: String,
    /// The action, e.g. `Action::"add_token_scope"`.
    pub action: String,
    /// The resource type.
    pub resource_type: String,
    /// The answer.
    pub verdict: Verdict,
    /// The semantics it holds under.
    pub semantics: Semantics,
    /// Wall time spent on this environment (compilation, queries, confirmation).
    pub elapsed: Duration,
    /// Solver queries it took, and how many of them the cache answered.
    pub queries: usize,
    /// Of those, answered from the cache.
    pub cached: usize,
}
