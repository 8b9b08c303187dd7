//! The four-tier decision, computed in one Cedar evaluation over the pack's shadow set.

use cedar_policy::{Authorizer, Context, Entities, Request};
use serde::Serialize;
use serde_json::{Value, json};

use crate::canonical::Sha256Digest;
use crate::pack::{Pack, PolicyInfo};
use crate::request::ProposedAction;
use crate::tier::{Effect, PolicyRole, Tier};
use crate::timestamp::Timestamp;

/// The name of the context attribute tollgate fills with the evaluation time.
pub const NOW: &str = "now";

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
    pub id: String,
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
    fn of(p: &PolicyInfo) -> Self {
        Self {
            id: p.id().to_string(),
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

/// A request or entity set that does not fit the pack: an error, never a decision.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum InputError {
    /// The request could not be read.
    #[error(transparent)]
    Request(#[from] crate::request::RequestError),
    /// The caller supplied `context.now`; only tollgate's clock may set it.
    #[error(
        "request field `context.now` is set by tollgate from the evaluation time; remove it from the request"
    )]
    #[diagnostic(help("pass the evaluation time with --at (CLI) or \"at\" (WASM) instead"))]
    CallerSuppliedNow,
    /// The context does not fit the schema.
    #[error("request field `context` does not match the schema for {action}: {message}")]
    Context {
        /// The action whose context was checked.
        action: String,
        /// Cedar's message.
        message: String,
    },
    /// The request does not fit the schema (unknown action, wrong principal/resource type, …).
    #[error("request does not match the schema: {0}")]
    Schema(String),
    /// The entities could not be read or do not fit the schema.
    #[error("entities: {0}")]
    Entities(String),
}

/// Entities parsed (and validated) once for a pack, reusable across many decisions.
#[derive(Debug, Clone)]
pub struct PreparedEntities(pub(crate) Entities);

impl PreparedEntities {
    /// The Cedar entities.
    pub fn cedar(&self) -> &Entities {
        &self.0
    }
}

impl Pack {
    /// Parses entities in Cedar's JSON format, with and against the schema when there is one.
    pub fn entities_from_json(&self, value: &Value) -> Result<PreparedEntities, InputError> {
        let value = if value.is_null() {
            Value::Array(vec![])
        } else {
            value.clone()
        };
        Entities::from_json_value(value, self.schema().map(|s| s.cedar()))
            .map(PreparedEntities)
            .map_err(|e| InputError::Entities(error_chain(&e)))
    }

    /// An empty entity set (with the schema's action entities, so action groups resolve).
    pub fn no_entities(&self) -> PreparedEntities {
        self.entities_from_json(&Value::Array(vec![]))
            .unwrap_or_else(|_| PreparedEntities(Entities::empty()))
    }

    /// Decides `request` at time `at`.
    ///
    /// `context.now` is filled with `at` when the schema declares it (or always, without a
    /// schema); a request that supplies `now` itself is refused.
    pub fn decide(
        &self,
        request: &ProposedAction,
        entities: &PreparedEntities,
        at: Timestamp,
    ) -> Result<Decision, InputError> {
        let cedar_request = self.cedar_request(request, at)?;
        let response = Authorizer::new().is_authorized(&cedar_request, self.shadow(), &entities.0);

        // Every policy is a permit in the shadow set, so `reason` lists every satisfied policy
        // and `errors` every erroring one, whatever its original effect.
        let mut satisfied: Vec<usize> = response
            .diagnostics()
            .reason()
            .filter_map(|id| self.policy_index(AsRef::<str>::as_ref(id)))
            .collect();
        let mut errors: Vec<(usize, String)> = response
            .diagnostics()
            .errors()
            .filter_map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => self
                    .policy_index(e.policy_id().as_ref())
                    .map(|i| (i, e.inner().to_string())),
            })
            .collect();
        satisfied.sort_unstable();
        errors.sort_unstable();

        let mut tier_and_determining = classify(self, &satisfied, &errors);
        tier_and_determining.1.sort_unstable();
        tier_and_determining.1.dedup();
        let (tier, determining) = tier_and_determining;
        let policies = self.policies();
        Ok(Decision {
            tier,
            approvals_required: tier.approvals_required(),
            determining: determining
                .iter()
                .filter_map(|&i| policies.get(i))
                .map(DeterminingPolicy::of)
                .collect(),
            errors: errors
                .iter()
                .filter_map(|(i, m)| {
                    policies.get(*i).map(|p| PolicyError {
                        policy: p.id().to_string(),
                        message: m.clone(),
                    })
                })
                .collect(),
            request: request.hash(),
            policy_set: self.hash(),
        })
    }

    /// The Cedar request for `request` at `at`, with `now` filled; validated against the schema.
    pub(crate) fn cedar_request(
        &self,
        request: &ProposedAction,
        at: Timestamp,
    ) -> Result<Request, InputError> {
        if request.context.contains_key(NOW) {
            return Err(InputError::CallerSuppliedNow);
        }
        let schema = self.schema();
        let action = request.action.uid();
        let mut context = request.context.clone();
        if schema.is_none_or(|s| s.context_declares(action, NOW)) {
            context.insert(
                NOW.into(),
                json!({"__extn": {"fn": "datetime", "arg": at.to_cedar_datetime()}}),
            );
        }
        let context =
            Context::from_json_value(Value::Object(context), schema.map(|s| (s.cedar(), action)))
                .map_err(|e| InputError::Context {
                action: action.to_string(),
                message: error_chain(&e),
            })?;
        Request::new(
            request.principal.uid().clone(),
            action.clone(),
            request.resource.uid().clone(),
            context,
            schema.map(|s| s.cedar()),
        )
        .map_err(|e| InputError::Schema(error_chain(&e)))
    }
}

/// DESIGN.md's rule over satisfied and erroring policies (indices into `pack.policies()`):
/// deny on any satisfied-or-erroring plain forbid or when no permit is satisfied; otherwise the
/// stricter of the lowest satisfied permit and the highest satisfied-or-erroring gate.
fn classify(pack: &Pack, satisfied: &[usize], errors: &[(usize, String)]) -> (Tier, Vec<usize>) {
    let policies = pack.policies();
    let role = |i: usize| policies.get(i).map(PolicyInfo::role);
    let erroring = errors.iter().map(|(i, _)| *i);

    // Fail closed: an erroring forbid or gate counts as satisfied; an erroring permit does not.
    let restricting: Vec<(usize, PolicyRole)> = satisfied
        .iter()
        .copied()
        .chain(erroring)
        .filter_map(|i| role(i).map(|r| (i, r)))
        .filter(|(_, r)| !matches!(r, PolicyRole::Permit(_)))
        .collect();
    let forbids: Vec<usize> = restricting
        .iter()
        .filter(|(_, r)| *r == PolicyRole::Forbid)
        .map(|(i, _)| *i)
        .collect();
    if !forbids.is_empty() {
        return (Tier::Deny, forbids);
    }
    let permits: Vec<(usize, Tier)> = satisfied
        .iter()
        .filter_map(|&i| match role(i) {
            Some(PolicyRole::Permit(t)) => Some((i, t)),
            _ => None,
        })
        .collect();
    let Some(lowest) = permits.iter().map(|(_, t)| *t).min() else {
        return (Tier::Deny, Vec::new());
    };
    let gates: Vec<(usize, Tier)> = restricting
        .iter()
        .filter_map(|(i, r)| match r {
            PolicyRole::Gate(t) => Some((*i, *t)),
            _ => None,
        })
        .collect();
    let highest_gate = gates.iter().map(|(_, t)| *t).max();
    let tier = highest_gate.map_or(lowest, |g| g.max(lowest));
    let determining = permits
        .iter()
        .filter(|(_, t)| *t == lowest)
        .chain(gates.iter().filter(|(_, t)| Some(*t) == highest_gate))
        .map(|(i, _)| *i)
        .collect();
    (tier, determining)
}

/// A Cedar error with its diagnostic causes, on one line (Cedar puts the useful detail there).
fn error_chain(e: &dyn miette::Diagnostic) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    if let Some(help) = e.help() {
        out.push_str(&format!(" (help: {help})"));
    }
    out
}
