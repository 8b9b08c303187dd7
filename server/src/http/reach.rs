//! `POST /v1/reach`: which of some actions an agent can reach at all, so that a gateway can hide
//! the tools a principal could never be allowed to call instead of listing them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tollgate_engine::EntityRef;

use super::{ApiError, App, authorize, json_body, object};
use crate::tokens::Role;

/// The most actions one call may ask about: a gateway asks once per tool listing.
pub const MAX_REACH_ACTIONS: usize = 64;

/// `{"principal": "Agent::\"coder\"", "actions": ["Action::\"write_file\"", ...]}` →
/// `{"reachable": [...]}`: the actions (in the order given) that at least one permit's principal
/// and action scope can match, conditions and resource ignored (see
/// `Pack::reachable_actions`). Over-approximate, so it is only good for hiding: a reachable
/// action still needs its decision.
pub async fn reach(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let body = json_body(body)?;
    let map = object(&body, "body", &["principal", "actions"])?;
    let principal = map
        .get("principal")
        .ok_or_else(|| ApiError::bad_request("body: `principal` is required"))?;
    let principal = EntityRef::from_json(principal, "principal")
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Some(Value::Array(items)) = map.get("actions") else {
        return Err(ApiError::bad_request(
            "actions: expected an array of action references",
        ));
    };
    if items.len() > MAX_REACH_ACTIONS {
        return Err(ApiError::bad_request(format!(
            "actions: {} given, at most {MAX_REACH_ACTIONS} per call",
            items.len()
        )));
    }
    let actions = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("actions[{i}]");
            let action = EntityRef::from_json(item, &field)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            let ty = action.type_name();
            if ty == "Action" || ty.ends_with("::Action") {
                Ok(action)
            } else {
                Err(ApiError::bad_request(format!(
                    "{field}: {action} is not an action"
                )))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The same gate as decide: a gateway learns nothing about principals it does not serve.
    if !caller.may_act_for(&principal) {
        return Err(ApiError::forbidden(format!(
            "token {:?} may not decide for {principal}",
            caller.name
        )));
    }
    let loaded = app.shared.loaded();
    if !loaded.knows(&principal) {
        return Err(ApiError::bad_request(format!(
            "principal {principal} is not in the server's entities: facts about who acts come from the server"
        )));
    }
    let reachable: Vec<String> = loaded
        .pack
        .reachable_actions(&principal, &actions, &loaded.entities)
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(json!({ "reachable": reachable })))
}
