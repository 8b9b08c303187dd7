//! `POST /v1/decide`, and the decide-and-record step AuthZEN shares.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tollgate_engine::audit::{AuditEntry, Prelinked};
use tollgate_engine::{Decision, ProposedAction, Sha256Digest, Tier};

use super::{ApiError, App, authorize, clock, json_body, new_id, object};
use crate::approvals::{State as ApprovalState, summary};
use crate::facts::check_additions;
use crate::store::ApprovalRow;
use crate::store::writer::{Done, NewApproval, Op};
use crate::tokens::{Caller, Role};

/// A decision, and for single and dual the approval request that holds the action.
pub struct Decided {
    /// The decision.
    pub decision: Decision,
    /// The approval request, its state, and whether this call consumed it.
    pub approval: Option<(ApprovalRow, ApprovalState, bool)>,
}

/// `{"request": {...}, "recommendation": any, "entities": [...]}` → the decision object, with
/// `approval` for single and dual.
pub async fn decide(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let body = json_body(body)?;
    let map = object(&body, "body", &["request", "recommendation", "entities"])?;
    let request = map
        .get("request")
        .ok_or_else(|| ApiError::bad_request("body: `request` is required"))?;
    let request = ProposedAction::from_json(request)
        .map_err(|e| ApiError::bad_request(format!("request: {e}")))?;
    let extra = match map.get("entities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::bad_request("entities: expected an array")),
    };
    let recommendation = map.get("recommendation").filter(|v| !v.is_null()).cloned();
    let decided = decide_and_record(&app, &caller, request, extra, recommendation, false).await?;
    let mut out = serde_json::to_value(&decided.decision)
        .map_err(|e| ApiError::unavailable(format!("decision: {e}")))?;
    if let (Some((row, state, _)), Some(obj)) = (&decided.approval, out.as_object_mut()) {
        obj.insert("approval".into(), summary(row, *state));
    }
    Ok(Json(out))
}

/// The call key: the gateway, the request without `request_id` and any entities the gateway
/// added. A repeat of the same call by the same gateway finds its approval request; another
/// gateway, or the same action on other facts, is a different call, approved separately.
fn call_key(gateway: &str, request: &ProposedAction, extra: &[Value]) -> String {
    let call = request.call_key();
    let keyed = json!({"gateway": gateway, "call": call.to_string(), "entities": extra});
    Sha256Digest::of_canonical(&keyed)
        .unwrap_or(call)
        .to_string()
}

/// Decides `request` for `caller` with the server's facts, records the decision in the audit
/// chain and, for single and dual, finds or opens the call's approval request (consuming it when
/// `consume` and it is allowed). Returns only after the commit.
pub async fn decide_and_record(
    app: &App,
    caller: &Caller,
    request: ProposedAction,
    extra: Vec<Value>,
    recommendation: Option<Value>,
    consume: bool,
) -> Result<Decided, ApiError> {
    if !caller.may_act_for(&request.principal) {
        return Err(ApiError::forbidden(format!(
            "token {:?} may not decide for {}",
            caller.name, request.principal
        )));
    }
    let loaded = app.shared.loaded();
    loaded
        .check_principal(&request)
        .map_err(ApiError::bad_request)?;
    check_additions(&loaded, caller, &request, &extra).map_err(ApiError::bad_request)?;
    let entities = loaded
        .entities_with(&extra)
        .map_err(|e| ApiError::bad_request(format!("entities: do not fit the pack: {e}")))?;
    let at = clock()?;
    let decision = loaded
        .pack
        .decide(&request, &entities, at)
        .map_err(|e| ApiError::bad_request(format!("request: {e}")))?;
    app.shared.metrics.decided(decision.tier);
    let mut event = AuditEntry {
        time: at,
        request: &request,
        recommendation: recommendation.clone(),
        decision: &decision,
        verification: None,
    }
    .to_record(None, None)
    .into_json();
    if let Some(obj) = event.as_object_mut() {
        obj.insert("gateway".into(), json!(caller.name));
    }
    // Canonicalised here, in parallel with other requests: the writer only chains and signs.
    let event =
        Prelinked::new(event).map_err(|e| ApiError::unavailable(format!("audit record: {e}")))?;
    match decision.tier {
        Tier::Auto | Tier::Deny => {
            app.writer.write(Op::Decision { event }).await?;
            Ok(Decided {
                decision,
                approval: None,
            })
        }
        Tier::Single | Tier::Dual => {
            let new = NewApproval {
                id: new_id()?,
                call_key: call_key(&caller.name, &request, &extra),
                gateway: caller.name.clone(),
                request: request.to_json().to_string(),
                request_hash: request.hash().to_string(),
                extra_entities: Value::Array(extra).to_string(),
                tier: decision.tier.as_str().to_string(),
                decision: serde_json::to_string(&decision)
                    .map_err(|e| ApiError::unavailable(format!("decision: {e}")))?,
                recommendation: recommendation.map(|r| r.to_string()),
            };
            match app
                .writer
                .write(Op::Open {
                    new,
                    event,
                    consume,
                })
                .await?
            {
                Done::Opened {
                    row,
                    state,
                    consumed,
                } => Ok(Decided {
                    decision,
                    approval: Some((row, state, consumed)),
                }),
                Done::Refused(refusal) => Err(refusal.into()),
                other => Err(ApiError::unavailable(format!(
                    "unexpected answer from the writer: {other:?}"
                ))),
            }
        }
    }
}
