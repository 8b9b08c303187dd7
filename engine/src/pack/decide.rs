//! The four-tier decision: one Cedar evaluation of the request's candidate policies as written,
//! and a second of their permits only when a gate is satisfied and no forbid is.

use cedar_policy::{Authorizer, Context, Entities, PolicySet, Request, Response};
use serde_json::{Value, json};

use super::Pack;
use super::error::{InputError, error_chain};
use crate::accel::context::direct_context;
use crate::accel::index::Candidates;
use crate::model::decision::{Decision, PolicyError};
use crate::model::policy::PolicyInfo;
use crate::model::request::ProposedAction;
use crate::model::tier::{PolicyRole, Tier};
use crate::timestamp::Timestamp;

/// The name of the context attribute tollgate fills with the evaluation time.
pub const NOW: &str = "now";

/// Entities parsed (and validated) once for a pack, reusable across many decisions.
#[derive(Debug, Clone)]
pub struct PreparedEntities(pub(crate) Entities);

impl PreparedEntities {
    /// The Cedar entities.
    pub(crate) fn cedar(&self) -> &Entities {
        &self.0
    }
}

impl Pack {
    /// Parses entities in Cedar's JSON format, with and against the schema when there is one.
    pub fn entities_from_json(&self, value: &Value) -> Result<PreparedEntities, InputError> {
        crate::limits::Limits::current()
            .check_entities(value)
            .map_err(|e| InputError::Entities(e.to_string()))?;
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
        let candidates = self.candidates(request.action.uid());
        self.decide_among(request, entities, at, candidates)
    }

    /// [`Pack::decide`] the plain way, the reference the index and the forbid handling are held
    /// equal to: every policy as a permit (the shadow set) in one evaluation, so that Cedar
    /// reports every satisfied and erroring policy whatever its effect; the request is checked
    /// by Cedar's own request validation.
    pub(crate) fn decide_unindexed(
        &self,
        request: &ProposedAction,
        entities: &PreparedEntities,
        at: Timestamp,
    ) -> Result<Decision, InputError> {
        let cedar_request = self.cedar_request_checked_by_cedar(request, at)?;
        let shadow = self
            .shadow()
            .map_err(|e| InputError::Internal(e.to_string()))?;
        let response = Authorizer::new().is_authorized(&cedar_request, shadow, &entities.0);
        let mut satisfied = self.reason(&response);
        let mut errors = self.errors(&response);
        satisfied.sort_unstable();
        errors.sort_unstable();
        Ok(self.decision(request, &satisfied, &errors))
    }

    /// The decision over `candidates`: sets of the pack's policies as written whose satisfied
    /// and erroring policies together are those of the whole pack for this request (the sets
    /// are disjoint).
    ///
    /// Cedar reports the satisfied policies of the winning effect only: on allow, the satisfied
    /// permits (and then no forbid is satisfied); on deny, the satisfied forbids (gates
    /// included), or nothing when no permit is satisfied either. Erroring policies are reported
    /// either way. So a set that denies with satisfied forbids hides its satisfied permits, and
    /// those matter only when no plain forbid is satisfied or erroring (else the tier is deny
    /// whatever the permits): then that set's permits are evaluated again on their own.
    fn decide_among(
        &self,
        request: &ProposedAction,
        entities: &PreparedEntities,
        at: Timestamp,
        candidates: Candidates<'_>,
    ) -> Result<Decision, InputError> {
        let cedar_request = self.cedar_request(request, at)?;
        let authorize = |policies: &PolicySet| {
            Authorizer::new().is_authorized(&cedar_request, policies, &entities.0)
        };
        let mut satisfied: Vec<usize> = Vec::new();
        let mut errors: Vec<(usize, String)> = Vec::new();
        let mut permits_hidden = Vec::new();
        for set in candidates.sets() {
            let response = authorize(set.policies());
            let reason = self.reason(&response);
            if response.decision() == cedar_policy::Decision::Deny && !reason.is_empty() {
                permits_hidden.push(set);
            }
            satisfied.extend(reason);
            errors.extend(self.errors(&response));
        }
        let policies = self.policies();
        let denied = satisfied
            .iter()
            .chain(errors.iter().map(|(i, _)| i))
            .any(|&i| policies.get(i).map(PolicyInfo::role) == Some(PolicyRole::Forbid));
        if !denied {
            for set in permits_hidden {
                let permits = set
                    .permits()
                    .map_err(|e| InputError::Internal(e.to_string()))?;
                // Its errors are among the first evaluation's: only the satisfied are new.
                satisfied.extend(self.reason(&authorize(permits)));
            }
        }
        satisfied.sort_unstable();
        errors.sort_unstable();
        Ok(self.decision(request, &satisfied, &errors))
    }

    /// The satisfied policies Cedar reports in `response`, as indices into `self.policies()`.
    fn reason(&self, response: &Response) -> Vec<usize> {
        response
            .diagnostics()
            .reason()
            .filter_map(|id| self.policy_index(AsRef::<str>::as_ref(id)))
            .collect()
    }

    /// The erroring policies in `response` with Cedar's messages.
    fn errors(&self, response: &Response) -> Vec<(usize, String)> {
        response
            .diagnostics()
            .errors()
            .filter_map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => self
                    .policy_index(e.policy_id().as_ref())
                    .map(|i| (i, e.inner().to_string())),
            })
            .collect()
    }

    /// The decision from the satisfied and erroring policies (sorted indices).
    fn decision(
        &self,
        request: &ProposedAction,
        satisfied: &[usize],
        errors: &[(usize, String)],
    ) -> Decision {
        let mut tier_and_determining = classify(self, satisfied, errors);
        tier_and_determining.1.sort_unstable();
        tier_and_determining.1.dedup();
        let (tier, determining) = tier_and_determining;
        let policies = self.policies();
        Decision {
            tier,
            approvals_required: tier.approvals_required(),
            determining: determining
                .iter()
                .filter_map(|&i| self.determining_policy(i))
                .cloned()
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
        }
    }

    /// Whether deciding `request` reads the evaluation time: tollgate fills `context.now` when
    /// the schema declares it for the action, and always when the pack has no schema. Callers
    /// without a clock of their own (the WASM module) require a time exactly when this is true.
    pub fn needs_time(&self, request: &ProposedAction) -> bool {
        self.schema()
            .is_none_or(|s| s.context_declares(&request.action, NOW))
    }

    /// The Cedar request for `request` at `at`, with `now` filled and validated against the
    /// schema: what a decision evaluates.
    pub(crate) fn cedar_request(
        &self,
        request: &ProposedAction,
        at: Timestamp,
    ) -> Result<Request, InputError> {
        self.build_cedar_request(request, at, Check::Fast)
    }

    /// [`Pack::cedar_request`] with Cedar's own request validation whatever the request: the
    /// reference the fast check (`accel::request_check`) is held equal to.
    pub(crate) fn cedar_request_checked_by_cedar(
        &self,
        request: &ProposedAction,
        at: Timestamp,
    ) -> Result<Request, InputError> {
        self.build_cedar_request(request, at, Check::Cedar)
    }

    fn build_cedar_request(
        &self,
        request: &ProposedAction,
        at: Timestamp,
        check: Check,
    ) -> Result<Request, InputError> {
        if request.context.contains_key(NOW) {
            return Err(InputError::CallerSuppliedNow);
        }
        let schema = self.schema();
        let (principal, action, resource) = (
            request.principal.uid(),
            request.action.uid(),
            request.resource.uid(),
        );
        let now = self.needs_time(request).then(|| at.to_cedar_datetime());
        let new_request = |context, schema: Option<&cedar_policy::Schema>| {
            Request::new(
                principal.clone(),
                action.clone(),
                resource.clone(),
                context,
                schema,
            )
            .map_err(|e| InputError::Schema(error_chain(&e)))
        };
        // The fast paths (see `accel::context` and `accel::request_check`); whatever they do
        // not build or vouch for, or Cedar's check refuses, goes through Cedar's JSON parser
        // and check below, as if they had not run.
        let hints = schema.and_then(|s| s.context_type(action));
        if let Some(context) = direct_context(&request.context, hints, now.as_deref()) {
            let vouched = check == Check::Fast
                && schema.is_some_and(|s| {
                    s.request_types().admits(
                        principal,
                        action,
                        resource,
                        &request.context,
                        now.is_some(),
                    )
                });
            // Vouched for: Cedar's check would pass, so it is not run again.
            let checked_by = if vouched {
                None
            } else {
                schema.map(|s| s.cedar())
            };
            if let Ok(cedar_request) = new_request(context, checked_by) {
                return Ok(cedar_request);
            }
        }
        let mut context = request.context.clone();
        if let Some(now) = now {
            context.insert(
                NOW.into(),
                json!({"__extn": {"fn": "datetime", "arg": now}}),
            );
        }
        let context =
            Context::from_json_value(Value::Object(context), schema.map(|s| (s.cedar(), action)))
                .map_err(|e| InputError::Context {
                action: action.to_string(),
                message: error_chain(&e),
            })?;
        new_request(context, schema.map(|s| s.cedar()))
    }
}

/// Who checks a request against the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// `accel::request_check` where it can vouch for the request, Cedar otherwise.
    Fast,
    /// Cedar, always.
    Cedar,
}

/// The rule of docs/design.md ("Tiers") over satisfied and erroring policies (indices into `pack.policies()`):
/// deny on any satisfied-or-erroring plain forbid or when no permit is satisfied; otherwise the
/// stricter of the lowest satisfied permit and the highest satisfied-or-erroring gate. With a
/// satisfied or erroring plain forbid, `satisfied` may lack the satisfied permits: they are not
/// read then.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{PackSource, SourceFile};

    fn pack(text: &str) -> Pack {
        Pack::load(PackSource {
            policies: vec![SourceFile::new("p.cedar", text)],
            schemas: vec![],
        })
        .unwrap()
    }

    fn decide(pack: &Pack, context: Value) -> Result<Decision, InputError> {
        let r = ProposedAction::from_json(&json!({
            "principal": "Agent::\"a\"", "action": "Action::\"go\"", "resource": "R::\"r\"", "context": context,
        }))
        .unwrap();
        pack.decide(
            &r,
            &pack.no_entities(),
            "2026-06-01T12:00:00Z".parse().unwrap(),
        )
    }

    const PACK: &str = r#"
        @id("p-auto") @tier("auto") permit(principal, action, resource) when { context.low };
        @id("p-single") @tier("single") permit(principal, action, resource);
        @id("g-dual") @tier("dual") forbid(principal, action, resource) when { context.risky };
        @id("g-single") @tier("single") forbid(principal, action, resource) when { context.risky };
        @id("no") forbid(principal, action, resource) when { context.banned };
    "#;

    fn ids(d: &Decision) -> Vec<&str> {
        d.determining.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn lowest_permit_and_highest_gate_determine() {
        let p = pack(PACK);
        let d = decide(&p, json!({"low": true, "risky": false, "banned": false})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Auto, vec!["p-auto"]));
        let d = decide(&p, json!({"low": true, "risky": true, "banned": false})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Dual, vec!["p-auto", "g-dual"]));
        assert_eq!(d.approvals_required, Some(2));
        let d = decide(&p, json!({"low": false, "risky": false, "banned": true})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Deny, vec!["no"]));
        assert_eq!(d.approvals_required, None);
    }

    #[test]
    fn errors_fail_closed_and_are_reported() {
        let p = pack(PACK);
        // `low` missing: the auto permit errors and grants nothing; `risky` missing: both gates
        // error and count; `banned` missing: the forbid errors and denies.
        let d = decide(&p, json!({"risky": false, "banned": false})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Single, vec!["p-single"]));
        assert_eq!(
            d.errors
                .iter()
                .map(|e| e.policy.as_str())
                .collect::<Vec<_>>(),
            ["p-auto"]
        );
        let d = decide(&p, json!({"low": true, "banned": false})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Dual, vec!["p-auto", "g-dual"]));
        let d = decide(&p, json!({"low": true, "risky": false})).unwrap();
        assert_eq!((d.tier, ids(&d)), (Tier::Deny, vec!["no"]));
    }

    #[test]
    fn no_permit_is_deny_with_nothing_determining() {
        let p = pack("@tier(\"auto\") permit(principal, action == Action::\"other\", resource);");
        let d = decide(&p, json!({})).unwrap();
        assert_eq!(d.tier, Tier::Deny);
        assert!(d.determining.is_empty());
    }

    #[test]
    fn now_is_tollgates_clock() {
        let p = pack(
            "@tier(\"auto\") permit(principal, action, resource) when { context.now > datetime(\"2026-01-01\") };",
        );
        assert_eq!(decide(&p, json!({})).unwrap().tier, Tier::Auto);
        assert_eq!(
            decide(&p, json!({"now": "2030-01-01T00:00:00Z"})),
            Err(InputError::CallerSuppliedNow)
        );
    }

    #[test]
    fn time_is_needed_where_now_is_filled() {
        let request = |action: &str| {
            ProposedAction::from_json(&json!({
                "principal": "A::\"a\"", "action": format!("Action::\"{action}\""), "resource": "R::\"r\"",
            }))
            .unwrap()
        };
        assert!(pack(PACK).needs_time(&request("go")));
        let with_schema = Pack::load(PackSource {
            policies: vec![SourceFile::new(
                "p.cedar",
                "@tier(\"auto\") permit(principal, action, resource);",
            )],
            schemas: vec![SourceFile::new(
                "s.cedarschema",
                "entity A; entity R;
                 action timed appliesTo { principal: A, resource: R, context: { now: datetime } };
                 action untimed appliesTo { principal: A, resource: R };",
            )],
        })
        .unwrap();
        assert!(with_schema.needs_time(&request("timed")));
        assert!(!with_schema.needs_time(&request("untimed")));
    }

    /// A context the schema refuses is refused whichever check looks at it, with Cedar's
    /// message; one it accepts is decided alike by both (attacks on `accel::request_check`).
    #[test]
    fn requests_the_schema_refuses_are_refused_on_the_fast_path_too() {
        let p = Pack::load(PackSource {
            policies: vec![SourceFile::new(
                "p.cedar",
                "@tier(\"auto\") permit(principal, action, resource) unless { context.env == \"prod\" };
                 forbid(principal, action, resource) when { context has by && context.by == A::\"x\" };",
            )],
            schemas: vec![SourceFile::new(
                "s.cedarschema",
                "entity A; entity R;
                 action go appliesTo { principal: A, resource: R,
                     context: { now: datetime, env: String, n?: Long, by?: A, tags?: Set<String> } };",
            )],
        })
        .unwrap();
        let at = "2026-06-01T12:00:00Z".parse().unwrap();
        let request = |principal: &str, context: Value| {
            ProposedAction::from_json(&json!({
                "principal": principal, "action": "Action::\"go\"", "resource": "R::\"r\"", "context": context,
            }))
            .unwrap()
        };
        for (principal, context) in [
            ("A::\"a\"", json!({"env": 1})),
            ("A::\"a\"", json!({"env": "dev", "n": "1"})),
            (
                "A::\"a\"",
                json!({"env": "dev", "by": {"type": "R", "id": "x"}}),
            ),
            ("A::\"a\"", json!({"env": "dev", "tags": ["a", 1]})),
            ("A::\"a\"", json!({"env": "dev", "extra": true})),
            ("A::\"a\"", json!({})),
            ("R::\"a\"", json!({"env": "dev"})),
        ] {
            let r = request(principal, context.clone());
            let fast = p.decide(&r, &p.no_entities(), at);
            assert!(fast.is_err(), "{context}: {fast:?}");
            assert_eq!(
                fast,
                p.decide_unindexed(&r, &p.no_entities(), at),
                "{context}"
            );
        }
        for context in [
            json!({"env": "dev", "n": 3, "tags": ["a"]}),
            json!({"env": "prod"}),
            json!({"env": "dev", "by": {"type": "A", "id": "x"}}),
        ] {
            let r = request("A::\"a\"", context.clone());
            let fast = p.decide(&r, &p.no_entities(), at);
            assert!(fast.is_ok(), "{context}: {fast:?}");
            assert_eq!(
                fast,
                p.decide_unindexed(&r, &p.no_entities(), at),
                "{context}"
            );
        }
    }

    #[test]
    fn decision_names_request_and_pack() {
        let p = pack(PACK);
        let d = decide(&p, json!({"low": true, "risky": false, "banned": false})).unwrap();
        assert_eq!(d.policy_set, p.hash());
        let again = decide(&p, json!({"banned": false, "risky": false, "low": true})).unwrap();
        assert_eq!(d.request, again.request);
    }
}
