//! Definitions: create, list, read, save the draft, publish, versions (JSON or YAML), validate,
//! grants. Who may do what: designers and admins create; MGMT on the definition (or admin) edits,
//! publishes and changes grants; USE or MGMT lets you see it.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::definition::{Definition, DefinitionStatus};
use engine::people::{Grant, Permission, Role, DEFAULT_GRANTS};
use engine::service::Caller;
use engine::store::{DefinitionQuery, Visibility};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::body::{ApiJson, Document, Paging};
use super::error::{invalid_definition, ApiError, ApiResult};
use super::ApiState;

/// What a caller may do with a definition, checked on the object: 404 when they may not even
/// see it (its existence is not revealed), 403 when they see it but may not do this.
pub async fn authorize(
    api: &ApiState,
    caller: &Caller,
    key: &str,
    needed: Permission,
) -> ApiResult<Vec<Grant>> {
    let grants = api.store.grants(key).await?;
    let user = &caller.user;
    if !user.may(&grants, Permission::Use) {
        return Err(ApiError::not_found(format!("definition `{key}`")));
    }
    if !user.may(&grants, needed) {
        return Err(ApiError::forbidden(format!(
            "{} on `{key}` is needed for this",
            needed.as_str()
        )));
    }
    Ok(grants)
}

pub fn visibility(caller: &Caller) -> Option<Visibility> {
    (!caller.user.is_admin()).then(|| Visibility {
        roles: caller
            .user
            .roles
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        username: caller.user.username.clone(),
    })
}

pub async fn create(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Document(document): Document,
) -> ApiResult<Response> {
    let user = &caller.user;
    if !user.has(Role::Designer) && !user.is_admin() {
        return Err(ApiError::forbidden(
            "creating definitions needs the designer role",
        ));
    }
    let definition =
        Definition::from_value(document.clone()).map_err(|i| invalid_definition(&i))?;
    let issues = definition.check();
    if !issues.is_empty() {
        return Err(invalid_definition(&issues));
    }
    if api.store.definition(&definition.key).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "definition `{}` exists; save its draft instead",
                definition.key
            ),
        )
        .field("key"));
    }
    let saved = api.definitions.save_draft(document, &user.username).await?;
    api.store
        .set_grants(&saved.record.key, &DEFAULT_GRANTS)
        .await?;
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
        .store
        .list_definitions(&DefinitionQuery {
            q: query.q,
            status,
            visible_to: visibility(&caller),
            limit: paging.limit,
            offset: paging.offset,
        })
        .await?;
    Ok(Json(json!({
        "items": page.items, "total": page.total, "limit": paging.limit, "offset": paging.offset
    })))
}

pub async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    let grants = authorize(&api, &caller, &key, Permission::Use).await?;
    let record = api
        .store
        .definition(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("definition `{key}`")))?;
    let versions: Vec<Value> = api
        .store
        .versions(&key)
        .await?
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
        None | Some("json") => Ok(Json(record).into_response()),
        Some("yaml") => {
            let definition =
                Definition::from_value(record.document).map_err(|_| ApiError::internal())?;
            Ok((
                [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
                definition.to_yaml(),
            )
                .into_response())
        }
        Some(other) => Err(ApiError::bad_request(
            "format",
            format!("format `{other}`: use json or yaml"),
        )),
    }
}

#[derive(Serialize)]
pub struct Validation {
    issues: Vec<engine::definition::Issue>,
}

/// Validates without saving; any signed-in user may.
pub async fn validate(Document(document): Document) -> Json<Validation> {
    let issues = match Definition::from_value(document) {
        Ok(definition) => definition.check(),
        Err(issues) => issues,
    };
    Json(Validation { issues })
}

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
