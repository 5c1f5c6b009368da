//! The entity catalog (types, records, bulk import as JSON or CSV) and the execution preview.
//! Any signed-in person reads the catalog; designers and administrators change it. A preview
//! needs USE on the definition.

use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::entity::EntityType;
use engine::service::{Caller, EntityError};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{content_type, read_body, ApiJson, Paging};
use super::error::{ApiError, ApiResult};
use super::ApiState;

impl From<EntityError> for ApiError {
    fn from(err: EntityError) -> Self {
        match err {
            EntityError::NotFound(what) => ApiError::not_found(what),
            EntityError::Forbidden(why) => ApiError::forbidden(why),
            EntityError::Invalid(ref errors) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    errors.first().map_or_else(
                        || err.to_string(),
                        |e| format!("{}: {}", e.field, e.message),
                    ),
                );
                error.field = errors.first().map(|e| e.field.clone());
                error.issues = serde_json::to_value(errors).ok();
                error
            }
            EntityError::Definition(e) => e.into(),
            EntityError::Store(e) => e.into(),
        }
    }
}

/// Entity types, by id.
#[utoipa::path(get, path = "/entity-types", tag = "entities", security(("bearer" = [])),
    responses((status = 200, description = "`items`: every entity type", body = Object)))]
pub async fn list_types(State(api): State<ApiState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({ "items": api.entities.types().await? })))
}

/// Create or replace an entity type: `{id: "package:name", display_name, display_attribute,
/// attributes: [{name, references?}]}`. Designers and administrators.
#[utoipa::path(post, path = "/entity-types", tag = "entities", security(("bearer" = [])),
    request_body(content = Object, description = "an entity type"),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn put_type(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<EntityType>,
) -> ApiResult<Json<EntityType>> {
    Ok(Json(api.entities.put_type(&caller.user, body).await?))
}

#[utoipa::path(get, path = "/entity-types/{id}", tag = "entities", security(("bearer" = [])),
    params(("id" = String, Path, description = "package:name")),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn read_type(
    State(api): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Json<EntityType>> {
    Ok(Json(api.entities.entity_type(&id).await?))
}

/// Delete a type that has no records (409 while it has).
#[utoipa::path(delete, path = "/entity-types/{id}", tag = "entities", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn delete_type(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    api.entities.delete_type(&caller.user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct RecordQuery {
    q: Option<String>,
}

/// A type's records by display name; `q` matches part of the display name or guid.
#[utoipa::path(get, path = "/entity-types/{id}/records", tag = "entities", security(("bearer" = [])),
    params(("id" = String, Path), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`items`, `total`, `limit`, `offset`", body = Object), (status = 404, body = ApiError)))]
pub async fn list_records(
    State(api): State<ApiState>,
    Path(id): Path<String>,
    paging: Paging,
    Query(query): Query<RecordQuery>,
) -> ApiResult<Json<Value>> {
    let page = api
        .entities
        .records(&id, query.q.as_deref(), paging.limit, paging.offset)
        .await?;
    Ok(paging.answer(page))
}

/// Records to import: a JSON array of objects, or CSV (`Content-Type: text/csv`) with a header
/// row; in CSV a reference cell holds one guid or several separated by `;`.
pub struct Records(pub Vec<Value>);

impl<S: Send + Sync> FromRequest<S> for Records {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let kind = content_type(&request);
        let csv = kind.contains("csv");
        if !csv && !kind.is_empty() && !kind.contains("json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send records as application/json or text/csv, not `{kind}`"),
            ));
        }
        let bytes = read_body(request, state).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::bad_request("body", "the body is not UTF-8 text"))?;
        if csv {
            return engine::entity::csv::records(text)
                .map(Records)
                .map_err(|(line, why)| {
                    ApiError::bad_request("body", format!("line {line}: {why}"))
                });
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(Records(items)),
            Ok(_) => Err(ApiError::bad_request(
                "body",
                "send a JSON array of records",
            )),
            Err(e) => Err(ApiError::bad_request(
                "body",
                format!("not valid JSON: {e}"),
            )),
        }
    }
}

/// Create or replace records of a type, all or nothing: `{imported}`. Designers and
/// administrators. A reference attribute holds a guid or a list of guids.
#[utoipa::path(post, path = "/entity-types/{id}/records", tag = "entities", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Object, description = "a JSON array of records (each with `guid`), or text/csv with a header row"),
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 403, body = ApiError),
              (status = 404, body = ApiError), (status = 413, body = ApiError), (status = 422, body = ApiError)))]
pub async fn import_records(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Records(rows): Records,
) -> ApiResult<Json<Value>> {
    let imported = api.entities.import(&caller.user, &id, rows).await?;
    Ok(Json(json!({ "imported": imported })))
}

#[utoipa::path(get, path = "/entities/{guid}", tag = "entities", security(("bearer" = [])),
    params(("guid" = String, Path)), responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn read_record(
    State(api): State<ApiState>,
    Path(guid): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(api.entities.record(&guid).await?)))
}

#[utoipa::path(delete, path = "/entities/{guid}", tag = "entities", security(("bearer" = [])),
    params(("guid" = String, Path)),
    responses((status = 204), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn delete_record(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(guid): Path<String>,
) -> ApiResult<Response> {
    api.entities.delete_record(&caller.user, &guid).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PreviewBody {
    root_entity_id: String,
}

/// The execution preview: resolves every bound node's expression from the root record into the
/// entity tree and the bindings, kept as a session (for an hour) that a start may name. Needs
/// USE on the definition.
#[utoipa::path(post, path = "/definitions/{key}/preview", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)), request_body = PreviewBody,
    responses((status = 200, description = "`session_id`, `tree`, `bindings`, `bound_nodes`", body = Object),
              (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn preview(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<Value>> {
    let preview = api
        .entities
        .preview(&caller.user, &key, None, &body.root_entity_id)
        .await?;
    Ok(Json(json!(preview)))
}

/// The records a definition can start from (its root entity type's), for picking one.
#[utoipa::path(get, path = "/definitions/{key}/root-entities", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path), ("q" = Option<String>, Query), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, body = Object), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn root_entities(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    paging: Paging,
    Query(query): Query<RecordQuery>,
) -> ApiResult<Json<Value>> {
    let page = api
        .entities
        .root_records(
            &caller.user,
            &key,
            None,
            query.q.as_deref(),
            paging.limit,
            paging.offset,
        )
        .await?;
    Ok(paging.answer(page))
}
