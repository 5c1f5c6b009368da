//! What the system reports about itself: the database backend in use and its schema state.
//! Shared with the browser, so it holds plain data only.

use serde::{Deserialize, Serialize};

/// The database family a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of the installation, read from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub backend: Backend,
    /// Version of the newest applied migration.
    pub schema_version: i64,
    /// When this database was first set up (RFC 3339, UTC).
    pub installed_at: String,
    /// When the database answered this query (RFC 3339, UTC), as the database itself sees it.
    pub checked_at: String,
}
