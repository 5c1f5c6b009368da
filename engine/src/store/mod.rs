//! Durable state. One [`Store`] trait, one adapter per database (SQLite, PostgreSQL), one
//! conformance suite (`engine/tests/store`) run against both. Row types stay inside the adapters;
//! the trait speaks the engine's domain types only.

#[macro_use]
mod sql;
#[macro_use]
mod sql_instance_helpers;
#[macro_use]
mod sql_steps;
#[macro_use]
mod sql_instances;
#[macro_use]
mod sql_people;
#[macro_use]
mod sql_tenants;
#[macro_use]
mod sql_throttle;
#[macro_use]
mod sql_actions;
#[macro_use]
mod sql_triggers;
#[macro_use]
mod sql_entities;
#[macro_use]
mod sql_groups;
#[macro_use]
mod sql_hooks;
#[macro_use]
mod sql_wait_helpers;
#[macro_use]
mod sql_waits;
#[macro_use]
mod sql_worker_helpers;
#[macro_use]
mod sql_workers;
#[macro_use]
mod sql_packages;
pub mod actions;
mod entities;
mod groups;
mod hooks;
mod instances;
mod packages;
mod people;
mod postgres;
mod rows;
mod sql_backend;
mod sqlite;
mod tenants;
mod throttle;
mod triggers;
mod url;
pub mod waits;
mod worker_rows;
mod workers;

use std::sync::Arc;

use async_trait::async_trait;

pub use self::url::{redact, DatabaseUrl, DatabaseUrlError};
pub use actions::{ActionRan, ActionStep, ActionStore, ACTIONS_NODE};
pub use entities::{EntityStore, PreviewSession};
pub use groups::{Group, GroupStore, NewGroup};
pub use hooks::{Hook, HookOutcome, HookStore, NewHook};
pub use instances::{
    Arrival, Completion, FinishedRun, InstanceChange, InstanceStore, IterationChange, IterationKey,
    IterationState, NewEvent, NewInstance, NewNodeRun, NextItem, NodeOperation, RunStart, Seen,
    StartCheck, StepOutcome, StepState, WorkItem, DEADLINE_NODE,
};
pub use packages::{
    default_arguments, version_order, NewPackageVersion, NewUpload, Package, PackageArgument,
    PackageChange, PackageStore, PackageUpload, PackageVersion,
};
pub use people::{NewToken, NewUser, PeopleStore, RefreshOutcome, TokenKind, UserChange};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use tenants::{Company, Department, NewCompany, NewDepartment, TenantStore};
pub use throttle::ThrottleStore;
pub use triggers::{TriggerRecord, TriggerStore};
pub use waits::{
    CallbackFinish, CallbackOutcome, InboxQuery, NewCallback, NewChild, NewTask, NewWait,
    TaskAnswer, WaitStore,
};
pub use workers::{
    Deployment, Job, JobFinish, JobQuery, NewDeployment, NewJob, NewQueue, NewRobot, Queue,
    QueueChange, Robot, TriggerPolicy, WorkerStore,
};

pub use crate::definition::DefinitionSummary;
use crate::definition::{DefinitionRecord, DefinitionStatus, VersionRecord};
use crate::id::Id;
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
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change contradicts the current state (archived, changed meanwhile, already exists).
    #[error("{0}")]
    Conflict(String),
    /// Stored data the engine cannot read back (written by a newer version, or edited by hand).
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
    /// The instance moved on since the state a step was computed from.
    #[error("the instance changed meanwhile")]
    Stale,
    /// The work item's lease passed to another worker.
    #[error("the work item is no longer leased to this worker")]
    LeaseLost,
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
            other
                if other
                    .as_database_error()
                    .is_some_and(|e| e.is_unique_violation()) =>
            {
                StoreError::Conflict("it already exists".into())
            }
            other => StoreError::Query(other),
        }
    }
}

/// Everything the engine keeps durably goes through this trait.
#[async_trait]
pub trait Store:
    InstanceStore
    + PeopleStore
    + TenantStore
    + WaitStore
    + TriggerStore
    + ActionStore
    + EntityStore
    + HookStore
    + GroupStore
    + ThrottleStore
    + WorkerStore
    + PackageStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Answers when the database does: the health check.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The installation's schema version and first-start time, as the database records them.
    async fn system_status(&self) -> Result<SystemStatus, StoreError>;

    /// Closes every pooled connection; waits for those in use to be returned.
    async fn close(&self);

    // Definitions ------------------------------------------------------------------------------

    /// Creates the key or replaces its draft. `Conflict` when the key is archived.
    async fn save_draft(&self, draft: NewDraft<'_>) -> Result<DefinitionRecord, StoreError>;

    async fn definition(&self, key: &str) -> Result<Option<DefinitionRecord>, StoreError>;

    async fn list_definitions(
        &self,
        query: &DefinitionQuery,
    ) -> Result<Page<DefinitionSummary>, StoreError>;

    /// Freezes the draft as the next version, if the draft is still the one saved at
    /// `draft_updated_at` (else `Conflict`: it changed since it was checked).
    async fn publish(&self, publish: NewVersion<'_>) -> Result<VersionRecord, StoreError>;

    /// Puts the definition in a department (`None`: no department). `NotFound` for an unknown
    /// key or department.
    async fn set_department(
        &self,
        key: &str,
        department: Option<&str>,
    ) -> Result<DefinitionRecord, StoreError>;

    /// One version, or the latest when `version` is `None`.
    async fn version(
        &self,
        key: &str,
        version: Option<i32>,
    ) -> Result<Option<VersionRecord>, StoreError>;

    /// Every published version of a key, newest first.
    async fn versions(&self, key: &str) -> Result<Vec<VersionRecord>, StoreError>;

    /// What a start needs to know of a key, in one read: whether it is archived, and the id
    /// and number of `version` (the latest when `None`) if published. `None` for no such key.
    async fn startable(
        &self,
        key: &str,
        version: Option<i32>,
    ) -> Result<Option<Startable>, StoreError>;

    /// Archives or restores a key. `NotFound` when there is no such key.
    async fn set_archived(&self, key: &str, archived: bool) -> Result<(), StoreError>;
}

/// See [`Store::startable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Startable {
    pub archived: bool,
    /// The version's id and number.
    pub version: Option<(Id, i32)>,
}

/// A draft to save.
#[derive(Debug, Clone, Copy)]
pub struct NewDraft<'a> {
    pub key: &'a str,
    pub name: &'a str,
    /// The draft's tags, for the list and its search.
    pub tags: &'a [String],
    pub document: &'a serde_json::Value,
    pub actor: &'a str,
}

/// A draft to freeze as the next version.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    pub id: Id,
    pub key: &'a str,
    /// The draft's `draft_updated_at` when it was checked.
    pub draft_updated_at: &'a str,
    /// The checked document; becomes the version's document.
    pub document: &'a serde_json::Value,
    pub actor: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct DefinitionQuery {
    /// Case-insensitive part of the key, the name or a tag.
    pub q: Option<String>,
    pub status: Option<DefinitionStatus>,
    /// Only definitions granted to one of these roles (`None`: all of them).
    pub visible_to: Option<Visibility>,
    pub limit: i64,
    pub offset: i64,
}

/// Which instances to list, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceQuery {
    pub status: Option<crate::instance::InstanceStatus>,
    pub definition_key: Option<String>,
    /// Who started them.
    pub operator: Option<String>,
    /// Started at or after this time.
    pub started_after: Option<chrono::DateTime<chrono::Utc>>,
    /// Started before this time.
    pub started_before: Option<chrono::DateTime<chrono::Utc>>,
    /// Only instances of definitions granted to one of these roles, or started by `viewer`
    /// (`None`: every instance, as an administrator sees them).
    pub visible_to: Option<Visibility>,
    pub limit: i64,
    pub offset: i64,
}

/// See [`InstanceQuery::visible_to`] and [`DefinitionQuery::visible_to`].
#[derive(Debug, Clone, PartialEq)]
pub struct Visibility {
    pub roles: Vec<String>,
    pub username: String,
    /// The departments whose definitions the viewer sees (see `service::scope`); definitions
    /// in no department are seen by all.
    pub departments: Vec<String>,
}

impl Visibility {
    /// The roles as one comma-separated parameter (`,designer,operator,`), matched with `like`
    /// so the same statement serves both databases.
    pub(crate) fn roles_param(&self) -> String {
        format!(",{},", self.roles.join(","))
    }

    /// The departments as one parameter, as [`Self::roles_param`].
    pub(crate) fn departments_param(&self) -> String {
        format!(",{},", self.departments.join(","))
    }
}

/// One page of a list, with the total across all pages.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// A unique index refused the row.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
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
