//! Human tasks (the approval inbox) and callback finishes.
//!
//! A task is the business of the people it names: its assignees and the members of its
//! candidate groups see, claim and complete it; an administrator may read any. A callback is
//! finished by whoever holds its token — the token is the credential, so that route is public.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use engine::id::Id;
use engine::people::token_hash;
use engine::service::Caller;
use engine::store::CallbackFinish;
use engine::task::{HumanTask, TaskStatus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{ApiJson, Paging};
use super::error::{ApiError, ApiResult};
use super::ApiState;

#[derive(Deserialize)]
pub struct InboxParams {
    status: Option<String>,
    definition_key: Option<String>,
}

/// The caller's inbox, newest first: by default the open tasks offered to them (by name or
/// through a group) and those they claimed; `status` shows one status instead.
#[utoipa::path(get, path = "/tasks", tag = "tasks", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "open | claimed | completed | cancelled | expired"),
           ("definition_key" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`items`, `total`, `limit`, `offset`", body = Object), (status = 400, body = ApiError)))]
pub async fn inbox(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    paging: Paging,
    Query(params): Query<InboxParams>,
) -> ApiResult<Json<Value>> {
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(TaskStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "status",
                "status is one of open, claimed, completed, cancelled, expired",
            )
        })?),
    };
    let page = api
        .tasks
        .inbox(
            &caller.user,
            status,
            params.definition_key.filter(|k| !k.is_empty()),
            paging.limit,
            paging.offset,
        )
        .await?;
    Ok(paging.answer(page))
}

fn parse_task_id(text: &str) -> ApiResult<Id> {
    text.parse()
        .map_err(|_| ApiError::bad_request("id", format!("`{text}` is not a task id")))
}

/// One task: its title, content, form, outcomes and where it stands.
#[utoipa::path(get, path = "/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HumanTask>> {
    Ok(Json(
        api.tasks.read(&caller.user, parse_task_id(&id)?).await?,
    ))
}

/// Claim the task: it is hidden from the others until completed or given back. Claiming a
/// claimed task is a conflict (409).
#[utoipa::path(post, path = "/tasks/{id}/claim", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn claim(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HumanTask>> {
    take(&api, &caller, &id, true).await
}

/// Claims the task for the caller (`claim`) or gives it back (`!claim`).
async fn take(
    api: &ApiState,
    caller: &Caller,
    id: &str,
    claim: bool,
) -> ApiResult<Json<HumanTask>> {
    Ok(Json(
        api.tasks
            .claim(&caller.user, parse_task_id(id)?, claim)
            .await?,
    ))
}

/// Give a task the caller claimed back to everyone it is offered to.
#[utoipa::path(post, path = "/tasks/{id}/unclaim", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn unclaim(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<HumanTask>> {
    take(&api, &caller, &id, false).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// One of the task's outcomes (`approve` / `reject` unless the node names others).
    outcome: String,
    /// The form's fields by name.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
}

/// Complete the task with an outcome and the form's data; the workflow goes on along the
/// outcome's edge. Exactly once: every later attempt is a conflict (409) and changes nothing.
/// A form that does not fit is 422 with every problem in `issues`.
#[utoipa::path(post, path = "/tasks/{id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = CompleteBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn complete(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CompleteBody>,
) -> ApiResult<Json<HumanTask>> {
    let data = body.data.unwrap_or_else(|| json!({}));
    let done = api
        .tasks
        .complete(&caller.user, parse_task_id(&id)?, &body.outcome, &data)
        .await?;
    Ok(Json(done))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishBody {
    /// `succeeded` (default) or `failed`.
    #[serde(default)]
    status: Option<String>,
    /// The node's output (succeeded) or what went wrong (failed).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    output: Option<Value>,
}

/// Finish a callback node with the token it handed out. The first finish applies (200,
/// `applied: true`); the same finish again is a no-op (200, `applied: false`); a finish after
/// the wait ended otherwise (timed out, cancelled, or finished the other way) is 409.
#[utoipa::path(post, path = "/callbacks/{token}", tag = "tasks",
    params(("token" = String, Path)), request_body = FinishBody,
    responses((status = 200, description = "`{applied, status, instance_id}`", body = Object),
              (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn finish_callback(
    State(api): State<ApiState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<FinishBody>,
) -> ApiResult<Json<Value>> {
    let succeeded = match body.status.as_deref() {
        None | Some("succeeded") => true,
        Some("failed") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "status",
                "status is `succeeded` or `failed`",
            ))
        }
    };
    let output = body.output.unwrap_or(Value::Null);
    let outcome = api
        .store
        .finish_callback(
            &token_hash(&token),
            CallbackFinish {
                succeeded,
                output: &output,
            },
        )
        .await
        .map_err(|e| match e {
            engine::store::StoreError::NotFound(_) => ApiError::not_found("callback"),
            other => other.into(),
        })?;
    api.runtime.wake();
    Ok(Json(json!({
        "applied": outcome.applied,
        "status": outcome.status,
        "instance_id": outcome.instance_id,
    })))
}
