//! The PostgreSQL adapter: several server processes may share one database.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::StoreError;
use crate::status::Backend;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
        Ok(Self { pool })
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
);
