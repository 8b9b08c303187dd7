//! `tollgate mcp`: a stdio MCP proxy that puts `tollgate serve` in front of a real MCP server.
//!
//! The MCP client starts the gateway instead of the server; the gateway starts the server and
//! relays JSON-RPC both ways. Every `tools/call` (and `resources/read`, unless relayed) becomes
//! Cedar requests that serve decides: `auto` is forwarded, `deny` is answered with the reasons,
//! `single` and `dual` wait for approvers and are forwarded once, after the approval is consumed.
//! The gateway decides nothing itself.
//!
//! - `config`: the YAML configuration, checked whole at start-up.
//! - `template`, `normalize`, `mapping`: a call → its requests, bound to the call's digest.
//! - `frame`: JSON-RPC frames; `proxy`: the relay and the gate; `serve`: the client of serve.
//! - `pins`: tool definitions pinned at first sight.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod config;
pub mod frame;
pub mod mapping;
pub mod normalize;
pub mod pins;
pub mod proxy;
pub mod serve;
pub mod template;

pub use config::{Config, ConfigError};
pub use proxy::{Ended, Log, McpError, run};
