//! Start-up and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::http::{App, router};
use crate::shared::Shared;
use crate::state::{LoadProblem, Loaded, read_audit_key};
use crate::store::writer::Writer;
use crate::store::{Store, StoreError};
use crate::webhook::Webhook;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// An input file could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadProblem),
    /// The database could not be opened, is not durable, or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting that cannot be honoured.
    #[error("{0}")]
    Config(String),
    /// The socket could not be bound or served.
    #[error("--listen {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started server: inputs loaded, database migrated and checked for durability, socket
/// bound. Nothing is served until [`Server::run`].
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    app: App,
}

impl Server {
    /// Loads everything, opens and migrates the database, checks its durability settings and
    /// binds the socket.
    pub async fn start(config: Config) -> Result<Server, ServeError> {
        let loaded = {
            let config = config.clone();
            tokio::task::spawn_blocking(move || Loaded::load(&config))
                .await
                .map_err(|e| ServeError::Config(format!("loading the pack: {e}")))??
        };
        if loaded.tokens.is_none() && !config.listen.ip().is_loopback() {
            return Err(ServeError::Config(format!(
                "--listen {}: without --tokens the server answers anyone who can reach it; it listens on loopback only (127.0.0.1 or ::1)",
                config.listen
            )));
        }
        let audit_key = config
            .audit_key
            .as_deref()
            .map(read_audit_key)
            .transpose()?;
        let store = Store::open(&config.db).await?;
        let failures = Arc::default();
        let webhook = match &config.webhook {
            None => None,
            Some(hook) => {
                let secret = tollgate_engine::fs::read_text(&hook.secret).map_err(|e| {
                    ServeError::Config(format!("--webhook-secret {}: {e}", hook.secret.display()))
                })?;
                let secret = secret.trim().as_bytes().to_vec();
                if secret.len() < 16 {
                    return Err(ServeError::Config(format!(
                        "--webhook-secret {}: the secret must be at least 16 bytes",
                        hook.secret.display()
                    )));
                }
                if !(hook.url.starts_with("https://") || hook.url.starts_with("http://")) {
                    return Err(ServeError::Config(format!(
                        "--webhook {}: expected an http(s) URL",
                        hook.url
                    )));
                }
                Some(Webhook::start(
                    hook.url.clone(),
                    secret,
                    Arc::clone(&failures),
                ))
            }
        };
        let mut shared = Shared::new(loaded, store, audit_key, webhook, config.pending_ttl);
        shared.metrics.webhook_failures = failures;
        let shared = Arc::new(shared);
        let writer = Writer::start(Arc::clone(&shared));
        crate::notify::start(Arc::clone(&shared));
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        Ok(Server {
            listener,
            addr,
            app: App {
                shared,
                writer,
                config: Arc::new(config),
            },
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let addr = self.addr;
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            // Answers are small: send them at once rather than wait to fill a segment.
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router(self.app))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServeError::Listen { addr, source })
    }
}

/// A runtime for the server: worker threads with the stack the input limits need (Cedar and
/// serde recurse once per level of nesting).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(tollgate_engine::limits::Limits::current().stack_bytes())
        .build()
}
