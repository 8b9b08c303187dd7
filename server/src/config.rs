//! What `tollgate serve` is started with: paths, the database and the listening address.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start. The pack, entities, keyring and tokens are read from
/// their paths at start-up and again on `POST /v1/admin/reload`.
#[derive(Debug, Clone)]
pub struct Config {
    /// The policy folder (`--policies`).
    pub policies: PathBuf,
    /// The schema file or folder (`--schema`); required, as for every command that decides.
    pub schema: PathBuf,
    /// The server's entities (`--entities`): the principal of every request must be one of them.
    pub entities: Option<PathBuf>,
    /// Approvers' public keys (`--keyring`); without it no approval counts.
    pub keyring: Option<PathBuf>,
    /// `sqlite://PATH` or `postgres://…` (`--db`).
    pub db: String,
    /// Where to listen (`--listen`); port 0 picks a free port ([`crate::Server::local_addr`]).
    pub listen: SocketAddr,
    /// Bearer tokens and their roles (`--tokens`); without it the server is loopback-only.
    pub tokens: Option<PathBuf>,
    /// The key that signs every audit record (`--audit-key`, a `tollgate keygen` file).
    pub audit_key: Option<PathBuf>,
    /// How long an approval request waits for humans before it expires (`--pending-ttl`).
    pub pending_ttl: Duration,
    /// Where CloudEvents about approval requests are posted (`--webhook`), and the HMAC secret
    /// file that signs them (`--webhook-secret`).
    pub webhook: Option<WebhookConfig>,
}

/// A webhook target.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The URL events are POSTed to.
    pub url: String,
    /// The file holding the HMAC-SHA256 secret.
    pub secret: PathBuf,
}

/// `--db` when none is given.
pub const DEFAULT_DB: &str = "sqlite://tollgate.db";
/// `--listen` when none is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// `--pending-ttl` when none is given: a day.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(24 * 60 * 60);
