//! The store conformance suite: every check runs against SQLite and against PostgreSQL, through
//! the same `Store` trait, so both adapters keep the same behaviour.

use std::sync::Arc;

use engine::status::Backend;
use engine::store::{self, DatabaseUrl, Store};
use engine::testing::TestDatabase;

mod access;
mod compensation;
mod definitions;
mod entities;
mod group;
mod http;
mod joins;
mod loops;
mod operations;
mod outside;
mod packages;
mod runtime;
mod service;
mod sharing;
mod tasks;
mod waiting;
mod workers;

pub async fn open(db: &TestDatabase) -> Arc<dyn Store> {
    let url: DatabaseUrl = db.url.parse().expect("test database url");
    store::connect(&url).await.expect("connect and migrate")
}

/// Runs `check` on a fresh SQLite database and, when configured, a fresh PostgreSQL database.
#[macro_export]
macro_rules! conformance {
    ($name:ident, $check:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = engine::testing::TestDatabase::sqlite();
                super::$check(&db, engine::status::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = engine::testing::TestDatabase::postgres().await {
                    super::$check(&db, engine::status::Backend::Postgres).await;
                }
            }
        }
    };
}

conformance!(migrations_apply_and_status_reads_back, status_reads_back);
async fn status_reads_back(db: &TestDatabase, backend: Backend) {
    let store = open(db).await;
    assert_eq!(store.backend(), backend);
    store.ping().await.expect("ping");
    let status = store.system_status().await.expect("status");
    assert_eq!(status.backend, backend);
    assert!(status.schema_version >= 1, "{status:?}");
    assert!(status.installed_at.ends_with('Z'), "{status:?}");
    assert!(status.checked_at >= status.installed_at, "{status:?}");
    store.close().await;
}

conformance!(
    reopening_keeps_the_installation,
    reopening_keeps_installation
);
async fn reopening_keeps_installation(db: &TestDatabase, _backend: Backend) {
    let first = open(db).await;
    let installed = first.system_status().await.expect("status").installed_at;
    first.close().await;
    // A second start runs the migrations again: they must be a no-op, not a second install.
    let second = open(db).await;
    let status = second.system_status().await.expect("status");
    assert_eq!(status.installed_at, installed);
    second.close().await;
}

conformance!(
    a_closed_store_reports_unavailable,
    closed_store_is_unavailable
);
async fn closed_store_is_unavailable(db: &TestDatabase, _backend: Backend) {
    let store = open(db).await;
    store.close().await;
    let err = store.ping().await.expect_err("a closed pool cannot answer");
    assert!(matches!(err, store::StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_file() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("nested/deeper/baton.db");
    let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse().expect("url");
    let store = store::connect(&url).await.expect("connect");
    assert!(path.exists());
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_reported_as_unavailable() {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let url: DatabaseUrl = "postgres://baton:x@127.0.0.1:1/baton".parse().expect("url");
    let err = store::connect(&url)
        .await
        .err()
        .expect("no server on port 1");
    assert!(matches!(err, store::StoreError::Unavailable(_)), "{err:?}");
}
