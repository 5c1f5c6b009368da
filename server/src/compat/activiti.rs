//! The Activiti provisioning engine's API (`../shared/reference/seeds/001_*`) under `/activiti`
//! (point a client's base URL there): start a process by model, deployment or key with
//! `variables`, read it, cancel or delete it, list its tasks with the executor phase vocabulary,
//! read one task, and re-run or resume a task of a process in debug mode. A thin translation to
//! Baton's runtime and instance service.
//!
//! Ids: `modelId` and `key` are a definition's key; `deploymentId` is `key@version` (as the WeCube
//! surface's `procDefId`); a process's `id` and `processInstanceId` are Baton's instance id; a
//! task's `id` and `taskId` are `instance.run` (the node run's id after the instance's), and
//! `namespace` is the node's id. `variables` are the instance's input; `processName` is kept in
//! its context under `_process_name`. Statuses: a process is `running`, `debug` (paused in debug
//! mode), `success`, `failed`, `rollback` (rolling back) or `canceled`; a task's status is the
//! latest of its compensation events (`rollback.*`, `cancel.*`, `delete.*`) or else, from its
//! run: `start.begin` (running), `monitor.begin` (waiting), `monitor.success`, `monitor.failed`
//! (failed or timed out), `mock.passed` (skipped, or passed in a dry run), `canceled`.
//! Errors are Spring's `{timestamp, status, error, message, path}`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use engine::id::Id;
use engine::instance::{Event, InstanceRecord, InstanceStatus, NodeRun, NodeRunStatus, Trigger};
use engine::people::Permission;
use engine::runtime::{Mode, NodeAction, StartRequest};
use engine::service::Caller;
use engine::store::InstanceChange;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::ApiState;

/// Where the process name a client gave is kept in the instance's context.
const NAME_KEY: &str = "_process_name";

/// Spring Boot's error shape.
pub struct Spring;

impl super::Shape for Spring {
    fn body(status: StatusCode, message: &str) -> Value {
        json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
        })
    }
}

/// A refusal in Spring Boot's error shape.
pub type SpringError = super::Refusal<Spring>;

type Answer = Result<Json<Value>, SpringError>;

fn bad(message: impl Into<String>) -> SpringError {
    SpringError::bad(message)
}

/// The routes, to be nested at `/activiti`; all need a bearer token or a browser session.
pub fn router(state: ApiState) -> Router {
    let routes = Router::new()
        .route("/process", post(start))
        .route("/process/{id}", get(process))
        .route("/process/{id}/{operate}", put(operate))
        .route("/task", get(tasks))
        .route("/task/{id}", get(task))
        .route("/task/{id}/{operate}", put(debug));
    super::guard::<Spring>(routes, state.clone())
        .fallback(SpringError::no_route)
        .with_state(state)
}

fn time(rfc3339: Option<&str>) -> Value {
    rfc3339
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(Value::Null, |t| {
            json!(t.format("%Y-%m-%d %H:%M:%S").to_string())
        })
}

fn json_text(value: Option<&Value>) -> Value {
    value.map_or(Value::Null, |v| json!(v.to_string()))
}

fn process_status(instance: &InstanceRecord) -> &'static str {
    match instance.status {
        InstanceStatus::Pending | InstanceStatus::Running => "running",
        InstanceStatus::Paused if instance.debug => "debug",
        InstanceStatus::Paused => "paused",
        InstanceStatus::Completed => "success",
        InstanceStatus::Failed => "failed",
        InstanceStatus::RollingBack => "rollback",
        InstanceStatus::Cancelled => "canceled",
    }
}

fn process_body(instance: &InstanceRecord) -> Value {
    json!({
        "id": instance.id.to_string(),
        "processInstanceId": instance.id.to_string(),
        "modelId": instance.definition_key,
        "modelKey": instance.definition_key,
        "processName": instance.context.get(NAME_KEY).cloned().unwrap_or(Value::Null),
        "processType": null,
        "processStatus": process_status(instance),
        "processContent": instance.input.to_string(),
        "startTime": time(Some(&instance.created_at)),
        "endTime": time(instance.ended_at.as_deref()),
        "activitiFileId": null,
        "outputs": json_text(instance.output.as_ref()),
        "nativeOutputs": instance.output.as_ref().map_or_else(String::new, Value::to_string),
        "rollbackProcessInstanceId": null,
        "cancelProcessInstanceId": null,
        "deleteProcessInstanceId": null,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    model_id: Option<String>,
    deployment_id: Option<String>,
    key: Option<String>,
    process_name: Option<String>,
    variables: Option<Value>,
}

/// `POST /process`: one of `modelId`, `deploymentId`, `key`; `processName`; `variables`.
async fn start(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<StartBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let Json(body) = body.map_err(|e| bad(e.body_text()))?;
    let (key, version) = match (body.model_id, body.deployment_id, body.key) {
        (_, Some(deployment), _) => match deployment.rsplit_once('@') {
            Some((key, v)) => (
                key.to_string(),
                Some(
                    v.parse::<i32>()
                        .map_err(|_| bad("deploymentId is key@version"))?,
                ),
            ),
            None => return Err(bad("deploymentId is key@version")),
        },
        (Some(model), None, _) => (model, None),
        (None, None, Some(key)) => (key, None),
        (None, None, None) => return Err(bad("give one of modelId, deploymentId or key")),
    };
    let name = body
        .process_name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| bad("processName is required"))?;
    let variables = match body.variables {
        Some(Value::Object(map)) => Value::Object(map),
        Some(_) => return Err(bad("variables is a JSON object")),
        None => return Err(bad("variables is required")),
    };
    api.definitions
        .authorize(&caller.user, &key, Permission::Use)
        .await?;
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: key,
                version,
                input: variables,
                trigger: Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            Some(json!({ NAME_KEY: name })),
        )
        .await?;
    Ok(Json(process_body(&started.instance)))
}

fn instance_id(text: &str) -> Result<Id, SpringError> {
    super::parse_id(text, || format!("no process {text}"))
}

/// `GET /process/{processInstanceId}`.
async fn process(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let instance = api
        .instances
        .visible(&caller.user, instance_id(&id)?, false)
        .await?;
    Ok(Json(process_body(&instance)))
}

/// `PUT /process/{processInstanceId}/{cancel|delete}`.
async fn operate(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, operate)): Path<(String, String)>,
) -> Answer {
    let id = instance_id(&id)?;
    let instance = match operate.as_str() {
        "cancel" => {
            api.instances
                .change(&caller.user, id, InstanceChange::Cancel)
                .await?
        }
        "delete" => {
            let instance = api.instances.visible(&caller.user, id, true).await?;
            api.runtime.delete(id, &caller.user.username).await?;
            instance
        }
        other => return Err(bad(format!("operate is cancel or delete, not `{other}`"))),
    };
    Ok(Json(process_body(&instance)))
}

/// A task's status: its latest compensation event, else its run's.
fn task_status(run: &NodeRun, events: &[Event], instance: &InstanceRecord) -> String {
    let phase = events.iter().rev().find(|e| {
        e.node_id.as_deref() == Some(run.node_id.as_str())
            && ["rollback.", "cancel.", "delete."]
                .iter()
                .any(|p| e.kind.starts_with(p))
    });
    if let Some(event) = phase {
        return event.kind.clone();
    }
    match run.status {
        NodeRunStatus::NotStarted => "produce.success",
        NodeRunStatus::Running => "start.begin",
        NodeRunStatus::Waiting => "monitor.begin",
        NodeRunStatus::Completed if instance.mock => "mock.passed",
        NodeRunStatus::Completed => "monitor.success",
        NodeRunStatus::Compensated => "rollback.success",
        NodeRunStatus::Failed | NodeRunStatus::TimedOut => "monitor.failed",
        NodeRunStatus::Skipped => "mock.passed",
        NodeRunStatus::Cancelled => "canceled",
    }
    .to_string()
}

fn task_body(detail: &engine::service::InstanceDetail, run: &NodeRun) -> Value {
    let node = detail.definition.locate(&run.node_id).map(|l| l.node);
    let task_id = format!("{}.{}", detail.instance.id, run.id);
    json!({
        "id": task_id,
        "processInstanceId": detail.instance.id.to_string(),
        "taskId": task_id,
        "name": node.map_or(run.node_id.clone(), |n| if n.name.is_empty() { n.id.clone() } else { n.name.clone() }),
        "namespace": run.node_id,
        "stone": node.map_or("", |n| n.kind.name()),
        "createTime": time(Some(&run.started_at)),
        "endTime": time(run.ended_at.as_deref()),
        "status": task_status(run, &detail.events, &detail.instance),
        "reason": run.error.as_ref().map_or(Value::Null, |e| e.get("message").cloned().unwrap_or_else(|| json!(e.to_string()))),
        "params": json_text(run.input.as_ref()),
        "outputs": json_text(run.output.as_ref()),
        "progress": null,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TasksQuery {
    process_instance_id: Option<String>,
}

/// `GET /task?processInstanceId=`: the latest run of each node that ran, in the order they
/// started.
async fn tasks(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<TasksQuery>,
) -> Answer {
    let id = query
        .process_instance_id
        .ok_or_else(|| bad("processInstanceId is required"))?;
    let detail = api
        .instances
        .detail(&caller.user, instance_id(&id)?)
        .await?;
    let latest: Vec<&NodeRun> = detail
        .runs
        .iter()
        .filter(|r| {
            !detail
                .runs
                .iter()
                .any(|o| o.node_id == r.node_id && o.loop_index == r.loop_index && o.id.0 > r.id.0)
        })
        .collect();
    Ok(Json(Value::Array(
        latest.into_iter().map(|r| task_body(&detail, r)).collect(),
    )))
}

/// `instance.run` → the instance, and the run within it.
async fn find_task(
    api: &ApiState,
    caller: &Caller,
    task_id: &str,
) -> Result<(engine::service::InstanceDetail, NodeRun), SpringError> {
    let missing = || SpringError::not_found(format!("no task {task_id}"));
    let (instance, run) = task_id.split_once('.').ok_or_else(missing)?;
    let instance = instance.parse::<i64>().map_err(|_| missing())?;
    let run = run.parse::<i64>().map_err(|_| missing())?;
    let detail = api.instances.detail(&caller.user, Id(instance)).await?;
    let found = detail
        .runs
        .iter()
        .find(|r| r.id.0 == run)
        .cloned()
        .ok_or_else(missing)?;
    Ok((detail, found))
}

/// `GET /task/{taskId}`.
async fn task(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let (detail, run) = find_task(&api, &caller, &id).await?;
    Ok(Json(task_body(&detail, &run)))
}

/// `PUT /task/{taskId}/{reRun|resume}` on a process paused in debug mode: run the failed task
/// again, or leave debug mode (the process fails and rolls back).
async fn debug(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, operate)): Path<(String, String)>,
) -> Answer {
    let (detail, run) = find_task(&api, &caller, &id).await?;
    let instance = detail.instance.id;
    match operate.as_str() {
        "reRun" => {
            api.instances
                .node_action(
                    &caller.user,
                    instance,
                    &run.node_id,
                    NodeAction::Rerun { input: None },
                )
                .await?;
        }
        "resume" => {
            api.instances
                .change(&caller.user, instance, InstanceChange::Resume)
                .await?;
        }
        other => return Err(bad(format!("operate is reRun or resume, not `{other}`"))),
    }
    let (detail, run) = find_task(&api, &caller, &id).await?;
    Ok(Json(task_body(&detail, &run)))
}
