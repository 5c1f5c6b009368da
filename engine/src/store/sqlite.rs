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

    /// Records a started instance (see `insert_instance_in`) in its own transaction.
    async fn start_instance(
        &self,
        new: &super::NewInstance<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::rows::InstanceRow, StoreError> {
        let _write = self.write_guard().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from_sqlx)?;
        let row = Self::insert_instance_in(&mut tx, new, now).await?;
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(row)
    }

    /// Group commit on SQLite: the steps in one transaction, each in a savepoint of its own
    /// (a stale step or a lost lease undoes only that step). One commit writes the pages the
    /// steps share (the queue, the runs, the log) once instead of once per step.
    async fn complete_steps_in(
        &self,
        steps: Vec<super::Completion>,
    ) -> Vec<Result<super::StepOutcome, StoreError>> {
        if steps.len() > 1 {
            match self.record_together(&steps).await {
                Ok(outcomes) => return outcomes,
                Err(err) => {
                    tracing::debug!(error = %err, "group commit rolled back; recording one by one")
                }
            }
        }
        super::instances::complete_each(self, steps).await
    }

    async fn record_together(
        &self,
        steps: &[super::Completion],
    ) -> Result<Vec<Result<super::StepOutcome, StoreError>>, StoreError> {
        use sqlx::Acquire;
        let _write = self.write_guard().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut outcomes = Vec::with_capacity(steps.len());
        for step in steps {
            let mut savepoint = tx.begin().await.map_err(StoreError::from_sqlx)?;
            let outcome = Self::record_step_in(&mut savepoint, step).await;
            match outcome {
                Ok(_) => savepoint.commit().await,
                Err(_) => savepoint.rollback().await,
            }
            .map_err(StoreError::from_sqlx)?;
            outcomes.push(outcome);
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        Ok(outcomes)
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
    claimed: "(select definition_key from instances r where r.id = work_items.instance_id) as definition_key,
              (select version from instances r where r.id = work_items.instance_id) as version,
              (select status from instances r where r.id = work_items.instance_id) as status,
              (select context from instances r where r.id = work_items.instance_id) as context,
              (select step_rev from instances r where r.id = work_items.instance_id) as step_rev,
              (select debug from instances r where r.id = work_items.instance_id) as debug,
              (select mock from instances r where r.id = work_items.instance_id) as mock",
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
