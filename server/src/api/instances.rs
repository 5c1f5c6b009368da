//! Instances: start, list, read (with every node run), the event log as server-sent events,
//! and the operations on an instance and on its nodes. USE on the instance's definition (or
//! having started the instance) lets you see it; USE lets you start and operate it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::id::Id;
use engine::instance::{InstanceRecord, InstanceStatus, Trigger};
use engine::people::Permission;
use engine::runtime::{Mode, NodeAction, StartRequest};
use engine::service::Caller;
use engine::store::{InstanceChange, InstanceQuery};
use futures::stream::{self, Stream};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{parse_json, ApiJson, Paging};
use super::definitions::authorize;
use super::error::{ApiError, ApiResult};
use super::ApiState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    definition_key: String,
    version: Option<i32>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
    idempotency_key: Option<String>,
    #[serde(default)]
    debug: bool,
    #[serde(default)]
    mock: bool,
    session_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    bindings: Option<Value>,
}

/// Start an instance of the latest (or a given) published version. The input is checked
/// against the definition's `input_schema`. An `idempotency_key` already used by the caller
/// returns that instance (200) instead of starting another.
#[utoipa::path(post, path = "/instances", tag = "instances", security(("bearer" = [])),
    request_body = StartBody,
    responses((status = 201, body = Object), (status = 200, description = "the idempotency key's instance", body = Object),
              (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError),
              (status = 413, body = ApiError), (status = 422, body = ApiError)))]
pub async fn start(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<StartBody>,
) -> ApiResult<Response> {
    if body.bindings.is_some() && body.session_id.is_none() {
        return Err(ApiError::bad_request(
            "bindings",
            "bindings come from a preview: send its `session_id` too",
        ));
    }
    if let Some(key) = &body.idempotency_key {
        if key.is_empty() || key.len() > 200 {
            return Err(ApiError::bad_request(
                "idempotency_key",
                "an idempotency key is 1 to 200 characters",
            ));
        }
    }
    authorize(&api, &caller, &body.definition_key, Permission::Use).await?;
    // A start from a preview runs the version the preview resolved, each bound node once per
    // entity kept.
    let (version, bound) = match &body.session_id {
        Some(session) => {
            let kept = body.bindings.as_ref().map(kept_bindings).transpose()?;
            let (version, bound) = api
                .entities
                .start_bindings(&body.definition_key, session, kept)
                .await?;
            if body.version.is_some_and(|v| v != version) {
                return Err(ApiError::bad_request(
                    "version",
                    format!("the preview session is of version {version}"),
                ));
            }
            (Some(version), Some(bound))
        }
        None => (body.version, None),
    };
    let mode = Mode {
        debug: body.debug,
        mock: body.mock,
    };
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: body.definition_key,
                version,
                input: body.input.unwrap_or_else(|| json!({})),
                trigger: Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: body.idempotency_key,
            },
            mode,
            bound,
        )
        .await?;
    let status = if started.existing {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(started.instance)).into_response())
}

/// The bindings an operator kept: `[{node, data_id}]` (or WeCube's `nodeDefId` /
/// `entityDataId`).
fn kept_bindings(value: &Value) -> ApiResult<Vec<(String, String)>> {
    let items = value.as_array().ok_or_else(|| {
        ApiError::bad_request("bindings", "bindings are a list of {node, data_id}")
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let text = |a: &str, b2: &str| {
                b.get(a)
                    .or_else(|| b.get(b2))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            match (text("node", "nodeDefId"), text("data_id", "entityDataId")) {
                (Some(node), Some(data)) => Ok((node, data)),
                _ => Err(ApiError::bad_request(
                    format!("bindings[{i}]"),
                    "a binding is {node, data_id}",
                )),
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    definition_key: Option<String>,
    started_by: Option<String>,
    started_after: Option<String>,
    started_before: Option<String>,
}

/// An RFC 3339 time from the query, or a 400 naming the parameter.
fn time_param(value: Option<&str>, name: &str) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    ApiError::bad_request(
                        name,
                        format!("`{v}` is not an RFC 3339 time like 2026-01-31T09:00:00Z"),
                    )
                })
        })
        .transpose()
}

/// The instances the caller may see, newest first.
#[utoipa::path(get, path = "/instances", tag = "instances", security(("bearer" = [])),
    params(("status" = Option<String>, Query), ("definition_key" = Option<String>, Query),
           ("started_by" = Option<String>, Query),
           ("started_after" = Option<String>, Query, description = "RFC 3339; started at or after"),
           ("started_before" = Option<String>, Query, description = "RFC 3339; started before"), ("limit" = Option<i64>, Query), ("offset" = Option<i64>, Query)),
    responses((status = 200, description = "`items`, `total`, `limit`, `offset`", body = Object), (status = 400, body = ApiError)))]
pub async fn list(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    paging: Paging,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(InstanceStatus::parse(text).ok_or_else(|| {
            ApiError::bad_request(
                "status",
                format!("status `{text}` is not an instance status"),
            )
        })?),
    };
    let page = api
        .instances
        .list(
            &caller.user,
            InstanceQuery {
                status,
                definition_key: query.definition_key.filter(|k| !k.is_empty()),
                operator: query.started_by.filter(|k| !k.is_empty()),
                started_after: time_param(query.started_after.as_deref(), "started_after")?,
                started_before: time_param(query.started_before.as_deref(), "started_before")?,
                visible_to: None,
                limit: paging.limit,
                offset: paging.offset,
            },
        )
        .await?;
    Ok(paging.answer(page))
}

fn parse_id(text: &str) -> ApiResult<Id> {
    text.parse()
        .map_err(|_| ApiError::bad_request("id", format!("`{text}` is not an instance id")))
}

/// The instance, if the caller may see it (404 otherwise); with `operate`, also if they may
/// operate it (403 otherwise).
async fn visible(
    api: &ApiState,
    caller: &Caller,
    id: &str,
    operate: bool,
) -> ApiResult<InstanceRecord> {
    let id = parse_id(id)?;
    Ok(api.instances.visible(&caller.user, id, operate).await?)
}

/// One instance with `status`, `cost_ms`, `output`, `error` and every node run.
#[utoipa::path(get, path = "/instances/{id}", tag = "instances", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let instance = visible(&api, &caller, &id, false).await?;
    let runs = api.store.node_runs(instance.id).await?;
    let mut body = serde_json::to_value(&instance).map_err(|_| ApiError::internal())?;
    body["node_runs"] = serde_json::to_value(runs).map_err(|_| ApiError::internal())?;
    Ok(Json(body))
}

/// The event log as server-sent events: what is there, then what comes, until the instance
/// ends. `Last-Event-ID` (or `?after=`) resumes after that `seq`.
/// The instance's event log as server-sent events (`id` = seq, `event` = kind), ending with the
/// instance. `Last-Event-ID` or `?after=` resumes.
#[utoipa::path(get, path = "/instances/{id}/events", tag = "instances", security(("bearer" = [])),
    params(("id" = String, Path), ("after" = Option<i32>, Query)),
    responses((status = 200, content_type = "text/event-stream", description = "the event stream"), (status = 404, body = ApiError)))]
pub async fn events(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(query): Query<AfterQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let instance = visible(&api, &caller, &id, false).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or(query.after)
        .unwrap_or(0);
    let store = api.store.clone();
    let id = instance.id;
    let stream = stream::unfold(
        (after, false, std::collections::VecDeque::new()),
        move |(mut after, mut ended, mut queue)| {
            let store = store.clone();
            async move {
                loop {
                    if let Some(event) = queue.pop_front() {
                        return Some((Ok(event), (after, ended, queue)));
                    }
                    if ended {
                        return None;
                    }
                    let fresh = store.events(id, after).await.unwrap_or_default();
                    for event in fresh {
                        after = after.max(event.seq);
                        if event.kind == "instance.completed"
                            || event.kind == "instance.failed"
                            || event.kind == "instance.cancelled"
                        {
                            ended = true;
                        }
                        let data = serde_json::to_string(&event).unwrap_or_default();
                        queue.push_back(
                            SseEvent::default()
                                .id(event.seq.to_string())
                                .event(event.kind.clone())
                                .data(data),
                        );
                    }
                    if queue.is_empty() && !ended {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Deserialize)]
pub struct AfterQuery {
    after: Option<i32>,
}

/// `cancel` (running its nodes' cancel actions), `pause` or `resume` the instance — resuming a
/// debug instance held at a failed node leaves debug mode and fails it (rolling back) — or
/// `delete` an ended one (running its nodes' cleanup actions; 202, the cleanup runs after).
#[utoipa::path(post, path = "/instances/{id}/{operation}", tag = "instances", security(("bearer" = [])),
    params(("id" = String, Path), ("operation" = String, Path, description = "cancel | pause | resume | delete")),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn operate(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, operation)): Path<(String, String)>,
) -> ApiResult<Response> {
    let change = match operation.as_str() {
        "cancel" => Some(InstanceChange::Cancel),
        "pause" => Some(InstanceChange::Pause),
        "resume" => Some(InstanceChange::Resume),
        "delete" => None,
        other => return Err(ApiError::not_found(format!("operation `{other}`"))),
    };
    let instance = visible(&api, &caller, &id, true).await?;
    let Some(change) = change else {
        api.runtime
            .delete(instance.id, &caller.user.username)
            .await?;
        return Ok((StatusCode::ACCEPTED, Json(instance)).into_response());
    };
    let changed = api
        .runtime
        .change(instance.id, change, &caller.user.username)
        .await?;
    Ok(Json(changed).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeBody {
    /// rerun / retry: the input to run with instead of the input mappings.
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
    /// skip: the output to go on with.
    #[schema(value_type = Option<Object>)]
    output: Option<Value>,
}

/// `rerun` (optionally with `input`), `retry` (with `input`) or `skip` (optionally with
/// `output`) a node of a paused instance.
#[utoipa::path(post, path = "/instances/{id}/nodes/{node}/{operation}", tag = "instances", security(("bearer" = [])),
    params(("id" = String, Path), ("node" = String, Path), ("operation" = String, Path, description = "rerun | retry | skip")),
    request_body(content = NodeBody, description = "optional"),
    responses((status = 200, body = Object), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn node_operation(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, node, operation)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<Json<InstanceRecord>> {
    // The body is optional: rerun and skip need none.
    let body: NodeBody = parse_json(&body)?;
    let action = match operation.as_str() {
        "rerun" => NodeAction::Rerun { input: body.input },
        "retry" => NodeAction::Rerun {
            input: Some(body.input.ok_or_else(|| {
                ApiError::bad_request("input", "retry runs the node with the `input` given")
            })?),
        },
        "skip" => NodeAction::Skip {
            output: body.output,
        },
        other => return Err(ApiError::not_found(format!("node operation `{other}`"))),
    };
    let instance = visible(&api, &caller, &id, true).await?;
    let changed = api
        .runtime
        .node_action(instance.id, &node, action, &caller.user.username)
        .await?;
    Ok(Json(changed))
}
