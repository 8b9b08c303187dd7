//! Health, metrics, reload and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, App, authorize};
use crate::metrics::inc;
use crate::state::Loaded;
use crate::tokens::Role;

/// The OpenAPI 3.1 document of this API (also in docs/).
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// `GET /healthz`: 200 when the database answers.
pub async fn healthz(State(app): State<App>) -> Result<Json<Value>, ApiError> {
    sqlx::query("SELECT 1")
        .execute(app.shared.store.pool())
        .await
        .map_err(|e| ApiError::unavailable(format!("database: {e}")))?;
    Ok(Json(json!({
        "status": "ok",
        "policy_set": app.shared.loaded().pack.hash().to_string(),
    })))
}

/// `GET /metrics` (auditor): Prometheus text.
pub async fn metrics(State(app): State<App>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&app, &headers, Role::Auditor)?;
    let mut response = app.shared.metrics.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(response)
}

/// `POST /v1/admin/reload` (admin): reads the pack, entities, keyring and tokens again. A
/// set that fails to load is refused whole and the old one keeps serving.
pub async fn reload(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    authorize(&app, &headers, Role::Admin)?;
    let config = app.config.clone();
    let loaded = tokio::task::spawn_blocking(move || Loaded::load(&config))
        .await
        .map_err(|e| ApiError::unavailable(format!("reload: {e}")))?;
    match loaded {
        Ok(loaded) => {
            let hash = loaded.pack.hash().to_string();
            app.shared.replace(loaded);
            tracing::info!(policy_set = hash, "reloaded");
            Ok(Json(json!({"reloaded": true, "policy_set": hash})))
        }
        Err(problem) => {
            inc(&app.shared.metrics.reload_failures);
            tracing::warn!("reload refused: {problem}");
            Err(ApiError::unprocessable(format!(
                "reload refused, the previous pack keeps serving: {problem}"
            )))
        }
    }
}

/// `GET /openapi.json`.
pub async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Any other path.
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "not_found", "message": "no such endpoint; GET /openapi.json lists them"}})),
    )
        .into_response()
}
