//! AuthZEN 1.0 access evaluation: subject, action and resource map to the Cedar request,
//! `context` to its context. `properties` are refused: facts come from the server. `decision`
//! is `true` for auto; for single and dual it is `true` exactly once — the evaluation that finds
//! the approval request allowed consumes it in the same transaction — and otherwise `false`,
//! with the tier, approvals required and approval id in the response's `context`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};
use tollgate_engine::{EntityRef, ProposedAction, Tier};

use super::decide::decide_and_record;
use super::{ApiError, App, authorize, clock, json_body, object};
use crate::approvals::{State as ApprovalState, assess, summary};
use crate::store::writer::{Done, Op};
use crate::tokens::{Caller, Role};

/// The most evaluations one `evaluations` call may hold.
pub const MAX_EVALUATIONS: usize = 64;

/// `POST /access/v1/evaluation`.
pub async fn evaluation(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let body = json_body(body)?;
    let map = object(&body, "body", &["subject", "action", "resource", "context"])?;
    let request = to_request(map, &Map::new())?;
    Ok(Json(evaluate(&app, &caller, request).await?))
}

/// `POST /access/v1/evaluations`: top-level subject, action, resource and context are defaults
/// each evaluation may override; answered in order.
pub async fn evaluations(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let body = json_body(body)?;
    let defaults = object(
        &body,
        "body",
        &[
            "subject",
            "action",
            "resource",
            "context",
            "evaluations",
            "options",
        ],
    )?;
    let Some(Value::Array(items)) = defaults.get("evaluations") else {
        return Err(ApiError::bad_request(
            "body: `evaluations` must be an array",
        ));
    };
    if items.len() > MAX_EVALUATIONS {
        return Err(ApiError::bad_request(format!(
            "evaluations: at most {MAX_EVALUATIONS} per call"
        )));
    }
    let mut requests = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item = object(
            item,
            &format!("evaluations[{i}]"),
            &["subject", "action", "resource", "context"],
        )?;
        requests
            .push(to_request(item, defaults).map_err(|e| {
                ApiError::bad_request(format!("evaluations[{i}]: {}", e.message()))
            })?);
    }
    let mut answers = Vec::with_capacity(requests.len());
    for request in requests {
        answers.push(evaluate(&app, &caller, request).await?);
    }
    Ok(Json(json!({ "evaluations": answers })))
}

/// `GET /.well-known/authzen-configuration`: where the evaluation endpoints are.
pub async fn configuration(headers: HeaderMap) -> Json<Value> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    Json(json!({
        "policy_decision_point": base,
        "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
        "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
    }))
}

async fn evaluate(app: &App, caller: &Caller, request: ProposedAction) -> Result<Value, ApiError> {
    // Not consumed inside the decide: the call's open request may have been opened by another
    // gateway token acting for the same principal, and only its opener may take it. The consume
    // below is conditional on the revision it checks, so exactly one taker still wins.
    let decided = decide_and_record(app, caller, request, Vec::new(), None, None, false).await?;
    let decision = &decided.decision;
    let mut context = json!({
        "tier": decision.tier,
        "approvals_required": decision.approvals_required,
        "request": decision.request.to_string(),
        "policy_set": decision.policy_set.to_string(),
        "reasons": decision.determining.iter().map(|d| json!({"id": d.id, "reason": d.reason})).collect::<Vec<_>>(),
    });
    let allowed = match (&decided.approval, decision.tier) {
        (_, Tier::Auto) => true,
        (Some((row, state, _)), _) => {
            let (state, consumed) =
                if *state == ApprovalState::Allowed && row.gateway == caller.name {
                    take(app, caller, &row.id).await?
                } else {
                    (*state, false)
                };
            if let Some(obj) = context.as_object_mut() {
                obj.insert("approval".into(), summary(row, state));
            }
            consumed
        }
        _ => false,
    };
    Ok(json!({"decision": allowed, "context": context}))
}

/// Consumes the caller's allowed approval request `id`: (its state after, whether this call took
/// it). Refused (taken or changed meanwhile): not taken, with the state as it reads now.
async fn take(app: &App, caller: &Caller, id: &str) -> Result<(ApprovalState, bool), ApiError> {
    match app
        .writer
        .write(Op::Consume {
            id: id.to_string(),
            gateway: caller.name.clone(),
        })
        .await?
    {
        Done::Consumed { .. } => Ok((ApprovalState::Consumed, true)),
        Done::Refused(_) => {
            let (row, records) = app.approval(id).await?;
            let assessed = assess(&app.shared.loaded(), &row, &records, clock()?);
            Ok((assessed.state, false))
        }
        other => Err(ApiError::unavailable(format!(
            "unexpected write result: {other:?}"
        ))),
    }
}

/// One AuthZEN request (with defaults for the fields it leaves out) as a Cedar request.
fn to_request(
    item: &Map<String, Value>,
    defaults: &Map<String, Value>,
) -> Result<ProposedAction, ApiError> {
    let field = |name: &str| item.get(name).or_else(|| defaults.get(name));
    let subject = field("subject").ok_or_else(|| ApiError::bad_request("`subject` is required"))?;
    let action = field("action").ok_or_else(|| ApiError::bad_request("`action` is required"))?;
    let resource =
        field("resource").ok_or_else(|| ApiError::bad_request("`resource` is required"))?;
    let principal = entity(subject, "subject")?;
    let resource = entity(resource, "resource")?;
    let action_map = object(action, "action", &["name", "properties"])?;
    refuse_properties(action_map, "action")?;
    let Some(Value::String(name)) = action_map.get("name") else {
        return Err(ApiError::bad_request("action: `name` must be a string"));
    };
    // `deploy`, or a full reference such as `Ns::Action::"deploy"` for a namespaced schema.
    let action = match name.parse::<EntityRef>() {
        Ok(full) if name.contains("::") => full,
        _ => EntityRef::from_json(&json!({"type": "Action", "id": name}), "action")
            .map_err(|e| ApiError::bad_request(format!("action: {e}")))?,
    };
    let context = match field("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => return Err(ApiError::bad_request("context: expected an object")),
    };
    ProposedAction::new(principal, action, resource, context)
        .map_err(|e| ApiError::bad_request(format!("context: {e}")))
}

fn entity(value: &Value, what: &str) -> Result<EntityRef, ApiError> {
    let map = object(value, what, &["type", "id", "properties"])?;
    refuse_properties(map, what)?;
    let (Some(Value::String(ty)), Some(Value::String(id))) = (map.get("type"), map.get("id"))
    else {
        return Err(ApiError::bad_request(format!(
            "{what}: `type` and `id` must be strings"
        )));
    };
    EntityRef::from_json(&json!({"type": ty, "id": id}), what)
        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

fn refuse_properties(map: &Map<String, Value>, what: &str) -> Result<(), ApiError> {
    if map.contains_key("properties") {
        return Err(ApiError::bad_request(format!(
            "{what}: `properties` are refused: facts about entities come from the server's entities"
        )));
    }
    Ok(())
}
