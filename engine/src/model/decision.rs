//! A decision: the tier, and the policies and errors behind it.

use serde::Serialize;

use crate::canonical::Sha256Digest;
use crate::model::policy::{PolicyId, PolicyInfo};
use crate::model::tier::{Effect, Tier};

/// A decision: the tier, and the policies and errors behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// The tier.
    pub tier: Tier,
    /// 0, 1 or 2 approvals; `null` for deny.
    pub approvals_required: Option<u8>,
    /// The policies that set the tier.
    pub determining: Vec<DeterminingPolicy>,
    /// Every policy that failed to evaluate (and what fail-closed made of it).
    pub errors: Vec<PolicyError>,
    /// Hash of the canonical request.
    pub request: Sha256Digest,
    /// Hash of the canonical pack.
    pub policy_set: Sha256Digest,
}

/// A policy named by a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeterminingPolicy {
    /// Policy id.
    pub id: PolicyId,
    /// `permit` or `forbid`.
    pub effect: Effect,
    /// Its tier (`deny` for a plain forbid).
    pub tier: Tier,
    /// `@reason`, if any.
    pub reason: Option<String>,
    /// `<file>:<line>`.
    pub source: String,
    /// `@control`, split on commas.
    pub controls: Vec<String>,
}

impl DeterminingPolicy {
    pub(crate) fn of(p: &PolicyInfo) -> Self {
        Self {
            id: p.id().clone(),
            effect: p.effect(),
            tier: p.tier(),
            reason: p.reason().map(String::from),
            source: p.source(),
            controls: p.controls(),
        }
    }
}

/// A policy whose evaluation errored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyError {
    /// Policy id.
    pub policy: String,
    /// Cedar's message.
    pub message: String,
}
