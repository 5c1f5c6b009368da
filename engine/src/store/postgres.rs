//! The PostgreSQL adapter: several server processes may share one database.

mod fast;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::StoreError;
use crate::status::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    starts: std::sync::Arc<Notifier>,
}

/// Tells the other processes that starts queued work, with one `pg_notify` for many starts.
///
/// PostgreSQL serialises the commits of transactions that notify (one lock, held from the
/// commit until it is on disk, so the queue of notifications keeps commit order): starts that
/// each notified committed one at a time and could never share a flush (W3 on PostgreSQL ran
/// about a quarter slower). A start commits without notifying, then `announce` asks for a
/// notification; one sent after a start's commit covers it, and starts that commit while one is
/// being sent get one more after it.
#[derive(Debug)]
struct Notifier {
    pool: PgPool,
    /// (a task is sending, another notification is wanted after the one being sent)
    state: std::sync::Mutex<(bool, bool)>,
}

impl Notifier {
    fn announce(self: &std::sync::Arc<Self>) {
        {
            let mut state = self.lock();
            if state.0 {
                state.1 = true;
                return;
            }
            *state = (true, false);
        }
        // Should the task end early (its runtime shutting down), the next start sends anew.
        let mut sending = Sending {
            notifier: self.clone(),
            done: false,
        };
        tokio::spawn(async move {
            loop {
                // A read-only statement: its commit writes nothing, so it waits for no disk.
                if let Err(err) = sqlx::query("select pg_notify('baton_work', '')")
                    .execute(&sending.notifier.pool)
                    .await
                {
                    // The other processes find the work at their next poll.
                    tracing::warn!(error = %err, "cannot notify other processes of new work");
                }
                let mut state = sending.notifier.lock();
                if !state.1 {
                    // Under the same lock as `announce` looks: no start is left unannounced.
                    state.0 = false;
                    drop(state);
                    sending.finished();
                    return;
                }
                state.1 = false;
            }
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, bool)> {
        // Two flags: nothing a panic elsewhere could leave half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending task's hold on the notifier: gives it back when the task ends early.
struct Sending {
    notifier: std::sync::Arc<Notifier>,
    done: bool,
}

impl Sending {
    fn finished(&mut self) {
        self.done = true;
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if !self.done {
            self.notifier.lock().0 = false;
        }
    }
}

impl PostgresStore {
    pub async fn connect(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StoreError::Unavailable)?;
        // Migrations take an advisory lock, so processes starting together apply them once.
        MIGRATOR.run(&pool).await.map_err(StoreError::Migration)?;
        let starts = std::sync::Arc::new(Notifier {
            pool: pool.clone(),
            state: std::sync::Mutex::new((false, false)),
        });
        Ok(Self { pool, starts })
    }

    /// Listens for `baton_work` notifications (sent when another process queues work) and
    /// wakes `wake` on each; after a lost connection it listens again (the poll covers the gap).
    async fn listen_for_work(
        &self,
        wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        listener
            .listen("baton_work")
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(err) => {
                        tracing::warn!(error = %err, "work notifications interrupted");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        })))
    }

    /// PostgreSQL runs write transactions side by side: nothing to wait for here.
    async fn write_guard(&self) -> Option<()> {
        None
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl_store!(
    PostgresStore,
    backend: Backend::Postgres,
    begin: "BEGIN",
    for_update: "for update",
    status_sql: "select (select coalesce(max(version), 0) from _sqlx_migrations where success)
                    as schema_version,
                installed_at,
                clock_timestamp() as checked_at
           from installation",
);

impl_instance_store!(
    PostgresStore,
    begin: "BEGIN",
    for_update: "for update",
    skip_locked: "for update skip locked",
    announce: "select pg_notify('baton_work', '')",
    claimed: "i.definition_key, i.version, i.status, i.context, i.step_rev, i.debug, i.mock",
);

impl_people_store!(
    PostgresStore,
    begin: "BEGIN",
    for_update: "for update",
);

impl_tenant_store!(PostgresStore, begin: "BEGIN");

impl_wait_store!(PostgresStore, begin: "BEGIN", skip_locked: "for update skip locked");

impl_trigger_store!(PostgresStore, begin: "BEGIN");

impl_entity_store!(PostgresStore, begin: "BEGIN");

impl_hook_store!(PostgresStore, begin: "BEGIN");

impl_group_store!(PostgresStore);

impl_throttle_store!(PostgresStore, begin: "BEGIN");

impl_worker_store!(PostgresStore, begin: "BEGIN", skip_locked: "for update skip locked", for_update: "for update");

impl_package_store!(PostgresStore, begin: "BEGIN", for_update: "for update");

impl_action_store!(PostgresStore, begin: "BEGIN", for_update: "for update");
