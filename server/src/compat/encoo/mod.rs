//! The Encoo RPA console's OpenAPI (`../shared/reference/seeds/004_*`): `/connect/token` and
//! `/openapi/...`, over Baton's robots (`store::workers`), tenants and workflows. PascalCase JSON
//! as the document shows it; lists are `{Count, List}` with `PageIndex` from 0, `PageSize`
//! (default 20, at most 100) and `IsDesc` (by creation time, newest first by default); `Name` and
//! `SearchString` filter by part of the name (and description).
//!
//! What maps to what: a robot group (`Queue`) is a Baton queue; a `Robot` is a Baton robot
//! (`Status` `Ready` / `Busy` / `Disconnected`; `LicenseStatus` is always `ServerLicensed`:
//! Baton has no licences); a `Workflow` (流程部署) is a Baton deployment, its `Id` the deployment's
//! id; executing it queues a job; a `WorkflowLayout` (流程编排) is a published Baton definition
//! with at least one `job` node, its `Id` the definition's key, `Nodes` its job nodes; executing
//! it starts an instance, answered as a job group whose `Id` is the instance id and whose `Jobs`
//! are those its nodes have queued when the answer is written.
//!
//! Choices the document leaves open: getting a layout by id answers the one layout (the
//! document's example repeats the list's); refusals are `{Code, Message}` with that HTTP status
//! (the document shows no error body); `/connect/token` answers its fields as written
//! (`Access_token`, `Expires_in` as text, …) and refuses like an OAuth server,
//! `{error, error_description}` with 400. `CompanyId`, when sent, must be a company the caller
//! belongs to (administrators: any); the department tree is that company's (else the caller's
//! first).
//!
//! Creating a robot group is `POST /openapi/queues/{queueId}` as the document writes it: the
//! path's id becomes the new group's (taken: 409). Deleting a group that has robots or workflows,
//! or a workflow that has jobs, is refused with 400 (the document's "referenced" case); a delete
//! answers 204.
//!
//! Packages (list, detail, PATCH with ETag, DELETE, the direct and the preloaded upload), the
//! robots of a workflow and the batch upgrade are in `packages`. A workflow names a package
//! version (by `PackageId`/`PackageVersionId` or `PackageName`/`PackageVersion`; the latest when
//! no version is named), which must have been uploaded.

mod flows;
mod groups;
mod packages;
mod scope;
mod views;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Form, Json, Router};
use engine::service::Caller;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Refusal, Shape};
use crate::api::auth::{ClientAddr, TokenRequest};
use crate::api::ApiState;

/// The console's refusals: `{Code, Message}`.
pub struct Encoo;

impl Shape for Encoo {
    fn body(status: StatusCode, message: &str) -> Value {
        json!({"Code": status.as_u16(), "Message": message})
    }
}

pub(super) type Fail = Refusal<Encoo>;
pub(super) type Answer = Result<Json<Value>, Fail>;

/// `/connect/token`, open (its credentials are the body).
pub fn token_router<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    Router::new()
        .route("/connect/token", post(token))
        .with_state(state)
}

/// The routes under `/openapi`, to be nested there.
pub fn router(state: ApiState) -> Router {
    let routes = Router::new()
        .route("/companies/companylist", get(companies))
        .route("/departments/tree", get(departments))
        .route("/companyusers/self", get(me))
        .route("/queues", get(groups::queues))
        .route(
            "/queues/{id}",
            get(groups::queue)
                .post(groups::create_queue)
                .patch(groups::change_queue)
                .delete(groups::delete_queue),
        )
        .route("/robots", get(groups::robots))
        .route("/robots/{id}", get(groups::robot))
        .route(
            "/workflows",
            get(flows::workflows).post(flows::create_workflow),
        )
        .route(
            "/workflows/{id}",
            get(flows::workflow)
                .patch(flows::change_workflow)
                .delete(flows::delete_workflow),
        )
        .route("/workflows/{id}/execute", post(flows::execute_workflow))
        .route(
            "/workflows/{id}/robots",
            get(packages::workflow_robots).post(packages::bind_robots),
        )
        .route(
            "/workflows/{id}/robots/{robot}",
            axum::routing::delete(packages::unbind_robot),
        )
        .route("/workflows/batch/upgrade", post(packages::upgrade))
        .route("/packages", get(packages::packages).put(packages::upload))
        .route(
            "/packages/{id}",
            get(packages::package)
                .patch(packages::change_package)
                .delete(packages::delete_package),
        )
        .route("/preloadedVersionFiles", post(packages::open_upload))
        .route(
            "/preloadedVersionFiles/{id}",
            axum::routing::patch(packages::complete_upload),
        )
        .route("/workflowlayouts", get(flows::layouts))
        .route("/workflowlayouts/{id}", get(flows::layout))
        .route("/workflowlayouts/{id}/execute", post(flows::execute_layout));
    super::guard::<Encoo>(routes, state.clone())
        // The upload channel's signature authorises the put (see `packages`).
        .route("/preloadedVersionFiles/{id}/file", put(packages::put_file))
        .fallback(Fail::no_route)
        .with_state(state)
}

#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    #[allow(dead_code)]
    client_id: Option<String>,
}

/// `POST /connect/token`, form-encoded: the password and refresh_token grants of the native API
/// (refresh tokens single-use), answered with the console's field names.
async fn token(
    State(api): State<ApiState>,
    ClientAddr(address): ClientAddr,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let oauth = |status: StatusCode, error: &str, why: String| {
        (
            status,
            Json(json!({"error": error, "error_description": why})),
        )
            .into_response()
    };
    let Ok(Form(form)) = form else {
        return oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the form as application/x-www-form-urlencoded".into(),
        );
    };
    let request = TokenRequest {
        grant_type: form.grant_type.unwrap_or_default(),
        username: form.username,
        password: form.password,
        refresh_token: form.refresh_token,
    };
    match crate::api::auth::grant(&api, &address, request).await {
        Ok(pair) => (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(json!({
                "Access_token": pair.access_token,
                "Expires_in": pair.expires_in.to_string(),
                "Token_type": pair.token_type,
                "Refresh_token": pair.refresh_token,
                "Scope": "openapi",
            })),
        )
            .into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            oauth(StatusCode::BAD_REQUEST, "invalid_grant", e.message)
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            oauth(StatusCode::BAD_REQUEST, e.code, e.message)
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListQuery {
    name: Option<String>,
    search_string: Option<String>,
    is_desc: Option<String>,
    page_index: Option<String>,
    page_size: Option<String>,
    /// Created at or after (RFC 3339).
    start_time: Option<String>,
    /// Created at or before (RFC 3339).
    end_time: Option<String>,
    include_versions: Option<String>,
}

/// A page of `items` (each with its name, description and creation time) as `{Count, List}`.
pub(super) fn page<T>(
    query: &ListQuery,
    mut items: Vec<T>,
    fields: impl Fn(&T) -> (&str, &str, &str),
    view: impl Fn(T) -> Value,
) -> Answer {
    let number = |text: Option<&str>, name: &str, default: usize, max: usize| match text {
        None | Some("") => Ok(default),
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| Fail::bad(format!("{name}: a whole number up to {max}"))),
    };
    let index = number(query.page_index.as_deref(), "PageIndex", 0, 1_000_000)?;
    let size = number(query.page_size.as_deref(), "PageSize", 20, 100)?.max(1);
    let desc = match query.is_desc.as_deref() {
        None | Some("" | "true" | "True") => true,
        Some("false" | "False") => false,
        Some(_) => return Err(Fail::bad("IsDesc: true or false")),
    };
    let lower = |s: &Option<String>| {
        s.as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty())
    };
    let (name, search) = (lower(&query.name), lower(&query.search_string));
    let time = |text: Option<&str>, field: &str| match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| Some(t.with_timezone(&chrono::Utc)))
            .map_err(|_| Fail::bad(format!("{field}: a time like 2022-07-29T12:13:49.780Z"))),
    };
    let start = time(query.start_time.as_deref(), "StartTime")?;
    let end = time(query.end_time.as_deref(), "EndTime")?;
    items.retain(|item| {
        let (n, d, created) = fields(item);
        let (n, d) = (n.to_lowercase(), d.to_lowercase());
        let created = chrono::DateTime::parse_from_rfc3339(created).ok();
        let in_time =
            created.is_none_or(|c| start.is_none_or(|s| c >= s) && end.is_none_or(|e| c <= e));
        in_time
            && name.as_ref().is_none_or(|q| n.contains(q))
            && search
                .as_ref()
                .is_none_or(|q| n.contains(q) || d.contains(q))
    });
    items.sort_by(|a, b| fields(a).2.cmp(fields(b).2));
    if desc {
        items.reverse();
    }
    let count = items.len();
    let list: Vec<Value> = items
        .into_iter()
        .skip(index * size)
        .take(size)
        .map(view)
        .collect();
    Ok(Json(json!({"Count": count, "List": list})))
}

/// The company the request is about: its `CompanyId` header (one the caller belongs to), else
/// the caller's first.
pub(super) async fn company(
    api: &ApiState,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<String, Fail> {
    let member = (!caller.user.is_admin()).then_some(caller.user.id);
    let companies = api.store.companies(None, member).await?;
    match headers.get("CompanyId").and_then(|v| v.to_str().ok()) {
        Some(id) if companies.iter().any(|c| c.id == id) => Ok(id.to_string()),
        Some(id) => Err(Fail::not_found(format!(
            "CompanyId: no company {id} of yours"
        ))),
        None => companies
            .first()
            .map(|c| c.id.clone())
            .ok_or_else(|| Fail::not_found("the caller belongs to no company")),
    }
}

/// `GET /openapi/companies/companylist?Name=`.
async fn companies(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ListQuery>,
) -> Answer {
    let member = (!caller.user.is_admin()).then_some(caller.user.id);
    let list = api
        .store
        .companies(query.name.as_deref().filter(|n| !n.is_empty()), member)
        .await?;
    Ok(Json(json!({
        "Companies": list.iter().map(|c| views::company(c, &caller.user)).collect::<Vec<_>>(),
    })))
}

/// `GET /openapi/departments/tree`: the company's departments from its root.
async fn departments(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Answer {
    let company = company(&api, &caller, &headers).await?;
    let all = api.store.departments(&company).await?;
    let root = all
        .iter()
        .find(|d| d.parent_id.is_none())
        .ok_or_else(|| Fail::not_found("the company has no root department"))?;
    Ok(Json(json!({
        "Count": all.len(),
        "RootDepartment": views::department(root, &all),
    })))
}

/// `GET /openapi/companyusers/self`.
async fn me(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Answer {
    let company = company(&api, &caller, &headers).await.ok();
    let departments = api.store.memberships(caller.user.id).await?;
    Ok(Json(views::company_user(
        &caller.user,
        company.as_deref(),
        departments.first(),
    )))
}

pub(super) fn admin_only(caller: &Caller) -> Result<(), Fail> {
    if caller.user.is_admin() {
        Ok(())
    } else {
        Err(Fail::new(
            StatusCode::FORBIDDEN,
            "robots, packages and workflows are managed by administrators",
        ))
    }
}

pub(super) fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, Fail> {
    body.map(|Json(b)| b)
        .map_err(|e| Fail::bad(format!("body: {}", e.body_text())))
}

/// A refusal of a delete that something still refers to: 400, as the document says.
pub(super) fn referenced(err: engine::store::StoreError) -> Fail {
    match err {
        engine::store::StoreError::Conflict(why) => Fail::bad(why),
        other => other.into(),
    }
}
