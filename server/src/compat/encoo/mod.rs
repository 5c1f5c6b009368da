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
//! Not served yet: packages (upload, the preloaded three-step upload, list, patch, delete),
//! creating, changing and deleting robot groups, changing and deleting workflows, binding robots
//! to workflows and the batch upgrade — those answer 404 `{Code, Message}` naming the route.

mod views;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use engine::people::{new_uuid, Permission, Role};
use engine::runtime::{Mode, StartRequest};
use engine::service::Caller;
use engine::store::{JobQuery, NewDeployment, NewJob, TriggerPolicy};
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

type Fail = Refusal<Encoo>;
type Answer = Result<Json<Value>, Fail>;

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
        .route("/queues", get(queues))
        .route("/queues/{id}", get(queue))
        .route("/robots", get(robots))
        .route("/robots/{id}", get(robot))
        .route("/workflows", get(workflows).post(create_workflow))
        .route("/workflows/{id}", get(workflow))
        .route("/workflows/{id}/execute", post(execute_workflow))
        .route("/workflowlayouts", get(layouts))
        .route("/workflowlayouts/{id}", get(layout))
        .route("/workflowlayouts/{id}/execute", post(execute_layout));
    super::guard::<Encoo>(routes, state.clone())
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
}

/// A page of `items` (each with its name, description and creation time) as `{Count, List}`.
fn page<T>(
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
    items.retain(|item| {
        let (n, d, _) = fields(item);
        let (n, d) = (n.to_lowercase(), d.to_lowercase());
        name.as_ref().is_none_or(|q| n.contains(q))
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
async fn company(api: &ApiState, caller: &Caller, headers: &HeaderMap) -> Result<String, Fail> {
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

/// `GET /openapi/queues`.
async fn queues(State(api): State<ApiState>, Query(query): Query<ListQuery>) -> Answer {
    let all = api.store.queues().await?;
    page(
        &query,
        all,
        |q| (&q.name, &q.description, &q.created_at),
        |q| views::queue(&q),
    )
}

/// `GET /openapi/queues/{queueId}`.
async fn queue(State(api): State<ApiState>, Path(id): Path<String>) -> Answer {
    let queue = api
        .store
        .queue(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no robot group {id}")))?;
    Ok(Json(views::queue(&queue)))
}

/// `GET /openapi/robots`.
async fn robots(State(api): State<ApiState>, Query(query): Query<ListQuery>) -> Answer {
    let all = api.store.robots(None).await?;
    page(
        &query,
        all,
        |r| (&r.name, &r.description, &r.created_at),
        |r| views::robot(&r),
    )
}

/// `GET /openapi/robots/{robotId}`.
async fn robot(State(api): State<ApiState>, Path(id): Path<String>) -> Answer {
    let robot = api
        .store
        .robot(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no robot {id}")))?;
    Ok(Json(views::robot(&robot)))
}

/// `GET /openapi/workflows`.
async fn workflows(State(api): State<ApiState>, Query(query): Query<ListQuery>) -> Answer {
    let all = api.store.deployments().await?;
    page(
        &query,
        all,
        |d| (&d.name, &d.description, &d.created_at),
        |d| views::workflow(&d),
    )
}

/// `GET /openapi/workflows/{workflowId}`.
async fn workflow(State(api): State<ApiState>, Path(id): Path<String>) -> Answer {
    let deployment = api
        .store
        .deployment(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no workflow {id}")))?;
    Ok(Json(views::workflow(&deployment)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkflowBody {
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    arguments: Vec<views::Argument>,
    package_name: Option<String>,
    package_version: Option<String>,
    associated_queue_id: Option<String>,
    priority: Option<i32>,
    max_retry_count: Option<i32>,
    trigger_policy: Option<String>,
}

fn admin_only(caller: &Caller) -> Result<(), Fail> {
    if caller.user.is_admin() {
        Ok(())
    } else {
        Err(Fail::new(
            StatusCode::FORBIDDEN,
            "workflows are deployed by administrators",
        ))
    }
}

/// `POST /openapi/workflows`: deploys a package version to a robot group.
async fn create_workflow(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<WorkflowBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&caller)?;
    let Json(body) = body.map_err(|e| Fail::bad(e.body_text()))?;
    let required = |value: Option<String>, name: &str| {
        value
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Fail::bad(format!("{name} is required")))
    };
    let name = required(body.name, "Name")?;
    let package_name = required(body.package_name, "PackageName")?;
    let package_version = required(body.package_version, "PackageVersion")?;
    let queue = required(body.associated_queue_id, "AssociatedQueueId")?;
    let priority = body.priority.unwrap_or(2000);
    if !(0..=5000).contains(&priority) {
        return Err(Fail::bad("Priority: 0 to 5000"));
    }
    let retries = body.max_retry_count.unwrap_or(0);
    if !(0..=10).contains(&retries) {
        return Err(Fail::bad("MaxRetryCount: 0 to 10"));
    }
    let policy = match body.trigger_policy.as_deref() {
        None => TriggerPolicy::AnyTime,
        Some(p) => TriggerPolicy::parse(p)
            .ok_or_else(|| Fail::bad("TriggerPolicy: SkipWhenNoResource or AnyTime"))?,
    };
    if api.store.queue(&queue).await?.is_none() {
        return Err(Fail::bad(format!(
            "AssociatedQueueId: no robot group {queue}"
        )));
    }
    let deployment = api
        .store
        .create_deployment(NewDeployment {
            id: &new_uuid(),
            name: &name,
            description: &body.description,
            package_name: &package_name,
            package_version: &package_version,
            queue_id: &queue,
            arguments: &views::argument_values(&body.arguments),
            priority,
            max_retries: retries,
            trigger_policy: policy,
            created_by: &caller.user.username,
        })
        .await?;
    Ok(Json(views::workflow(&deployment)))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ExecuteBody {
    #[serde(default)]
    arguments: Vec<views::Argument>,
    priority: Option<i32>,
}

/// `POST /openapi/workflows/{workflowId}/execute`: queues a job; answers the jobs (one).
async fn execute_workflow(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    if !caller.user.is_admin() && !caller.user.has(Role::Operator) {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "running workflows needs the operator role",
        ));
    }
    let body: ExecuteBody = if body.iter().all(u8::is_ascii_whitespace) {
        ExecuteBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| Fail::bad(format!("body: {e}")))?
    };
    let deployment = api
        .store
        .deployment(&id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no workflow {id}")))?;
    let priority = body.priority.unwrap_or(deployment.priority);
    if !(0..=5000).contains(&priority) {
        return Err(Fail::bad("Priority: 0 to 5000"));
    }
    let mut arguments = deployment.arguments.clone();
    if let (Value::Object(map), Value::Object(more)) =
        (&mut arguments, views::argument_values(&body.arguments))
    {
        map.extend(more);
    }
    let job = api
        .store
        .create_job(&NewJob {
            id: new_uuid(),
            deployment_id: deployment.id.clone(),
            queue_id: deployment.queue_id.clone(),
            instance_id: None,
            node_id: None,
            callback_hash: None,
            arguments,
            priority,
            max_retries: deployment.max_retries,
        })
        .await?;
    Ok(Json(json!([views::job(&job, &deployment)])))
}

/// The published definitions with job nodes that `caller` may use.
async fn layout_list(api: &ApiState, caller: &Caller) -> Result<Vec<views::Layout>, Fail> {
    let summaries = api
        .definitions
        .list(
            &caller.user,
            None,
            Some(engine::definition::DefinitionStatus::Published),
            1_000,
            0,
        )
        .await?;
    let mut layouts = Vec::new();
    for summary in summaries.items {
        let (version, definition) = api.definitions.version(&summary.key, None).await?;
        if definition
            .nodes
            .iter()
            .any(|n| matches!(n.kind, engine::definition::NodeKind::Job(_)))
        {
            layouts.push(views::Layout {
                definition,
                published_at: version.published_at,
                published_by: version.published_by,
            });
        }
    }
    Ok(layouts)
}

/// `GET /openapi/workflowlayouts`.
async fn layouts(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<ListQuery>,
) -> Answer {
    let all = layout_list(&api, &caller).await?;
    page(
        &query,
        all,
        |l| {
            (
                &l.definition.name,
                &l.definition.description,
                &l.published_at,
            )
        },
        |l| views::layout(&l),
    )
}

/// `GET /openapi/workflowlayouts/{workflowlayoutId}`: the one layout.
async fn layout(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let found = layout_list(&api, &caller)
        .await?
        .into_iter()
        .find(|l| l.definition.key == id)
        .ok_or_else(|| Fail::not_found(format!("no workflow layout {id}")))?;
    Ok(Json(views::layout(&found)))
}

/// `POST /openapi/workflowlayouts/{workflowlayoutId}/execute`: starts the layout's workflow.
async fn execute_layout(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    api.definitions
        .authorize(&caller.user, &id, Permission::Use)
        .await?;
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: id.clone(),
                version: None,
                input: json!({}),
                trigger: engine::instance::Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            None,
        )
        .await?;
    let instance = started.instance;
    // The first jobs are queued by the scheduler right after the start; wait a moment for them.
    let mut jobs = Vec::new();
    for _ in 0..25 {
        jobs = api
            .store
            .jobs(&JobQuery {
                instance_id: Some(instance.id),
                limit: 100,
                ..JobQuery::default()
            })
            .await?
            .items;
        if !jobs.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut views = Vec::new();
    for job in &jobs {
        if let Some(d) = api.store.deployment(&job.deployment_id).await? {
            views.push(views::job(job, &d));
        }
    }
    Ok(Json(json!({
        "Id": instance.id.to_string(),
        "Name": id,
        "StartedAt": instance.created_at,
        "FinishedAt": instance.ended_at,
        "OwnerId": id,
        "JobStartupType": "Manual",
        "JobStartupId": null,
        "JobStartupName": caller.user.username,
        "CreatedAt": instance.created_at,
        "CreatedBy": caller.user.id.to_string(),
        "CreatedByName": caller.user.display_name,
        "Jobs": views,
    })))
}
