//! Triggers: what starts a definition without a person. The triggers of a definition's latest
//! published version are in force; a webhook's secret token is issued (and rotated) by someone
//! who may manage the definition, shown once, and kept only as a hash. The hook itself is
//! called with that token and no other credential.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::instance::Trigger;
use engine::people::{new_token, token_hash, Permission};
use engine::runtime::StartRequest;
use engine::service::Caller;
use serde_json::{json, Value};

use super::body::parse_json;
use super::definitions::authorize;
use super::error::{ApiError, ApiResult};
use super::ApiState;

/// The triggers in force for the definition: cron schedules with their next time, webhooks
/// with whether a token has been issued.
#[utoipa::path(get, path = "/definitions/{key}/triggers", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, description = "`items`: name, kind, schedule, input, next_fire_at, has_token", body = Object),
              (status = 404, body = ApiError)))]
pub async fn list(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Json<Value>> {
    authorize(&api, &caller, &key, Permission::Use).await?;
    let items = api.store.triggers(&key).await?;
    Ok(Json(json!({ "items": items })))
}

/// Issue a new secret token for a webhook trigger (the old one stops working). The token is in
/// this answer only; Baton keeps its hash.
#[utoipa::path(post, path = "/definitions/{key}/triggers/{name}/token", tag = "definitions", security(("bearer" = [])),
    params(("key" = String, Path), ("name" = String, Path)),
    responses((status = 201, description = "`token`, `path`: call `POST path` to start the definition", body = Object),
              (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn issue_token(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((key, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&api, &caller, &key, Permission::Mgmt).await?;
    let token = new_token();
    api.store
        .set_hook_token(&key, &name, &token_hash(&token))
        .await?;
    let path = format!("/api/v1/hooks/{token}");
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "path": path})),
    )
        .into_response())
}

/// Start the webhook's definition (its latest published version) with the request body as the
/// input. The token in the path is the credential. An `Idempotency-Key` header makes a repeated
/// delivery return the first instance (200) instead of starting another.
#[utoipa::path(post, path = "/hooks/{token}", tag = "definitions",
    params(("token" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Object, description = "the instance's input (JSON); empty means `{}`"),
    responses((status = 201, description = "`instance_id`, `status`", body = Object), (status = 200, body = Object),
              (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError),
              (status = 413, body = ApiError), (status = 422, body = ApiError)))]
pub async fn hook(
    State(api): State<ApiState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let trigger = api
        .store
        .hook_by_token(&token_hash(&token))
        .await?
        .ok_or_else(|| ApiError::not_found("hook"))?;
    let input = parse_json::<Value>(&body)?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 200)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "Idempotency-Key",
                        "an idempotency key is 1 to 200 visible characters",
                    )
                })?
                .to_string(),
        ),
    };
    let started = api
        .runtime
        .start_once(StartRequest {
            definition_key: trigger.definition_key.clone(),
            version: None,
            input,
            trigger: Trigger::Webhook,
            operator: format!("webhook:{}", trigger.name),
            idempotency_key,
        })
        .await?;
    let status = if started.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({
            "instance_id": started.instance.id,
            "status": started.instance.status,
        })),
    )
        .into_response())
}
