//! Durable state. One [`Store`] trait, one adapter per database (SQLite, PostgreSQL), one
//! conformance suite (`engine/tests/store`) run against both. Row types stay inside the adapters;
//! the trait speaks the engine's domain types only.

mod postgres;
mod rows;
mod sqlite;
mod url;

use std::sync::Arc;

use async_trait::async_trait;

pub use self::url::{redact, DatabaseUrl, DatabaseUrlError};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::status::{Backend, SystemStatus};

/// Errors from the store. Their `Display` never carries SQL text or connection secrets, so a
/// layer above may show it; the underlying driver error is kept as the source for logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database could not be reached")]
    Unavailable(#[source] sqlx::Error),
    #[error("the database schema could not be brought up to date")]
    Migration(#[source] sqlx::migrate::MigrateError),
    #[error("the database returned an unexpected answer")]
    Query(#[source] sqlx::Error),
}

impl StoreError {
    /// Classifies a driver error: connection-level failures are "unavailable", the rest are
    /// query failures.
    pub(crate) fn from_sqlx(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err),
            other => StoreError::Query(other),
        }
    }
}

/// Everything the engine keeps durably goes through this trait.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;

    /// Answers when the database does: the health check.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The installation's schema version and first-start time, as the database records them.
    async fn system_status(&self) -> Result<SystemStatus, StoreError>;

    /// Closes every pooled connection; waits for those in use to be returned.
    async fn close(&self);
}

/// Connects to the database named by `url`, creating a SQLite file (and its folder) if missing,
/// and applies the migrations for that backend.
pub async fn connect(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> = match url {
        DatabaseUrl::Sqlite(options) => Arc::new(SqliteStore::connect(options.clone()).await?),
        DatabaseUrl::Postgres(options) => Arc::new(PostgresStore::connect(options.clone()).await?),
    };
    Ok(store)
}
