//! Row types shared by both adapters. They mirror the SQL result columns and are turned into
//! domain types here, so the domain types never derive `FromRow`. Times are stored at
//! millisecond precision, so what is read back compares equal to what was written.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::{DefinitionSummary, StoreError};
use crate::definition::{DefinitionRecord, DefinitionStatus, VersionRecord};
use crate::id::Id;
use crate::status::{Backend, SystemStatus};

/// The current time, truncated to milliseconds.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

pub(crate) fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Conflict(format!("`{text}` is not an RFC 3339 time")))
}

/// `%` and `_` match themselves in a search.
pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Tags as the `tags` column keeps them: `,a,b,` (commas are not allowed inside a tag).
pub(crate) fn join_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(",{},", tags.join(","))
    }
}

pub(crate) fn status_name(status: DefinitionStatus) -> &'static str {
    match status {
        DefinitionStatus::Draft => "draft",
        DefinitionStatus::Published => "published",
        DefinitionStatus::Archived => "archived",
    }
}

fn derived_status(status: &str, latest_version: Option<i32>) -> DefinitionStatus {
    match (status, latest_version) {
        ("archived", _) => DefinitionStatus::Archived,
        (_, None) => DefinitionStatus::Draft,
        (_, Some(_)) => DefinitionStatus::Published,
    }
}

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
            installed_at: format_time(self.installed_at),
            checked_at: format_time(self.checked_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DefinitionRow {
    pub key: String,
    pub name: String,
    pub status: String,
    pub draft: Option<Json<Value>>,
    pub draft_updated_at: Option<DateTime<Utc>>,
    pub latest_version: Option<i32>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub department_id: Option<String>,
}

impl DefinitionRow {
    pub fn into_record(self) -> DefinitionRecord {
        DefinitionRecord {
            status: derived_status(&self.status, self.latest_version),
            key: self.key,
            name: self.name,
            draft: self.draft.map(|d| d.0),
            draft_updated_at: self.draft_updated_at.map(format_time),
            latest_version: self.latest_version,
            created_by: self.created_by,
            created_at: format_time(self.created_at),
            updated_at: format_time(self.updated_at),
            department_id: self.department_id,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    pub key: String,
    pub name: String,
    pub status: String,
    pub latest_version: Option<i32>,
    pub has_draft: bool,
    pub tags: String,
    pub updated_at: DateTime<Utc>,
}

impl SummaryRow {
    pub fn into_summary(self) -> DefinitionSummary {
        DefinitionSummary {
            status: derived_status(&self.status, self.latest_version),
            key: self.key,
            name: self.name,
            latest_version: self.latest_version,
            has_draft: self.has_draft,
            tags: self
                .tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            updated_at: format_time(self.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VersionRow {
    pub id: i64,
    pub key: String,
    pub version: i32,
    pub document: Json<Value>,
    pub published_by: String,
    pub published_at: DateTime<Utc>,
}

impl VersionRow {
    pub fn into_record(self) -> VersionRecord {
        VersionRecord {
            id: Id(self.id),
            key: self.key,
            version: self.version,
            document: self.document.0,
            published_by: self.published_by,
            published_at: format_time(self.published_at),
        }
    }
}

fn json_or_corrupt(value: Option<Json<Value>>) -> Option<Value> {
    value.map(|v| v.0)
}

#[derive(sqlx::FromRow)]
pub(crate) struct InstanceRow {
    pub id: i64,
    pub version_id: i64,
    pub definition_key: String,
    pub version: i32,
    pub status: String,
    pub input: Json<Value>,
    pub context: Json<Value>,
    pub output: Option<Json<Value>>,
    pub error: Option<Json<Value>>,
    pub trigger: String,
    pub operator: String,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cost_ms: Option<i64>,
    pub parent_id: Option<i64>,
    pub debug: bool,
    pub mock: bool,
}

impl InstanceRow {
    pub fn into_record(self) -> Result<crate::instance::InstanceRecord, StoreError> {
        use crate::instance::{InstanceStatus, Trigger};
        Ok(crate::instance::InstanceRecord {
            id: Id(self.id),
            version_id: Id(self.version_id),
            definition_key: self.definition_key,
            version: self.version,
            status: InstanceStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("instance status `{}`", self.status)))?,
            input: self.input.0,
            context: self.context.0,
            output: json_or_corrupt(self.output),
            error: json_or_corrupt(self.error),
            trigger: Trigger::parse(&self.trigger)
                .ok_or_else(|| StoreError::Corrupt(format!("trigger `{}`", self.trigger)))?,
            operator: self.operator,
            created_at: format_time(self.created_at),
            ended_at: self.ended_at.map(format_time),
            cost_ms: self.cost_ms,
            parent_id: self.parent_id.map(Id),
            debug: self.debug,
            mock: self.mock,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NodeRunRow {
    pub id: i64,
    pub node_id: String,
    pub attempt: i32,
    pub loop_index: Option<i32>,
    pub status: String,
    pub input: Option<Json<Value>>,
    pub output: Option<Json<Value>>,
    pub error: Option<Json<Value>>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cost_ms: Option<i64>,
}

impl NodeRunRow {
    pub fn into_run(self) -> Result<crate::instance::NodeRun, StoreError> {
        Ok(crate::instance::NodeRun {
            id: Id(self.id),
            node_id: self.node_id,
            attempt: self.attempt,
            loop_index: self.loop_index,
            status: crate::instance::NodeRunStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("node run status `{}`", self.status)))?,
            input: json_or_corrupt(self.input),
            output: json_or_corrupt(self.output),
            error: json_or_corrupt(self.error),
            started_at: format_time(self.started_at),
            ended_at: self.ended_at.map(format_time),
            cost_ms: self.cost_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i32,
    pub node_id: Option<String>,
    pub kind: String,
    pub data: Json<Value>,
    pub at: DateTime<Utc>,
}

impl EventRow {
    pub fn into_event(self) -> crate::instance::Event {
        crate::instance::Event {
            seq: self.seq,
            node_id: self.node_id,
            kind: self.kind,
            data: self.data.0,
            at: format_time(self.at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkItemRow {
    pub id: i64,
    pub instance_id: i64,
    pub node_id: String,
    pub from_node: Option<String>,
    pub live: bool,
    pub attempt: i32,
    pub resume_run: Option<i64>,
    pub input: Option<sqlx::types::Json<serde_json::Value>>,
    pub skip: bool,
    pub loop_run: Option<i64>,
    pub loop_index: Option<i32>,
    pub definition_key: String,
    pub version: i32,
    pub status: String,
    pub context: sqlx::types::Json<serde_json::Value>,
    pub step_rev: i32,
    pub debug: bool,
    pub mock: bool,
}

impl WorkItemRow {
    pub fn into_item(self) -> super::WorkItem {
        let seen = crate::instance::InstanceStatus::parse(&self.status).map(|status| super::Seen {
            status,
            context: self.context.0,
            rev: self.step_rev,
            debug: self.debug,
            mock: self.mock,
        });
        super::WorkItem {
            seen,
            id: Id(self.id),
            instance_id: Id(self.instance_id),
            node_id: self.node_id,
            from_node: self.from_node,
            live: self.live,
            attempt: self.attempt,
            resume_run: self.resume_run.map(Id),
            input: self.input.map(|j| j.0),
            skip: self.skip,
            loop_run: self.loop_run.map(Id),
            loop_index: self.loop_index,
            definition_key: self.definition_key,
            version: self.version,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub roles: String,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl UserRow {
    pub fn into_user(self, groups: Vec<String>) -> Result<crate::people::User, StoreError> {
        let names: Vec<String> = serde_json::from_str(&self.roles)
            .map_err(|_| StoreError::Corrupt(format!("roles of user {}", self.id)))?;
        Ok(crate::people::User {
            id: Id(self.id),
            username: self.username,
            display_name: self.display_name,
            roles: names
                .iter()
                .filter_map(|n| crate::people::Role::parse(n))
                .collect(),
            groups,
            disabled: self.disabled,
            created_at: format_time(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CompanyRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: String,
    pub properties: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CompanyRow {
    pub fn into_company(self) -> Result<super::Company, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of company {}", self.id));
        Ok(super::Company {
            tags: serde_json::from_str(&self.tags).map_err(|_| corrupt("tags"))?,
            properties: serde_json::from_str(&self.properties)
                .map_err(|_| corrupt("properties"))?,
            id: self.id,
            name: self.name,
            description: self.description,
            created_by: self.created_by,
            created_at: format_time(self.created_at),
            updated_at: format_time(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct DepartmentRow {
    pub id: String,
    pub company_id: String,
    pub parent_id: Option<String>,
    pub name: String,
    pub description: String,
    pub path: String,
    pub user_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DepartmentRow {
    pub fn into_department(self) -> super::Department {
        super::Department {
            id: self.id,
            company_id: self.company_id,
            parent_id: self.parent_id,
            name: self.name,
            description: self.description,
            path: self.path,
            user_count: self.user_count,
            created_at: format_time(self.created_at),
            updated_at: format_time(self.updated_at),
        }
    }
}

pub(crate) const TASK_COLUMNS: &str = "id, instance_id, node_id, definition_key, title, content,
     assignees, candidate_groups, form, outcomes, status, claimed_by, claimed_at, outcome, data,
     completed_by, completed_at, due_at, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    pub id: i64,
    pub instance_id: i64,
    pub node_id: String,
    pub definition_key: String,
    pub title: String,
    pub content: String,
    pub assignees: Json<Vec<String>>,
    pub candidate_groups: Json<Vec<String>>,
    pub form: Json<Value>,
    pub outcomes: Json<Vec<String>>,
    pub status: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub data: Option<Json<Value>>,
    pub completed_by: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl TaskRow {
    pub fn into_task(self) -> Result<crate::task::HumanTask, StoreError> {
        use crate::task::{HumanTask, TaskStatus};
        Ok(HumanTask {
            id: Id(self.id),
            instance_id: Id(self.instance_id),
            node_id: self.node_id,
            definition_key: self.definition_key,
            title: self.title,
            content: self.content,
            assignees: self.assignees.0,
            groups: self.candidate_groups.0,
            form: serde_json::from_value(self.form.0)
                .map_err(|e| StoreError::Corrupt(format!("task {} form: {e}", self.id)))?,
            outcomes: self.outcomes.0,
            status: TaskStatus::parse(&self.status)
                .ok_or_else(|| StoreError::Corrupt(format!("task status `{}`", self.status)))?,
            claimed_by: self.claimed_by,
            claimed_at: self.claimed_at.map(format_time),
            outcome: self.outcome,
            data: json_or_corrupt(self.data),
            completed_by: self.completed_by,
            completed_at: self.completed_at.map(format_time),
            due_at: self.due_at.map(format_time),
            created_at: format_time(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TriggerRow {
    pub definition_key: String,
    pub name: String,
    pub kind: String,
    pub schedule: Option<String>,
    pub input: Option<Json<Value>>,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub has_token: bool,
}

impl From<TriggerRow> for super::TriggerRecord {
    fn from(row: TriggerRow) -> Self {
        Self {
            definition_key: row.definition_key,
            name: row.name,
            kind: row.kind,
            schedule: row.schedule,
            input: json_or_corrupt(row.input),
            next_fire_at: row.next_fire_at,
            has_token: row.has_token,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EntityTypeRow {
    pub id: String,
    pub display_name: String,
    pub display_attribute: String,
    pub attributes: Json<Vec<crate::entity::Attribute>>,
}

impl EntityTypeRow {
    pub fn into_type(self) -> crate::entity::EntityType {
        crate::entity::EntityType {
            id: self.id,
            display_name: self.display_name,
            display_attribute: self.display_attribute,
            attributes: self.attributes.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EntityRecordRow {
    pub guid: String,
    pub entity_type: String,
    pub display_name: String,
    pub data: Json<Value>,
}

impl EntityRecordRow {
    pub fn into_record(self) -> crate::entity::EntityRecord {
        crate::entity::EntityRecord {
            guid: self.guid,
            entity_type: self.entity_type,
            display_name: self.display_name,
            data: self.data.0,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NeighbourRow {
    pub origin: String,
    pub guid: String,
    pub entity_type: String,
    pub display_name: String,
    pub data: Json<Value>,
}

impl NeighbourRow {
    pub fn split(self) -> (String, crate::entity::EntityRecord) {
        (
            self.origin,
            EntityRecordRow {
                guid: self.guid,
                entity_type: self.entity_type,
                display_name: self.display_name,
                data: self.data,
            }
            .into_record(),
        )
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PreviewRow {
    pub id: String,
    pub definition_key: String,
    pub version: i32,
    pub root_guid: String,
    pub tree: Json<Value>,
    pub bindings: Json<Value>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl PreviewRow {
    pub fn into_session(self) -> super::PreviewSession {
        super::PreviewSession {
            id: self.id,
            definition_key: self.definition_key,
            version: self.version,
            root_guid: self.root_guid,
            tree: self.tree.0,
            bindings: self.bindings.0,
            created_by: self.created_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}
