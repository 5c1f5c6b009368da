//! WeCube's orchestration API (`../shared/reference/seeds/000_*`) under `/platform/v1`, a thin
//! translation to Baton's services: definitions by permission, root entities, the execution
//! preview, a session's task-node bindings, starting with bindings, and an instance's status.
//!
//! Ids: `procDefId` is `key@version` (one id per published version, as WeCube has; a draft
//! listed with `includeDraft=1` is `key@draft` and cannot be previewed or started);
//! `procDefKey` is the definition's key; an instance's `id` is Baton's instance id as a number
//! and `procInstKey` the same as text; a task node's `nodeDefId` and `nodeId` are the node's id
//! and `orderedNo` its place in the definition (from 1). Statuses: instances `InProgress`,
//! `Completed`, `Faulted`, `InternallyTerminated`; task nodes `NotStarted`, `InProgress`,
//! `Completed`, `Faulted`, `Timeouted`. Every answer is `{status, message, data}`: `OK` /
//! `Success`, or `ERROR` with the reason and the HTTP status Baton's API would give.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use engine::definition::{Definition, DefinitionStatus, NodeKind};
use engine::instance::{InstanceStatus, NodeRun, NodeRunStatus, Trigger};
use engine::people::Permission;
use engine::runtime::{Mode, StartRequest};
use engine::service::Caller;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::ApiState;

/// WeCube's error shape: `{status: "ERROR", message, data: null}` with an HTTP status.
pub struct WeCube;

impl super::Shape for WeCube {
    fn body(_: StatusCode, message: &str) -> Value {
        json!({"status": "ERROR", "message": message, "data": null})
    }
}

/// A refusal in WeCube's shape.
pub type WeError = super::Refusal<WeCube>;

type WeResult = Result<Json<Value>, WeError>;

fn ok(data: Value) -> WeResult {
    Ok(Json(
        json!({"status": "OK", "message": "Success", "data": data}),
    ))
}

fn bad(message: impl Into<String>) -> WeError {
    WeError::bad(message)
}

/// The routes, to be nested at `/platform/v1`; all need a bearer token or a browser session.
pub fn router(state: ApiState) -> Router {
    let routes = Router::new()
        .route("/process/definitions", get(definitions))
        .route(
            "/process/definitions/{proc_def_id}/root-entities",
            get(root_entities),
        )
        .route(
            "/process/definitions/{proc_def_id}/preview/entities/{root_entity_id}",
            get(preview),
        )
        .route(
            "/process/instances/tasknodes/session/{session_id}/tasknode-bindings",
            get(bindings),
        )
        .route("/process/instances", post(start))
        .route("/process/instances/{id}", get(instance));
    super::guard::<WeCube>(routes, state.clone())
        .fallback(WeError::no_route)
        .with_state(state)
}

/// `key@version` → (key, version).
fn proc_def(id: &str) -> Result<(String, i32), WeError> {
    id.rsplit_once('@')
        .and_then(|(key, v)| Some((key.to_string(), v.parse::<i32>().ok()?)))
        .ok_or_else(|| {
            WeError::new(
                StatusCode::NOT_FOUND,
                format!("no published process definition `{id}`"),
            )
        })
}

/// `2026-11-22T04:43:00.123Z` → `2026-11-22 04:43:00`, as WeCube writes times.
fn wecube_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| rfc3339.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionsQuery {
    include_draft: Option<String>,
    permission: Option<String>,
}

/// `GET /process/definitions?includeDraft=0|1&permission=USE|MGMT`.
async fn definitions(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<DefinitionsQuery>,
) -> WeResult {
    let permission = match query.permission.as_deref() {
        Some("USE") => Permission::Use,
        Some("MGMT") => Permission::Mgmt,
        _ => return Err(bad("permission: give USE or MGMT")),
    };
    let drafts = match query.include_draft.as_deref() {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(bad("includeDraft: give 0 or 1")),
    };
    let user = &caller.user;
    let mut data = Vec::new();
    let mut offset = 0;
    loop {
        let page = api.definitions.list(user, None, None, 200, offset).await?;
        for summary in &page.items {
            if summary.status == DefinitionStatus::Archived {
                continue;
            }
            let grants = api.store.grants(&summary.key).await?;
            if !user.may(&grants, permission) {
                continue;
            }
            for version in api.store.versions(&summary.key).await? {
                let root = version
                    .document
                    .get("root_entity")
                    .cloned()
                    .unwrap_or(Value::Null);
                data.push(json!({
                    "procDefId": format!("{}@{}", summary.key, version.version),
                    "procDefKey": summary.key,
                    "procDefName": version.document.get("name").cloned().unwrap_or(json!(summary.name)),
                    "procDefVersion": version.version.to_string(),
                    "status": "deployed",
                    "procDefData": null,
                    "rootEntity": root,
                    "createdTime": wecube_time(&version.published_at),
                    "excludeMode": "N",
                    "tags": if summary.tags.is_empty() { Value::Null } else { json!(summary.tags.join(",")) },
                }));
            }
            if drafts && summary.has_draft {
                data.push(json!({
                    "procDefId": format!("{}@draft", summary.key),
                    "procDefKey": summary.key,
                    "procDefName": summary.name,
                    "procDefVersion": "",
                    "status": "draft",
                    "procDefData": null,
                    "rootEntity": null,
                    "createdTime": wecube_time(&summary.updated_at),
                    "excludeMode": "N",
                    "tags": if summary.tags.is_empty() { Value::Null } else { json!(summary.tags.join(",")) },
                }));
            }
        }
        offset += page.items.len() as i64;
        if page.items.is_empty() || offset >= page.total {
            break;
        }
    }
    ok(json!(data))
}

/// `GET /process/definitions/{procDefId}/root-entities`: the root type's records, each its
/// attributes with `id`, `guid` and `displayName`.
async fn root_entities(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(proc_def_id): Path<String>,
) -> WeResult {
    let (key, version) = proc_def(&proc_def_id)?;
    let page = api
        .entities
        .root_records(&caller.user, &key, Some(version), None, 200, 0)
        .await?;
    let data: Vec<Value> = page
        .items
        .into_iter()
        .map(|r| {
            let mut data = match r.data {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            };
            data.insert("id".into(), json!(r.guid));
            data.insert("guid".into(), json!(r.guid));
            data.insert("displayName".into(), json!(r.display_name));
            Value::Object(data)
        })
        .collect();
    ok(json!(data))
}

/// `GET /process/definitions/{procDefId}/preview/entities/{rootEntityId}`.
async fn preview(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((proc_def_id, root)): Path<(String, String)>,
) -> WeResult {
    let (key, version) = proc_def(&proc_def_id)?;
    let preview = api
        .entities
        .preview(&caller.user, &key, Some(version), &root)
        .await?;
    let nodes: Vec<Value> = preview
        .tree
        .iter()
        .map(|n| {
            json!({
                "packageName": n.package,
                "entityName": n.entity,
                "dataId": n.data_id,
                "displayName": n.display_name,
                "fullDataId": n.data_id,
                "entityData": null,
                "id": n.id,
                "previousIds": n.previous_ids,
                "succeedingIds": n.succeeding_ids,
            })
        })
        .collect();
    ok(json!({"entityTreeNodes": nodes, "processSessionId": preview.session_id}))
}

/// A node's place in its definition, from 1, as WeCube's `orderedNo`.
fn ordered_no(definition: &Definition, node: &str) -> String {
    definition
        .nodes
        .iter()
        .position(|n| n.id == node)
        .map_or_else(String::new, |i| (i + 1).to_string())
}

/// `GET /process/instances/tasknodes/session/{sessionId}/tasknode-bindings`.
async fn bindings(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(session_id): Path<String>,
) -> WeResult {
    let (session, bindings) = api.entities.session(&caller.user, &session_id).await?;
    let (_, definition) = api
        .definitions
        .version(&session.definition_key, Some(session.version))
        .await?;
    let data: Vec<Value> = bindings
        .iter()
        .map(|b| {
            json!({
                "nodeDefId": b.node,
                "orderedNo": ordered_no(&definition, &b.node),
                "entityTypeId": b.entity_type,
                "entityDataId": b.data_id,
                "bound": "Y",
            })
        })
        .collect();
    ok(json!(data))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    entity_data_id: Option<String>,
    entity_type_id: Option<String>,
    proc_def_id: Option<String>,
    process_session_id: Option<String>,
    #[serde(default)]
    task_node_binds: Vec<TaskNodeBind>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskNodeBind {
    node_def_id: Option<String>,
    entity_data_id: Option<String>,
    bound: Option<String>,
}

/// `POST /process/instances`: starts from a preview session with the bindings given (`bound:
/// "N"` leaves one out).
async fn start(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> WeResult {
    let Json(body) = body.map_err(|e| bad(e.body_text()))?;
    let proc_def_id = body
        .proc_def_id
        .ok_or_else(|| bad("procDefId is required"))?;
    let session = body
        .process_session_id
        .ok_or_else(|| bad("processSessionId is required"))?;
    let (key, version) = proc_def(&proc_def_id)?;
    let mut kept = Vec::new();
    for (i, bind) in body.task_node_binds.iter().enumerate() {
        if bind.bound.as_deref() == Some("N") {
            continue;
        }
        match (&bind.node_def_id, &bind.entity_data_id) {
            (Some(node), Some(data)) => kept.push((node.clone(), data.clone())),
            _ => {
                return Err(bad(format!(
                    "taskNodeBinds[{i}]: nodeDefId and entityDataId are required"
                )))
            }
        }
    }
    api.definitions
        .authorize(&caller.user, &key, Permission::Use)
        .await?;
    let (session_version, bound) = api
        .entities
        .start_bindings(&key, &session, Some(kept))
        .await?;
    if session_version != version {
        return Err(bad(format!(
            "the preview session is of version {session_version}, not {version}"
        )));
    }
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: key,
                version: Some(version),
                input: json!({}),
                trigger: Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            Some(bound),
        )
        .await?;
    let detail = api
        .instances
        .detail(&caller.user, started.instance.id)
        .await?;
    let mut data = instance_data(&detail, &proc_def_id);
    // As WeCube echoes them (the session's root when not given).
    if let Some(t) = body.entity_type_id {
        data["entityTypeId"] = json!(t);
    }
    if let Some(d) = body.entity_data_id {
        data["entityDataId"] = json!(d);
    }
    ok(data)
}

/// `GET /process/instances/{processInstanceId}`.
async fn instance(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> WeResult {
    let id = id
        .parse::<i64>()
        .map(engine::id::Id)
        .map_err(|_| bad("processInstanceId is a number"))?;
    let detail = api.instances.detail(&caller.user, id).await?;
    let proc_def_id = format!(
        "{}@{}",
        detail.instance.definition_key, detail.instance.version
    );
    ok(instance_data(&detail, &proc_def_id))
}

fn instance_status(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Pending | InstanceStatus::Running | InstanceStatus::Paused => "InProgress",
        InstanceStatus::RollingBack => "InProgress",
        InstanceStatus::Completed => "Completed",
        InstanceStatus::Failed => "Faulted",
        InstanceStatus::Cancelled => "InternallyTerminated",
    }
}

fn node_status(run: Option<&NodeRun>) -> &'static str {
    match run.map(|r| r.status) {
        None | Some(NodeRunStatus::NotStarted) => "NotStarted",
        Some(NodeRunStatus::Running | NodeRunStatus::Waiting) => "InProgress",
        Some(NodeRunStatus::Completed | NodeRunStatus::Skipped | NodeRunStatus::Compensated) => {
            "Completed"
        }
        Some(NodeRunStatus::TimedOut) => "Timeouted",
        Some(NodeRunStatus::Failed) => "Faulted",
        Some(NodeRunStatus::Cancelled) => "InternallyTerminated",
    }
}

fn node_type(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Start => "startEvent",
        NodeKind::End => "endEvent",
        NodeKind::Condition => "exclusiveGateway",
        NodeKind::Parallel | NodeKind::Join { .. } => "parallelGateway",
        NodeKind::Timer(_) => "intermediateCatchEvent",
        _ => "subProcess",
    }
}

/// An instance as WeCube shows it, with one task node instance per node of its definition.
fn instance_data(detail: &engine::service::InstanceDetail, proc_def_id: &str) -> Value {
    let instance = &detail.instance;
    let definition = &detail.definition;
    let root = instance.context.get(engine::service::ROOT_KEY);
    let nodes: Vec<Value> = definition
        .nodes
        .iter()
        .map(|node| {
            // The latest run of the node (runs are listed oldest first).
            let run = detail.runs.iter().rev().find(|r| r.node_id == node.id);
            let previous: Vec<&str> = definition
                .edges
                .iter()
                .filter(|e| e.to == node.id)
                .map(|e| e.from.as_str())
                .collect();
            let succeeding: Vec<&str> = definition
                .edges
                .iter()
                .filter(|e| e.from == node.id)
                .map(|e| e.to.as_str())
                .collect();
            json!({
                "nodeId": node.id,
                "nodeName": if node.name.is_empty() { node.id.clone() } else { node.name.clone() },
                "nodeType": node_type(&node.kind),
                "nodeDefId": node.id,
                "status": node_status(run),
                "orderedNo": ordered_no(definition, &node.id),
                "procDefId": proc_def_id,
                "procDefKey": instance.definition_key,
                "routineExpression": node.binding,
                "taskCategory": null,
                "serviceId": null,
                "dynamicBind": null,
                "description": if node.description.is_empty() { Value::Null } else { json!(node.description) },
                "previousNodeIds": previous,
                "succeedingNodeIds": succeeding,
                "procInstId": instance.id.0,
                "procInstKey": instance.id.to_string(),
                "id": run.map_or(0, |r| r.id.0),
            })
        })
        .collect();
    json!({
        "id": instance.id.0,
        "procInstKey": instance.id.to_string(),
        "operator": instance.operator,
        "status": instance_status(instance.status),
        "procDefId": proc_def_id,
        "procDefKey": instance.definition_key,
        "entityTypeId": root.map_or(Value::Null, |r| r["entity_type"].clone()),
        "entityDataId": root.map_or(Value::Null, |r| r["guid"].clone()),
        "taskNodeInstances": nodes,
    })
}
