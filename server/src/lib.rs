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
//!
//! - `http/`: the endpoints, the role each needs, errors as JSON.
//! - `store/`: the database (one schema for SQLite and PostgreSQL) and the group-commit writer.
//! - `approvals`: an approval request's state, recomputed from its records on every read.
//! - `state`: the pack, entities, keyring and tokens, swapped whole on reload.
//! - `tokens`, `facts`: who may call what, and whose facts count.
//! - `notify`, `webhook`: change notifications across replicas, CloudEvents out.
#![forbid(unsafe_code)]
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod approvals;
mod config;
mod facts;
mod http;
mod metrics;
mod notify;
mod server;
mod shared;
mod state;
mod store;
mod tokens;
mod webhook;

pub use config::{Config, DEFAULT_DB, DEFAULT_LISTEN, DEFAULT_PENDING_TTL, WebhookConfig};
pub use server::{ServeError, Server, runtime};
pub use tokens::token_hash;
pub use webhook::{SIGNATURE_HEADER, signature as webhook_signature};
