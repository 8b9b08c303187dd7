//! The gateway's configuration: who the agent is, which `tollgate serve` decides, and how each
//! tool call becomes Cedar requests.
//!
//! Everything is checked when the file is read, so a typo stops the gateway at start-up with the
//! file and line, rather than turning into a silently unmapped tool at call time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tollgate_engine::EntityRef;

use crate::template::{EntityTemplate, TemplateError, ValueTemplate};

/// Context keys the gateway sets itself. `now` is serve's clock, `request_id` is generated per
/// call, `delegation` is never the agent's to claim; `server` and `call_digest` bind the call.
pub const RESERVED_CONTEXT: [&str; 5] =
    ["now", "request_id", "delegation", "server", "call_digest"];

/// The longest a call may be configured to wait for approvers.
pub const MAX_APPROVAL_WAIT: Duration = Duration::from_secs(3600);

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// YAML that does not parse or has the wrong shape (serde_norway names line and column).
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// What serde_norway said.
        message: String,
    },
    /// A field with a bad value.
    #[error("{path}: `{field}`: {message}")]
    Field {
        /// The file.
        path: String,
        /// The field, dotted (`tools.write_file.resource`).
        field: String,
        /// Why.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    agent: String,
    name: String,
    server: String,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    approval_wait: Option<String>,
    #[serde(default)]
    hide_denied: bool,
    #[serde(default)]
    pin_tools: bool,
    #[serde(default)]
    resources: Option<RawResources>,
    #[serde(default)]
    tools: BTreeMap<String, RawTool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawResources {
    Mode(String),
    Mapped(RawRequest),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    requests: Option<Vec<RawRequest>>,
    #[serde(default)]
    normalize: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    action: String,
    resource: String,
    #[serde(default)]
    context: Option<Value>,
}

/// How one argument is normalised before anything is decided or forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalize {
    /// A file path: `.` and `..` resolved lexically, duplicate and trailing slashes removed.
    Path,
}

/// One Cedar request a call yields.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    /// The action.
    pub action: EntityTemplate,
    /// The resource.
    pub resource: EntityTemplate,
    /// Context entries (the gateway adds `server`, `call_digest` and `request_id`).
    pub context: BTreeMap<String, ValueTemplate>,
}

/// How a tool's calls become requests.
#[derive(Debug, Clone)]
pub struct ToolMapping {
    /// One or more requests; the call takes the strictest tier among them.
    pub requests: Vec<RequestTemplate>,
    /// Arguments to normalise, by name.
    pub normalize: BTreeMap<String, Normalize>,
}

/// What happens to `resources/read`.
#[derive(Debug, Clone)]
pub enum Resources {
    /// Decided like a tool call, with these requests over `{uri}`.
    Decide(ToolMapping),
    /// Relayed without a decision.
    Relay,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The principal of every call.
    pub agent: EntityRef,
    /// The MCP server's name: `context.server` and the `server` of the call digest.
    pub name: String,
    /// The `tollgate serve` base URL.
    pub server: reqwest::Url,
    /// The gateway token's file, resolved against the configuration's folder.
    pub token_file: Option<PathBuf>,
    /// How long a call waits for approvers before answering that it is still pending.
    pub approval_wait: Duration,
    /// Leave tools no permit can reach out of `tools/list`.
    pub hide_denied: bool,
    /// Deny calls to a tool whose definition changed after it was first listed.
    pub pin_tools: bool,
    /// `resources/read`.
    pub resources: Resources,
    /// Mapped tools, by name.
    pub tools: BTreeMap<String, ToolMapping>,
}

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), base)
    }

    /// Parses configuration text; `base` resolves relative paths.
    pub fn parse(text: &str, path: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_norway::from_str(text).map_err(|e| ConfigError::Yaml {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let field = |field: &str, message: String| ConfigError::Field {
            path: path.to_string(),
            field: field.to_string(),
            message,
        };
        let agent = EntityRef::from_json(&Value::String(raw.agent.clone()), "agent")
            .map_err(|e| field("agent", e.to_string()))?;
        if raw.name.trim().is_empty() {
            return Err(field("name", "must name the MCP server".into()));
        }
        let server = reqwest::Url::parse(&raw.server)
            .map_err(|e| field("server", format!("`{}` is not a URL ({e})", raw.server)))?;
        if !matches!(server.scheme(), "http" | "https") || server.host_str().is_none() {
            return Err(field(
                "server",
                "expected an http:// or https:// URL".into(),
            ));
        }
        let approval_wait = match &raw.approval_wait {
            None => Duration::from_secs(45),
            Some(text) => humantime::parse_duration(text.trim())
                .map_err(|e| field("approval_wait", format!("`{text}`: {e}")))?,
        };
        if approval_wait > MAX_APPROVAL_WAIT {
            return Err(field("approval_wait", "at most 1h".into()));
        }
        let mut tools = BTreeMap::new();
        for (name, tool) in raw.tools {
            let at = format!("tools.{name}");
            let mapping = tool_mapping(&name, tool, &at).map_err(|(f, m)| field(&f, m))?;
            tools.insert(name, mapping);
        }
        let resources = match raw.resources {
            None => Resources::Decide(default_resources()),
            Some(RawResources::Mode(mode)) => match mode.as_str() {
                "relay" => Resources::Relay,
                "decide" => Resources::Decide(default_resources()),
                other => {
                    return Err(field(
                        "resources",
                        format!("`{other}`: expected `relay`, `decide` or a request mapping"),
                    ));
                }
            },
            Some(RawResources::Mapped(request)) => Resources::Decide(ToolMapping {
                requests: vec![
                    request_template(request, "resources").map_err(|(f, m)| field(&f, m))?,
                ],
                normalize: BTreeMap::new(),
            }),
        };
        Ok(Self {
            agent,
            name: raw.name,
            server,
            token_file: raw.token_file.map(|p| base.join(p)),
            approval_wait,
            hide_denied: raw.hide_denied,
            pin_tools: raw.pin_tools,
            resources,
            tools,
        })
    }
}

/// `resources/read` when the configuration says nothing: `Action::"read_resource"` on
/// `Resource::"<uri>"`, with the URI in `context.uri` too (Cedar matches patterns on strings,
/// not on entity ids).
fn default_resources() -> ToolMapping {
    ToolMapping {
        requests: vec![RequestTemplate {
            action: EntityTemplate::fixed("Action", "read_resource"),
            resource: EntityTemplate::argument("Resource", "uri"),
            context: BTreeMap::from([("uri".to_string(), ValueTemplate::Arg("uri".into()))]),
        }],
        normalize: BTreeMap::new(),
    }
}

type FieldError = (String, String);

fn tool_mapping(name: &str, tool: RawTool, at: &str) -> Result<ToolMapping, FieldError> {
    let single = tool.action.is_some() || tool.resource.is_some() || tool.context.is_some();
    let requests = match (tool.requests, single) {
        (Some(_), true) => {
            return Err((
                at.to_string(),
                "give either `action`/`resource`/`context` or `requests`, not both".into(),
            ));
        }
        (Some(list), false) => {
            if list.is_empty() {
                return Err((
                    format!("{at}.requests"),
                    "must list at least one request".into(),
                ));
            }
            list.into_iter()
                .enumerate()
                .map(|(i, r)| request_template(r, &format!("{at}.requests.{i}")))
                .collect::<Result<Vec<_>, _>>()?
        }
        (None, _) => {
            // Omitted, the action is `Action::"<tool>"` and the resource `Tool::"<tool>"`, as
            // for a tool the configuration does not name.
            let action = match tool.action {
                Some(text) => entity_template(&text, &format!("{at}.action"))?,
                None => EntityTemplate::fixed("Action", name),
            };
            let resource = match tool.resource {
                Some(text) => entity_template(&text, &format!("{at}.resource"))?,
                None => EntityTemplate::fixed("Tool", name),
            };
            vec![RequestTemplate {
                action,
                resource,
                context: context_templates(tool.context, at)?,
            }]
        }
    };
    let mut normalize = BTreeMap::new();
    for (arg, how) in tool.normalize {
        let how = match how.as_str() {
            "path" => Normalize::Path,
            other => {
                return Err((
                    format!("{at}.normalize.{arg}"),
                    format!("`{other}`: the only normalisation is `path`"),
                ));
            }
        };
        normalize.insert(arg, how);
    }
    Ok(ToolMapping {
        requests,
        normalize,
    })
}

fn request_template(raw: RawRequest, at: &str) -> Result<RequestTemplate, FieldError> {
    Ok(RequestTemplate {
        action: entity_template(&raw.action, &format!("{at}.action"))?,
        resource: entity_template(&raw.resource, &format!("{at}.resource"))?,
        context: context_templates(raw.context, at)?,
    })
}

fn entity_template(text: &str, at: &str) -> Result<EntityTemplate, FieldError> {
    EntityTemplate::parse(text).map_err(|e: TemplateError| (at.to_string(), e.to_string()))
}

fn context_templates(
    context: Option<Value>,
    at: &str,
) -> Result<BTreeMap<String, ValueTemplate>, FieldError> {
    let mut templates = BTreeMap::new();
    match context {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, value) in map {
                if RESERVED_CONTEXT.contains(&key.as_str()) {
                    return Err((
                        format!("{at}.context.{key}"),
                        "is set by the gateway, never by a template".into(),
                    ));
                }
                let template = ValueTemplate::parse(&value)
                    .map_err(|e| (format!("{at}.context.{key}"), e.to_string()))?;
                templates.insert(key, template);
            }
        }
        Some(_) => return Err((format!("{at}.context"), "must be a mapping".into())),
    }
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "mcp.yaml", Path::new("/etc/tollgate"))
    }

    const BASE: &str = "agent: 'Agent::\"coder\"'\nname: files\nserver: http://127.0.0.1:7878\n";

    #[test]
    fn reads_the_documented_example() {
        let config = parse(&format!(
            "{BASE}token_file: gateway.token\napproval_wait: 45s\ntools:\n  write_file:\n    action: 'Action::\"write_file\"'\n    resource: 'File::\"{{path}}\"'\n    context: {{path: '{{path}}'}}\n    normalize: {{path: path}}\n"
        ))
        .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(config.approval_wait, Duration::from_secs(45));
        assert_eq!(
            config.token_file.as_deref(),
            Some(Path::new("/etc/tollgate/gateway.token"))
        );
        let write = config.tools.get("write_file");
        assert!(write.is_some_and(
            |t| t.requests.len() == 1 && t.normalize.get("path") == Some(&Normalize::Path)
        ));
        assert!(matches!(config.resources, Resources::Decide(_)));
    }

    #[test]
    fn refuses_reserved_context_keys_unknown_fields_and_bad_values() {
        for (text, want) in [
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    resource: 'T::\"x\"'\n    context: {request_id: '{x}'}\n",
                "tools.t.context.request_id",
            ),
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    resource: 'T::\"x\"'\n    context: {now: 1}\n",
                "tools.t.context.now",
            ),
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    resource: 'T::\"x\"'\n    context: {delegation: 1}\n",
                "tools.t.context.delegation",
            ),
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    requests: []\n",
                "tools.t",
            ),
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    resource: 'T::\"x\"'\n    normalize: {p: lowercase}\n",
                "tools.t.normalize.p",
            ),
            (
                "tools:\n  t:\n    action: 'Action::\"t\"'\n    resource: 'nonsense'\n",
                "tools.t.resource",
            ),
            ("approval_wait: 2d\n", "approval_wait"),
            ("resources: sometimes\n", "resources"),
            ("tools:\n  t:\n    acton: 'Action::\"t\"'\n", "acton"),
        ] {
            let err = parse(&format!("{BASE}{text}"))
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn resources_can_be_relayed() {
        let config =
            parse(&format!("{BASE}resources: relay\n")).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(matches!(config.resources, Resources::Relay));
    }
}
