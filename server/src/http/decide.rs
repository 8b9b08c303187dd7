//! `POST /v1/decide`, and the decide-and-record step AuthZEN shares.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tollgate_engine::audit::{AuditEntry, Prelinked};
use tollgate_engine::{
    Decision, ProposedAction, Sha256Digest, Tier, ToolCall, to_canonical_json_lossless,
};

use super::{
    ApiError, App, authorize, clock, json_body_with_fractions, new_id, object, refuse_fractions,
};
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

/// `{"request": {...}, "recommendation": any, "entities": [...], "call": {...}}` → the decision
/// object, with `approval` for single and dual.
pub async fn decide(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let body = json_body_with_fractions(body)?;
    let map = object(
        &body,
        "body",
        &["request", "recommendation", "entities", "call"],
    )?;
    // Only a call's arguments may hold fractional numbers (they are digested, never decided
    // on nor chained as JSON); everything else is refused as on every other endpoint.
    for (field, value) in map.iter().filter(|(k, _)| k.as_str() != "call") {
        refuse_fractions(value, field)?;
    }
    let request = map
        .get("request")
        .ok_or_else(|| ApiError::bad_request("body: `request` is required"))?;
    let request = ProposedAction::from_json(request)
        .map_err(|e| ApiError::bad_request(format!("request: {e}")))?;
    let call = match map.get("call") {
        None | Some(Value::Null) => None,
        Some(value) => Some(bound_call(value, &request)?),
    };
    let extra = match map.get("entities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::bad_request("entities: expected an array")),
    };
    let recommendation = map.get("recommendation").filter(|v| !v.is_null()).cloned();
    let decided = decide_and_record(
        &app,
        &caller,
        request,
        extra,
        recommendation,
        call.as_ref(),
        false,
    )
    .await?;
    let mut out = serde_json::to_value(&decided.decision)
        .map_err(|e| ApiError::unavailable(format!("decision: {e}")))?;
    if let (Some((row, state, _)), Some(obj)) = (&decided.approval, out.as_object_mut()) {
        obj.insert("approval".into(), summary(row, *state));
    }
    Ok(Json(out))
}

/// Reads `call` and checks that `request.context.call_digest` is its digest: what an approver
/// is shown must be exactly what the request (and so the signed request hash) binds. A call
/// whose digest is missing or different is refused, never stored beside a request it does not
/// belong to.
fn bound_call(value: &Value, request: &ProposedAction) -> Result<ToolCall, ApiError> {
    let call = ToolCall::from_json(value).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let digest = call.digest().to_string();
    match request.context.get("call_digest") {
        Some(Value::String(given)) if *given == digest => Ok(call),
        Some(Value::String(given)) => Err(ApiError::bad_request(format!(
            "request.context.call_digest: {given:?} is not the digest of `call` ({digest})"
        ))),
        Some(_) => Err(ApiError::bad_request(format!(
            "request.context.call_digest: must be a string, the digest of `call` ({digest})"
        ))),
        None => Err(ApiError::bad_request(format!(
            "request.context.call_digest: required when `call` is given (the digest of `call` is {digest})"
        ))),
    }
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
/// `consume` and it is allowed). Returns only after the commit. `call`, already checked against
/// the request's `call_digest`, is stored with the approval request and put in the audit record;
/// it is not part of the call key, which the digest in the context already binds.
pub async fn decide_and_record(
    app: &App,
    caller: &Caller,
    request: ProposedAction,
    extra: Vec<Value>,
    recommendation: Option<Value>,
    call: Option<&ToolCall>,
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
    // The call's canonical JSON, as text: its SHA-256 is the context's `call_digest`, so an
    // auditor checks it directly, and arguments with fractional numbers (which the chain's own
    // canonical form refuses) are kept exactly.
    let call_text = call.map(|c| to_canonical_json_lossless(&c.to_json()));
    if let Some(obj) = event.as_object_mut() {
        obj.insert("gateway".into(), json!(caller.name));
        if let Some(text) = &call_text {
            obj.insert("call".into(), json!(text));
        }
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
                call: call_text,
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
