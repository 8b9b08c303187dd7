//! Start-up and shutdown.

use std::future::Future;
use std::net::SocketAddr;

use crate::config::Config;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A configuration problem, named with its flag and file.
    #[error("{0}")]
    Config(String),
}

/// A started server: pack loaded, database migrated and checked for durability, socket bound.
pub struct Server {
    addr: SocketAddr,
}

impl Server {
    /// Loads everything, opens and migrates the database, checks its durability settings and
    /// binds the socket. Nothing is served until [`Server::run`].
    pub async fn start(config: Config) -> Result<Server, ServeError> {
        Err(ServeError::Config(format!(
            "not yet implemented (would listen on {})",
            config.listen
        )))
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
        shutdown.await;
        Ok(())
    }
}
