//! A tool call as an agent made it, and the digest that binds an approval to its exact content.
//!
//! A gateway that turns a tool call into Cedar requests maps only some arguments into the
//! context; the rest (a file's new content, say) would otherwise change freely under an approval
//! given for other content. Every request of a call therefore carries `context.call_digest`: the
//! SHA-256 of the canonical JSON of `{"server", "tool", "arguments"}`, all arguments included,
//! fractional numbers and nulls too. `tollgate serve` checks that the call it is shown hashes to
//! that digest, so what an approver reads is what the approval binds.

use serde_json::{Map, Value, json};

use crate::canonical::{Sha256Digest, to_canonical_json_lossless};

/// One tool call: which server, which tool, with which arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The name the gateway's configuration gives the MCP server.
    pub server: String,
    /// The tool's name, as the client sent it.
    pub tool: String,
    /// The arguments as they are forwarded to the server.
    pub arguments: Map<String, Value>,
}

/// A `call` object that is not `{"server": string, "tool": string, "arguments": object}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`call`: {0}")]
pub struct BadToolCall(String);

impl ToolCall {
    /// `sha256:` over the canonical JSON of the call (RFC 8785; integers exact).
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of_bytes(to_canonical_json_lossless(&self.to_json()).as_bytes())
    }

    /// `{"server", "tool", "arguments"}`: the form digested and shown to approvers.
    pub fn to_json(&self) -> Value {
        json!({
            "server": self.server,
            "tool": self.tool,
            "arguments": Value::Object(self.arguments.clone()),
        })
    }

    /// Reads the form [`ToolCall::to_json`] writes; any other field is refused.
    pub fn from_json(value: &Value) -> Result<Self, BadToolCall> {
        let Value::Object(map) = value else {
            return Err(BadToolCall("expected an object".into()));
        };
        if let Some(k) = map
            .keys()
            .find(|k| !matches!(k.as_str(), "server" | "tool" | "arguments"))
        {
            return Err(BadToolCall(format!(
                "unknown field `{k}` (expected server, tool, arguments)"
            )));
        }
        let text = |name: &str| match map.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(BadToolCall(format!("`{name}` must be a string"))),
        };
        let arguments = match map.get("arguments") {
            Some(Value::Object(a)) => a.clone(),
            _ => return Err(BadToolCall("`arguments` must be an object".into())),
        };
        Ok(Self {
            server: text("server")?,
            tool: text("tool")?,
            arguments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(arguments: Value) -> ToolCall {
        let Value::Object(arguments) = arguments else {
            unreachable!("an object literal")
        };
        ToolCall {
            server: "files".into(),
            tool: "write_file".into(),
            arguments,
        }
    }

    #[test]
    fn the_digest_covers_every_argument_and_ignores_key_order() {
        let a = call(json!({"path": "/tmp/x", "content": "A"}));
        let b = call(json!({"content": "A", "path": "/tmp/x"}));
        let c = call(json!({"path": "/tmp/x", "content": "B"}));
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        // Values Cedar cannot hold are still bound.
        assert_ne!(
            call(json!({"x": 0.5})).digest(),
            call(json!({"x": 0.25})).digest()
        );
        assert_ne!(call(json!({"x": null})).digest(), call(json!({})).digest());
    }

    #[test]
    fn the_digest_is_over_the_documented_form() {
        let a = call(json!({"path": "/tmp/x", "n": 1.5}));
        let text =
            r#"{"arguments":{"n":1.5,"path":"/tmp/x"},"server":"files","tool":"write_file"}"#;
        assert_eq!(a.digest(), Sha256Digest::of_bytes(text.as_bytes()));
    }

    #[test]
    fn from_json_round_trips_and_refuses_other_shapes() {
        let a = call(json!({"path": "/tmp/x"}));
        assert_eq!(ToolCall::from_json(&a.to_json()), Ok(a));
        for bad in [
            json!([]),
            json!({"server": "s", "tool": "t"}),
            json!({"server": "s", "tool": 1, "arguments": {}}),
            json!({"server": "s", "tool": "t", "arguments": {}, "extra": 1}),
        ] {
            assert!(ToolCall::from_json(&bad).is_err(), "{bad}");
        }
    }
}
