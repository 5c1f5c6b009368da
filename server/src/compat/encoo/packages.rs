//! Packages (流程包) as the console shows them: list, detail, PATCH with ETag, DELETE, the direct
//! upload (`PUT /openapi/packages`) and the preloaded three-step upload; and what workflows take
//! from packages: the robots bound to a workflow and the batch upgrade to the latest version.
//! The rules are the native API's (`api::packages`).
//!
//! The preloaded upload's channel is `PUT /openapi/preloadedVersionFiles/{id}/file?signature=…`:
//! the signature (a secret shown once, kept as a hash) is what authorises the put, as a
//! presigned address does, so the channel takes no `Authorization` header. A channel lasts a day.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use engine::people::{new_token, new_uuid, token_hash};
use engine::service::packages::sha256_hex;
use engine::service::Caller;
use engine::store::{NewUpload, Package};
use serde::Deserialize;
use serde_json::{json, Value};

use super::flows::seen_workflow;
use super::scope::Scope;
use super::{admin_only, json_body, page, referenced, views, Answer, Fail, ListQuery};
use crate::api::packages as native;
use crate::api::ApiState;

/// A direct upload takes at most this; larger files go through the preloaded upload.
const DIRECT_LIMIT: usize = 200 << 20;
/// How long a preloaded upload's channel takes a file.
const CHANNEL_HOURS: i64 = 24;

/// `GET /openapi/packages`: `SearchString` also matches tags; `IncludeVersions` adds versions.
pub(super) async fn packages(
    State(api): State<ApiState>,
    scope: Scope,
    Query(query): Query<ListQuery>,
) -> Answer {
    let versions = matches!(
        query.include_versions.as_deref(),
        Some("true" | "True" | "1")
    );
    let all: Vec<_> = api
        .store
        .packages()
        .await?
        .into_iter()
        .filter(|p| scope.lists(p.department_id.as_deref()))
        .map(|p| {
            let searched = format!("{} {}", p.description, p.tags.join(" "));
            (p, searched)
        })
        .collect();
    page(
        &query,
        all,
        |(p, searched)| (&p.name, searched, &p.created_at),
        |(p, _)| {
            let department = p.department_id.clone();
            scope.stamp(views::package(&p, versions), department.as_deref())
        },
    )
}

/// The package `id` when the caller sees it.
async fn found(api: &ApiState, scope: &Scope, id: &str) -> Result<Package, Fail> {
    scope.check(
        api.store.package(id).await?.filter(|p| p.id == id),
        |p| p.department_id.as_deref(),
        format!("no package {id}"),
    )
}

fn shown(scope: &Scope, package: &Package) -> Value {
    scope.stamp(
        views::package(package, true),
        package.department_id.as_deref(),
    )
}

/// `GET /openapi/packages/{packageId}`: with every version, highest first.
pub(super) async fn package(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    Ok(Json(shown(&scope, &found(&api, &scope, &id).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageBody {
    #[serde(rename = "ETag")]
    etag: Option<String>,
    tags: Option<Vec<String>>,
    description: Option<String>,
}

/// `PATCH /openapi/packages/{packageId}`: tags (and description) when `ETag` is the current one
/// (a version's `ETag`); 412 when it changed meanwhile.
pub(super) async fn change_package(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: Result<Json<PackageBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    let body = json_body(body)?;
    let etag = body
        .etag
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Fail::bad("ETag is required (a version's ETag of the package)"))?;
    let package = found(&api, &scope, &id).await?;
    let changed = native::change_package(
        &api,
        &package.id,
        &etag,
        body.description.as_deref(),
        body.tags.as_deref(),
        &scope.caller,
    )
    .await?;
    Ok(Json(shown(&scope, &changed)))
}

/// `DELETE /openapi/packages/{packageId}`: 400 while a workflow uses it.
pub(super) async fn delete_package(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Result<StatusCode, Fail> {
    admin_only(&scope.caller)?;
    let package = found(&api, &scope, &id).await?;
    api.store
        .delete_package(&package.id)
        .await
        .map_err(referenced)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /openapi/packages`: the file as the body (`application/octet-stream`), up to 200 MiB.
pub(super) async fn upload(
    State(api): State<ApiState>,
    scope: Scope,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    admin_only(&scope.caller)?;
    octet_stream(&headers)?;
    let limit = DIRECT_LIMIT.min(api.package_max_bytes);
    let bytes = native::read_file(body, limit).await.map_err(|_| {
        Fail::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "file: larger than {} MiB; use the preloaded upload (POST /openapi/preloadedVersionFiles)",
                limit >> 20
            ),
        )
    })?;
    let (package, version) = native::add(
        &api,
        &bytes,
        scope.department_id(),
        &scope.caller.user.username,
    )
    .await?;
    Ok(Json(views::uploaded(&package, &version)))
}

fn octet_stream(headers: &HeaderMap) -> Result<(), Fail> {
    let kind = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if kind.is_empty() || kind.starts_with("application/octet-stream") {
        Ok(())
    } else {
        Err(Fail::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type: send the file as application/octet-stream, not {kind}"),
        ))
    }
}

/// `POST /openapi/preloadedVersionFiles`: opens an upload channel.
pub(super) async fn open_upload(State(api): State<ApiState>, scope: Scope) -> Answer {
    admin_only(&scope.caller)?;
    let secret = new_token();
    let upload = api
        .store
        .open_upload(NewUpload {
            id: &new_uuid(),
            secret_hash: &token_hash(&secret),
            department_id: scope.department_id(),
            created_by: &scope.caller.user.username,
        })
        .await?;
    let base = api.runtime.public_url().unwrap_or_default();
    Ok(Json(json!({
        "Id": upload.id,
        "Channel": {
            "Uri": format!("{base}/openapi/preloadedVersionFiles/{}/file?signature={secret}", upload.id),
            "Headers": {"Content-Type": "application/octet-stream"},
        },
        "CreatedAt": upload.created_at,
        "CompanyId": scope.company(),
        "DepartmentId": upload.department_id,
    })))
}

/// An open upload still taking files; the same refusal for unknown and expired ones.
async fn open_channel(api: &ApiState, id: &str) -> Result<engine::store::PackageUpload, Fail> {
    let upload = api
        .store
        .package_upload(id)
        .await?
        .ok_or_else(|| Fail::not_found(format!("no open upload {id}")))?;
    let opened = chrono::DateTime::parse_from_rfc3339(&upload.created_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_default();
    if chrono::Utc::now() - opened > chrono::Duration::hours(CHANNEL_HOURS) {
        return Err(Fail::not_found(format!(
            "no open upload {id} (a channel lasts {CHANNEL_HOURS} hours)"
        )));
    }
    Ok(upload)
}

#[derive(Deserialize)]
pub struct Signature {
    signature: Option<String>,
}

/// `PUT` to a channel's `Uri`: keeps the file for the upload (a second put replaces it).
pub(super) async fn put_file(
    State(api): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<Signature>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, Fail> {
    let upload = open_channel(&api, &id).await?;
    let signed = query
        .signature
        .is_some_and(|s| token_hash(&s) == upload.secret_hash);
    if !signed {
        return Err(Fail::new(
            StatusCode::FORBIDDEN,
            "signature: not this channel's; use the Uri the channel was opened with",
        ));
    }
    octet_stream(&headers)?;
    let bytes = native::read_file(body, api.package_max_bytes).await?;
    if bytes.is_empty() {
        return Err(Fail::bad("file: the body is empty"));
    }
    api.store
        .fill_upload(&upload.id, &sha256_hex(&bytes), &bytes)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /openapi/preloadedVersionFiles/{id}`: the put file becomes a package version; the
/// channel closes. A refused file leaves the channel open for a corrected one.
pub(super) async fn complete_upload(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    admin_only(&caller)?;
    let upload = open_channel(&api, &id).await?;
    let bytes = api
        .store
        .upload_content(&upload.id)
        .await?
        .ok_or_else(|| Fail::bad("no file was put to the channel's Uri yet"))?;
    let (package, version) = native::add(
        &api,
        &bytes,
        upload.department_id.as_deref(),
        &caller.user.username,
    )
    .await?;
    api.store.close_upload(&upload.id).await?;
    Ok(Json(views::uploaded(&package, &version)))
}

/// `GET /openapi/workflows/{workflowId}/robots`.
pub(super) async fn workflow_robots(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
) -> Answer {
    seen_workflow(&api, &scope, &id).await?;
    let robots = api.store.deployment_robots(&id).await?;
    let list: Vec<Value> = robots.iter().map(views::robot).collect();
    Ok(Json(json!({"Count": list.len(), "List": list})))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RobotIds {
    #[serde(default)]
    robot_ids: Vec<String>,
}

/// `POST /openapi/workflows/{workflowId}/robots`: one answer per robot, `ErrorMessage` null when
/// it was bound.
pub(super) async fn bind_robots(
    State(api): State<ApiState>,
    scope: Scope,
    Path(id): Path<String>,
    body: Result<Json<RobotIds>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    seen_workflow(&api, &scope, &id).await?;
    let body = json_body(body)?;
    if body.robot_ids.is_empty() {
        return Err(Fail::bad("RobotIds: name at least one robot"));
    }
    let answers = native::bind(&api, &id, &body.robot_ids).await?;
    let list: Vec<Value> = answers
        .into_iter()
        .map(|(robot, why)| json!({"WorkflowId": id, "RobotId": robot, "ErrorMessage": why}))
        .collect();
    Ok(Json(json!(list)))
}

/// `DELETE /openapi/workflows/{workflowId}/robots/{robotId}`.
pub(super) async fn unbind_robot(
    State(api): State<ApiState>,
    scope: Scope,
    Path((id, robot)): Path<(String, String)>,
) -> Result<StatusCode, Fail> {
    admin_only(&scope.caller)?;
    seen_workflow(&api, &scope, &id).await?;
    api.store.unbind_robot(&id, &robot).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WorkflowIds {
    #[serde(default)]
    workflow_ids: Vec<String>,
}

/// `POST /openapi/workflows/batch/upgrade`.
pub(super) async fn upgrade(
    State(api): State<ApiState>,
    scope: Scope,
    body: Result<Json<WorkflowIds>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    admin_only(&scope.caller)?;
    let body = json_body(body)?;
    // Workflows the caller does not see count as missing.
    let mut ids = Vec::new();
    for id in &body.workflow_ids {
        let seen = seen_workflow(&api, &scope, id).await.is_ok();
        ids.push(if seen { id.clone() } else { String::new() });
    }
    let outcome = native::upgrade(&api, &ids).await?;
    let noted = |list: &[native::Noted]| -> Vec<Value> {
        list.iter()
            .map(|n| json!({"Id": n.id, "Name": n.name, "Message": n.message}))
            .collect()
    };
    Ok(Json(json!({
        "Total": outcome.total,
        "SuccessCount": outcome.succeeded,
        "FailureCount": outcome.failed.len(),
        "MissingCount": outcome.missing,
        "FailedList": noted(&outcome.failed),
        "WarningList": noted(&outcome.warnings),
    })))
}
