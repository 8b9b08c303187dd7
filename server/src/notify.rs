//! Change notifications across replicas: each write transaction that changes an approval
//! request sends `NOTIFY tollgate_approvals, '<id>'` (delivered on commit); every replica
//! listens and wakes its long-polls. With SQLite there is one server, and the writer wakes them
//! directly.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::shared::Shared;
use crate::store::Backend;

/// The notification channel.
pub const CHANNEL: &str = "tollgate_approvals";

/// Starts the listener (PostgreSQL only). It reconnects after a lost connection; while it is
/// down, long-polls still end at their timeout and then read the current state.
pub fn start(shared: Arc<Shared>) {
    if shared.store.backend() != Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        loop {
            if let Err(e) = listen(&shared).await {
                tracing::warn!("LISTEN {CHANNEL}: {e}; reconnecting");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

async fn listen(shared: &Shared) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect(shared.store.url()).await?;
    listener.listen(CHANNEL).await?;
    loop {
        let notification = listener.recv().await?;
        shared.changed(notification.payload());
    }
}
