//! Rows of the robots tables and their statements' column lists (see `sql_workers.rs`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use crate::store::rows::format_time;
use crate::store::{Deployment, Job, Queue, Robot, StoreError, TriggerPolicy};

/// A unique-constraint failure as a `Conflict` naming what is taken.
pub(crate) fn unique(err: sqlx::Error, what: &str) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(format!("the {what} is taken"))
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::NotFound("queue".into())
        }
        _ => StoreError::from_sqlx(err),
    }
}

pub(crate) const QUEUES: &str =
    "select q.id, q.name, q.description, q.tags, q.department_id, q.created_by, q.created_at,
        q.updated_at, (select count(*) from robots r where r.queue_id = q.id) as robot_count
   from queues q";

#[derive(sqlx::FromRow)]
pub(crate) struct QueueRow {
    id: String,
    name: String,
    description: String,
    tags: String,
    department_id: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    robot_count: i64,
}

impl From<QueueRow> for Queue {
    fn from(r: QueueRow) -> Self {
        Queue {
            id: r.id,
            name: r.name,
            description: r.description,
            tags: serde_json::from_str(&r.tags).unwrap_or_default(),
            department_id: r.department_id,
            robot_count: r.robot_count,
            created_by: r.created_by,
            created_at: format_time(r.created_at),
            updated_at: format_time(r.updated_at),
        }
    }
}

pub(crate) const ROBOT_COLUMNS: &str =
    "id, name, description, queue_id, status, sdk_version, last_heartbeat_at, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct RobotRow {
    id: String,
    name: String,
    description: String,
    queue_id: Option<String>,
    status: String,
    sdk_version: String,
    last_heartbeat_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<RobotRow> for Robot {
    fn from(r: RobotRow) -> Self {
        Robot {
            id: r.id,
            name: r.name,
            description: r.description,
            queue_id: r.queue_id,
            status: r.status,
            sdk_version: r.sdk_version,
            last_heartbeat_at: r.last_heartbeat_at.map(format_time),
            created_at: format_time(r.created_at),
        }
    }
}

pub(crate) const DEPLOYMENT_COLUMNS: &str = "id, name, description, package_name, package_version,
        queue_id, arguments, priority, max_retries, trigger_policy, department_id, created_by,
        created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct DeploymentRow {
    id: String,
    name: String,
    description: String,
    package_name: String,
    package_version: String,
    queue_id: String,
    arguments: Json<Value>,
    priority: i32,
    max_retries: i32,
    trigger_policy: String,
    department_id: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;

    fn try_from(r: DeploymentRow) -> Result<Self, StoreError> {
        Ok(Deployment {
            trigger_policy: TriggerPolicy::parse(&r.trigger_policy).ok_or_else(|| {
                StoreError::Corrupt(format!("deployment {}: trigger policy", r.id))
            })?,
            id: r.id,
            name: r.name,
            description: r.description,
            package_name: r.package_name,
            package_version: r.package_version,
            queue_id: r.queue_id,
            arguments: r.arguments.0,
            priority: r.priority,
            max_retries: r.max_retries,
            department_id: r.department_id,
            created_by: r.created_by,
            created_at: format_time(r.created_at),
            updated_at: format_time(r.updated_at),
        })
    }
}

pub(crate) const JOB_COLUMNS: &str = "id, deployment_id, queue_id, instance_id, node_id,
        arguments, priority, max_retries, retried_count, state, robot_id, requeued, message,
        output, started_at, finished_at, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct JobRow {
    id: String,
    deployment_id: String,
    queue_id: String,
    instance_id: Option<i64>,
    node_id: Option<String>,
    arguments: Json<Value>,
    priority: i32,
    max_retries: i32,
    retried_count: i32,
    state: String,
    robot_id: Option<String>,
    requeued: i32,
    message: String,
    output: Option<Json<Value>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(r: JobRow) -> Result<Self, StoreError> {
        Ok(Job {
            id: r.id,
            deployment_id: r.deployment_id,
            queue_id: r.queue_id,
            instance_id: r.instance_id.map(|i| i.to_string()),
            node_id: r.node_id,
            arguments: r.arguments.0,
            priority: r.priority,
            max_retries: r.max_retries,
            retried_count: r.retried_count,
            state: r.state,
            robot_id: r.robot_id,
            requeued: r.requeued != 0,
            message: r.message,
            output: r.output.map(|o| o.0),
            started_at: r.started_at.map(format_time),
            finished_at: r.finished_at.map(format_time),
            created_at: format_time(r.created_at),
        })
    }
}
