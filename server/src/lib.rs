//! `tollgate serve`: decisions over HTTP, a pending-approval inbox held in SQLite or PostgreSQL,
//! and approvals consumed exactly once.
//!
//! ```no_run
//! # async fn run(config: tollgate_server::Config) -> Result<(), tollgate_server::ServeError> {
//! let server = tollgate_server::Server::start(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod config;
mod server;

pub use config::{Config, DEFAULT_DB, DEFAULT_LISTEN, DEFAULT_PENDING_TTL, WebhookConfig};
pub use server::{ServeError, Server};
