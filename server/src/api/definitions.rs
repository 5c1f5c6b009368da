//! Definitions: create, list, read, save the draft, publish, versions (JSON or YAML), validate,
//! grants. Who may do what: designers and admins create; MGMT on the definition (or admin) edits,
//! publishes and changes grants; USE or MGMT lets you see it.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::definition::{Definition, DefinitionStatus};
use engine::people::{Grant, Permission};
use engine::service::{Caller, ServiceError};
use engine::store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::body::{ApiJson, Document, Paging};
use super::error::{ApiError, ApiResult};
use super::ApiState;

/// What a caller may do with a definition, checked on the object: 404 when they may not even
/// see it (its existence is not revealed), 403 when they see it but may not do this.
pub async fn authorize(
    api: &ApiState,
    caller: &Caller,
    key: &str,
    needed: Permission,
) -> ApiResult<Vec<Grant>> {
    Ok(api.definitions.authorize(&caller.user, key, needed).await?)
}

/// Create a definition from a document (JSON, or YAML with `Content-Type: application/yaml`):
/// it is saved as the key's first draft. Needs the designer role.
#[utoipa::path(post, path = "/definitions", tag = "definitions", security(("bearer" = [])),
    request_body(content = Object, description = "a definition (DESIGN §3), as application/json or application/yaml"),
    responses((status = 201, body = Object), (status = 403, body = ApiError),
              (status = 409, description = "the key exists", body = ApiError),
              (status = 422, description = "`invalid_definition`, every issue in `issues`", body = ApiError)))]
pub async fn create(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Document(document): Document,
) -> ApiResult<Response> {
    let saved = api
        .definitions
        .create(&caller.user, document)
        .await
        .map_err(|err| {
            let taken = matches!(err, ServiceError::Store(StoreError::Conflict(_)));
            let error = ApiError::from(err);
            if taken {
                error.field("key")
            } else {
                error
            }
        })?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/definitions/{}", saved.record.key),
        )],
        Json(json!({"definition": saved.record, "issues": saved.issues})),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    q: Option<String>,
}

/// The definitions the caller may see, newest change first.
#[utoipa::path(get, path = "/definitions", tag = "definitions", security(("bearer" = [])),
    params(("status" = Option<String>, Query, description = "draft | published | archived"),
           ("q" = Option<String>, Query, description = "part of the key or name"),
           ("limit" = Option<i64>, Query, description = "1–200, default 50"),
           ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`items`, `total`, `limit`, `offset`", body = Object), (status = 400, body = ApiError)))]
pub async fn list(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    paging: Paging,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some("draft") => Some(DefinitionStatus::Draft),
        Some("published") => Some(DefinitionStatus::Published),
        Some("archived") => Some(DefinitionStatus::Archived),
        Some(other) => {
            return Err(ApiError::bad_request(
                "status",
                format!("status `{other}`: use draft, published or archived"),
            ))
        }
    };
    let page = api
        .definitions
        .list(&caller.user, query.q, status, paging.limit, paging.offset)
        .await?;
    Ok(paging.answer(page))
}

/// A definition: its draft (with the draft's issues), its published versions and its grants.
#[utoipa::path(get, path = "/definitions/{key}", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let grants = authorize(&api, &caller, &key, Permission::Use).await?;
    let overview = api.definitions.overview(&key).await?;
    let record = overview.record;
    let versions: Vec<Value> = overview
        .versions
        .into_iter()
        .map(|v| json!({"version": v.version, "published_by": v.published_by, "published_at": v.published_at}))
        .collect();
    let draft_issues = match &record.draft {
        Some(draft) => match Definition::from_value(draft.clone()) {
            Ok(definition) => definition.check(),
            Err(issues) => issues,
        },
        None => Vec::new(),
    };
    Ok(Json(json!({
        "definition": record,
        "draft_issues": draft_issues,
        "versions": versions,
        "grants": grants,
    })))
}

/// The draft document itself, as JSON or (`?format=yaml`) YAML: what a designer exports.
#[utoipa::path(get, path = "/definitions/{key}/draft", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path), ("format" = Option<String>, Query, description = "json | yaml")),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn draft(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Query(query): Query<FormatQuery>,
) -> ApiResult<Response> {
    authorize(&api, &caller, &key, Permission::Use).await?;
    let record = api
        .store
        .definition(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("definition `{key}`")))?;
    let document = record
        .draft
        .ok_or_else(|| ApiError::not_found(format!("a draft of `{key}`")))?;
    export(document, query.format.as_deref())
}

/// A definition document in the format asked for.
fn export(document: Value, format: Option<&str>) -> ApiResult<Response> {
    match format {
        None | Some("json") => Ok(Json(document).into_response()),
        Some("yaml") => {
            let yaml = serde_norway::to_string(&document).map_err(|_| ApiError::internal())?;
            Ok((
                [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
                yaml,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::bad_request(
            "format",
            format!("format `{other}`: use json or yaml"),
        )),
    }
}

/// Save the draft (JSON or YAML); it may still have issues, which are returned. Needs MGMT.
#[utoipa::path(put, path = "/definitions/{key}/draft", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)), request_body(content = Object, description = "a definition (DESIGN §3), as application/json or application/yaml"),
    responses((status = 200, description = "`definition` and its `issues`", body = Object),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn save_draft(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    Document(mut document): Document,
) -> ApiResult<Json<Value>> {
    authorize(&api, &caller, &key, Permission::Mgmt).await?;
    match document.get("key").and_then(Value::as_str) {
        Some(inner) if inner != key => {
            return Err(ApiError::bad_request(
                "key",
                format!("the document's key `{inner}` is not `{key}`"),
            ))
        }
        Some(_) => {}
        None => {
            if let Value::Object(map) = &mut document {
                map.insert("key".into(), Value::String(key.clone()));
            }
        }
    }
    let saved = api
        .definitions
        .save_draft(document, &caller.user.username)
        .await?;
    Ok(Json(
        json!({"definition": saved.record, "issues": saved.issues}),
    ))
}

/// Freeze the draft as the next version. Needs MGMT; refused (422) while the draft has issues.
#[utoipa::path(post, path = "/definitions/{key}/publish", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 201, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError),
              (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub async fn publish(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    authorize(&api, &caller, &key, Permission::Mgmt).await?;
    let version = api.definitions.publish(&key, &caller.user.username).await?;
    Ok((StatusCode::CREATED, Json(version)).into_response())
}

#[derive(Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// One published version, as JSON or (`?format=yaml`) YAML.
#[utoipa::path(get, path = "/definitions/{key}/versions/{version}", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path), ("version" = i32, Path), ("format" = Option<String>, Query, description = "json | yaml")),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn version(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((key, version)): Path<(String, String)>,
    Query(query): Query<FormatQuery>,
) -> ApiResult<Response> {
    authorize(&api, &caller, &key, Permission::Use).await?;
    let number: i32 = version
        .parse()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| ApiError::bad_request("version", "a version is a number from 1"))?;
    let record = api
        .store
        .version(&key, Some(number))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("version {number} of `{key}`")))?;
    match query.format.as_deref() {
        // JSON: the version record (number, publisher, time, document); YAML: the document.
        None | Some("json") => Ok(Json(record).into_response()),
        other => export(record.document, other),
    }
}

#[derive(Serialize)]
pub struct Validation {
    issues: Vec<engine::definition::Issue>,
}

/// Validates without saving; any signed-in user may.
/// Validate a document without saving it: `{issues: [{node, field, code, message}]}`.
#[utoipa::path(post, path = "/definitions/validate", tag = "definitions", security(("bearer" = [])),
    request_body(content = Object, description = "a definition (DESIGN §3), as application/json or application/yaml"), responses((status = 200, body = Object)))]
pub async fn validate(Document(document): Document) -> Json<Validation> {
    let issues = match Definition::from_value(document) {
        Ok(definition) => definition.check(),
        Err(issues) => issues,
    };
    Json(Validation { issues })
}

/// Which roles may use (USE) or manage (MGMT) the definition.
#[utoipa::path(get, path = "/definitions/{key}/grants", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn grants(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let grants = authorize(&api, &caller, &key, Permission::Use).await?;
    Ok(Json(json!({ "grants": grants })))
}

#[derive(Deserialize)]
pub struct GrantsBody {
    grants: Vec<Grant>,
}

/// Replace the definition's grants: `{grants: [{role, permission}]}`. Needs MGMT.
#[utoipa::path(put, path = "/definitions/{key}/grants", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn set_grants(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<GrantsBody>,
) -> ApiResult<Json<Value>> {
    authorize(&api, &caller, &key, Permission::Mgmt).await?;
    api.store.set_grants(&key, &body.grants).await?;
    Ok(Json(json!({ "grants": api.store.grants(&key).await? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DepartmentBody {
    /// A department's id, or null for none.
    department_id: Option<String>,
}

/// Put the definition in a department (`{department_id}`; null for none): only the people in
/// that department, above it or below it (and administrators) then see it and its instances.
/// Needs MGMT; a non-administrator may only choose a department they see.
#[utoipa::path(put, path = "/definitions/{key}/department", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)), request_body = DepartmentBody,
    responses((status = 200, description = "the definition's record", body = Object),
              (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn set_department(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<DepartmentBody>,
) -> ApiResult<Json<Value>> {
    let department = body.department_id.filter(|d| !d.is_empty());
    let record = api
        .definitions
        .set_department(&caller.user, &key, department.as_deref())
        .await
        .map_err(|e| match e {
            ServiceError::Store(StoreError::NotFound(what)) if what.starts_with("department") => {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    "department_id: no such department among those you belong to or see",
                )
                .field("department_id")
            }
            other => other.into(),
        })?;
    Ok(Json(json!({
        "key": record.key,
        "department_id": record.department_id,
    })))
}
