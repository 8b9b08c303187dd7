//! A call → the Cedar requests that decide it.
//!
//! The arguments are normalised first; the normalised arguments are what is digested, decided
//! and forwarded. Every request carries `server`, `call_digest` and a fresh `request_id` in its
//! context, so an approval binds the exact call and a retry (with a new request id) finds the
//! approval already open in `tollgate serve` through its call key.

use serde_json::{Map, Value, json};
use tollgate_engine::{ProposedAction, ToolCall};

use crate::config::{Config, ToolMapping};
use crate::normalize::{NormalizeError, normalize};
use crate::template::FillError;

/// Why a call cannot be turned into requests; it is denied with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// An argument could not be normalised.
    #[error(transparent)]
    Normalize(#[from] NormalizeError),
    /// A template could not be filled.
    #[error(transparent)]
    Fill(#[from] FillError),
    /// The filled request is not a request tollgate reads.
    #[error("the request for this call is not valid: {0}")]
    Request(String),
    /// The system's random source failed, so no request id could be made.
    #[error("no request id: {0}")]
    Random(String),
}

/// A call ready to be decided: the call as it will be forwarded, and its requests.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Server, tool and the normalised arguments.
    pub call: ToolCall,
    /// One request per template, in Cedar's JSON shape.
    pub requests: Vec<Value>,
}

/// Maps one call. `mapping` is `None` for a tool the configuration does not name: it becomes
/// `Action::"<tool>"` on `Tool::"<tool>"`.
pub fn prepare(
    config: &Config,
    tool: &str,
    arguments: &Map<String, Value>,
    mapping: Option<&ToolMapping>,
) -> Result<Prepared, MapError> {
    let mut arguments = arguments.clone();
    if let Some(mapping) = mapping {
        for (name, how) in &mapping.normalize {
            if let Some(value) = arguments.get_mut(name) {
                normalize(name, *how, value)?;
            }
        }
    }
    let call = ToolCall {
        server: config.name.clone(),
        tool: tool.to_string(),
        arguments,
    };
    let digest = call.digest().to_string();
    let base = |request_id: String| {
        let mut context = Map::new();
        context.insert("server".into(), json!(config.name));
        context.insert("call_digest".into(), json!(digest));
        context.insert("request_id".into(), json!(request_id));
        context
    };
    let mut requests = Vec::new();
    match mapping {
        None => requests.push(json!({
            "principal": config.agent.to_json(),
            "action": {"type": "Action", "id": tool},
            "resource": {"type": "Tool", "id": tool},
            "context": base(request_id()?),
        })),
        Some(mapping) => {
            for template in &mapping.requests {
                let mut context = base(request_id()?);
                for (key, value) in &template.context {
                    context.insert(key.clone(), value.fill(&call.arguments)?);
                }
                requests.push(json!({
                    "principal": config.agent.to_json(),
                    "action": template.action.fill(&call.arguments)?,
                    "resource": template.resource.fill(&call.arguments)?,
                    "context": context,
                }));
            }
        }
    }
    for request in &requests {
        ProposedAction::from_json(request).map_err(|e| MapError::Request(e.to_string()))?;
    }
    Ok(Prepared { call, requests })
}

/// `mcp-` and 32 hex digits from the system's random source.
fn request_id() -> Result<String, MapError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| MapError::Random(e.to_string()))?;
    Ok(format!(
        "mcp-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config() -> Config {
        Config::parse(
            "agent: 'Agent::\"coder\"'\nname: files\nserver: http://127.0.0.1:7878\ntools:\n  write_file:\n    action: 'Action::\"write_file\"'\n    resource: 'File::\"{path}\"'\n    context: {path: '{path}'}\n    normalize: {path: path}\n  move_file:\n    requests:\n      - {action: 'Action::\"move_file\"', resource: 'File::\"{source}\"', context: {role: source}}\n      - {action: 'Action::\"move_file\"', resource: 'File::\"{destination}\"', context: {role: destination}}\n    normalize: {source: path, destination: path}\n",
            "mcp.yaml",
            Path::new("."),
        )
        .unwrap()
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_mapped_call_is_normalised_digested_and_bound() {
        let config = config();
        let mapping = config.tools.get("write_file");
        let p = prepare(
            &config,
            "write_file",
            &args(json!({"path": "/srv/a/../b", "content": "A", "mode": 0.5})),
            mapping,
        )
        .unwrap();
        assert_eq!(p.call.arguments.get("path"), Some(&json!("/srv/b")));
        let [request] = p.requests.as_slice() else {
            panic!("one request")
        };
        assert_eq!(request["resource"], json!({"type": "File", "id": "/srv/b"}));
        assert_eq!(request["context"]["path"], json!("/srv/b"));
        assert_eq!(request["context"]["server"], json!("files"));
        assert_eq!(
            request["context"]["call_digest"],
            json!(p.call.digest().to_string())
        );
        assert!(
            request["context"]["request_id"]
                .as_str()
                .unwrap()
                .starts_with("mcp-")
        );
        // Other content, other digest.
        let q = prepare(
            &config,
            "write_file",
            &args(json!({"path": "/srv/b", "content": "B", "mode": 0.5})),
            mapping,
        )
        .unwrap();
        assert_ne!(
            q.requests[0]["context"]["call_digest"],
            request["context"]["call_digest"]
        );
    }

    #[test]
    fn one_call_can_yield_several_requests() {
        let config = config();
        let p = prepare(
            &config,
            "move_file",
            &args(json!({"source": "/a/x", "destination": "/b/../c/y"})),
            config.tools.get("move_file"),
        )
        .unwrap();
        let ids: Vec<&Value> = p.requests.iter().map(|r| &r["resource"]["id"]).collect();
        assert_eq!(ids, [&json!("/a/x"), &json!("/c/y")]);
        assert_ne!(
            p.requests[0]["context"]["request_id"],
            p.requests[1]["context"]["request_id"]
        );
    }

    #[test]
    fn an_unmapped_tool_is_an_action_on_a_tool_and_bad_arguments_deny() {
        let config = config();
        let p = prepare(&config, "get-sum", &args(json!({"a": 1.5})), None).unwrap();
        assert_eq!(
            p.requests[0]["action"],
            json!({"type": "Action", "id": "get-sum"})
        );
        assert_eq!(
            p.requests[0]["resource"],
            json!({"type": "Tool", "id": "get-sum"})
        );
        let mapping = config.tools.get("write_file");
        for bad in [
            json!({"content": "x"}),
            json!({"path": "rel/x"}),
            json!({"path": 3}),
        ] {
            assert!(
                prepare(&config, "write_file", &args(bad.clone()), mapping).is_err(),
                "{bad}"
            );
        }
    }
}
