//! The HTTP API: routes, the role each needs, errors as JSON, and the input limits every
//! endpoint shares. docs/serve.md has the table of roles and the OpenAPI document.

mod approvals;
mod audit;
mod authzen;
mod decide;
mod ops;
mod reach;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::metrics::inc;
use crate::shared::Shared;
use crate::store::writer::{Refusal, WriteError, Writer};
use crate::tokens::{Caller, Role};

/// The largest request body: decisions, records and outcomes are small; 1 MiB leaves room for
/// a request with added entities.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What every handler gets.
#[derive(Clone)]
pub struct App {
    /// Shared state.
    pub shared: Arc<Shared>,
    /// The write queue.
    pub writer: Writer,
    /// What the server was started with (reload reads the same paths).
    pub config: Arc<crate::config::Config>,
}

/// The router.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/v1/decide", post(decide::decide))
        .route("/v1/reach", post(reach::reach))
        .route("/v1/approvals", get(approvals::list))
        .route("/v1/approvals/{id}", get(approvals::show))
        .route("/v1/approvals/{id}/records", post(approvals::post_record))
        .route("/v1/approvals/{id}/consume", post(approvals::consume))
        .route("/v1/approvals/{id}/outcome", post(approvals::outcome))
        .route("/access/v1/evaluation", post(authzen::evaluation))
        .route("/access/v1/evaluations", post(authzen::evaluations))
        .route(
            "/.well-known/authzen-configuration",
            get(authzen::configuration),
        )
        .route("/v1/audit", get(audit::export))
        .route("/v1/audit/head", get(audit::head))
        .route("/v1/admin/reload", post(ops::reload))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(app.clone(), count_errors))
        .with_state(app)
}

/// Counts 4xx and 5xx answers for `/metrics`.
async fn count_errors(State(app): State<App>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        inc(&app.shared.metrics.bad_requests);
    } else if status.is_server_error() {
        inc(&app.shared.metrics.server_errors);
    }
    response
}

/// An error answer: `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    /// 400: the input is wrong; the message names the field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 403: the caller may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 409: not in a state that allows this.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    /// 422: understood, but refused (a reload that does not load).
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message)
    }
    /// 503: the database or the clock failed; nothing was decided.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// The message, for callers that wrap it.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        tracing::error!("write failed: {e}");
        ApiError::unavailable(format!("not committed, nothing decided: {e}"))
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound => ApiError::not_found("no such approval request"),
            // The same answer as an unknown id: another gateway learns nothing, not even that
            // the request exists.
            Refusal::NotYours => ApiError::not_found("no such approval request"),
            Refusal::Conflict(why) => ApiError::conflict(why),
        }
    }
}

/// The caller, who must hold `role`. Without `--tokens` the loopback caller holds gateway and
/// approver; with tokens, a missing or unknown token is 401 and a token without the role 403.
pub fn authorize(app: &App, headers: &HeaderMap, role: Role) -> Result<Caller, ApiError> {
    let loaded = app.shared.loaded();
    let Some(tokens) = &loaded.tokens else {
        from_this_machine(headers)?;
        let local = Caller::local();
        return if local.has(role) {
            Ok(local)
        } else {
            Err(ApiError::forbidden(format!(
                "the {} endpoints need a token with that role: start the server with --tokens",
                role.as_str()
            )))
        };
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(caller) = token.and_then(|t| tokens.caller(t)) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <token>` is required",
        ));
    };
    if !caller.has(role) {
        return Err(ApiError::forbidden(format!(
            "token {:?} does not have the {} role",
            caller.name,
            role.as_str()
        )));
    }
    Ok(caller.clone())
}

/// Without `--tokens` the server trusts whoever reaches loopback, so it must be sure the caller
/// is a local program and not a web page the local user is visiting: a page can reach
/// 127.0.0.1 through DNS rebinding (its own name resolving to loopback, sent as `Host`) or by a
/// cross-site form POST (sent with an `Origin`). Both are refused.
fn from_this_machine(headers: &HeaderMap) -> Result<(), ApiError> {
    let host = headers
        .get(header::HOST)
        .map(|h| h.to_str().unwrap_or("(not text)"))
        .unwrap_or("");
    if !is_loopback_authority(host) {
        return Err(ApiError::forbidden(format!(
            "Host {host:?}: without --tokens the server answers only loopback names (localhost, 127.0.0.1, [::1])"
        )));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let text = origin.to_str().unwrap_or("(not text)");
        let local = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"))
            .is_some_and(is_loopback_authority);
        if !local {
            return Err(ApiError::forbidden(format!(
                "Origin {text:?}: without --tokens the server refuses requests from web pages of other origins"
            )));
        }
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Err(ApiError::forbidden(
            "Sec-Fetch-Site: cross-site: without --tokens the server refuses requests from other sites",
        ));
    }
    Ok(())
}

/// Whether `authority` (`host[:port]`) names this machine's loopback: `localhost`,
/// `127.0.0.0/8` or `[::1]`, with an optional numeric port.
fn is_loopback_authority(authority: &str) -> bool {
    let numeric_port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((ip, port)) = rest.split_once(']') else {
            return false;
        };
        let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(numeric_port);
        return port_ok
            && ip
                .parse::<std::net::Ipv6Addr>()
                .is_ok_and(|a| a.is_loopback());
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if numeric_port(port) => host,
        Some(_) => return false,
        None => authority,
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

/// A JSON body, read with the engine's strict reader (no duplicate keys, bounded depth): what a
/// human is shown must be what is hashed.
pub fn json_body(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let value = json_body_with_fractions(body)?;
    refuse_fractions(&value, "body")?;
    Ok(value)
}

/// Fractional numbers (and integers beyond 64 bits, which read as fractions) are refused for
/// every value the server decides on or chains: the audit chain hashes canonical JSON, which has
/// none, and one such number reaching the group commit would fail every write committed with it.
pub fn refuse_fractions(value: &Value, what: &str) -> Result<(), ApiError> {
    tollgate_engine::to_canonical_json(value)
        .map(drop)
        .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
}

/// A JSON body read as [`json_body`] does, but with fractional numbers still in it: for the one
/// endpoint (decide) where part of the body — a tool call's arguments — may hold them. The
/// caller must refuse them everywhere else with [`refuse_fractions`].
pub fn json_body_with_fractions(body: Result<Bytes, BytesRejection>) -> Result<Value, ApiError> {
    let bytes = body.map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body could not be read: {e} (at most {MAX_BODY_BYTES} bytes)"),
        )
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    tollgate_engine::json::parse(text).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

/// The object `value` must be, with only the `allowed` keys.
pub fn object<'a>(
    value: &'a Value,
    what: &str,
    allowed: &[&str],
) -> Result<&'a serde_json::Map<String, Value>, ApiError> {
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request(format!(
            "{what}: expected a JSON object"
        )));
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "{what}: unknown field `{k}` (expected one of: {})",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

impl App {
    /// One approval request and its records, or 404.
    pub async fn approval(
        &self,
        id: &str,
    ) -> Result<(crate::store::ApprovalRow, Vec<crate::store::StoredRecord>), ApiError> {
        self.shared
            .store
            .approval(id)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?
            .ok_or_else(|| ApiError::not_found("no such approval request"))
    }
}

/// The evaluation time.
pub fn clock() -> Result<tollgate_engine::Timestamp, ApiError> {
    crate::state::now().map_err(ApiError::unavailable)
}

/// A fresh approval request id: `apr_` and 128 random bits.
pub fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::unavailable(format!("no randomness for an id: {e}")))?;
    Ok(format!("apr_{}", hex::encode(bytes)))
}
