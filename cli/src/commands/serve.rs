//! `tollgate serve`: the HTTP server of `tollgate-server`, on its multi-thread runtime, until
//! SIGTERM or Ctrl-C.

use miette::miette;
use tollgate_server::{Config, Server, WebhookConfig};

use crate::args::ServeArgs;
use crate::exit;
use crate::io::{no_schema_error, println, schema_path};

pub fn run(args: ServeArgs) -> miette::Result<u8> {
    let schema = schema_path(&args.pack).ok_or_else(no_schema_error)?;
    let webhook = match (args.webhook, args.webhook_secret) {
        (Some(url), Some(secret)) => Some(WebhookConfig { url: url.0, secret }),
        // clap requires each with the other.
        _ => None,
    };
    let config = Config {
        policies: args.pack.policies,
        schema,
        entities: args.entities,
        keyring: args.keyring,
        db: args.db.0,
        listen: args.listen,
        tokens: args.tokens,
        audit_key: args.audit_key,
        pending_ttl: args.pending_ttl.0,
        webhook,
    };
    // The server's runtime: its worker threads get the stack the `--limit` settings need.
    let runtime =
        tollgate_server::runtime().map_err(|e| miette!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async {
        let stop = shutdown_signal()?;
        let server = Server::start(config).await.map_err(|e| miette!("{e}"))?;
        // Tests and supervisors read this line to learn the address (port 0 picks one).
        println(&format!("listening on http://{}", server.local_addr()))?;
        server.run(stop).await.map_err(|e| miette!("{e}"))
    })?;
    Ok(exit::OK)
}

/// A future that completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM. The handlers are installed
/// before the server starts, so a signal sent as soon as it prints its address is not missed.
fn shutdown_signal() -> miette::Result<impl Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| miette!("cannot install the SIGTERM handler: {e}"))?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        let interrupt = async {
            // Without a Ctrl-C handler, wait for SIGTERM alone rather than stop at once.
            if ctrl_c.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        tokio::select! {
            () = interrupt => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        interrupt.await;
    })
}
