//! `tollgate mcp`: the MCP gateway on stdio, until the client or the server ends the session.

use std::sync::Arc;

use miette::miette;
use tollgate_mcp::{Config, Ended};

use crate::args::McpArgs;
use crate::exit;
use crate::io::eprint;

pub fn run(args: McpArgs) -> miette::Result<u8> {
    let config = Config::load(&args.config).map_err(|e| miette!("{e}"))?;
    let mut command = args.command.into_iter();
    let program = command
        .next()
        .ok_or_else(|| miette!("name the MCP server to start after `--`"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette!("cannot start the async runtime: {e}"))?;
    let log: tollgate_mcp::Log = Arc::new(|line: &str| eprint(&format!("tollgate mcp: {line}\n")));
    let ended = runtime.block_on(tollgate_mcp::run(
        config,
        program,
        command.collect(),
        tokio::io::stdin(),
        tokio::io::stdout(),
        log,
    ));
    // The runtime may still hold tasks reporting outcomes; they get a moment, not forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match ended.map_err(|e| miette!("{e}"))? {
        Ended::ClientClosed(_) => Ok(exit::OK),
        Ended::ServerExited(code) => {
            let how = code.map_or("was killed".to_string(), |c| format!("exited with {c}"));
            eprint(&format!("tollgate mcp: the MCP server {how}\n"));
            Ok(exit::FAILED)
        }
    }
}
