//! The node_inst engine's API (`../shared/reference/seeds/002_*`): processes (`/api/process`),
//! their instances (`/api/processInst`), a person's to-do list (`/api/taskInsts`) and submitting
//! a human task (`/api/taskInst`). A thin translation to Baton's services; the task model's
//! translation is in [`model`].
//!
//! These paths share `/api` with the native API: they are merged as exact routes, so
//! `/api/v1/...` and `/api/docs` stay the native API's and no path of one answers for the other.
//!
//! Choices the document leaves open:
//! - Answers: as the document shows them, the creations, starts, lists and submissions are
//!   wrapped in `{response: ...}` and the reads (process, task, instance, task instance) are
//!   the bare object. A refusal is `{response: null, error: <sentence>, code: <HTTP status>}`
//!   with that status (400 bad input, 401, 403, 404, 409, 422 naming the field:
//!   `tasks[0].parameters.url: ...`).
//! - Ids: a process's `id` is the Baton definition's key, `proc-` and 8 letters or digits for
//!   those created here (any key for those drawn in the designer); a process instance's `id` is
//!   Baton's snowflake instance id as text; a to-do's `id` is Baton's human-task id as text.
//! - Creating a process publishes it at once (version 1), so it can be started; starting runs the
//!   latest published version with the request body (any JSON object, or nothing) as its input.
//! - Times: `startAt` / `endAt` are milliseconds since 1970; `createAt` is `YYYY-MM-DD HH:MM:SS`
//!   UTC. `timeout` is in seconds; `cost` in milliseconds.
//! - Statuses (the document's lifecycle chapters are not included): a task runtime is
//!   `pending`, `running`, `waiting`, `done`, `failed`, `timeout`, `skipped`, `canceled` or
//!   `rollback`; an instance `pending`, `running`, `paused`, `done`, `failed`, `canceled` or
//!   `rollback`.
//! - `GET /api/taskInsts?user=` lists what waits for `user` (open tasks they may act on, and those
//!   they claimed); only an administrator may ask for someone else's. A submission's body is the
//!   form's values; its `outcome` key, when given, picks the outcome (else the task's first,
//!   `approve` by default).

pub mod model;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use engine::definition::{Definition, Node};
use engine::id::Id;
use engine::instance::{InstanceStatus, NodeRun, NodeRunStatus, Trigger};
use engine::people::Permission;
use engine::runtime::{Mode, StartRequest};
use engine::service::Caller;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Refusal, Shape};
use crate::api::ApiState;

/// The node_inst error shape.
pub struct NodeInst;

impl Shape for NodeInst {
    fn body(status: StatusCode, message: &str) -> Value {
        json!({"response": null, "error": message, "code": status.as_u16()})
    }
}

type Fail = Refusal<NodeInst>;
type Answer = Result<Json<Value>, Fail>;

fn wrapped(value: Value) -> Answer {
    Ok(Json(json!({ "response": value })))
}

/// The routes, at their full paths: merge them beside `/api/v1`.
pub fn router<S: Clone + Send + Sync + 'static>(state: ApiState) -> Router<S> {
    let routes = Router::new()
        .route("/api/process", post(create))
        .route("/api/process/{id}", get(read).post(start))
        .route("/api/process/{id}/{task}", get(read_task))
        .route("/api/processInst/{id}", get(instance))
        .route("/api/processInst/{id}/{task}", get(instance_task))
        .route("/api/taskInsts", get(todo))
        .route("/api/taskInst/{id}", post(submit));
    super::guard::<NodeInst>(routes, state.clone()).with_state(state)
}

/// A body that must be a JSON object (or nothing, read as `{}`).
fn object(body: &[u8]) -> Result<Value, Fail> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(Value::Object(map)),
        Ok(_) => Err(Fail::bad("body: a JSON object")),
        Err(e) => Err(Fail::bad(format!("body: not JSON: {e}"))),
    }
}

/// A definition's issues in the process's terms: the task and parameter at fault.
fn issues(process: &Value, found: &[engine::definition::Issue]) -> Fail {
    let Some(first) = found.first() else {
        return Fail::bad("the process is not valid");
    };
    let task_at = |id: &str| {
        process["tasks"]
            .as_array()
            .and_then(|tasks| tasks.iter().position(|t| t["instId"] == id))
    };
    let field = match (&first.node, &first.field) {
        (Some(node), field) => {
            let node = node.strip_suffix(".each").unwrap_or(node);
            match task_at(node) {
                Some(i) => match field.as_deref() {
                    Some("id") => format!("tasks[{i}].instId"),
                    Some(f) if f.starts_with("edges") => format!("tasks[{i}].connections"),
                    Some(f) if !f.is_empty() => {
                        let root = f.split(['.', '[']).next().unwrap_or(f);
                        let param = if root == "script" { "code" } else { root };
                        format!("tasks[{i}].parameters.{param}")
                    }
                    _ => format!("tasks[{i}]"),
                },
                None => "tasks".to_string(),
            }
        }
        (None, Some(f)) if f.starts_with("edges") => "connections".to_string(),
        (None, Some(f)) => f.clone(),
        (None, None) => "body".to_string(),
    };
    Fail::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{field}: {}", first.message),
    )
}

/// A new process id: `proc-` and 8 lowercase letters or digits.
fn new_process_id() -> String {
    let letters: String = engine::people::new_token()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect();
    format!("proc-{letters}")
}

/// `POST /api/process`: creates and publishes a process.
async fn create(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Bytes,
) -> Answer {
    let process = object(&body)?;
    let key = new_process_id();
    let document = model::to_document(&key, &process)?;
    let found = match Definition::from_value(document.clone()) {
        Ok(definition) => definition.check(),
        Err(found) => found,
    };
    if !found.is_empty() {
        return Err(issues(&process, &found));
    }
    api.definitions.create(&caller.user, document).await?;
    api.definitions.publish(&key, &caller.user.username).await?;
    wrapped(json!({ "id": key }))
}

/// The latest published version of a process the caller may use.
async fn published(
    api: &ApiState,
    caller: &Caller,
    key: &str,
) -> Result<(engine::definition::VersionRecord, Definition), Fail> {
    api.definitions
        .authorize(&caller.user, key, Permission::Use)
        .await?;
    Ok(api.definitions.version(key, None).await?)
}

/// `GET /api/process/{process_id}`.
async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> Answer {
    let (record, definition) = published(&api, &caller, &key).await?;
    Ok(Json(model::process(&definition, &record.published_by)))
}

fn top_node<'a>(definition: &'a Definition, task: &str) -> Result<&'a Node, Fail> {
    definition
        .node(task)
        .ok_or_else(|| Fail::not_found(format!("no task `{task}` in this process")))
}

/// `GET /api/process/{process_id}/{task_id}`.
async fn read_task(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((key, task)): Path<(String, String)>,
) -> Answer {
    let (_, definition) = published(&api, &caller, &key).await?;
    let node = top_node(&definition, &task)?;
    Ok(Json(model::task(&definition, node)))
}

/// `POST /api/process/{process_id}`: starts an instance with the body as its input.
async fn start(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let input = object(&body)?;
    api.definitions
        .authorize(&caller.user, &key, Permission::Use)
        .await?;
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: key,
                version: None,
                input,
                trigger: Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            None,
        )
        .await?;
    wrapped(json!({ "id": started.instance.id.to_string() }))
}

fn millis(rfc3339: Option<&str>) -> Value {
    rfc3339
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(Value::Null, |t| json!(t.timestamp_millis()))
}

fn run_status(status: NodeRunStatus) -> &'static str {
    match status {
        NodeRunStatus::NotStarted => "pending",
        NodeRunStatus::Running => "running",
        NodeRunStatus::Waiting => "waiting",
        NodeRunStatus::Completed => "done",
        NodeRunStatus::Failed => "failed",
        NodeRunStatus::TimedOut => "timeout",
        NodeRunStatus::Skipped => "skipped",
        NodeRunStatus::Cancelled => "canceled",
        NodeRunStatus::Compensated => "rollback",
    }
}

fn instance_status(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Pending => "pending",
        InstanceStatus::Running => "running",
        InstanceStatus::Paused => "paused",
        InstanceStatus::Completed => "done",
        InstanceStatus::Failed => "failed",
        InstanceStatus::Cancelled => "canceled",
        InstanceStatus::RollingBack => "rollback",
    }
}

fn message_of(error: Option<&Value>) -> Value {
    match error {
        None | Some(Value::Null) => json!(""),
        Some(e) => e
            .get("message")
            .cloned()
            .unwrap_or_else(|| json!(e.to_string())),
    }
}

/// A task with its `runtimes`: the runs of its node (of the node inside, for a looped task).
fn task_with_runtimes(definition: &Definition, node: &Node, runs: &[NodeRun]) -> Value {
    let inner = model::looped(node).map_or(node.id.as_str(), |n| n.id.as_str());
    let runtimes: Vec<Value> = runs
        .iter()
        .filter(|r| r.node_id == inner)
        .map(|r| {
            json!({
                "index": r.loop_index.unwrap_or(0),
                "startAt": millis(Some(&r.started_at)),
                "endAt": millis(r.ended_at.as_deref()),
                "status": run_status(r.status),
                "error": message_of(r.error.as_ref()),
                "input": r.input,
                "output": r.output,
            })
        })
        .collect();
    let mut task = model::task(definition, node);
    task["runtimes"] = json!(runtimes);
    task
}

fn instance_id(text: &str) -> Result<Id, Fail> {
    super::parse_id(text, || format!("no process instance {text}"))
}

/// `GET /api/processInst/{inst_id}`.
async fn instance(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Answer {
    let detail = api
        .instances
        .detail(&caller.user, instance_id(&id)?)
        .await?;
    let definition = &detail.definition;
    let instance = &detail.instance;
    let mut body = model::process(definition, &instance.operator);
    // The tasks the process shows (not the start node added for it).
    let shown = body["tasks"]
        .as_array()
        .map(|tasks| {
            tasks
                .iter()
                .filter_map(|t| t["instId"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    body["tasks"] = json!(definition
        .nodes
        .iter()
        .filter(|n| shown.contains(&n.id))
        .map(|n| task_with_runtimes(definition, n, &detail.runs))
        .collect::<Vec<_>>());
    body["id"] = json!(instance.id.to_string());
    body["proc_id"] = json!(instance.definition_key);
    body["status"] = json!(instance_status(instance.status));
    body["executor"] = json!(instance.operator);
    body["error"] = message_of(instance.error.as_ref());
    body["p_uid"] = json!(instance.parent_id.map(|p| p.to_string()));
    body["startAt"] = millis(Some(&instance.created_at));
    body["endAt"] = millis(instance.ended_at.as_deref());
    body["cost"] = json!(instance.cost_ms);
    body["input"] = instance.input.clone();
    body["output"] = instance.output.clone().unwrap_or(Value::Null);
    Ok(Json(body))
}

/// `GET /api/processInst/{inst_id}/{task_id}`.
async fn instance_task(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path((id, task)): Path<(String, String)>,
) -> Answer {
    let detail = api
        .instances
        .detail(&caller.user, instance_id(&id)?)
        .await?;
    let node = top_node(&detail.definition, &task)?;
    Ok(Json(task_with_runtimes(
        &detail.definition,
        node,
        &detail.runs,
    )))
}

#[derive(Deserialize)]
pub struct TodoQuery {
    user: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn number(value: Option<&str>, name: &str, default: i64, max: i64) -> Result<i64, Fail> {
    match value {
        None | Some("") => Ok(default),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (0..=max).contains(n))
            .ok_or_else(|| Fail::bad(format!("{name}: a whole number from 0 to {max}"))),
    }
}

/// `GET /api/taskInsts?user=&limit=&offset=`: what waits for `user`.
async fn todo(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<TodoQuery>,
) -> Answer {
    let limit = number(query.limit.as_deref(), "limit", 20, 100)?.max(1);
    let offset = number(query.offset.as_deref(), "offset", 0, i64::MAX)?;
    let user = match query.user.filter(|u| !u.is_empty()) {
        None => caller.user.clone(),
        Some(name) if name == caller.user.username => caller.user.clone(),
        Some(name) if caller.user.is_admin() => match api.store.login_record(&name).await? {
            Some((user, _)) => user,
            None => return Err(Fail::not_found(format!("user: no user `{name}`"))),
        },
        Some(_) => {
            return Err(Fail::new(
                StatusCode::FORBIDDEN,
                "user: only an administrator may read another person's to-do list",
            ))
        }
    };
    let page = api.tasks.inbox(&user, None, None, limit, offset).await?;
    let list: Vec<Value> = page
        .items
        .iter()
        .map(|t| {
            json!({
                "id": t.id.to_string(),
                "name": t.title,
                "content": t.content,
                "createAt": chrono::DateTime::parse_from_rfc3339(&t.created_at)
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                "procInstId": t.instance_id.to_string(),
                "taskId": t.node_id,
            })
        })
        .collect();
    wrapped(json!({"list": list, "total": page.total}))
}

/// `POST /api/taskInst/{task_inst_id}`: completes a human task with the form's values.
async fn submit(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Answer {
    let mut data = object(&body)?;
    let id = super::parse_id(&id, || format!("no task instance {id}"))?;
    let task = api.tasks.read(&caller.user, id).await?;
    let outcome = match data.as_object_mut().and_then(|d| d.remove("outcome")) {
        Some(Value::String(outcome)) => outcome,
        Some(_) => return Err(Fail::bad("outcome: the name of one of the task's outcomes")),
        None => task
            .outcomes
            .first()
            .cloned()
            .unwrap_or_else(|| "approve".into()),
    };
    let done = api
        .tasks
        .complete(&caller.user, id, &outcome, &data)
        .await?;
    wrapped(json!({
        "id": done.id.to_string(),
        "status": "done",
        "outcome": done.outcome,
    }))
}

impl From<model::Fault> for Fail {
    fn from(f: model::Fault) -> Self {
        Fail::bad(format!("{}: {}", f.field, f.message))
    }
}
