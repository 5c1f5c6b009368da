//! Tenants: companies and their department trees. Administrators create them and place users in
//! departments; members see their companies and trees.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::people::new_uuid;
use engine::service::Caller;
use engine::store::{Company, Department, NewCompany, NewDepartment};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::ApiState;

fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("tenants are administered by admins"))
    }
}

/// A company or department name: 1–64 characters, no `/` (it separates a department's path).
fn check_name(name: &str) -> ApiResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.contains('/') {
        return Err(ApiError::bad_request(
            "name",
            "a name is 1 to 64 characters, without `/`",
        ));
    }
    Ok(name)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompanyBody {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    properties: Map<String, Value>,
}

/// Create a company, with its root department. Admins only.
#[utoipa::path(post, path = "/companies", tag = "tenants", security(("bearer" = [])),
    request_body = NewCompanyBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
pub async fn create_company(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewCompanyBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let name = check_name(&body.name)?;
    let (id, root) = (new_uuid(), new_uuid());
    let company = api
        .store
        .create_company(NewCompany {
            id: &id,
            root_id: &root,
            name,
            description: &body.description,
            tags: &body.tags,
            properties: &body.properties,
            actor: &caller.user.username,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"company": company, "root_department_id": root})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CompanyQuery {
    name: Option<String>,
}

/// Companies whose name contains `name`: every one for admins, the caller's own otherwise.
#[utoipa::path(get, path = "/companies", tag = "tenants", security(("bearer" = [])),
    params(("name" = Option<String>, Query, description = "part of the name")),
    responses((status = 200, description = "`{companies: [...]}`", body = Object)))]
pub async fn list_companies(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<CompanyQuery>,
) -> ApiResult<Json<Value>> {
    let member = (!caller.user.is_admin()).then_some(caller.user.id);
    let companies: Vec<Company> = api.store.companies(query.name.as_deref(), member).await?;
    Ok(Json(json!({ "companies": companies })))
}

/// The company, if the caller may see it (admins, members); 404 otherwise.
async fn visible_company(api: &ApiState, caller: &Caller, id: &str) -> ApiResult<Company> {
    let hidden = || ApiError::not_found(format!("company {id}"));
    let company = api.store.company(id).await?.ok_or_else(hidden)?;
    if caller.user.is_admin() || api.store.is_member(id, caller.user.id).await? {
        Ok(company)
    } else {
        Err(hidden())
    }
}

/// The department tree as nested objects, `children` under each.
fn tree(departments: &[Department], parent: Option<&str>) -> Vec<Value> {
    departments
        .iter()
        .filter(|d| d.parent_id.as_deref() == parent)
        .map(|d| {
            let mut node = serde_json::to_value(d).unwrap_or(Value::Null);
            node["children"] = Value::Array(tree(departments, Some(&d.id)));
            node
        })
        .collect()
}

/// The company's whole department tree: `{count, root}`.
#[utoipa::path(get, path = "/companies/{id}/departments", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn department_tree(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    visible_company(&api, &caller, &id).await?;
    let departments = api.store.departments(&id).await?;
    let root = tree(&departments, None)
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    Ok(Json(json!({"count": departments.len(), "root": root})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDepartmentBody {
    name: String,
    /// The parent department; the company's root when left out.
    parent_id: Option<String>,
    #[serde(default)]
    description: String,
}

/// Add a department under another (the root by default). Admins only.
#[utoipa::path(post, path = "/companies/{id}/departments", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NewDepartmentBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 409, description = "a sibling has the name", body = ApiError)))]
pub async fn create_department(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewDepartmentBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let name = check_name(&body.name)?;
    visible_company(&api, &caller, &id).await?;
    let parent = match body.parent_id {
        Some(parent) => parent,
        None => api
            .store
            .departments(&id)
            .await?
            .into_iter()
            .find(|d| d.parent_id.is_none())
            .map(|d| d.id)
            .ok_or_else(ApiError::internal)?,
    };
    let new_id = new_uuid();
    let department = api
        .store
        .create_department(NewDepartment {
            id: &new_id,
            company_id: &id,
            parent_id: &parent,
            name,
            description: &body.description,
        })
        .await
        .map_err(|e| ApiError::from(e).field("parent_id"))?;
    Ok((StatusCode::CREATED, Json(department)).into_response())
}

/// Put a user in a department. Admins only.
#[utoipa::path(put, path = "/departments/{id}/members/{user_id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "the user is a member"), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn add_member(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((department, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    api.store.add_member(&department, user_id(&user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a user out of a department. Admins only.
#[utoipa::path(delete, path = "/departments/{id}/members/{user_id}", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "the user is not a member"), (status = 403, body = ApiError)))]
pub async fn remove_member(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((department, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    api.store
        .remove_member(&department, user_id(&user)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn user_id(text: &str) -> ApiResult<engine::id::Id> {
    text.parse()
        .map_err(|_| ApiError::bad_request("user_id", format!("`{text}` is not a user id")))
}
