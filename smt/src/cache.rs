//! Proofs and counterexamples kept between runs, under the user's cache folder.
//!
//! Never in the repository: a pull request must not be able to commit a forged proof. A key
//! is the sha256 of everything the query depends on (the check, the request environment, the
//! policies and schema it reads, the cvc5 version and the tollgate version), so an entry can
//! only answer the very query that produced it. Unknown answers are never stored, and every
//! counterexample read back is decided again by the engine before it is reported.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::SmtError;
use crate::counterexample::Counterexample;

/// What a query answered, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "kebab-case")]
pub(crate) enum Cached {
    /// The property holds for every request of the environment.
    Holds,
    /// A request where it does not.
    Fails {
        /// That request.
        counterexample: Counterexample,
    },
}

/// A folder of cached answers.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache in `dir`, created if missing.
    pub fn at(dir: impl Into<PathBuf>) -> Result<Self, SmtError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| SmtError::Cache {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        Ok(Self { dir })
    }

    /// `$XDG_CACHE_HOME/tollgate/smt`, or `~/.cache/tollgate/smt`.
    pub fn default_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| Path::new(&h).join(".cache"))
            })?;
        Some(base.join("tollgate").join("smt"))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn get(&self, key: &QueryKey) -> Option<Cached> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Stores an answer; a cache that cannot be written only costs time later.
    pub(crate) fn put(&self, key: &QueryKey, answer: &Cached) {
        let Ok(text) = serde_json::to_string(answer) else {
            return;
        };
        let path = self.path(key);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, text).is_ok() && std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    fn path(&self, key: &QueryKey) -> PathBuf {
        self.dir.join(format!("{}.json", key.hex()))
    }
}

/// The identity of one query: sha256 over its length-prefixed parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct QueryKey([u8; 32]);

impl QueryKey {
    pub(crate) fn new<'a>(parts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"tollgate-smt-query/1\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        Self(hasher.finalize().into())
    }

    fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}
