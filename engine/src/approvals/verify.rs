//! The checks: which records count for a request, and what they add up to.

use std::collections::{BTreeSet, HashSet};

use cedar_policy::{EntityUid, EvalResult};
use serde_json::{Map, Value, json};

use super::record::{ApprovalDecision, ApprovalRecord, MAX_APPROVAL_TTL_SECONDS};
use super::verdict::{NotCounted, Outcome, RecordVerdict, Verification};
use crate::Tier;
use crate::keys::Keyring;
use crate::pack::Pack;
use crate::timestamp::Timestamp;
use crate::{Decision, InputError, PreparedEntities};
use crate::{EntityRef, ProposedAction};

/// `Ok` when a record counts, or why it does not.
type Counts = Result<(), NotCounted>;

/// Verification could not be carried out: an input error, never an outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request does not fit the pack.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Without a schema tollgate cannot tell people from agents.
    #[error(
        "verifying approvals needs the schema: it marks which entity types are people (@human)"
    )]
    NoSchema,
    /// The principal or an approver is missing from the entities.
    #[error(
        "{0} is not in the entities: its type, acting_for and groups decide whether approvals count"
    )]
    MissingEntity(String),
    /// The principal's `acting_for` or the delegation's `granted_by` is not an entity reference.
    #[error("{0}")]
    BadDelegation(String),
}

/// Checks `approvals` for `request` at `at`.
pub fn verify(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    approvals: &[ApprovalRecord],
    keyring: &Keyring,
    at: Timestamp,
) -> Result<Verification, VerifyError> {
    let schema = pack.schema().ok_or(VerifyError::NoSchema)?;
    let decision = pack.decide(request, entities, at)?;
    let excluded = acting_for(entities, request)?;
    let hash = request.hash();

    let mut verdicts = Vec::new();
    let mut approvers_counted: HashSet<String> = HashSet::new();
    let mut approvals_counted: u8 = 0;
    let mut rejected = false;
    for record in approvals {
        let mut not_counted = check_record(
            pack, entities, request, &decision, schema, keyring, &excluded, record, at,
        )?
        .err();
        if not_counted.is_none()
            && record.decision == ApprovalDecision::Approve
            && !approvers_counted.insert(record.approver.to_string())
        {
            not_counted = Some(NotCounted::Duplicate);
        }
        if not_counted.is_none() {
            match record.decision {
                ApprovalDecision::Approve => {
                    approvals_counted = approvals_counted.saturating_add(1)
                }
                ApprovalDecision::Reject => rejected = true,
            }
        }
        verdicts.push(RecordVerdict {
            approver: record.approver.to_string(),
            decision: record.decision,
            not_counted,
            evidence: record.evidence.clone(),
            issued_at: Some(record.issued_at),
            signature: record.signature.clone(),
        });
    }

    let (outcome, missing) = match decision.approvals_required {
        None => (Outcome::Denied, None),
        Some(_) if rejected => (Outcome::Denied, None),
        Some(required) if approvals_counted >= required => (Outcome::Allowed, Some(0)),
        Some(required) => (Outcome::Pending, Some(required - approvals_counted)),
    };
    Ok(Verification {
        outcome,
        tier: decision.tier,
        missing,
        request: hash,
        records: verdicts,
        denied_by_log: None,
        decision,
    })
}

/// Whether `record` counts (`Ok(Ok(()))`) or why not (`Ok(Err(why))`); `Err` on bad input.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; the inputs are the verification's own"
)]
fn check_record(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    decision: &Decision,
    schema: &crate::schema::PackSchema,
    keyring: &Keyring,
    excluded: &BTreeSet<EntityUid>,
    record: &ApprovalRecord,
    at: Timestamp,
) -> Result<Counts, VerifyError> {
    if record.request != request.hash() {
        return Ok(Err(NotCounted::OtherRequest(record.request)));
    }
    let Some(key) = keyring.get(&record.approver) else {
        return Ok(Err(NotCounted::NoKey));
    };
    let Some(signature) = &record.signature else {
        return Ok(Err(NotCounted::Unsigned));
    };
    if !key.verifies(record.signed_bytes(), signature) {
        return Ok(Err(NotCounted::BadSignature));
    }
    let approver = record.approver.uid();
    if entities.cedar().get(approver).is_none() {
        return Err(VerifyError::MissingEntity(format!("approver {approver}")));
    }
    if !schema.is_human_type(&record.approver.type_name()) {
        return Ok(Err(NotCounted::NotHuman(record.approver.type_name())));
    }
    if record.decision == ApprovalDecision::Reject {
        return check_reject(pack, entities, request, decision, excluded, record, at);
    }
    if approver == request.principal.uid() {
        return Ok(Err(NotCounted::Requester));
    }
    if excluded.contains(approver) {
        return Ok(Err(NotCounted::ActsForApprover));
    }
    if record.issued_at > at {
        return Ok(Err(NotCounted::IssuedInFuture(record.issued_at)));
    }
    let lifetime = record.expires_at.as_offset_date_time() - record.issued_at.as_offset_date_time();
    if lifetime.whole_seconds() <= 0 || lifetime.whole_seconds() > MAX_APPROVAL_TTL_SECONDS {
        return Ok(Err(NotCounted::BadValidity));
    }
    if at >= record.expires_at {
        return Ok(Err(NotCounted::Expired(record.expires_at)));
    }
    eligible(pack, entities, request, decision.tier, &record.approver, at)
}

/// A signed reject from a person counts whatever its `issued_at` and `expires_at`: from the
/// requester or anyone it acts for (they may always stop their own agent), or from an eligible
/// approver. Dates only ever narrow what an approve allows; on a reject they would let a stale
/// clock or a short validity silently turn a "no" into nothing.
fn check_reject(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    decision: &Decision,
    excluded: &BTreeSet<EntityUid>,
    record: &ApprovalRecord,
    at: Timestamp,
) -> Result<Counts, VerifyError> {
    let approver = record.approver.uid();
    if approver == request.principal.uid() || excluded.contains(approver) {
        return Ok(Ok(()));
    }
    eligible(pack, entities, request, decision.tier, &record.approver, at)
}

/// Eligibility is a decision: `auto` for (approver, approve, the request's resource).
fn eligible(
    pack: &Pack,
    entities: &PreparedEntities,
    request: &ProposedAction,
    tier: Tier,
    approver: &EntityRef,
    at: Timestamp,
) -> Result<Counts, VerifyError> {
    let action_type = request.action.type_name();
    let approve = EntityRef::from_json(&json!({"type": action_type, "id": "approve"}), "action")
        .map_err(|e| VerifyError::Input(e.into()))?;
    let mut context = Map::new();
    context.insert(
        "requested_action".into(),
        Value::String(request.action.id().to_string()),
    );
    context.insert("tier".into(), Value::String(tier.as_str().to_string()));
    let check = ProposedAction::new(approver.clone(), approve, request.resource.clone(), context)
        .map_err(|e| VerifyError::Input(e.into()))?;
    Ok(match pack.decide(&check, entities, at) {
        Ok(d) if d.tier == Tier::Auto => Ok(()),
        Ok(d) => Err(NotCounted::NotEligible {
            action: request.action.clone(),
            tier: d.tier,
        }),
        Err(e) => Err(NotCounted::EligibilityFailed(e)),
    })
}

/// Everyone the principal acts for: its entity's `acting_for` and the delegation's `granted_by`.
fn acting_for(
    entities: &PreparedEntities,
    request: &ProposedAction,
) -> Result<BTreeSet<EntityUid>, VerifyError> {
    let principal = request.principal.uid();
    let entity = entities
        .cedar()
        .get(principal)
        .ok_or_else(|| VerifyError::MissingEntity(format!("principal {principal}")))?;
    let mut out = BTreeSet::new();
    let bad = |what: &str| VerifyError::BadDelegation(format!("{principal}: `acting_for` {what}"));
    match entity.attr("acting_for") {
        None => {}
        Some(Err(e)) => return Err(bad(&e.to_string())),
        Some(Ok(EvalResult::EntityUid(uid))) => {
            out.insert(uid);
        }
        Some(Ok(EvalResult::Set(set))) => {
            for item in set.iter() {
                match item {
                    EvalResult::EntityUid(uid) => {
                        out.insert(uid.clone());
                    }
                    _ => return Err(bad("must hold only entities")),
                }
            }
        }
        Some(Ok(_)) => return Err(bad("must be an entity or a set of entities")),
    }
    if let Some(by) = request
        .context
        .get("delegation")
        .and_then(|d| d.get("granted_by"))
    {
        let by = EntityRef::from_json(by, "context.delegation.granted_by")
            .map_err(|e| VerifyError::BadDelegation(e.to_string()))?;
        out.insert(by.uid().clone());
    }
    Ok(out)
}
