//! The lint rules, one per file, and their registry.
//!
//! Each rule has fixtures in `fixtures/`: a policy file (with, where the rule needs them, a
//! schema and a workflow beside it) whose lines carry `// expect: rule-id` (`# expect:` in a
//! workflow) where a finding must be reported. The test in `fixture_tests.rs` lints every
//! fixture and fails on any finding that is not marked and any marker that is not found.

mod exception_expired;
mod exception_unowned;
mod gate_after_expansion;
mod invalid_tier;
mod may_error;
mod missing_id;
mod missing_tier;
mod schema;
mod self_approval;
mod shadowed_permit;
mod standing_delegation;
mod ungated_expansion;

#[cfg(test)]
mod fixture_tests;

use super::{Rule, RuleId};

pub(crate) use ungated_expansion::is_owned_exception;

/// Every rule, in the order they are documented.
pub static RULES: &[&dyn Rule] = &[
    &gate_after_expansion::GateAfterExpansion,
    &ungated_expansion::UngatedExpansion,
    &self_approval::SelfApproval,
    &missing_tier::MissingTier,
    &missing_id::MissingId,
    &invalid_tier::InvalidTier,
    &schema::SchemaValidation,
    &may_error::MayError,
    &shadowed_permit::ShadowedPermit,
    &exception_unowned::ExceptionUnowned,
    &exception_expired::ExceptionExpired,
    &standing_delegation::StandingDelegation,
];

/// The rule with id `id`.
pub fn rule(id: RuleId) -> Option<&'static dyn Rule> {
    RULES.iter().copied().find(|r| r.id() == id)
}
