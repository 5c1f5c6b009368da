//! Groups: what people are put in (a user's `groups`) and approvals are offered to. Anyone
//! signed in may list and read them (a designer picks them for approvals); administrators create,
//! rename and delete them. Naming a new group on a user creates it too.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::service::Caller;
use engine::store::NewGroup;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{ApiJson, Paging};
use super::error::{ApiError, ApiResult};
use super::users::{admin_only, check_groups};
use super::ApiState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBody {
    name: String,
    display_name: Option<String>,
    #[serde(default)]
    description: String,
}

/// Create a group. Admins only.
#[utoipa::path(post, path = "/groups", tag = "people", security(("bearer" = [])),
    request_body = NewGroupBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 409, description = "the name is taken", body = ApiError)))]
pub async fn create(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewGroupBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let name = body.name.trim();
    check_groups(&[name.to_string()]).map_err(|e| e.field("name"))?;
    let display = body
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or(name);
    let group = api
        .store
        .create_group(NewGroup {
            name,
            display_name: display,
            description: &body.description,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(group)).into_response())
}

/// Every group, by name, with its member count.
#[utoipa::path(get, path = "/groups", tag = "people", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Object)))]
pub async fn list(State(api): State<ApiState>, paging: Paging) -> ApiResult<Json<Value>> {
    let page = api.store.list_groups(paging.limit, paging.offset).await?;
    Ok(paging.answer(page))
}

/// A group and the usernames of its members.
#[utoipa::path(get, path = "/groups/{name}", tag = "people", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn read(State(api): State<ApiState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let group = api
        .store
        .group(&name)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))?;
    let members = api.store.group_members(&name).await?;
    let mut body = json!(group);
    body["members"] = json!(members);
    Ok(Json(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChangeBody {
    display_name: Option<String>,
    description: Option<String>,
}

/// Change a group's display name or description. Admins only.
#[utoipa::path(patch, path = "/groups/{name}", tag = "people", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = GroupChangeBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError)))]
pub async fn update(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<GroupChangeBody>,
) -> ApiResult<Json<Value>> {
    admin_only(&caller)?;
    if body
        .display_name
        .as_deref()
        .is_some_and(|d| d.trim().is_empty())
    {
        return Err(ApiError::bad_request(
            "display_name",
            "a display name is not empty",
        ));
    }
    let group = api
        .store
        .update_group(
            &name,
            body.display_name.as_deref().map(str::trim),
            body.description.as_deref(),
        )
        .await?;
    Ok(Json(json!(group)))
}

/// Delete a group that has no members (409 while it has). Admins only.
#[utoipa::path(delete, path = "/groups/{name}", tag = "people", security(("bearer" = [])),
    params(("name" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn delete(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    api.store.delete_group(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
