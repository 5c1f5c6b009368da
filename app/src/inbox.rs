//! The approval inbox's server functions: the signed-in person's tasks, one task with the
//! instance context it belongs to, claim / give back, and complete. The rules are the engine's
//! `TaskService`, the same the REST API applies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;
pub use engine::task::{FieldError, HumanTask, TaskStatus};

/// Tasks per inbox page.
pub const PAGE_SIZE: i64 = 20;

/// One page of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxPage {
    pub items: Vec<HumanTask>,
    pub total: i64,
    pub offset: i64,
}

/// A task as its page shows it: the task, the context of its instance, and whether the viewer
/// may act on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub task: HumanTask,
    /// The instance's context when the task was read (what the workflow knows so far).
    pub context: serde_json::Value,
    /// The viewer is one of the people the task is for.
    pub may_act: bool,
    pub viewer: String,
}

/// What completing did: the next task waiting for the viewer, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completed {
    pub next: Option<String>,
}

/// The signed-in person's inbox: `status` as the REST API takes it (none: what waits for them).
#[server(prefix = "/rpc", endpoint = "inbox")]
pub async fn my_inbox(
    status: Option<String>,
    definition_key: Option<String>,
    offset: i64,
) -> Result<InboxPage, AppError> {
    let (tasks, user) = ssr::tasks_and_user()?;
    let status = status
        .filter(|s| !s.is_empty())
        .map(|s| TaskStatus::parse(&s).ok_or(AppError::NotFound))
        .transpose()?;
    let offset = offset.max(0);
    let page = tasks
        .inbox(
            &user,
            status,
            definition_key.filter(|k| !k.trim().is_empty()),
            PAGE_SIZE,
            offset,
        )
        .await
        .map_err(ssr::task_error)?;
    Ok(InboxPage {
        items: page.items,
        total: page.total,
        offset,
    })
}

/// How many tasks wait for the signed-in person (the navigation's badge).
#[server(prefix = "/rpc", endpoint = "inbox_count")]
pub async fn inbox_count() -> Result<i64, AppError> {
    let (tasks, user) = ssr::tasks_and_user()?;
    let page = tasks
        .inbox(&user, None, None, 1, 0)
        .await
        .map_err(ssr::task_error)?;
    Ok(page.total)
}

/// One task, if the signed-in person may see it.
#[server(prefix = "/rpc", endpoint = "task")]
pub async fn get_task(id: String) -> Result<TaskView, AppError> {
    let (tasks, user) = ssr::tasks_and_user()?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    let task = tasks.read(&user, id).await.map_err(ssr::task_error)?;
    let context = crate::api::ssr::store()?
        .instance(task.instance_id)
        .await
        .ok()
        .flatten()
        .map(|i| i.context)
        .unwrap_or_default();
    Ok(TaskView {
        may_act: task.is_candidate(&user.username, &user.groups),
        viewer: user.username.clone(),
        task,
        context,
    })
}

/// Claims the task (`claim`) or gives it back.
#[server(prefix = "/rpc", endpoint = "claim_task")]
pub async fn claim_task(id: String, claim: bool) -> Result<HumanTask, AppError> {
    let (tasks, user) = ssr::tasks_and_user()?;
    let id = id.parse().map_err(|_| AppError::NotFound)?;
    tasks.claim(&user, id, claim).await.map_err(ssr::task_error)
}

/// Completes the task with `outcome` and the form's data (a JSON object, as text).
#[server(prefix = "/rpc", endpoint = "complete_task")]
pub async fn complete_task(
    id: String,
    outcome: String,
    data: String,
) -> Result<Completed, AppError> {
    let (tasks, user) = ssr::tasks_and_user()?;
    let task_id = id.parse().map_err(|_| AppError::NotFound)?;
    let data: serde_json::Value = serde_json::from_str(&data).map_err(|_| {
        AppError::Invalid(vec![FieldError {
            field: "data".into(),
            message: "is not a JSON object".into(),
        }])
    })?;
    tasks
        .complete(&user, task_id, &outcome, &data)
        .await
        .map_err(ssr::task_error)?;
    let waiting = tasks
        .inbox(&user, None, None, 2, 0)
        .await
        .map_err(ssr::task_error)?;
    Ok(Completed {
        next: waiting
            .items
            .into_iter()
            .find(|t| t.id != task_id)
            .map(|t| t.id.to_string()),
    })
}

#[cfg(feature = "ssr")]
mod ssr {
    use engine::people::User;
    use engine::service::{TaskError, TaskService};
    use leptos::prelude::use_context;

    use crate::api::ssr::AppContext;
    use crate::api::AppError;

    /// The task service and the signed-in user (the server checked the session before this).
    pub fn tasks_and_user() -> Result<(TaskService, User), AppError> {
        let tasks = use_context::<AppContext>()
            .map(|cx| cx.tasks)
            .ok_or(AppError::SignedOut)?;
        let user = crate::api::ssr::user()?;
        Ok((tasks, user))
    }

    /// The error as the page sees it, with the status it answers with (an expected refusal is
    /// a 4xx, not a server error).
    pub fn task_error(err: TaskError) -> AppError {
        use http::StatusCode;
        let (status, error) = match err {
            TaskError::NotFound => (StatusCode::NOT_FOUND, AppError::NotFound),
            TaskError::Forbidden => (StatusCode::FORBIDDEN, AppError::Forbidden),
            TaskError::Conflict(why) => (StatusCode::CONFLICT, AppError::Conflict(why)),
            TaskError::Invalid(errors) => {
                (StatusCode::UNPROCESSABLE_ENTITY, AppError::Invalid(errors))
            }
            TaskError::Store(err) => {
                tracing::warn!(error = %err, "a task operation failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    AppError::DatabaseUnavailable,
                )
            }
        };
        crate::api::ssr::respond(status, error)
    }
}
