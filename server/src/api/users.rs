//! People administration, for administrators: create users (roles, groups), list them, change
//! their roles and groups, disable and enable them (disabling ends every sign-in at once).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::people::{Role, User};
use engine::service::Caller;
use engine::store::UserChange;
use serde::Deserialize;
use serde_json::Value;

use super::body::{ApiJson, Paging};
use super::error::{ApiError, ApiResult};
use super::ApiState;

pub(super) fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("people are administered by admins"))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    username: String,
    display_name: Option<String>,
    password: String,
    /// designer | operator | approver | admin
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// Create a user. Admins only.
#[utoipa::path(post, path = "/users", tag = "people", security(("bearer" = [])),
    request_body = NewUserBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 409, description = "the username is taken", body = ApiError)))]
pub async fn create(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewUserBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let roles = parse_roles(&body.roles)?;
    check_groups(&body.groups)?;
    let display = body
        .display_name
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| body.username.clone());
    let user = api
        .access
        .create_user(
            &body.username,
            &display,
            &body.password,
            &roles,
            &body.groups,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

fn parse_roles(names: &[String]) -> ApiResult<Vec<Role>> {
    names
        .iter()
        .map(|name| {
            Role::parse(name).ok_or_else(|| {
                ApiError::bad_request(
                    "roles",
                    format!("role `{name}`: use designer, operator, approver or admin"),
                )
            })
        })
        .collect()
}

pub(super) fn check_groups(groups: &[String]) -> ApiResult<()> {
    if groups.iter().any(|g| g.trim().is_empty() || g.len() > 64) {
        return Err(ApiError::bad_request(
            "groups",
            "a group name is 1 to 64 characters",
        ));
    }
    Ok(())
}

fn parse_user_id(id: &str) -> ApiResult<engine::id::Id> {
    id.parse()
        .map_err(|_| ApiError::bad_request("id", format!("`{id}` is not a user id")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeBody {
    display_name: Option<String>,
    /// The user's roles from now on: designer | operator | approver | admin
    roles: Option<Vec<String>>,
    /// The user's groups from now on (these decide which tasks reach them)
    groups: Option<Vec<String>>,
}

/// Change a user's display name, roles or groups; what is left out stays. Takes effect with the
/// user's next request. Admins only; an admin cannot take the admin role from themselves.
#[utoipa::path(patch, path = "/users/{id}", tag = "people", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UserChangeBody,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn update(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserChangeBody>,
) -> ApiResult<Json<User>> {
    admin_only(&caller)?;
    let id = parse_user_id(&id)?;
    let roles = body.roles.as_deref().map(parse_roles).transpose()?;
    if let Some(groups) = &body.groups {
        check_groups(groups)?;
    }
    let display = body.display_name.as_deref().map(str::trim);
    if display.is_some_and(str::is_empty) {
        return Err(ApiError::bad_request(
            "display_name",
            "a display name cannot be empty",
        ));
    }
    if id == caller.user.id && roles.as_ref().is_some_and(|r| !r.contains(&Role::Admin)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot take the admin role from yourself",
        )
        .field("roles"));
    }
    let user = api
        .store
        .update_user(
            id,
            UserChange {
                display_name: display,
                roles: roles.as_deref(),
                groups: body.groups.as_deref(),
            },
        )
        .await?;
    Ok(Json(user))
}

/// Every user, by username. Admins only.
#[utoipa::path(get, path = "/users", tag = "people", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Object), (status = 403, body = ApiError)))]
pub async fn list(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    paging: Paging,
) -> ApiResult<Json<Value>> {
    admin_only(&caller)?;
    let page = api.store.list_users(paging.limit, paging.offset).await?;
    Ok(paging.answer(page))
}

/// `disable` (every sign-in of the user ends at once) or `enable` a user. Admins only.
#[utoipa::path(post, path = "/users/{id}/{operation}", tag = "people", security(("bearer" = [])),
    params(("id" = String, Path), ("operation" = String, Path, description = "disable | enable")),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError),
              (status = 409, description = "admins cannot disable themselves", body = ApiError)))]
pub async fn set_disabled(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, operation)): Path<(String, String)>,
) -> ApiResult<Json<User>> {
    admin_only(&caller)?;
    let disabled = match operation.as_str() {
        "disable" => true,
        "enable" => false,
        other => return Err(ApiError::not_found(format!("operation `{other}`"))),
    };
    let id = parse_user_id(&id)?;
    if disabled && id == caller.user.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "you cannot disable yourself",
        ));
    }
    api.store.set_disabled(id, disabled).await?;
    let user = api
        .store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id}")))?;
    Ok(Json(user))
}
