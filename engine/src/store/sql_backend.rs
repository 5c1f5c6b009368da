//! Names each adapter's sqlx driver, so code written once can speak of "this adapter's
//! transaction".

pub(crate) trait Backend {
    type Db: sqlx::Database;
}

impl Backend for super::SqliteStore {
    type Db = sqlx::Sqlite;
}

impl Backend for super::PostgresStore {
    type Db = sqlx::Postgres;
}
