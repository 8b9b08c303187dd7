//! The gateway's client of `tollgate serve`: decide, wait, consume, report.
//!
//! Everything serve answers is parsed with the engine's strict JSON reader and typed before use;
//! anything unexpected is an error, and every error refuses the call.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tollgate_engine::Tier;

/// The largest answer read from serve.
const MAX_ANSWER: usize = 4 * 1024 * 1024;

/// A failed exchange with serve. Each refuses the call it was for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServeError {
    /// No answer at all.
    #[error("tollgate serve at {url} is unreachable: {why}")]
    Unreachable {
        /// The server.
        url: String,
        /// The transport error.
        why: String,
    },
    /// An error answer (`{"error": {code, message}}`).
    #[error("tollgate serve refused it ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Serve's message.
        message: String,
    },
    /// An answer that is not what the API documents.
    #[error("tollgate serve sent an answer the gateway cannot read: {0}")]
    BadAnswer(String),
    /// The token file.
    #[error("{0}")]
    Token(String),
}

/// A decision as serve returns it.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The tier.
    pub tier: Tier,
    /// Each determining policy's `@reason`, or its id when it has none.
    pub reasons: Vec<String>,
    /// The approval request serve holds for `single` and `dual`.
    pub approval: Option<ApprovalStatus>,
}

/// An approval request's id and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalStatus {
    /// `apr_…`.
    pub id: String,
    /// `pending`, `allowed`, `denied`, `expired` or `consumed`.
    pub state: String,
    /// Approvals still needed, when serve says.
    pub missing: Option<u64>,
}

/// A client of one `tollgate serve`.
#[derive(Debug, Clone)]
pub struct Serve {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
}

impl Serve {
    /// A client of `base`, with the bearer token `token` when given.
    pub fn new(base: Url, token: Option<&str>) -> Result<Self, ServeError> {
        let auth = token
            .map(|t| {
                let mut value = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    ServeError::Token(
                        "the token holds characters an HTTP header cannot carry".into(),
                    )
                })?;
                value.set_sensitive(true);
                Ok(value)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ServeError::Unreachable {
                url: base.to_string(),
                why: e.to_string(),
            })?;
        Ok(Self { http, base, auth })
    }

    /// Reads a token file (its whole content, trimmed).
    pub fn read_token(path: &std::path::Path) -> Result<String, ServeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Token(format!("{}: {e}", path.display())))?;
        let token = text.trim().to_string();
        if token.is_empty() {
            return Err(ServeError::Token(format!(
                "{}: the token file is empty",
                path.display()
            )));
        }
        Ok(token)
    }

    /// `POST /v1/decide` with the call it is for.
    pub async fn decide(&self, request: &Value, call: &Value) -> Result<Decided, ServeError> {
        let body = json!({"request": request, "call": call});
        let answer = self
            .send(
                self.post(&["v1", "decide"])?.json(&body),
                Duration::from_secs(30),
            )
            .await?;
        let tier = answer
            .get("tier")
            .and_then(Value::as_str)
            .ok_or_else(|| ServeError::BadAnswer("a decision without `tier`".into()))?
            .parse::<Tier>()
            .map_err(|e| ServeError::BadAnswer(e.to_string()))?;
        let reasons = answer
            .get("determining")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        p.get("reason")
                            .and_then(Value::as_str)
                            .or_else(|| p.get("id").and_then(Value::as_str))
                            .map(String::from)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let approval = answer.get("approval").map(status).transpose()?;
        Ok(Decided {
            tier,
            reasons,
            approval,
        })
    }

    /// `GET /v1/approvals/{id}?wait=N`: the state now, or when it changes within `wait`.
    pub async fn approval(&self, id: &str, wait: Duration) -> Result<ApprovalStatus, ServeError> {
        let mut url = self.url(&["v1", "approvals", id])?;
        let secs = wait.as_secs();
        if secs > 0 {
            url.query_pairs_mut().append_pair("wait", &secs.to_string());
        }
        let answer = self
            .send(
                self.with_auth(self.http.get(url)),
                wait + Duration::from_secs(15),
            )
            .await?;
        status(&answer)
    }

    /// `POST /v1/approvals/{id}/consume`: `Ok` exactly once per allowed approval.
    pub async fn consume(&self, id: &str) -> Result<(), ServeError> {
        self.send(
            self.post(&["v1", "approvals", id, "consume"])?,
            Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }

    /// `POST /v1/approvals/{id}/outcome`.
    pub async fn outcome(&self, id: &str, outcome: Value) -> Result<(), ServeError> {
        let body = json!({"outcome": outcome});
        self.send(
            self.post(&["v1", "approvals", id, "outcome"])?.json(&body),
            Duration::from_secs(30),
        )
        .await
        .map(|_| ())
    }

    /// `POST /v1/reach`: which of `actions` some permit's scope reaches for `principal`.
    pub async fn reach(
        &self,
        principal: &Value,
        actions: &[Value],
    ) -> Result<Vec<Value>, ServeError> {
        let body = json!({"principal": principal, "actions": actions});
        let answer = self
            .send(
                self.post(&["v1", "reach"])?.json(&body),
                Duration::from_secs(30),
            )
            .await?;
        answer
            .get("reachable")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| ServeError::BadAnswer("no `reachable` list".into()))
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ServeError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ServeError::BadAnswer(format!("{} cannot be a base URL", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn post(&self, segments: &[&str]) -> Result<reqwest::RequestBuilder, ServeError> {
        Ok(self.with_auth(
            self.http
                .post(self.url(segments)?)
                .header(CONTENT_TYPE, "application/json"),
        ))
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.auth {
            Some(auth) => request.header(AUTHORIZATION, auth.clone()),
            None => request,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<Value, ServeError> {
        let unreachable = |e: reqwest::Error| ServeError::Unreachable {
            url: self.base.to_string(),
            why: e.without_url().to_string(),
        };
        let mut response = request.timeout(timeout).send().await.map_err(unreachable)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(ServeError::BadAnswer("the answer is over 4 MiB".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| ServeError::BadAnswer("the answer is not UTF-8".into()))?;
        let value =
            tollgate_engine::json::parse(&text).map_err(|e| ServeError::BadAnswer(e.to_string()));
        if status != StatusCode::OK {
            let message = value
                .ok()
                .and_then(|v| {
                    v.pointer("/error/message")
                        .and_then(Value::as_str)
                        .map(String::from)
                })
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
            return Err(ServeError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        value
    }
}

fn status(value: &Value) -> Result<ApprovalStatus, ServeError> {
    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .map(String::from)
            .ok_or_else(|| ServeError::BadAnswer(format!("an approval without `{name}`")))
    };
    Ok(ApprovalStatus {
        id: text("id")?,
        state: text("state")?,
        missing: value.get("missing").and_then(Value::as_u64),
    })
}
