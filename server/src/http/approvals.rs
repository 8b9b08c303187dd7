//! The inbox and the approval loop: list, show (and long-poll), post a signed record, consume,
//! report the outcome.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tollgate_engine::approvals::ApprovalRecord;

use super::{ApiError, App, authorize, clock, json_body, object};
use crate::approvals::{State as ApprovalState, assess, view};
use crate::state::millis;
use crate::store::read::{LIST_LIMIT, Listing};
use crate::store::writer::{Done, Op};
use crate::tokens::{Caller, Role};

/// The most pages of [`LIST_LIMIT`] rows one inbox listing reads.
const MAX_LIST_PAGES: usize = 20;

/// The longest `?wait=` honoured, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 300;

/// `GET /v1/approvals?state=pending` (approver): the inbox, oldest first.
pub async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Role::Approver)?;
    if let Some(k) = query.keys().find(|k| k.as_str() != "state") {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter `{k}`"
        )));
    }
    let wanted = match query.get("state") {
        None => ApprovalState::Pending,
        Some(s) => ApprovalState::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "state: {s:?} is not one of pending, allowed, denied, expired, consumed"
            ))
        })?,
    };
    let listing = match wanted {
        ApprovalState::Pending | ApprovalState::Allowed | ApprovalState::Denied => Listing::Open,
        ApprovalState::Expired => Listing::Expired,
        ApprovalState::Consumed => Listing::Consumed,
    };
    let at = clock()?;
    let loaded = app.shared.loaded();
    // The state is computed, not stored, so the database cannot filter on it: read page after
    // page until the answer is full. Otherwise the oldest 500 open requests — say, a gateway's
    // flood of pending or denied ones — would hide every newer request from the inbox.
    let limit = usize::try_from(LIST_LIMIT).unwrap_or(usize::MAX);
    let mut approvals: Vec<Value> = Vec::new();
    let mut after: Option<(i64, String)> = None;
    let mut truncated = false;
    for _ in 0..MAX_LIST_PAGES {
        let rows = app
            .shared
            .store
            .list(listing, millis(at), after.as_ref())
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        for (row, records) in &rows {
            let assessed = assess(&loaded, row, records, at);
            if assessed.state == wanted {
                if approvals.len() == limit {
                    truncated = true;
                    break;
                }
                approvals.push(view(row, records, &assessed, at));
            }
        }
        after = match rows.last() {
            Some((row, _)) if rows.len() == limit && !truncated => {
                Some((row.created_ms, row.id.clone()))
            }
            _ => None,
        };
        if after.is_none() {
            break;
        }
    }
    // Pages left unread count as truncated too.
    let truncated = truncated || after.is_some();
    Ok(Json(
        json!({ "approvals": approvals, "truncated": truncated }),
    ))
}

/// Approvers see every request; a gateway only those it opened.
fn may_see(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    authorize(app, headers, Role::Approver).or_else(|_| authorize(app, headers, Role::Gateway))
}

/// `GET /v1/approvals/{id}[?wait=SECONDS]`: the request, its state and every record with why it
/// counts or not. With `wait`, a pending request is answered when it changes (here or on any
/// replica) or when the wait ends.
pub async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let caller = may_see(&app, &headers)?;
    if let Some(k) = query.keys().find(|k| k.as_str() != "wait") {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter `{k}`"
        )));
    }
    let wait = match query.get("wait") {
        None => 0,
        Some(w) => w
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("wait: expected whole seconds"))?
            .min(MAX_WAIT_SECONDS),
    };
    // Subscribe before reading, so a change between the read and the wait is not missed.
    let mut changes = app.shared.changes.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let (value, state, expires_ms) = read_one(&app, &caller, &id).await?;
        if wait == 0 || state != ApprovalState::Pending {
            return Ok(Json(value));
        }
        let now_ms = millis(clock()?);
        let until_expiry =
            Duration::from_millis(u64::try_from(expires_ms.saturating_sub(now_ms)).unwrap_or(0));
        let wake = deadline.min(tokio::time::Instant::now() + until_expiry);
        if tokio::time::Instant::now() >= deadline {
            return Ok(Json(value));
        }
        let changed = tokio::time::timeout_at(wake, async {
            loop {
                match changes.recv().await {
                    Ok(changed) if changed == id => return,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        })
        .await;
        if changed.is_err() && tokio::time::Instant::now() >= deadline {
            let (value, _, _) = read_one(&app, &caller, &id).await?;
            return Ok(Json(value));
        }
    }
}

async fn read_one(
    app: &App,
    caller: &Caller,
    id: &str,
) -> Result<(Value, ApprovalState, i64), ApiError> {
    let (row, records) = app.approval(id).await?;
    if !caller.has(Role::Approver) && row.gateway != caller.name {
        // Not found rather than forbidden: a gateway learns nothing of others' requests.
        return Err(ApiError::not_found("no such approval request"));
    }
    let at = clock()?;
    let assessed = assess(&app.shared.loaded(), &row, &records, at);
    Ok((
        view(&row, &records, &assessed, at),
        assessed.state,
        row.expires_ms,
    ))
}

/// `POST /v1/approvals/{id}/records` (approver): one signed record, exactly as `tollgate
/// approve` prints it. Stored whether or not it counts; the answer says which and why.
pub async fn post_record(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Approver)?;
    let value = json_body(body)?;
    let record = ApprovalRecord::parse(&value.to_string(), 1)
        .map_err(|e| ApiError::bad_request(format!("record: {}", e.message)))?;
    match app
        .writer
        .write(Op::Record {
            id,
            record,
            by: caller.name,
        })
        .await?
    {
        Done::Recorded {
            counted,
            why,
            row,
            records,
            assessed,
        } => {
            let at = clock()?;
            Ok(Json(json!({
                "counted": counted,
                "why": why,
                "approval": view(&row, &records, &assessed, at),
            })))
        }
        Done::Refused(refusal) => Err(refusal.into()),
        other => Err(ApiError::unavailable(format!(
            "unexpected write result: {other:?}"
        ))),
    }
}

/// `POST /v1/approvals/{id}/consume` (the gateway that opened it): the approved request, once.
pub async fn consume(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    match app
        .writer
        .write(Op::Consume {
            id,
            gateway: caller.name,
        })
        .await?
    {
        Done::Consumed { row } => Ok(Json(json!({
            "id": row.id,
            "state": ApprovalState::Consumed,
            "request": tollgate_engine::json::parse(&row.request).unwrap_or(Value::Null),
            "request_hash": row.request_hash,
        }))),
        Done::Refused(refusal) => {
            crate::metrics::inc(&app.shared.metrics.consume_refused);
            Err(refusal.into())
        }
        other => Err(ApiError::unavailable(format!(
            "unexpected write result: {other:?}"
        ))),
    }
}

/// `POST /v1/approvals/{id}/outcome` (the gateway that opened and consumed it): what happened
/// when the action ran, `{"outcome": any JSON}`, into the audit chain. Once.
pub async fn outcome(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&app, &headers, Role::Gateway)?;
    let value = json_body(body)?;
    let map = object(&value, "body", &["outcome"])?;
    let outcome = map
        .get("outcome")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("body: `outcome` is required"))?;
    match app
        .writer
        .write(Op::Outcome {
            id: id.clone(),
            gateway: caller.name,
            outcome,
        })
        .await?
    {
        Done::OutcomeStored => Ok(Json(json!({"id": id, "recorded": true}))),
        Done::Refused(refusal) => Err(refusal.into()),
        other => Err(ApiError::unavailable(format!(
            "unexpected write result: {other:?}"
        ))),
    }
}
