//! Test support shared by the engine's and the server's test suites: a fresh database per test,
//! on SQLite (a file in a temporary folder) or on the PostgreSQL server named by
//! `BATON_TEST_POSTGRES_URL` (`make test` starts one; see `scripts/test-postgres`).

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// A database that lives as long as this value (the SQLite folder is removed on drop; PostgreSQL
/// test databases are dropped by the next `scripts/test-postgres`, so a failure can be inspected).
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder for a test database");
        let url = format!("sqlite://{}/baton.db", dir.path().display());
        Self {
            url,
            _dir: Some(dir),
        }
    }

    /// A new, empty PostgreSQL database; `None` (with a note on stderr) when no server is
    /// configured, unless `BATON_REQUIRE_POSTGRES` is set, as `make test` does: then it fails.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin) = std::env::var("BATON_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("BATON_REQUIRE_POSTGRES").is_none(),
                "BATON_REQUIRE_POSTGRES is set but BATON_TEST_POSTGRES_URL is not"
            );
            eprintln!(
                "note: BATON_TEST_POSTGRES_URL unset; PostgreSQL part skipped (make test runs it)"
            );
            return None;
        };
        let name = unique_name();
        let mut conn = PgConnectOptions::from_str(&admin)
            .expect("BATON_TEST_POSTGRES_URL is a PostgreSQL URL")
            .connect()
            .await
            .expect("connect to the test PostgreSQL server");
        sqlx::query(&format!("create database \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        Some(Self {
            url: with_database(&admin, &name),
            _dir: None,
        })
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "baton_t_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `postgres://u:p@h:5432/admin?x=y` with the database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let host = rest.split_once('/').map_or(rest, |(h, _)| h);
    match query {
        Some(q) => format!("{scheme}://{host}/{name}?{q}"),
        None => format!("{scheme}://{host}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://b:p@127.0.0.1:5432/baton_test", "x"),
            "postgres://b:p@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }
}
