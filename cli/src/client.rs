//! The HTTP client of `tollgate serve`'s approvals API, for `tollgate approvals`.
//!
//! Everything the server sends is untrusted: bodies are read up to the `file-bytes` limit,
//! parsed with the engine's strict JSON reader (no duplicate keys, bounded depth), and typed
//! before use; the bearer token is marked sensitive and never printed.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use miette::miette;
use reqwest::Url;
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tollgate_engine::limits::{Limit, Limits};

use crate::args::{ApprovalId, ApprovalState, ServerUrl};
use crate::io::{eprint, read_input};
use crate::render::shown;

/// The server when neither `--server` nor `TOLLGATE_SERVER` names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// An approval as the server shows it (`GET /v1/approvals/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Approval {
    pub id: String,
    pub state: String,
    pub tier: String,
    #[serde(default)]
    pub approvals_required: Option<u64>,
    #[serde(default)]
    pub missing: Option<u64>,
    /// The request, as the server holds it; parsed and hashed here before anything is signed.
    pub request: Value,
    /// The hash the server says the request has.
    pub request_hash: String,
    /// The decision, as `tollgate decide --format json` prints it.
    pub decision: Value,
    #[serde(default)]
    pub recommendation: Value,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub age_seconds: Option<i64>,
    #[serde(default)]
    pub records: Vec<RecordSeen>,
    /// The tool call the gateway sent (`{"server", "tool", "arguments"}`), if any. Untrusted:
    /// its digest is computed here and compared with the request's `call_digest`.
    #[serde(default)]
    pub call: Option<Value>,
}

/// An approval record the server has received for an approval, and what it made of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordSeen {
    /// `None` for a stored line that no longer reads as a record.
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub decision: Option<String>,
    pub counted: bool,
    #[serde(default)]
    pub why: String,
    #[serde(default)]
    pub evidence: Option<String>,
    #[serde(default)]
    pub issued_at: Option<String>,
}

/// The server's answer to a posted record.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PostAnswer {
    pub counted: bool,
    pub why: String,
    pub approval: Approval,
}

#[derive(Deserialize)]
struct ApprovalList {
    approvals: Vec<Approval>,
}

/// A body as received: its JSON, and the same typed.
pub struct Answer<T> {
    pub json: Value,
    pub typed: T,
}

/// A client of one server.
pub struct Client {
    http: reqwest::blocking::Client,
    base: Url,
    auth: Option<HeaderValue>,
}

impl Client {
    /// The server from `--server`, else `TOLLGATE_SERVER`, else [`DEFAULT_SERVER`]; the token
    /// from `--token-file`, else `TOLLGATE_TOKEN`, else none.
    pub fn from_args(server: Option<ServerUrl>, token_file: Option<&Path>) -> miette::Result<Self> {
        let server = match server {
            Some(s) => s,
            None => match std::env::var("TOLLGATE_SERVER") {
                Ok(v) if !v.trim().is_empty() => v
                    .parse::<ServerUrl>()
                    .map_err(|e| miette!("TOLLGATE_SERVER: {e}"))?,
                _ => DEFAULT_SERVER
                    .parse::<ServerUrl>()
                    .map_err(|e| miette!("{e}"))?,
            },
        };
        let token = match token_file {
            Some(path) => {
                let (name, text) = read_input(path)?;
                let token = text.trim().to_string();
                if token.is_empty() {
                    return Err(miette!("{name}: the token file is empty"));
                }
                Some(token)
            }
            None => std::env::var("TOLLGATE_TOKEN")
                .ok()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        };
        Self::new(server.0, token.as_deref())
    }

    /// A client of the server at `base`, sending `token` as a bearer token when given.
    pub fn new(base: Url, token: Option<&str>) -> miette::Result<Self> {
        let auth = token
            .map(|t| {
                let mut value = HeaderValue::from_str(&format!("Bearer {t}")).map_err(|_| {
                    miette!("the token holds characters an HTTP header cannot carry")
                })?;
                value.set_sensitive(true);
                Ok::<_, miette::Report>(value)
            })
            .transpose()?;
        if auth.is_some() && base.scheme() == "http" && !is_loopback(&base) {
            eprint(&format!(
                "warning: the token is sent unencrypted to {}: use https://\n",
                shown(base.as_str())
            ));
        }
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| miette!("cannot set up the HTTP client: {e}"))?;
        Ok(Self { http, base, auth })
    }

    /// `GET /v1/approvals[?state=…]`.
    pub fn list(&self, state: Option<ApprovalState>) -> miette::Result<Answer<Vec<Approval>>> {
        let mut url = self.url(&["v1", "approvals"])?;
        if let Some(state) = state {
            url.query_pairs_mut().append_pair("state", state.as_str());
        }
        let answer: Answer<ApprovalList> = self.call(self.http.get(url))?;
        Ok(Answer {
            json: answer.json,
            typed: answer.typed.approvals,
        })
    }

    /// `GET /v1/approvals/{id}`.
    pub fn get(&self, id: &ApprovalId) -> miette::Result<Answer<Approval>> {
        let url = self.url(&["v1", "approvals", id.as_str()])?;
        self.call(self.http.get(url))
    }

    /// `POST /v1/approvals/{id}/records` with one signed record (a JSON line).
    pub fn post_record(
        &self,
        id: &ApprovalId,
        record: String,
    ) -> miette::Result<Answer<PostAnswer>> {
        let url = self.url(&["v1", "approvals", id.as_str(), "records"])?;
        let request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(record);
        self.call(request)
    }

    /// The base URL with `segments` appended, each escaped as one path segment.
    fn url(&self, segments: &[&str]) -> miette::Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| miette!("{} cannot be a base URL", shown(self.base.as_str())))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> miette::Result<Answer<T>> {
        let request = match &self.auth {
            Some(auth) => request.header(AUTHORIZATION, auth.clone()),
            None => request,
        };
        let response = request
            .send()
            .map_err(|e| miette!("cannot reach the server: {}", shown(&e.to_string())))?;
        let status = response.status().as_u16();
        let body = read_body(response)?;
        let json = decode(status, &body)?;
        let typed = serde_json::from_value(json.clone()).map_err(|e| {
            miette!(
                "the server's answer is not what the approvals API sends: {}",
                shown(&e.to_string())
            )
        })?;
        Ok(Answer { json, typed })
    }
}

/// The body, at most `file-bytes` long (a larger one is refused rather than held in memory).
fn read_body(response: Response) -> miette::Result<Vec<u8>> {
    let max = Limits::current().get(Limit::FileBytes);
    let mut body = Vec::new();
    response
        .take(u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| miette!("reading the server's answer: {}", shown(&e.to_string())))?;
    if body.len() > max {
        return Err(miette!(
            "the server's answer is longer than the file-bytes limit ({max} bytes)"
        ));
    }
    Ok(body)
}

/// A response's JSON on a 2xx status; otherwise the server's error (`{"error": {"code",
/// "message"}}`) as a message, escaped for the terminal.
pub fn decode(status: u16, body: &[u8]) -> miette::Result<Value> {
    let text = String::from_utf8_lossy(body);
    let parsed = tollgate_engine::json::parse(&text);
    if (200..300).contains(&status) {
        return parsed.map_err(|e| {
            miette!(
                "the server's answer (status {status}) is not JSON: {}",
                shown(&e.message())
            )
        });
    }
    let error = parsed.ok().and_then(|v| {
        let e = v.get("error")?;
        let message = e.get("message")?.as_str()?.to_string();
        let code = e.get("code").and_then(Value::as_str).map(String::from);
        Some((code, message))
    });
    Err(match error {
        Some((Some(code), message)) => miette!(
            "the server answered {status}: {} ({})",
            shown(&message),
            shown(&code)
        ),
        Some((None, message)) => miette!("the server answered {status}: {}", shown(&message)),
        None => {
            let snippet: String = text.trim().chars().take(200).collect();
            miette!("the server answered {status}: {}", shown(&snippet))
        }
    })
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_2xx_body_is_strict_json() {
        assert_eq!(decode(200, br#"{"a": 1}"#).unwrap()["a"], 1);
        // Duplicate keys could show one value and mean another: refused.
        assert!(decode(200, br#"{"a": 1, "a": 2}"#).is_err());
        assert!(decode(200, b"<html>").is_err());
    }

    #[test]
    fn an_error_status_carries_the_servers_message_escaped() {
        let e = decode(
            409,
            br#"{"error": {"code": "conflict", "message": "already consumed\u001b[2J"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("409"), "{e}");
        assert!(e.contains("already consumed\\u{1b}[2J"), "{e}");
        assert!(e.contains("(conflict)"), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
        let plain = decode(502, b"Bad Gateway\n").unwrap_err().to_string();
        assert!(plain.contains("502: Bad Gateway"), "{plain}");
    }

    #[test]
    fn paths_are_built_from_escaped_segments() {
        let client = Client::new(Url::parse("http://127.0.0.1:9/base/").unwrap(), None).unwrap();
        let url = client.url(&["v1", "approvals", "a/../b?x"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/base/v1/approvals/a%2F..%2Fb%3Fx"
        );
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_refused_without_showing_it() {
        let e = Client::new(Url::parse("http://127.0.0.1:9").unwrap(), Some("s3cr3t\nx"))
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
