//! The audit chain: the export (whole, or after a hash) and the signed head to anchor elsewhere.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tollgate_engine::Sha256Digest;
use tollgate_engine::audit::ChainHead;

use super::{ApiError, App, authorize};
use crate::tokens::Role;

/// `GET /v1/audit[?after=HASH]` (auditor): JSON Lines, oldest first; with `after`, the records
/// after that one, which `tollgate audit verify --after HASH` checks as a slice.
pub async fn export(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers, Role::Auditor)?;
    if let Some(k) = query.keys().find(|k| k.as_str() != "after") {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter `{k}`"
        )));
    }
    let after = match query.get("after") {
        None => None,
        Some(h) => Some(
            h.parse::<Sha256Digest>()
                .map_err(|e| ApiError::bad_request(format!("after: {e}")))?
                .to_string(),
        ),
    };
    let lines = app
        .shared
        .store
        .audit_after(after.as_deref())
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?
        .ok_or_else(|| ApiError::not_found("after: no audit record has that hash"))?;
    let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        body.push_str(&line);
        body.push('\n');
    }
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl"),
    );
    Ok(response)
}

/// `GET /v1/audit/head` (auditor): `{"kind", "count", "head", "signature"}`, signed with the
/// audit key (unsigned without one), as `tollgate audit verify --head-file` reads it.
pub async fn head(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Role::Auditor)?;
    let (count, hash) = app
        .shared
        .store
        .audit_head()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let head = ChainHead {
        count: usize::try_from(count)
            .map_err(|_| ApiError::unavailable("audit head: bad count"))?,
        head: match hash {
            None => None,
            Some(h) => Some(
                h.parse()
                    .map_err(|_| ApiError::unavailable("audit head: unreadable hash"))?,
            ),
        },
    };
    Ok(Json(match &app.shared.audit_key {
        Some(key) => head.signed_record(key),
        None => json!({"count": head.count, "head": head.head.map(|h| h.to_string())}),
    }))
}
