//! Row types shared by both adapters. They mirror the SQL result columns and are turned into
//! domain types here, so the domain types never derive `FromRow`.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::status::{Backend, SystemStatus};

#[derive(sqlx::FromRow)]
pub(crate) struct StatusRow {
    pub schema_version: i64,
    pub installed_at: DateTime<Utc>,
    pub checked_at: DateTime<Utc>,
}

impl StatusRow {
    pub fn into_status(self, backend: Backend) -> SystemStatus {
        SystemStatus {
            backend,
            schema_version: self.schema_version,
            installed_at: self
                .installed_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
            checked_at: self.checked_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}
