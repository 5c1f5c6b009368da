//! The SQLite adapter: one file, one process. WAL journal so readers never wait for the writer.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use super::StoreError;
use crate::status::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite has one writer at a time. Write transactions queue here, in order, instead of
    /// meeting at the file lock, where a waiting connection backs off by sleeping.
    writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    pub async fn connect(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let filename = options.get_filename().to_path_buf();
        if let Some(dir) = filename.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(StoreError::Unavailable)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migration)?;
        Ok(Self {
            pool,
            writer: Arc::default(),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// One process does all the work on SQLite: there is no one else to hear from.
    async fn listen_for_work(
        &self,
        _wake: Arc<tokio::sync::Notify>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(None)
    }

    /// Held for the length of a write transaction.
    async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.writer.lock().await)
    }
}

impl_store!(
    SqliteStore,
    backend: Backend::Sqlite,
    begin: "BEGIN IMMEDIATE",
    for_update: "",
    status_sql: "select (select coalesce(max(version), 0) from _sqlx_migrations where success)
                    as schema_version,
                installed_at,
                strftime('%Y-%m-%dT%H:%M:%fZ', 'now') as checked_at
           from installation",
);

impl_instance_store!(
    SqliteStore,
    begin: "BEGIN IMMEDIATE",
    for_update: "",
    skip_locked: "",
    announce: "",
);

impl_people_store!(
    SqliteStore,
    begin: "BEGIN IMMEDIATE",
    for_update: "",
);

impl_tenant_store!(SqliteStore, begin: "BEGIN IMMEDIATE");

impl_wait_store!(SqliteStore, begin: "BEGIN IMMEDIATE", skip_locked: "");

impl_trigger_store!(SqliteStore, begin: "BEGIN IMMEDIATE");

impl_entity_store!(SqliteStore, begin: "BEGIN IMMEDIATE");

impl_hook_store!(SqliteStore, begin: "BEGIN IMMEDIATE");

impl_group_store!(SqliteStore);

impl_throttle_store!(SqliteStore, begin: "BEGIN IMMEDIATE");

impl_worker_store!(SqliteStore, begin: "BEGIN IMMEDIATE", skip_locked: "", for_update: "");

impl_package_store!(SqliteStore, begin: "BEGIN IMMEDIATE", for_update: "");

impl_action_store!(SqliteStore, begin: "BEGIN IMMEDIATE", for_update: "");
