//! `DATABASE_URL` parsing: the one place that decides which backend a URL selects.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// A database URL that has been checked and understood.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("unsupported scheme `{0}`: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedScheme(String),
    #[error("not a URL: expected sqlite://PATH or postgres://USER@HOST/DB")]
    NotAUrl,
    #[error("{0}")]
    Invalid(String),
}

impl DatabaseUrl {
    /// The backend name, for logs and the health answer.
    pub fn backend(&self) -> crate::status::Backend {
        match self {
            DatabaseUrl::Sqlite(_) => crate::status::Backend::Sqlite,
            DatabaseUrl::Postgres(_) => crate::status::Backend::Postgres,
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = DatabaseUrlError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let raw = raw.trim();
        let (scheme, _) = raw.split_once(':').ok_or(DatabaseUrlError::NotAUrl)?;
        // Driver messages are kept short and never echo the URL back (it may hold a password).
        let invalid = |err: sqlx::Error| DatabaseUrlError::Invalid(first_line(&err.to_string()));
        match scheme {
            "sqlite" => Ok(DatabaseUrl::Sqlite(
                SqliteConnectOptions::from_str(raw).map_err(invalid)?,
            )),
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(
                PgConnectOptions::from_str(raw).map_err(invalid)?,
            )),
            other => Err(DatabaseUrlError::UnsupportedScheme(other.to_string())),
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The URL with any password replaced by `***`, safe to print.
pub fn redact(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return raw.to_string();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return raw.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
        None => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_and_postgres_urls_select_their_backend() {
        let sqlite: DatabaseUrl = "sqlite://data/baton.db".parse().expect("sqlite url");
        assert_eq!(sqlite.backend(), crate::status::Backend::Sqlite);
        let pg: DatabaseUrl = "postgres://baton:pw@127.0.0.1:5432/baton"
            .parse()
            .expect("postgres url");
        assert_eq!(pg.backend(), crate::status::Backend::Postgres);
        let pg2: DatabaseUrl = "postgresql://localhost/baton"
            .parse()
            .expect("postgresql url");
        assert_eq!(pg2.backend(), crate::status::Backend::Postgres);
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        assert_eq!(
            "mysql://localhost/db".parse::<DatabaseUrl>().err(),
            Some(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
        assert_eq!(
            "just-a-path".parse::<DatabaseUrl>().err(),
            Some(DatabaseUrlError::NotAUrl)
        );
    }

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://baton:secret@db:5432/baton"),
            "postgres://baton:***@db:5432/baton"
        );
        assert_eq!(redact("sqlite://data/baton.db"), "sqlite://data/baton.db");
        assert_eq!(
            redact("postgres://baton@db/baton"),
            "postgres://baton@db/baton"
        );
    }
}
