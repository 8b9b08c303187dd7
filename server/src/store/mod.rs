//! The database: SQLite for one machine, PostgreSQL for replicas sharing one state. One schema
//! and one set of statements serve both (through sqlx's `Any` driver); where the two differ
//! (durability settings, row locks, notifications) [`Backend`] says which is which.

pub mod read;
pub mod writer;

use std::borrow::Cow;

use futures_util::future::BoxFuture;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

pub use read::{ApprovalRow, StoredRecord};

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file on one machine.
    Sqlite,
    /// Shared by several replicas.
    Postgres,
}

/// A database problem. The server answers 503 for these: a decision is never made without its
/// record being committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// `--db` is not a URL this server can use.
    #[error(
        "--db {0}: expected sqlite://PATH or postgres://USER@HOST/DB (postgresql:// works too)"
    )]
    Url(String),
    /// The database would acknowledge a commit before it is on disk.
    #[error("{0}")]
    Durability(String),
    /// A stored value this version cannot read.
    #[error("database holds an unreadable {0}")]
    Corrupt(String),
    /// The write queue is gone (the server is shutting down).
    #[error("the server is shutting down")]
    Closed,
}

/// The open database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url: String,
}

/// The migrations, compiled in: the database is brought up to date at start-up.
#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(vec![
                Migration::new(
                    1,
                    Cow::Borrowed("approvals"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../../migrations/0001_approvals.sql")),
                    false,
                ),
                Migration::new(
                    2,
                    Cow::Borrowed("single use"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../../migrations/0002_single_use.sql")),
                    false,
                ),
                Migration::new(
                    3,
                    Cow::Borrowed("call"),
                    MigrationType::Simple,
                    Cow::Borrowed(include_str!("../../migrations/0003_call.sql")),
                    false,
                ),
            ])
        })
    }
}

impl Store {
    /// Connects, sets and checks durability, and migrates.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (backend, url) = parse_url(url)?;
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    match backend {
                        Backend::Sqlite => {
                            // WAL lets readers run beside the one writer; FULL syncs the WAL
                            // on every commit, so an acknowledged write survives a power cut.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = FULL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                        }
                        Backend::Postgres => {
                            conn.execute("SET synchronous_commit = on").await?;
                        }
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await?;
        let store = Store { pool, backend, url };
        store.check_durability().await?;
        Migrator::new(Embedded).await?.run(&store.pool).await?;
        Ok(store)
    }

    /// Refuses a database that could lose an acknowledged commit.
    async fn check_durability(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let row = sqlx::query("PRAGMA synchronous")
                    .fetch_one(&self.pool)
                    .await?;
                let level: i64 = row.try_get(0)?;
                if level < 2 {
                    return Err(StoreError::Durability(format!(
                        "SQLite runs with synchronous={level}: an acknowledged decision could be lost; tollgate needs FULL (2) or EXTRA (3)"
                    )));
                }
                let row = sqlx::query("PRAGMA journal_mode")
                    .fetch_one(&self.pool)
                    .await?;
                let mode: String = row.try_get(0)?;
                if mode.eq_ignore_ascii_case("off") || mode.eq_ignore_ascii_case("memory") {
                    return Err(StoreError::Durability(format!(
                        "SQLite runs with journal_mode={mode}: a crash could corrupt the database"
                    )));
                }
            }
            Backend::Postgres => {
                for (setting, accepted) in [
                    (
                        "synchronous_commit",
                        &["on", "remote_apply", "remote_write", "local"][..],
                    ),
                    ("fsync", &["on"][..]),
                ] {
                    let row = sqlx::query(&format!("SHOW {setting}"))
                        .fetch_one(&self.pool)
                        .await?;
                    let value: String = row.try_get(0)?;
                    if !accepted.contains(&value.as_str()) {
                        return Err(StoreError::Durability(format!(
                            "PostgreSQL runs with {setting}={value}: an acknowledged decision could be lost; tollgate needs {}",
                            accepted.join(" or ")
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The URL connected to (for PostgreSQL's LISTEN connection).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Splits `--db` into its backend and the URL sqlx connects to. A SQLite file is created when
/// missing.
fn parse_url(url: &str) -> Result<(Backend, String), StoreError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        if rest.trim_start_matches('/').is_empty() {
            return Err(StoreError::Url(url.into()));
        }
        let url = if rest.contains("mode=") {
            url.to_string()
        } else if rest.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        if rest.contains(":memory:") || rest.contains("mode=memory") {
            return Err(StoreError::Durability(
                "an in-memory SQLite database loses every approval on restart: give a file".into(),
            ));
        }
        Ok((Backend::Sqlite, url))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok((Backend::Postgres, url.to_string()))
    } else {
        Err(StoreError::Url(url.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(
            parse_url("sqlite://t.db").unwrap(),
            (Backend::Sqlite, "sqlite://t.db?mode=rwc".into())
        );
        assert_eq!(parse_url("postgres://u@h/d").unwrap().0, Backend::Postgres);
        assert!(matches!(parse_url("mysql://x"), Err(StoreError::Url(_))));
        assert!(matches!(parse_url("sqlite://"), Err(StoreError::Url(_))));
        assert!(matches!(
            parse_url("sqlite::memory:"),
            Err(StoreError::Durability(_))
        ));
    }

    #[tokio::test]
    async fn sqlite_opens_durable_and_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url).await.unwrap();
        let row = sqlx::query("SELECT count FROM audit_head WHERE id = 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>(0).unwrap(), 0);
        drop(store);
        // Opening again finds the migrations applied.
        Store::open(&url).await.unwrap();
    }
}
