//! Robots: the worker protocol (`/workers/...`, signed in with a robot's token) and the console
//! routes for queues, robots, deployments and jobs (signed-in people).
//!
//! A robot is created by an administrator, who is shown its token once. The robot then sends
//! `Authorization: Bearer <robot token>`: heartbeats (every few seconds; silent past the lease
//! it is `disconnected`), claims the highest-priority queued job of its queue (leased for the
//! server's lease, `BATON_LEASE`), reports progress (which extends the lease), and succeeds or
//! fails the job. A job of a `job` node answers that node; a failure is retried while
//! `max_retries` allow; a job whose robot went silent is queued again once, for another robot.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::Utc;
use engine::people::{new_token, new_uuid, token_hash, Role};
use engine::service::scope::{retain_seen, robot_departments, sees};
use engine::service::Caller;
use engine::store::{
    JobFinish, JobQuery, NewDeployment, NewJob, NewQueue, NewRobot, Robot, TriggerPolicy,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{ApiJson, Paging};
use super::error::{ApiError, ApiResult};
use super::ApiState;

/// A robot signed in with its token.
pub struct Worker(pub Robot);

impl FromRequestParts<ApiState> for Worker {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &ApiState) -> Result<Self, ApiError> {
        let token = super::auth::bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        let robot = api
            .store
            .robot_by_token(&token_hash(&token))
            .await?
            .ok_or_else(ApiError::unauthorized)?;
        api.limiter.check(&format!("robot:{}", robot.id))?;
        Ok(Worker(robot))
    }
}

fn lease_until(api: &ApiState) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(api.runtime.lease()).unwrap_or_default()
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatBody {
    #[serde(default)]
    sdk_version: Option<String>,
}

/// A robot's heartbeat: it is `ready`, or `busy` while it runs a job.
#[utoipa::path(post, path = "/workers/heartbeat", tag = "robots", security(("bearer" = [])),
    request_body = HeartbeatBody,
    responses((status = 200, body = Object), (status = 401, body = ApiError)))]
pub async fn heartbeat(
    State(api): State<ApiState>,
    Worker(robot): Worker,
    ApiJson(body): ApiJson<HeartbeatBody>,
) -> ApiResult<Json<Robot>> {
    let sdk = body.sdk_version;
    Ok(Json(
        api.store
            .heartbeat(&robot.id, sdk.as_deref(), Utc::now())
            .await?,
    ))
}

/// Claim the next job of the robot's queue: 200 with the job, or 204 when there is none.
#[utoipa::path(post, path = "/workers/jobs/claim", tag = "robots", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 204, description = "no job"),
              (status = 401, body = ApiError)))]
pub async fn claim(State(api): State<ApiState>, Worker(robot): Worker) -> ApiResult<Response> {
    let job = api
        .store
        .claim_job(&robot.id, Utc::now(), lease_until(&api))
        .await?;
    Ok(match job {
        Some(job) => {
            let deployment = api.store.deployment(&job.deployment_id).await?;
            let mut body = json!(job);
            if let Some(d) = deployment {
                body["package_name"] = json!(d.package_name);
                body["package_version"] = json!(d.package_version);
            }
            Json(body).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    output: Option<Value>,
}

/// Report progress on a running job; extends its lease. 409 when it is no longer this robot's.
#[utoipa::path(post, path = "/workers/jobs/{id}/{outcome}", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path), ("outcome" = String, Path, description = "progress | succeed | fail")),
    request_body = ReportBody,
    responses((status = 200, body = Object), (status = 401, body = ApiError), (status = 404, body = ApiError),
              (status = 409, description = "the job is not running on this robot", body = ApiError)))]
pub async fn report(
    State(api): State<ApiState>,
    Worker(robot): Worker,
    Path((id, outcome)): Path<(String, String)>,
    ApiJson(body): ApiJson<ReportBody>,
) -> ApiResult<Json<Value>> {
    let message = body.message;
    let output = body.output.unwrap_or(Value::Null);
    let job = match outcome.as_str() {
        "progress" => {
            api.store
                .job_progress(&robot.id, &id, message.as_deref(), lease_until(&api))
                .await?
        }
        "succeed" | "fail" => {
            let succeeded = outcome == "succeed";
            let message = match (succeeded, message) {
                (_, Some(m)) => m,
                (true, None) => String::new(),
                (false, None) => {
                    return Err(ApiError::bad_request("message", "say why the job failed"))
                }
            };
            let job = api
                .store
                .finish_job(JobFinish {
                    robot: &robot.id,
                    job: &id,
                    succeeded,
                    output: &output,
                    message: &message,
                    now: Utc::now(),
                })
                .await?;
            api.runtime.wake();
            job
        }
        other => {
            return Err(ApiError::bad_request(
                "outcome",
                format!("`{other}`: progress, succeed or fail"),
            ))
        }
    };
    Ok(Json(json!(job)))
}

pub(super) fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.user.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden("robots are administered by admins"))
    }
}

fn name_of(name: &str) -> ApiResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "name",
            "a name is 1 to 100 characters",
        ));
    }
    Ok(name)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQueueBody {
    name: String,
    #[serde(default)]
    description: String,
    /// The department it belongs to (its robots with it); none: everybody's.
    department_id: Option<String>,
}

/// Create a robot queue. Admins only.
#[utoipa::path(post, path = "/queues", tag = "robots", security(("bearer" = [])),
    request_body = NewQueueBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 409, body = ApiError)))]
pub async fn create_queue(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewQueueBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let department = department_of(&api, body.department_id).await?;
    let queue = api
        .store
        .create_queue(NewQueue {
            id: &new_uuid(),
            name: name_of(&body.name)?,
            description: &body.description,
            tags: &[],
            department_id: department.as_deref(),
            created_by: &caller.user.username,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(queue)).into_response())
}

/// Robot queues, with their robot counts.
#[utoipa::path(get, path = "/queues", tag = "robots", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn queues(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let mut queues = api.store.queues().await?;
    retain_seen(api.store.as_ref(), &caller.user, &mut queues, |q| {
        q.department_id.as_deref()
    })
    .await?;
    Ok(Json(json!({"total": queues.len(), "items": queues})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRobotBody {
    name: String,
    #[serde(default)]
    description: String,
    queue_id: Option<String>,
}

/// Create a robot in a queue. Admins only. The answer carries the robot's token, shown once.
#[utoipa::path(post, path = "/robots", tag = "robots", security(("bearer" = [])),
    request_body = NewRobotBody,
    responses((status = 201, description = "`{robot, token}`", body = Object), (status = 400, body = ApiError),
              (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create_robot(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewRobotBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let name = name_of(&body.name)?;
    if let Some(queue) = &body.queue_id {
        if api.store.queue(queue).await?.is_none() {
            return Err(unknown("queue_id", "queue"));
        }
    }
    let token = new_token();
    let robot = api
        .store
        .create_robot(NewRobot {
            id: &new_uuid(),
            name,
            description: &body.description,
            queue_id: body.queue_id.as_deref(),
            token_hash: &token_hash(&token),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"robot": robot, "token": token})),
    )
        .into_response())
}

/// A `department_id` from a body: an existing department, or none (`null` or empty).
pub(super) async fn department_of(api: &ApiState, id: Option<String>) -> ApiResult<Option<String>> {
    match id.filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(id) => match api.store.department(&id).await? {
            Some(_) => Ok(Some(id)),
            None => Err(unknown("department_id", "department")),
        },
    }
}

/// A deployment's arguments: the package's defaults for its inputs, then what was given.
pub(crate) fn with_defaults(declared: &[engine::store::PackageArgument], given: Value) -> Value {
    let mut all = engine::store::default_arguments(declared);
    if let (Value::Object(all), Value::Object(given)) = (&mut all, given) {
        all.extend(given);
    }
    all
}

fn unknown(field: &str, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        format!("{field}: no such {what}"),
    )
    .field(field)
}

#[derive(Deserialize)]
pub struct RobotsQuery {
    queue_id: Option<String>,
}

/// Robots with their status (`ready`, `busy`, `disconnected`), optionally of one queue.
#[utoipa::path(get, path = "/robots", tag = "robots", security(("bearer" = [])),
    params(("queue_id" = Option<String>, Query)), responses((status = 200, body = Object)))]
pub async fn robots(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<RobotsQuery>,
) -> ApiResult<Json<Value>> {
    let all = api.store.robots(query.queue_id.as_deref()).await?;
    let mut placed = robot_departments(api.store.as_ref(), all).await?;
    retain_seen(api.store.as_ref(), &caller.user, &mut placed, |(_, d)| {
        d.as_deref()
    })
    .await?;
    let robots: Vec<Robot> = placed.into_iter().map(|(r, _)| r).collect();
    Ok(Json(json!({"total": robots.len(), "items": robots})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeploymentBody {
    name: String,
    #[serde(default)]
    description: String,
    package_name: String,
    package_version: String,
    queue_id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    arguments: Value,
    /// 0–5000, default 2000.
    priority: Option<i32>,
    /// 0–10, default 0.
    max_retries: Option<i32>,
    /// `SkipWhenNoResource` or `AnyTime` (default).
    trigger_policy: Option<String>,
    /// The department it belongs to; none: everybody's.
    department_id: Option<String>,
}

/// Create a deployment: a package version bound to a queue with arguments and policies.
/// Admins only.
#[utoipa::path(post, path = "/deployments", tag = "robots", security(("bearer" = [])),
    request_body = NewDeploymentBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn create_deployment(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<NewDeploymentBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let name = name_of(&body.name)?;
    let priority = body.priority.unwrap_or(2000);
    if !(0..=5000).contains(&priority) {
        return Err(ApiError::bad_request("priority", "0 to 5000"));
    }
    let max_retries = body.max_retries.unwrap_or(0);
    if !(0..=10).contains(&max_retries) {
        return Err(ApiError::bad_request("max_retries", "0 to 10"));
    }
    let trigger_policy = match body.trigger_policy.as_deref() {
        None => TriggerPolicy::AnyTime,
        Some(p) => TriggerPolicy::parse(p).ok_or_else(|| {
            ApiError::bad_request("trigger_policy", "SkipWhenNoResource or AnyTime")
        })?,
    };
    let arguments = match body.arguments {
        Value::Null => json!({}),
        Value::Object(map) => Value::Object(map),
        _ => {
            return Err(ApiError::bad_request(
                "arguments",
                "an object of argument values",
            ))
        }
    };
    for (field, value) in [
        ("package_name", &body.package_name),
        ("package_version", &body.package_version),
    ] {
        if value.trim().is_empty() {
            return Err(ApiError::bad_request(field, "required"));
        }
    }
    let (package, version) = super::packages::version_for(
        &api,
        body.package_name.trim(),
        Some(body.package_version.trim()),
        ("package_name", "package_version"),
    )
    .await?;
    let arguments = with_defaults(&version.arguments, arguments);
    if api.store.queue(&body.queue_id).await?.is_none() {
        return Err(unknown("queue_id", "queue"));
    }
    let department = department_of(&api, body.department_id).await?;
    let deployment = api
        .store
        .create_deployment(NewDeployment {
            id: &new_uuid(),
            name,
            description: &body.description,
            package_name: &package.name,
            package_version: &version.version,
            queue_id: &body.queue_id,
            arguments: &arguments,
            priority,
            max_retries,
            trigger_policy,
            department_id: department.as_deref(),
            created_by: &caller.user.username,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(deployment)).into_response())
}

/// Deployments, by name.
#[utoipa::path(get, path = "/deployments", tag = "robots", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn deployments(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let mut deployments = api.store.deployments().await?;
    retain_seen(api.store.as_ref(), &caller.user, &mut deployments, |d| {
        d.department_id.as_deref()
    })
    .await?;
    Ok(Json(
        json!({"total": deployments.len(), "items": deployments}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecuteBody {
    #[serde(default)]
    #[schema(value_type = Object)]
    arguments: Value,
    priority: Option<i32>,
}

/// Queue a job of the deployment on its own (not for a workflow node). Admins and operators.
#[utoipa::path(post, path = "/deployments/{id}/execute", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ExecuteBody,
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError)))]
pub async fn execute(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ExecuteBody>,
) -> ApiResult<Response> {
    if !caller.user.is_admin() && !caller.user.has(Role::Operator) {
        return Err(ApiError::forbidden("running jobs needs the operator role"));
    }
    let deployment = api
        .store
        .deployment(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    if !sees(
        api.store.as_ref(),
        &caller.user,
        deployment.department_id.as_deref(),
    )
    .await?
    {
        return Err(ApiError::not_found("deployment"));
    }
    let more = match body.arguments {
        Value::Null => serde_json::Map::new(),
        Value::Object(more) => more,
        _ => {
            return Err(ApiError::bad_request(
                "arguments",
                "an object of argument values",
            ))
        }
    };
    let priority = body.priority.unwrap_or(deployment.priority);
    if !(0..=5000).contains(&priority) {
        return Err(ApiError::bad_request("priority", "0 to 5000"));
    }
    let job = run_deployment(&api, &deployment, more, priority).await?;
    Ok((StatusCode::CREATED, Json(job)).into_response())
}

/// Queues a job of `deployment` on its own (not for a `job` node): its arguments with `more`
/// over them, at `priority` (already checked).
pub(crate) async fn run_deployment(
    api: &ApiState,
    deployment: &engine::store::Deployment,
    more: serde_json::Map<String, Value>,
    priority: i32,
) -> ApiResult<engine::store::Job> {
    let mut arguments = deployment.arguments.clone();
    if let Value::Object(map) = &mut arguments {
        map.extend(more);
    }
    Ok(api
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
        .await?)
}

#[derive(Deserialize)]
pub struct JobsQuery {
    queue_id: Option<String>,
    instance_id: Option<String>,
}

/// Jobs, newest first, optionally of one queue or one instance. Admins and operators.
#[utoipa::path(get, path = "/jobs", tag = "robots", security(("bearer" = [])),
    params(("queue_id" = Option<String>, Query), ("instance_id" = Option<String>, Query),
           ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Object), (status = 403, body = ApiError)))]
pub async fn jobs(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<JobsQuery>,
    paging: Paging,
) -> ApiResult<Json<Value>> {
    if !caller.user.is_admin() && !caller.user.has(Role::Operator) {
        return Err(ApiError::forbidden("jobs are for operators"));
    }
    let instance_id = match query.instance_id.filter(|i| !i.is_empty()) {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            ApiError::bad_request("instance_id", format!("`{text}` is not an instance id"))
        })?),
    };
    let page = api
        .store
        .jobs(&JobQuery {
            queue_id: query.queue_id.filter(|q| !q.is_empty()),
            instance_id,
            limit: paging.limit,
            offset: paging.offset,
        })
        .await?;
    Ok(paging.answer(page))
}
