//! Start-up and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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

    /// Serves until `shutdown` completes, then finishes the requests in flight (for at most
    /// [`SHUTDOWN_GRACE`]).
    ///
    /// Each connection must send its request headers within [`HEADER_READ_TIMEOUT`], and at most
    /// [`MAX_CONNECTIONS`] are served at once (beyond that a new connection is closed at once),
    /// so that slow or idle clients cannot hold the server.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let router = router(self.app);
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let graceful = GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = &mut shutdown => break,
            };
            let stream = match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                tracing::warn!("{MAX_CONNECTIONS} connections open: a new one is closed");
                continue;
            };
            // Answers are small: send them at once rather than wait to fill a segment.
            let _ = stream.set_nodelay(true);
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(router.clone()),
                );
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("connection: {e}");
                }
                drop(slot);
            });
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after {SHUTDOWN_GRACE:?}: stopping anyway");
        }
        Ok(())
    }
}

/// How long a connection may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long shutdown waits for requests in flight (long-polls included).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A runtime for the server: worker threads with the stack the input limits need (Cedar and
/// serde recurse once per level of nesting).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tollgate-worker")
        .thread_stack_size(tollgate_engine::limits::Limits::current().stack_bytes())
        .build()
}
