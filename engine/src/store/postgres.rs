//! The PostgreSQL adapter: several server processes may share one database.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use super::rows::StatusRow;
use super::{Store, StoreError};
use crate::status::{Backend, SystemStatus};

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

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1")
            .execute(&self.pool)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    async fn system_status(&self) -> Result<SystemStatus, StoreError> {
        let row: StatusRow = sqlx::query_as(
            "select (select coalesce(max(version), 0) from _sqlx_migrations where success)
                        as schema_version,
                    installed_at,
                    clock_timestamp() as checked_at
               from installation",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(row.into_status(Backend::Postgres))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
