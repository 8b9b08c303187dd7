//! What every part of the running server shares: the loaded inputs (swapped whole on reload),
//! the database, the audit key, change notifications, the webhook and the metrics.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::broadcast;
use tollgate_engine::keys::PrivateKey;

use crate::metrics::Metrics;
use crate::state::Loaded;
use crate::store::Store;
use crate::webhook::Webhook;

/// Shared state.
pub struct Shared {
    loaded: RwLock<Arc<Loaded>>,
    /// The database.
    pub store: Store,
    /// Signs every audit record and the published head.
    pub audit_key: Option<PrivateKey>,
    /// Ids of approval requests that changed (here or, with PostgreSQL, on any replica).
    pub changes: broadcast::Sender<String>,
    /// CloudEvents about approval requests, when `--webhook` is given.
    pub webhook: Option<Webhook>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// How long an approval request waits for humans.
    pub pending_ttl: Duration,
}

impl Shared {
    /// Builds the shared state around the first load.
    pub fn new(
        loaded: Loaded,
        store: Store,
        audit_key: Option<PrivateKey>,
        webhook: Option<Webhook>,
        pending_ttl: Duration,
    ) -> Self {
        let (changes, _) = broadcast::channel(1024);
        Shared {
            loaded: RwLock::new(Arc::new(loaded)),
            store,
            audit_key,
            changes,
            webhook,
            metrics: Metrics::default(),
            pending_ttl,
        }
    }

    /// The current snapshot of the inputs.
    pub fn loaded(&self) -> Arc<Loaded> {
        match self.loaded.read() {
            Ok(guard) => Arc::clone(&guard),
            // A writer panicked mid-swap: the value inside is still a whole snapshot.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a new snapshot (after a successful reload).
    pub fn replace(&self, loaded: Loaded) {
        let new = Arc::new(loaded);
        match self.loaded.write() {
            Ok(mut guard) => *guard = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Tells long-polls here that `id` changed.
    pub fn changed(&self, id: &str) {
        // No receiver is not an error: nobody is waiting.
        let _ = self.changes.send(id.to_string());
    }
}
