//! An approval request's state, recomputed — never frozen — from all its records with the
//! current pack, entities, keyring and clock, and the JSON an approver or gateway sees.

use serde::Serialize;
use serde_json::{Value, json};
use tollgate_engine::approvals::{ApprovalDecision, ApprovalRecord, Verification, verify};
use tollgate_engine::{ProposedAction, Tier, Timestamp};

use crate::state::{Loaded, from_millis, millis};
use crate::store::{ApprovalRow, StoredRecord};

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting for approvals.
    Pending,
    /// Enough counted approvals and no counted reject: the gateway may consume it once.
    Allowed,
    /// A counted reject, tier deny, or a request that can no longer be checked.
    Denied,
    /// Not allowed and consumed before `--pending-ttl` ran out.
    Expired,
    /// Used: the gateway ran (or is running) the action.
    Consumed,
}

impl State {
    /// The state's name, as the API and `?state=` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Allowed => "allowed",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Consumed => "consumed",
        }
    }

    /// Reads `?state=`.
    pub fn parse(text: &str) -> Option<State> {
        [
            State::Pending,
            State::Allowed,
            State::Denied,
            State::Expired,
            State::Consumed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Whether a new decide for the same call opens a new request.
    pub fn is_closed(self) -> bool {
        matches!(self, State::Denied | State::Expired | State::Consumed)
    }
}

/// The verdict on an approval request now.
#[derive(Debug, Clone)]
pub struct Assessed {
    /// Its state.
    pub state: State,
    /// The stricter of the tier when opened and the tier now.
    pub tier: Tier,
    /// Approvals still needed while pending.
    pub missing: Option<u8>,
    /// The request, when it still reads.
    pub request: Option<ProposedAction>,
    /// The verification against the current inputs, when it could be made.
    pub verification: Option<Verification>,
    /// Why the request could not be checked (it is then denied: fail closed).
    pub problem: Option<String>,
    /// The records as parsed (`None` for a line that no longer parses).
    pub records: Vec<Option<ApprovalRecord>>,
}

/// Recomputes an approval request's state at `now`.
pub fn assess(
    loaded: &Loaded,
    row: &ApprovalRow,
    stored: &[StoredRecord],
    now: Timestamp,
) -> Assessed {
    let records: Vec<Option<ApprovalRecord>> = stored
        .iter()
        .map(|r| ApprovalRecord::parse(&r.line, 1).ok())
        .collect();
    let stored_tier = row.tier.parse::<Tier>().unwrap_or(Tier::Deny);
    let denied = |problem: String, request: Option<ProposedAction>, records| Assessed {
        state: if row.consumed_ms.is_some() {
            State::Consumed
        } else {
            State::Denied
        },
        tier: Tier::Deny.max(stored_tier),
        missing: None,
        request,
        verification: None,
        problem: Some(problem),
        records,
    };
    let request = match ProposedAction::from_json_str(&row.request) {
        Ok(r) => r,
        Err(e) => {
            return denied(
                format!("the stored request no longer reads: {e}"),
                None,
                records,
            );
        }
    };
    let extra: Vec<Value> = match tollgate_engine::json::parse(&row.extra_entities) {
        Ok(Value::Array(items)) => items,
        _ => {
            return denied(
                "the stored entities no longer read".into(),
                Some(request),
                records,
            );
        }
    };
    let entities = match loaded.entities_with(&extra) {
        Ok(e) => e,
        Err(e) => return denied(format!("entities: {e}"), Some(request), records),
    };
    let parsed: Vec<ApprovalRecord> = records.iter().flatten().cloned().collect();
    let verification = match verify(
        &loaded.pack,
        &entities,
        &request,
        &parsed,
        &loaded.keyring,
        now,
    ) {
        Ok(v) => v,
        Err(e) => return denied(e.to_string(), Some(request), records),
    };
    let tier = verification.tier.max(stored_tier);
    let counted = verification
        .records
        .iter()
        .filter(|v| v.counted() && v.decision == ApprovalDecision::Approve)
        .count();
    let rejected = verification
        .records
        .iter()
        .any(|v| v.counted() && v.decision == ApprovalDecision::Reject);
    let counted = u8::try_from(counted).unwrap_or(u8::MAX);
    let expired = millis(now) >= row.expires_ms;
    let (state, missing) = match tier.approvals_required() {
        _ if row.consumed_ms.is_some() => (State::Consumed, None),
        None => (State::Denied, None),
        Some(_) if rejected => (State::Denied, None),
        Some(_) if expired => (State::Expired, None),
        Some(required) if counted >= required => (State::Allowed, Some(0)),
        Some(required) => (State::Pending, Some(required - counted)),
    };
    Assessed {
        state,
        tier,
        missing,
        request: Some(request),
        verification: Some(verification),
        problem: None,
        records,
    }
}

/// The approval request as the API shows it: the full request, tier, reasons, recommendation,
/// age, and every record with why it counts or not.
pub fn view(
    row: &ApprovalRow,
    stored: &[StoredRecord],
    assessed: &Assessed,
    now: Timestamp,
) -> Value {
    let read = |text: &str| tollgate_engine::json::parse(text).unwrap_or(Value::Null);
    let verdicts = assessed
        .verification
        .as_ref()
        .map(|v| v.records.as_slice())
        .unwrap_or_default();
    let mut verdict_iter = verdicts.iter();
    let records: Vec<Value> = stored
        .iter()
        .zip(&assessed.records)
        .map(|(stored, parsed)| match parsed {
            Some(record) => {
                let verdict = verdict_iter.next();
                json!({
                    "approver": record.approver.to_string(),
                    "decision": record.decision.as_str(),
                    "counted": verdict.is_some_and(|v| v.counted()),
                    "why": verdict.map(|v| v.why()).or_else(|| assessed.problem.clone()).unwrap_or_default(),
                    "evidence": record.evidence,
                    "issued_at": record.issued_at.to_rfc3339(),
                    "received_at": from_millis(stored.received_ms).map(|t| t.to_rfc3339()),
                })
            }
            None => json!({
                "approver": null, "decision": null, "counted": false,
                "why": "the stored line no longer reads as a record",
                "received_at": from_millis(stored.received_ms).map(|t| t.to_rfc3339()),
            }),
        })
        .collect();
    let age_ms = millis(now).saturating_sub(row.created_ms).max(0);
    let mut out = json!({
        "id": row.id,
        "state": assessed.state,
        "tier": assessed.tier,
        "approvals_required": assessed.tier.approvals_required(),
        "missing": assessed.missing,
        "request": read(&row.request),
        "request_hash": row.request_hash,
        "entities": read(&row.extra_entities),
        "decision": read(&row.decision),
        "recommendation": row.recommendation.as_deref().map(read),
        "call": row.call.as_deref().map(read),
        "created_at": from_millis(row.created_ms).map(|t| t.to_rfc3339()),
        "expires_at": from_millis(row.expires_ms).map(|t| t.to_rfc3339()),
        "age_seconds": age_ms / 1000,
        "records": records,
    });
    if let (Some(problem), Some(obj)) = (&assessed.problem, out.as_object_mut()) {
        obj.insert("problem".into(), json!(problem));
    }
    if let (Some(outcome), Some(obj)) = (&row.outcome, out.as_object_mut()) {
        obj.insert("outcome".into(), read(outcome));
    }
    out
}

/// The short form a decide answer carries.
pub fn summary(row: &ApprovalRow, state: State) -> Value {
    json!({
        "id": row.id,
        "state": state,
        "expires_at": from_millis(row.expires_ms).map(|t| t.to_rfc3339()),
    })
}
