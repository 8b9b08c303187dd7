//! What the server decides with: the pack, its entities, the keyring and the tokens, loaded
//! together so that a reload swaps all of them at once or none.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::sync::LazyLock;

use serde_json::Value;
use tollgate_engine::keys::{KeyFile, Keyring, PrivateKey};
use tollgate_engine::{
    EntityRef, Pack, PreparedEntities, ProposedAction, Timestamp, ValidationCache,
};

use crate::config::Config;
use crate::tokens::Tokens;

/// Policies found valid by an earlier load in this process, so that a reload re-validates only
/// the policies that changed (all of them when the schema changed). The cache is exact, so
/// servers sharing a process (tests) share it without changing any result.
static VALIDATION: LazyLock<ValidationCache> = LazyLock::new(ValidationCache::new);

/// One consistent snapshot of the server's inputs.
pub struct Loaded {
    /// The policy pack (with its schema).
    pub pack: Pack,
    /// The server's entities as given, to merge a gateway's additions into.
    pub entities_json: Vec<Value>,
    /// The same, prepared once for the pack.
    pub entities: PreparedEntities,
    /// Every entity's uid, as `Type::"id"`.
    pub entity_uids: HashSet<String>,
    /// Approvers' public keys.
    pub keyring: Keyring,
    /// Bearer tokens; `None` when the server runs without `--tokens` (loopback only).
    pub tokens: Option<Tokens>,
}

/// A file that could not be loaded, named with the flag that gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {path}: {message}")]
pub struct LoadProblem {
    /// The flag, e.g. `--entities`.
    pub flag: &'static str,
    /// The path as given.
    pub path: String,
    /// What is wrong, with the line where the reader knows it.
    pub message: String,
}

fn problem(flag: &'static str, path: &Path, message: impl ToString) -> LoadProblem {
    LoadProblem {
        flag,
        path: path.display().to_string(),
        message: message.to_string(),
    }
}

impl Loaded {
    /// Reads every input named by `config`.
    pub fn load(config: &Config) -> Result<Loaded, LoadProblem> {
        let source = tollgate_engine::fs::read_pack(&config.policies, Some(&config.schema))
            .map_err(|e| problem("--policies", &config.policies, e))?;
        let pack = Pack::load_cached(source, &VALIDATION).map_err(|e| {
            let detail = e
                .problems()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            problem("--policies", &config.policies, format!("{e}: {detail}"))
        })?;
        if pack.schema().is_none() {
            return Err(problem("--schema", &config.schema, "no schema was read"));
        }
        let entities_json = match &config.entities {
            None => Vec::new(),
            Some(path) => {
                let text = tollgate_engine::fs::read_text(path)
                    .map_err(|e| problem("--entities", path, e))?;
                match tollgate_engine::json::parse(&text)
                    .map_err(|e| problem("--entities", path, e))?
                {
                    Value::Array(items) => items,
                    _ => {
                        return Err(problem(
                            "--entities",
                            path,
                            "expected a JSON array of entities",
                        ));
                    }
                }
            }
        };
        let entities = pack
            .entities_from_json(&Value::Array(entities_json.clone()))
            .map_err(|e| {
                problem(
                    "--entities",
                    config.entities.as_deref().unwrap_or(Path::new("-")),
                    e,
                )
            })?;
        let mut entity_uids = HashSet::new();
        for item in &entities_json {
            if let Some(uid) = entity_uid(item) {
                entity_uids.insert(uid.to_string());
            }
        }
        let keyring = match &config.keyring {
            None => Keyring::default(),
            Some(path) => {
                let text = tollgate_engine::fs::read_text(path)
                    .map_err(|e| problem("--keyring", path, e))?;
                Keyring::parse(&text).map_err(|e| problem("--keyring", path, e))?
            }
        };
        let tokens = match &config.tokens {
            None => None,
            Some(path) => {
                let text = tollgate_engine::fs::read_text(path)
                    .map_err(|e| problem("--tokens", path, e))?;
                Some(Tokens::parse(&text).map_err(|e| problem("--tokens", path, e))?)
            }
        };
        Ok(Loaded {
            pack,
            entities_json,
            entities,
            entity_uids,
            keyring,
            tokens,
        })
    }

    /// Whether `entity` is one of the server's entities.
    pub fn knows(&self, entity: &EntityRef) -> bool {
        self.entity_uids.contains(&entity.to_string())
    }

    /// The server's entities plus a gateway's additions for one request (already checked by
    /// [`crate::facts::check_additions`]).
    pub fn entities_with(&self, extra: &[Value]) -> Result<Cow<'_, PreparedEntities>, String> {
        if extra.is_empty() {
            return Ok(Cow::Borrowed(&self.entities));
        }
        let mut all = self.entities_json.clone();
        all.extend(extra.iter().cloned());
        self.pack
            .entities_from_json(&Value::Array(all))
            .map(Cow::Owned)
            .map_err(|e| e.to_string())
    }

    /// Whether `request` can be decided here at all (the principal must be known).
    pub fn check_principal(&self, request: &ProposedAction) -> Result<(), String> {
        if self.knows(&request.principal) {
            Ok(())
        } else {
            Err(format!(
                "principal {} is not in the server's entities: facts about who acts come from the server",
                request.principal
            ))
        }
    }
}

/// The uid of one entity in Cedar's JSON entity format, when it has a readable one.
pub fn entity_uid(item: &Value) -> Option<EntityRef> {
    EntityRef::from_json(item.get("uid")?, "uid").ok()
}

/// Reads the audit key file.
pub fn read_audit_key(path: &Path) -> Result<PrivateKey, LoadProblem> {
    let text = tollgate_engine::fs::read_text(path).map_err(|e| problem("--audit-key", path, e))?;
    KeyFile::parse(&text)
        .map(|k| k.key)
        .map_err(|e| problem("--audit-key", path, e))
}

/// The system clock, as tollgate's evaluation time. A clock outside the years a timestamp can
/// hold is an error (the request fails), never a default time.
pub fn now() -> Result<Timestamp, String> {
    Timestamp::from_offset_date_time(time::OffsetDateTime::now_utc())
        .map_err(|e| format!("system clock: {e}"))
}

/// Milliseconds since the Unix epoch, as the database stores times.
pub fn millis(at: Timestamp) -> i64 {
    let nanos = at.as_offset_date_time().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// The timestamp `ms` milliseconds after the epoch, for display.
pub fn from_millis(ms: i64) -> Option<Timestamp> {
    Timestamp::from_unix_nanos(i128::from(ms) * 1_000_000).ok()
}
