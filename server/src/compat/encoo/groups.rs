//! Robot groups (queues) and robots as the console shows them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use engine::service::Caller;
use serde::Deserialize;

use super::{admin_only, json_body, page, referenced, views, Answer, Fail, ListQuery};
use crate::api::ApiState;

/// `GET /openapi/queues`.
pub(super) async fn queues(State(api): State<ApiState>, Query(query): Query<ListQuery>) -> Answer {
    let all = api.store.queues().await?;
    page(
        &query,
        all,
        |q| (&q.name, &q.description, &q.created_at),
        |q| views::queue(&q),
    )
}

/// `GET /openapi/queues/{queueId}`.
pub(super) async fn queue(State(api): State<ApiState>, Path(id): Path<String>) -> Answer {
    let queue = api
        .store
        .queue(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no robot group {id}")))?;
    Ok(Json(views::queue(&queue)))
}

/// `GET /openapi/robots`.
pub(super) async fn robots(State(api): State<ApiState>, Query(query): Query<ListQuery>) -> Answer {
    let all = api.store.robots(None).await?;
    page(
        &query,
        all,
        |r| (&r.name, &r.description, &r.created_at),
        |r| views::robot(&r),
    )
}

/// `GET /openapi/robots/{robotId}`.
pub(super) async fn robot(State(api): State<ApiState>, Path(id): Path<String>) -> Answer {
    let robot = api
        .store
        .robot(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no robot {id}")))?;
    Ok(Json(views::robot(&robot)))
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
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<QueueBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&caller)?;
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
            created_by: &caller.user.username,
        })
        .await?;
    Ok(Json(views::queue(&queue)))
}

/// `PATCH /openapi/queues/{queueId}`: `Name`, `Description`, `Tags`.
pub(super) async fn change_queue(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<QueueBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&caller)?;
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
    Ok(Json(views::queue(&queue)))
}

/// `DELETE /openapi/queues/{queueId}`.
pub(super) async fn delete_queue(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, Fail> {
    admin_only(&caller)?;
    api.store.delete_queue(&id).await.map_err(referenced)?;
    Ok(StatusCode::NO_CONTENT)
}
