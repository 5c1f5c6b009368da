//! The instances pages' server functions: the instances the signed-in person may see, one
//! instance with its runs, events and diagram, and the operations on it. The rules are the
//! engine's `InstanceService`, the same the REST API applies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;
pub use engine::instance::{Event, InstanceRecord, InstanceStatus, NodeRun, NodeRunStatus};

/// Instances per page.
pub const PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceList {
    pub items: Vec<InstanceRecord>,
    pub total: i64,
    pub offset: i64,
}

/// A node of the diagram, where to draw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagramNode {
    pub id: String,
    pub label: String,
    pub kind: String,
    pub x: f64,
    pub y: f64,
}

/// One instance as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorView {
    pub instance: InstanceRecord,
    pub runs: Vec<NodeRun>,
    pub events: Vec<Event>,
    pub nodes: Vec<DiagramNode>,
    pub edges: Vec<(String, String)>,
    pub may_operate: bool,
}

/// What the instances list is filtered by; empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceFilter {
    pub status: String,
    pub definition_key: String,
    pub started_by: String,
    /// `YYYY-MM-DD`: started on or after that day (UTC).
    pub from: String,
    /// `YYYY-MM-DD`: started on or before that day (UTC).
    pub to: String,
}

#[server(prefix = "/rpc", endpoint = "instances")]
pub async fn list_instances(filter: InstanceFilter, offset: i64) -> Result<InstanceList, AppError> {
    let (service, user) = ssr::service_and_user()?;
    let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let status = text(&filter.status)
        .map(|s| InstanceStatus::parse(&s).ok_or(AppError::NotFound))
        .transpose()?;
    let day = |s: &str, field: &str, next: bool| -> Result<_, AppError> {
        text(s)
            .map(|d| {
                chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                    .map(|date| {
                        let date = if next {
                            date.succ_opt().unwrap_or(date)
                        } else {
                            date
                        };
                        date.and_time(chrono::NaiveTime::MIN).and_utc()
                    })
                    .map_err(|_| {
                        AppError::Invalid(vec![engine::task::FieldError {
                            field: field.into(),
                            message: "is not a date".into(),
                        }])
                    })
            })
            .transpose()
    };
    let offset = offset.max(0);
    let page = service
        .list(
            &user,
            engine::store::InstanceQuery {
                status,
                definition_key: text(&filter.definition_key),
                operator: text(&filter.started_by),
                started_after: day(&filter.from, "from", false)?,
                started_before: day(&filter.to, "to", true)?,
                limit: PAGE_SIZE,
                offset,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| ssr::failed(e.into()))?;
    Ok(InstanceList {
        items: page.items,
        total: page.total,
        offset,
    })
}

#[server(prefix = "/rpc", endpoint = "instance")]
pub async fn instance_view(id: String) -> Result<MonitorView, AppError> {
    let (service, user) = ssr::service_and_user()?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let detail = service.detail(&user, id).await.map_err(ssr::failed)?;
    let (nodes, edges) = crate::diagram::layout(&detail.definition);
    Ok(MonitorView {
        instance: detail.instance,
        runs: detail.runs,
        events: detail.events,
        nodes,
        edges,
        may_operate: detail.may_operate,
    })
}

/// `cancel`, `pause` or `resume`.
#[server(prefix = "/rpc", endpoint = "operate_instance")]
pub async fn operate_instance(id: String, operation: String) -> Result<(), AppError> {
    use engine::store::InstanceChange;
    let (service, user) = ssr::service_and_user()?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let change = match operation.as_str() {
        "cancel" => InstanceChange::Cancel,
        "pause" => InstanceChange::Pause,
        "resume" => InstanceChange::Resume,
        _ => return Err(AppError::NotFound),
    };
    service
        .change(&user, id, change)
        .await
        .map_err(ssr::failed)?;
    Ok(())
}

/// `rerun` (with `input`, a JSON text, when given) or `skip` a node of a paused instance.
#[server(prefix = "/rpc", endpoint = "node_operation")]
pub async fn node_operation(
    id: String,
    node: String,
    operation: String,
    input: String,
) -> Result<(), AppError> {
    use engine::runtime::NodeAction;
    let (service, user) = ssr::service_and_user()?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let given = if input.trim().is_empty() {
        None
    } else {
        Some(serde_json::from_str(&input).map_err(|e| {
            AppError::Invalid(vec![engine::task::FieldError {
                field: "input".into(),
                message: format!("is not JSON: {e}"),
            }])
        })?)
    };
    let action = match operation.as_str() {
        "rerun" => NodeAction::Rerun { input: given },
        "skip" => NodeAction::Skip { output: given },
        _ => return Err(AppError::NotFound),
    };
    service
        .node_action(&user, id, &node, action)
        .await
        .map_err(ssr::failed)?;
    Ok(())
}

#[cfg(feature = "ssr")]
mod ssr {
    use engine::people::User;
    use engine::service::{InstanceError, InstanceService};
    use leptos::prelude::use_context;

    use crate::api::ssr::AppContext;
    use crate::api::AppError;

    pub fn service_and_user() -> Result<(InstanceService, User), AppError> {
        let service = use_context::<AppContext>()
            .map(|cx| cx.instances)
            .ok_or(AppError::SignedOut)?;
        let user = crate::api::ssr::user()?;
        Ok((service, user))
    }

    /// The error as the page sees it, with the status it answers with.
    pub fn failed(err: InstanceError) -> AppError {
        use http::StatusCode;
        let (status, error) = match err {
            InstanceError::NotFound => (StatusCode::NOT_FOUND, AppError::NotFound),
            InstanceError::Forbidden(_) => (StatusCode::FORBIDDEN, AppError::Forbidden),
            InstanceError::Store(engine::store::StoreError::Conflict(why)) => {
                (StatusCode::CONFLICT, AppError::Conflict(why))
            }
            InstanceError::Store(engine::store::StoreError::NotFound(_)) => {
                (StatusCode::NOT_FOUND, AppError::NotFound)
            }
            InstanceError::Store(err) => {
                tracing::warn!(error = %err, "an instance operation failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    AppError::DatabaseUnavailable,
                )
            }
        };
        crate::api::ssr::respond(status, error)
    }
}
