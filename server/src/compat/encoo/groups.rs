//! Robot groups (queues) and robots as the console shows them, scoped (see `scope`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use engine::store::{Queue, Robot};
use serde::Deserialize;

use super::scope::Scope;
use super::{admin_only, json_body, page, referenced, views, Answer, Fail, ListQuery};
use crate::api::ApiState;

/// `GET /openapi/queues`.
pub(super) async fn queues(
    State(api): State<ApiState>,
    scope: Scope,
    Query(query): Query<ListQuery>,
) -> Answer {
    let mut all = api.store.queues().await?;
    all.retain(|q| scope.lists(q.department_id.as_deref()));
    page(
        &query,
        all,
        |q| (&q.name, &q.description, &q.created_at),
        |q| shown(&scope, &q),
    )
}

/// The robot group `id` when the caller sees it.
async fn seen_queue(api: &ApiState, scope: &Scope, id: &str) -> Result<Queue, Fail> {
    scope.check(
        api.store.queue(id).await?,
        |q| q.department_id.as_deref(),
        format!("no robot group {id}"),
    )
}

/// `GET /openapi/queues/{queueId}`.
pub(super) async fn queue(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    let queue = seen_queue(&api, &scope, &id).await?;
    Ok(Json(shown(&scope, &queue)))
}

/// A robot group as the console shows it, with its company and department.
fn shown(scope: &Scope, queue: &Queue) -> serde_json::Value {
    scope.stamp(views::queue(queue), queue.department_id.as_deref())
}

/// Robots with the department of their group.
async fn robots_with_departments(api: &ApiState) -> Result<Vec<(Robot, Option<String>)>, Fail> {
    let all = api.store.robots(None).await?;
    Ok(engine::service::scope::robot_departments(api.store.as_ref(), all).await?)
}

/// `GET /openapi/robots`.
pub(super) async fn robots(
    State(api): State<ApiState>,
    scope: Scope,
    Query(query): Query<ListQuery>,
) -> Answer {
    let mut all = robots_with_departments(&api).await?;
    all.retain(|(_, d)| scope.lists(d.as_deref()));
    page(
        &query,
        all,
        |(r, _)| (&r.name, &r.description, &r.created_at),
        |(r, d)| scope.stamp(views::robot(&r), d.as_deref()),
    )
}

/// `GET /openapi/robots/{robotId}`.
pub(super) async fn robot(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    let found = robots_with_departments(&api)
        .await?
        .into_iter()
        .find(|(r, _)| r.id == id);
    let (robot, department) =
        scope.check(found, |(_, d)| d.as_deref(), format!("no robot {id}"))?;
    Ok(Json(
        scope.stamp(views::robot(&robot), department.as_deref()),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueueBody {
    name: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
}

/// `POST /openapi/queues/{queueId}`: creates the robot group with that id.
pub(super) async fn create_queue(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: Result<Json<QueueBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    let body = json_body(body)?;
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Fail::bad("Name is required"))?;
    if id.len() > 64 || id.is_empty() {
        return Err(Fail::bad("queueId: at most 64 characters"));
    }
    if api.store.queue(&id).await?.is_some() {
        return Err(Fail::new(
            StatusCode::CONFLICT,
            format!("robot group {id} exists"),
        ));
    }
    let queue = api
        .store
        .create_queue(engine::store::NewQueue {
            id: &id,
            name,
            description: body.description.as_deref().unwrap_or_default(),
            tags: body.tags.as_deref().unwrap_or_default(),
            department_id: scope.department_id(),
            created_by: &scope.caller.user.username,
        })
        .await?;
    Ok(Json(shown(&scope, &queue)))
}

/// `PATCH /openapi/queues/{queueId}`: `Name`, `Description`, `Tags`.
pub(super) async fn change_queue(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: Result<Json<QueueBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    seen_queue(&api, &scope, &id).await?;
    let body = json_body(body)?;
    if body.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(Fail::bad("Name: not empty"));
    }
    let queue = api
        .store
        .update_queue(
            &id,
            engine::store::QueueChange {
                name: body.name.as_deref().map(str::trim),
                description: body.description.as_deref(),
                tags: body.tags.as_deref(),
            },
        )
        .await
        .map_err(|e| match e {
            engine::store::StoreError::NotFound(_) => {
                Fail::not_found(format!("no robot group {id}"))
            }
            other => other.into(),
        })?;
    Ok(Json(shown(&scope, &queue)))
}

/// `DELETE /openapi/queues/{queueId}`.
pub(super) async fn delete_queue(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Result<StatusCode, Fail> {
    admin_only(&scope.caller)?;
    seen_queue(&api, &scope, &id).await?;
    api.store.delete_queue(&id).await.map_err(referenced)?;
    Ok(StatusCode::NO_CONTENT)
}
