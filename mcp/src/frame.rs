//! JSON-RPC 2.0 frames as MCP's stdio transport carries them: one message per line.

use serde_json::{Map, Value, json};

/// JSON that does not parse.
pub const PARSE_ERROR: i64 = -32700;
/// Not a JSON-RPC request the gateway accepts (batches included).
pub const INVALID_REQUEST: i64 = -32600;
/// Parameters of the wrong shape.
pub const INVALID_PARAMS: i64 = -32602;
/// A `resources/read` that the policy does not let through (a tool call answers with a tool
/// result instead).
pub const NOT_ALLOWED: i64 = -32001;

/// What a client frame is.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A request: it has a method and an id.
    Request {
        /// Its id (a string or an integer).
        id: Value,
        /// Its method.
        method: String,
    },
    /// A notification: a method and no id.
    Notification {
        /// Its method.
        method: String,
    },
    /// A response to a request of the other side.
    Response {
        /// Its id.
        id: Value,
    },
}

/// Why a frame is refused: the JSON-RPC error to answer with, and the id to answer to.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// The id, or null when the frame has none the gateway can trust.
    pub id: Value,
    /// A JSON-RPC error code.
    pub code: i64,
    /// Why.
    pub message: String,
}

impl Refusal {
    /// The error response.
    pub fn to_frame(&self) -> Value {
        error(&self.id, self.code, &self.message, None)
    }
}

/// Classifies a parsed client frame, refusing batches and anything that is not JSON-RPC 2.0.
pub fn classify(value: &Value) -> Result<Frame, Refusal> {
    let refuse = |id: &Value, message: &str| Refusal {
        id: id.clone(),
        code: INVALID_REQUEST,
        message: message.to_string(),
    };
    let map = match value {
        Value::Object(map) => map,
        Value::Array(_) => {
            return Err(refuse(
                &Value::Null,
                "JSON-RPC batches are refused: send one message per line",
            ));
        }
        _ => return Err(refuse(&Value::Null, "a JSON-RPC message must be an object")),
    };
    let id = map.get("id");
    let id_ok = matches!(id, Some(Value::String(_)))
        || matches!(id, Some(Value::Number(n)) if n.is_i64() || n.is_u64());
    let shown_id = if id_ok {
        id.cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if map.get("jsonrpc") != Some(&json!("2.0")) {
        return Err(refuse(&shown_id, "`jsonrpc` must be \"2.0\""));
    }
    if id.is_some() && !id_ok {
        return Err(refuse(&Value::Null, "`id` must be a string or an integer"));
    }
    match (map.get("method"), id) {
        (Some(Value::String(method)), Some(id)) => Ok(Frame::Request {
            id: id.clone(),
            method: method.clone(),
        }),
        (Some(Value::String(method)), None) => Ok(Frame::Notification {
            method: method.clone(),
        }),
        (Some(_), _) => Err(refuse(&shown_id, "`method` must be a string")),
        (None, Some(id)) if map.contains_key("result") || map.contains_key("error") => {
            Ok(Frame::Response { id: id.clone() })
        }
        (None, _) => Err(refuse(
            &shown_id,
            "neither a request, a notification nor a response",
        )),
    }
}

/// A JSON-RPC error response.
pub fn error(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = Map::new();
    error.insert("code".into(), json!(code));
    error.insert("message".into(), json!(message));
    if let Some(data) = data {
        error.insert("data".into(), data);
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// A successful response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A tool result that tells the agent why its call did not run (`isError: true`), with the
/// gateway's view under `_meta`.
pub fn refused_tool_result(text: &str, meta: Value) -> Value {
    json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
        "_meta": {"dev.tollgate/gate": meta},
    })
}

/// `notifications/progress` for a request that asked for progress.
pub fn progress(token: &Value, progress: u64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": token, "progress": progress, "message": message},
    })
}

/// The key of an id in the gateway's tables: its JSON text (`"a"` and `1` stay distinct).
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_refuses() {
        assert_eq!(
            classify(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call"})),
            Ok(Frame::Request {
                id: json!(1),
                method: "tools/call".into()
            })
        );
        assert_eq!(
            classify(&json!({"jsonrpc": "2.0", "method": "notifications/cancelled"})),
            Ok(Frame::Notification {
                method: "notifications/cancelled".into()
            })
        );
        assert_eq!(
            classify(&json!({"jsonrpc": "2.0", "id": "s1", "result": {}})),
            Ok(Frame::Response { id: json!("s1") })
        );
        for (bad, id) in [
            (
                json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}]),
                Value::Null,
            ),
            (json!("x"), Value::Null),
            (json!({"id": 1, "method": "tools/call"}), json!(1)),
            (
                json!({"jsonrpc": "2.0", "id": 1.5, "method": "tools/call"}),
                Value::Null,
            ),
            (
                json!({"jsonrpc": "2.0", "id": null, "method": "tools/call"}),
                Value::Null,
            ),
            (json!({"jsonrpc": "2.0", "id": 2, "method": 7}), json!(2)),
            (json!({"jsonrpc": "2.0", "id": 3}), json!(3)),
        ] {
            let refusal = classify(&bad).unwrap_err();
            assert_eq!(refusal.id, id, "{bad}");
            assert_eq!(refusal.code, INVALID_REQUEST);
        }
    }
}
