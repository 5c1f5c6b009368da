//! Packages (what robots run), robots bound to deployments, and upgrading deployments to their
//! package's latest version. The Encoo surface shapes the same operations its way; the rules
//! live here once.
//!
//! A package file is a `.dgs` zip archive with a `package.json` manifest (see
//! `engine::service::packages`); it is sent as the raw request body
//! (`application/octet-stream`), at most `BATON_PACKAGE_MAX_MB`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::service::packages::{add_package, PackageError};
use engine::service::scope::{retain_seen, sees};
use engine::service::Caller;
use engine::store::{NewDeployment, Package, PackageChange, PackageVersion};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::ApiJson;
use super::error::{ApiError, ApiResult};
use super::workers::{admin_only, Worker};
use super::ApiState;

impl From<PackageError> for ApiError {
    fn from(err: PackageError) -> Self {
        match err {
            PackageError::Invalid { field, message } => ApiError::bad_request(field, message),
            PackageError::Store(store) => store.into(),
        }
    }
}

/// The request's body as a file of at most `limit` bytes; beyond it, 413.
pub async fn read_file(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "file: a package file is at most {} MiB here",
                limit / (1 << 20)
            ),
        )
        .field("file")
    })
}

/// Adds an uploaded package file as a new version: the package and the new version's id.
pub async fn add(
    api: &ApiState,
    bytes: &[u8],
    department: Option<&str>,
    by: &str,
) -> ApiResult<(Package, String)> {
    Ok(add_package(api.store.as_ref(), bytes, department, by).await?)
}

/// The package (by id or name) and one of its versions (by id or number; the latest when none
/// is named), for a deployment. An unknown one is 422 naming the field of `fields` (package,
/// version) at fault.
pub async fn version_for(
    api: &ApiState,
    package: &str,
    version: Option<&str>,
    fields: (&str, &str),
) -> ApiResult<(Package, PackageVersion)> {
    let unknown = |field: &str, what: String| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", what).field(field)
    };
    let found = api.store.package(package).await?.ok_or_else(|| {
        unknown(
            fields.0,
            format!("there is no package {package}; upload it first"),
        )
    })?;
    let chosen = match version {
        None => found.latest().cloned(),
        Some(v) => found
            .versions
            .iter()
            .find(|x| x.version == v || x.id == v)
            .cloned(),
    };
    let chosen = chosen.ok_or_else(|| {
        unknown(
            fields.1,
            format!(
                "package {} has no version {}",
                found.name,
                version.unwrap_or("at all")
            ),
        )
    })?;
    Ok((found, chosen))
}

/// The outcome of upgrading deployments: counts and, per deployment, why it failed or what to
/// know (already on the latest version).
#[derive(Debug, Default)]
pub struct Upgrade {
    pub total: usize,
    pub succeeded: usize,
    pub missing: usize,
    pub failed: Vec<Noted>,
    pub warnings: Vec<Noted>,
}

#[derive(Debug)]
pub struct Noted {
    pub id: String,
    pub name: String,
    pub message: String,
}

/// Moves each deployment to its package's latest version.
pub async fn upgrade(api: &ApiState, ids: &[String]) -> ApiResult<Upgrade> {
    let mut outcome = Upgrade {
        total: ids.len(),
        ..Upgrade::default()
    };
    for id in ids {
        let Some(d) = api.store.deployment(id).await? else {
            outcome.missing += 1;
            continue;
        };
        let note = |message: String| Noted {
            id: d.id.clone(),
            name: d.name.clone(),
            message,
        };
        let latest = api
            .store
            .package(&d.package_name)
            .await?
            .and_then(|p| p.latest().map(|v| v.version.clone()));
        let Some(latest) = latest else {
            outcome.failed.push(note(format!(
                "its package {} has no versions any more",
                d.package_name
            )));
            continue;
        };
        if latest == d.package_version {
            outcome
                .warnings
                .push(note(format!("already on the latest version, {latest}")));
            outcome.succeeded += 1;
            continue;
        }
        api.store
            .update_deployment(
                &d.id,
                NewDeployment {
                    id: &d.id,
                    name: &d.name,
                    description: &d.description,
                    package_name: &d.package_name,
                    package_version: &latest,
                    queue_id: &d.queue_id,
                    arguments: &d.arguments,
                    priority: d.priority,
                    max_retries: d.max_retries,
                    trigger_policy: d.trigger_policy,
                    department_id: d.department_id.as_deref(),
                    created_by: &d.created_by,
                },
            )
            .await?;
        outcome.succeeded += 1;
    }
    Ok(outcome)
}

/// Binds robots to a deployment: for each robot, `None` when bound, else why not (unknown, or
/// not a robot of the deployment's queue). `NotFound` for an unknown deployment.
pub async fn bind(
    api: &ApiState,
    deployment: &str,
    robots: &[String],
) -> ApiResult<Vec<(String, Option<String>)>> {
    let d = api
        .store
        .deployment(deployment)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    let mut answers = Vec::new();
    let mut fine = Vec::new();
    for id in robots {
        let why = match api.store.robot(id).await? {
            None => Some(format!("there is no robot {id}")),
            Some(r) if r.queue_id.as_deref() != Some(d.queue_id.as_str()) => Some(format!(
                "robot {} is not in the deployment's robot group",
                r.name
            )),
            Some(_) => {
                fine.push(id.clone());
                None
            }
        };
        answers.push((id.clone(), why));
    }
    api.store.bind_robots(&d.id, &fine).await?;
    Ok(answers)
}

#[derive(Deserialize)]
pub struct UploadQuery {
    department_id: Option<String>,
}

/// Upload a package file (`.dgs`: a zip with `package.json`) as the raw body. The package is
/// created with its first version (in `?department_id=` when given). Admins only.
#[utoipa::path(post, path = "/packages", tag = "robots", security(("bearer" = [])),
    params(("department_id" = Option<String>, Query, description = "the department a new package belongs to")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 409, description = "the package has this version", body = ApiError),
              (status = 413, body = ApiError)))]
pub async fn upload(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let department = super::workers::department_of(&api, query.department_id).await?;
    let bytes = read_file(body, api.package_max_bytes).await?;
    let (package, version_id) =
        add(&api, &bytes, department.as_deref(), &caller.user.username).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"package": package, "version_id": version_id})),
    )
        .into_response())
}

/// Packages with their versions (highest first), by name.
#[utoipa::path(get, path = "/packages", tag = "robots", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn packages(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    let mut all = api.store.packages().await?;
    retain_seen(api.store.as_ref(), &caller.user, &mut all, |p| {
        p.department_id.as_deref()
    })
    .await?;
    Ok(Json(json!({"total": all.len(), "items": all})))
}

/// One package, by id or name.
#[utoipa::path(get, path = "/packages/{id}", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn package(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Package>> {
    let found = api
        .store
        .package(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("package"))?;
    if !sees(
        api.store.as_ref(),
        &caller.user,
        found.department_id.as_deref(),
    )
    .await?
    {
        return Err(ApiError::not_found("package"));
    }
    Ok(Json(found))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageChangeBody {
    /// The package's current `etag`: a change made meanwhile is not overwritten (412).
    etag: String,
    description: Option<String>,
    tags: Option<Vec<String>>,
}

/// Change a package's description or tags. Admins only.
#[utoipa::path(patch, path = "/packages/{id}", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PackageChangeBody,
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError),
              (status = 412, description = "the etag is not the current one", body = ApiError)))]
pub async fn change(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PackageChangeBody>,
) -> ApiResult<Json<Package>> {
    admin_only(&caller)?;
    Ok(Json(
        change_package(
            &api,
            &id,
            &body.etag,
            body.description.as_deref(),
            body.tags.as_deref(),
            &caller,
        )
        .await?,
    ))
}

/// Changes a package when `etag` is current: 412 otherwise.
pub async fn change_package(
    api: &ApiState,
    id: &str,
    etag: &str,
    description: Option<&str>,
    tags: Option<&[String]>,
    caller: &Caller,
) -> ApiResult<Package> {
    let package = api
        .store
        .package(id)
        .await?
        .ok_or_else(|| ApiError::not_found("package"))?;
    if let Some(tags) = tags {
        if tags.len() > 50 || tags.iter().any(|t| t.trim().is_empty() || t.len() > 100) {
            return Err(ApiError::bad_request(
                "tags",
                "up to 50 tags of 1 to 100 characters",
            ));
        }
    }
    api.store
        .update_package(
            &package.id,
            PackageChange {
                etag,
                description,
                tags,
                modified_by: &caller.user.username,
            },
        )
        .await
        .map_err(|e| match e {
            engine::store::StoreError::Conflict(why) => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "stale_etag", why).field("etag")
            }
            other => other.into(),
        })
}

/// Delete a package with its versions. 409 while a deployment uses it. Admins only.
#[utoipa::path(delete, path = "/packages/{id}", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError),
              (status = 409, body = ApiError)))]
pub async fn delete(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    let package = api
        .store
        .package(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("package"))?;
    api.store.delete_package(&package.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A robot downloads a package version's file (counted). `X-Package-Sha256` carries its hash.
#[utoipa::path(get, path = "/workers/packages/{package}/{version}", tag = "robots", security(("bearer" = [])),
    params(("package" = String, Path, description = "id or name"), ("version" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn download(
    State(api): State<ApiState>,
    Worker(_robot): Worker,
    Path((package, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (found, bytes) = api
        .store
        .download_package(&package, &version)
        .await?
        .ok_or_else(|| ApiError::not_found("package version"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{package}.{version}.dgs\""),
            ),
            (
                header::HeaderName::from_static("x-package-sha256"),
                found.sha256,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The robots bound to a deployment (its jobs go to them only; none bound: any of its queue).
#[utoipa::path(get, path = "/deployments/{id}/robots", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn robots(State(api): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let d = api
        .store
        .deployment(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("deployment"))?;
    let robots = api.store.deployment_robots(&d.id).await?;
    Ok(Json(json!({"total": robots.len(), "items": robots})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindBody {
    robot_ids: Vec<String>,
}

/// Bind robots of the deployment's queue to it; each answer says whether that robot was bound.
/// Admins only.
#[utoipa::path(post, path = "/deployments/{id}/robots", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = BindBody,
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn bind_robots(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BindBody>,
) -> ApiResult<Json<Value>> {
    admin_only(&caller)?;
    let answers = bind(&api, &id, &body.robot_ids).await?;
    let items: Vec<Value> = answers
        .into_iter()
        .map(|(robot, why)| json!({"robot_id": robot, "bound": why.is_none(), "error": why}))
        .collect();
    Ok(Json(json!({"items": items})))
}

/// Unbind a robot from a deployment. Admins only.
#[utoipa::path(delete, path = "/deployments/{id}/robots/{robot_id}", tag = "robots", security(("bearer" = [])),
    params(("id" = String, Path), ("robot_id" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn unbind_robot(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, robot)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    api.store.unbind_robot(&id, &robot).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBody {
    deployment_ids: Vec<String>,
}

/// Move deployments to their package's latest version. Admins only.
#[utoipa::path(post, path = "/deployments/upgrade", tag = "robots", security(("bearer" = [])),
    request_body = UpgradeBody,
    responses((status = 200, body = Object), (status = 403, body = ApiError)))]
pub async fn upgrade_deployments(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<UpgradeBody>,
) -> ApiResult<Json<Value>> {
    admin_only(&caller)?;
    let outcome = upgrade(&api, &body.deployment_ids).await?;
    let noted = |list: &[Noted]| -> Vec<Value> {
        list.iter()
            .map(|n| json!({"id": n.id, "name": n.name, "message": n.message}))
            .collect()
    };
    Ok(Json(json!({
        "total": outcome.total, "succeeded": outcome.succeeded,
        "failed": outcome.failed.len(), "missing": outcome.missing,
        "failures": noted(&outcome.failed), "warnings": noted(&outcome.warnings),
    })))
}
