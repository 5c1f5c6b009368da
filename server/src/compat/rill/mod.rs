//! Rill Flow's API (`../shared/reference/seeds/003_*`) under `/flow` (and `/2/flow`, the path the
//! document's submit example uses): add a YAML descriptor, submit it with a context, finish an
//! async task, read an execution. A thin translation to Baton's services.
//!
//! Descriptors: the YAML's `workspace` and `dagName` (else the `business_id` and `feature_name`
//! of the request) name the Baton definition `workspace.dagName`; each add publishes its next
//! version and points `alias` at it. `add_descriptor.json` answers
//! `descriptor_id = workspace:dagName:alias`. `submit.json` accepts `workspace:dagName` (the
//! latest version, as the document's example submits `demoFlowTest:demoTest`) and
//! `workspace:dagName:alias` (the version the alias was last given to), and a Baton definition's
//! key as it is (a workflow drawn in the designer: `deploy-subsystem`).
//!
//! Tasks: `category: function` with `pattern: task_sync` (the default) is an http node that
//! POSTs the task's input to `resourceName` (http or https only) and takes the JSON reply as its
//! output; `pattern: task_async` is a callback node that POSTs
//! `{input, passthrough: {execution_id, task_name}}` there and waits for `finish.json`, whose
//! `response` is its output. `category: pass` only passes on. `next` (a name, `a,b`, or a list)
//! gives the edges; `inputMappings` / `outputMappings` are Baton's mappings (`$.context`,
//! `$.input`, `$.output`) as they are. Other categories (`choice`, `foreach`, `return`, ...) are
//! refused, naming the task. A start node leads to the tasks nothing else leads to.
//!
//! Executions: `execution_id` is Baton's instance id as text; the context is the instance's
//! input. `dag_status` is `NOT_STARTED`, `RUNNING` (also paused or rolling back), `SUCCEED` or
//! `FAILED` (also cancelled); a task's `status` is `NOT_STARTED`, `RUNNING` (also waiting for
//! its finish), `SUCCEED`, `FAILED` or `SKIPPED`. `process` is the percent of tasks that ended
//! (100 when the execution succeeded). A submit's `callback` URL gets a POST with
//! `{execution_id, dag_status, process, context}` once the execution ends (an instance hook:
//! retried with backoff, through the same address guard as http nodes); `resource_check` is
//! accepted and not used. Refusals are `{ret: false, code: <HTTP status>, message}` with that
//! status.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use engine::definition::{Definition, Node, NodeKind};
use engine::id::Id;
use engine::instance::{InstanceRecord, InstanceStatus, NodeRun, NodeRunStatus, Trigger};
use engine::people::{token_hash, Permission};
use engine::runtime::{Mode, StartRequest};
use engine::service::Caller;
use engine::store::{CallbackFinish, StoreError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{Refusal, Shape};

mod model;
use crate::api::ApiState;

/// Rill Flow's error shape.
pub struct Rill;

impl Shape for Rill {
    fn body(status: StatusCode, message: &str) -> Value {
        json!({"ret": false, "code": status.as_u16(), "message": message})
    }
}

type Fail = Refusal<Rill>;
type Answer = Result<Json<Value>, Fail>;

/// The routes, to be nested at `/flow` (and `/2/flow`).
pub fn router(state: ApiState) -> Router {
    let routes = Router::new()
        .route("/bg/manage/descriptor/add_descriptor.json", post(add))
        .route("/submit.json", post(submit))
        .route("/finish.json", post(finish))
        .route("/get.json", get(read));
    super::guard::<Rill>(routes, state.clone())
        .fallback(Fail::no_route)
        .with_state(state)
}

#[derive(Deserialize)]
pub struct AddQuery {
    business_id: Option<String>,
    feature_name: Option<String>,
    alias: Option<String>,
}

fn required(value: Option<String>, name: &str) -> Result<String, Fail> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Fail::bad(format!("{name} is required")))
}

/// A name that goes into a definition key: letters, digits, `_` and `-`.
fn part(value: &str, name: &str) -> Result<String, Fail> {
    let ok = !value.is_empty()
        && value.len() <= 31
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(Fail::bad(format!(
            "{name}: `{value}`: use up to 31 letters, digits, `_` and `-`, starting with a letter or digit"
        )))
    }
}

fn key_of(workspace: &str, dag: &str) -> String {
    format!("{workspace}.{dag}")
}

fn rill_meta(definition: &Definition) -> Value {
    definition
        .metadata
        .as_ref()
        .and_then(|m| m.get("rill"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// `POST /flow/bg/manage/descriptor/add_descriptor.json?business_id&feature_name&alias`, the
/// YAML in the body: publishes the descriptor's next version and points `alias` at it.
async fn add(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AddQuery>,
    body: String,
) -> Answer {
    let business = required(query.business_id, "business_id")?;
    let feature = required(query.feature_name, "feature_name")?;
    let alias = part(&required(query.alias, "alias")?, "alias")?;
    let yaml: Value = serde_norway::from_str(&body)
        .map_err(|e| Fail::bad(format!("body: not a YAML descriptor: {e}")))?;
    if !yaml.is_object() {
        return Err(Fail::bad("body: a YAML descriptor (a mapping with tasks)"));
    }
    let text = |name: &str, or: &str| match &yaml[name] {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => or.to_string(),
    };
    let workspace = part(&text("workspace", &business), "workspace")?;
    let dag = part(&text("dagName", &feature), "dagName")?;
    let key = key_of(&workspace, &dag);
    let existing = api.definitions.overview(&key).await.ok();
    let mut aliases = json!({});
    let mut next_version = 1;
    if let Some(overview) = &existing {
        api.definitions
            .authorize(&caller.user, &key, Permission::Mgmt)
            .await?;
        if let Some(latest) = overview.versions.first() {
            next_version = latest.version + 1;
            if let Some(Value::Object(known)) = latest.document["metadata"]["rill"].get("aliases") {
                aliases = Value::Object(known.clone());
            }
        }
    }
    aliases[&alias] = json!(next_version);
    let meta = json!({
        "business_id": business, "feature_name": feature, "alias": alias,
        "aliases": aliases, "version": yaml.get("version"), "type": yaml.get("type"),
    });
    let document = model::document(&key, &yaml, meta)?;
    let found = match Definition::from_value(document.clone()) {
        Ok(definition) => definition.check(),
        Err(found) => found,
    };
    if !found.is_empty() {
        return Err(model::issues(&found));
    }
    if existing.is_some() {
        api.definitions
            .save_draft(document, &caller.user.username)
            .await?;
    } else {
        api.definitions.create(&caller.user, document).await?;
    }
    let published = api.definitions.publish(&key, &caller.user.username).await?;
    if published.version != next_version {
        // Another add got in between: point the alias at the version made here.
        tracing::warn!(
            key,
            alias,
            version = published.version,
            "descriptor alias raced"
        );
    }
    Ok(Json(json!({
        "ret": true,
        "descriptor_id": format!("{workspace}:{dag}:{alias}"),
    })))
}

/// `workspace:dagName[:alias]` → the key and version.
async fn descriptor(api: &ApiState, caller: &Caller, id: &str) -> Result<(String, i32), Fail> {
    let parts: Vec<&str> = id.split(':').map(str::trim).collect();
    let (key, alias) = match parts.as_slice() {
        [key] if !key.is_empty() => (key.to_string(), None),
        [w, d] => (key_of(w, d), None),
        [w, d, a] => (key_of(w, d), Some(*a)),
        _ => {
            return Err(Fail::bad(format!(
                "descriptor_id: `{id}`; write workspace:dagName, workspace:dagName:alias or a definition's key"
            )))
        }
    };
    let missing = || Fail::not_found(format!("descriptor_id: no descriptor `{id}`"));
    api.definitions
        .authorize(&caller.user, &key, Permission::Use)
        .await
        .map_err(|_| missing())?;
    let (latest, definition) = api
        .definitions
        .version(&key, None)
        .await
        .map_err(|_| missing())?;
    let version = match alias {
        None => latest.version,
        Some(alias) => rill_meta(&definition)["aliases"][alias]
            .as_i64()
            .map(|v| v as i32)
            .ok_or_else(missing)?,
    };
    Ok((key, version))
}

#[derive(Deserialize)]
pub struct SubmitQuery {
    descriptor_id: Option<String>,
    callback: Option<String>,
    #[allow(dead_code)]
    resource_check: Option<String>,
}

/// `POST /flow/submit.json?descriptor_id=&callback=`, the context in the body.
async fn submit(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<SubmitQuery>,
    body: axum::body::Bytes,
) -> Answer {
    let id = required(query.descriptor_id, "descriptor_id")?;
    let callback = match query.callback.filter(|c| !c.trim().is_empty()) {
        Some(url) => match reqwest_url(&url) {
            true => Some(url),
            false => return Err(Fail::bad("callback: an http or https URL")),
        },
        None => None,
    };
    let context = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Value::Object(map),
            Ok(_) => return Err(Fail::bad("body: the context is a JSON object")),
            Err(e) => return Err(Fail::bad(format!("body: not JSON: {e}"))),
        }
    };
    let (key, version) = descriptor(&api, &caller, &id).await?;
    let started = api
        .runtime
        .start_bound(
            StartRequest {
                definition_key: key,
                version: Some(version),
                input: context,
                trigger: Trigger::Api,
                operator: caller.user.username.clone(),
                idempotency_key: None,
            },
            Mode::default(),
            None,
        )
        .await?;
    let execution = started.instance.id;
    if let Some(url) = callback {
        api.runtime.add_hook(execution, &url, "rill").await?;
    }
    Ok(Json(json!({"execution_id": execution.to_string()})))
}

/// Whether `url` is an absolute http(s) URL with a host.
fn reqwest_url(url: &str) -> bool {
    axum::http::Uri::try_from(url)
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishQuery {
    execution_id: Option<String>,
    task_name: Option<String>,
}

#[derive(Deserialize)]
pub struct FinishBody {
    result_type: Option<String>,
    #[serde(default)]
    passthrough: Option<Passthrough>,
    #[serde(default)]
    response: Option<Value>,
}

#[derive(Deserialize)]
pub struct Passthrough {
    execution_id: Option<String>,
    task_name: Option<String>,
}

fn execution(text: &str) -> Result<Id, Fail> {
    super::parse_id(text, || format!("execution_id: no execution {text}"))
}

/// `POST /flow/finish.json?executionId=&taskName=`: an async task's result.
async fn finish(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<FinishQuery>,
    body: Result<Json<FinishBody>, axum::extract::rejection::JsonRejection>,
) -> Answer {
    let Json(body) = body.map_err(|e| Fail::bad(format!("body: {}", e.body_text())))?;
    let (pass_id, pass_task) = body
        .passthrough
        .map_or((None, None), |p| (p.execution_id, p.task_name));
    let id = required(query.execution_id.or(pass_id), "executionId")?;
    let task = required(query.task_name.or(pass_task), "taskName")?;
    let succeeded = match body.result_type.as_deref() {
        None | Some("SUCCESS") => true,
        Some("FAIL") => false,
        Some(other) => {
            return Err(Fail::bad(format!(
                "result_type: `{other}`; use SUCCESS or FAIL"
            )))
        }
    };
    let detail = api.instances.detail(&caller.user, execution(&id)?).await?;
    // The token the task's callback handed out, as its waiting event shows it.
    let token = detail
        .events
        .iter()
        .rev()
        .find(|e| e.kind == "node.waiting" && e.node_id.as_deref() == Some(task.as_str()))
        .and_then(|e| e.data["callback"]["token"].as_str())
        .ok_or_else(|| {
            Fail::new(
                StatusCode::CONFLICT,
                format!("taskName: task `{task}` of execution {id} is not waiting for a finish"),
            )
        })?;
    let output = body.response.unwrap_or_else(|| json!({}));
    api.store
        .finish_callback(
            &token_hash(token),
            CallbackFinish {
                succeeded,
                output: &output,
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(why) => {
                Fail::new(StatusCode::CONFLICT, format!("taskName: {why}"))
            }
            other => other.into(),
        })?;
    api.runtime.wake();
    Ok(Json(json!({"result": "ok"})))
}

fn dag_status(status: InstanceStatus) -> &'static str {
    match status {
        InstanceStatus::Pending => "NOT_STARTED",
        InstanceStatus::Running | InstanceStatus::Paused | InstanceStatus::RollingBack => "RUNNING",
        InstanceStatus::Completed => "SUCCEED",
        InstanceStatus::Failed | InstanceStatus::Cancelled => "FAILED",
    }
}

fn task_status(run: Option<&NodeRun>) -> &'static str {
    match run.map(|r| r.status) {
        None | Some(NodeRunStatus::NotStarted) => "NOT_STARTED",
        Some(NodeRunStatus::Running | NodeRunStatus::Waiting) => "RUNNING",
        Some(NodeRunStatus::Completed | NodeRunStatus::Compensated) => "SUCCEED",
        Some(NodeRunStatus::Failed | NodeRunStatus::TimedOut | NodeRunStatus::Cancelled) => {
            "FAILED"
        }
        Some(NodeRunStatus::Skipped) => "SKIPPED",
    }
}

/// The instance's context without Baton's own keys (`_bindings`, ...).
fn context(instance: &InstanceRecord) -> Value {
    match &instance.context {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The body a submit's `callback` gets once the execution has ended.
pub fn hook_body(instance: &InstanceRecord) -> Value {
    let status = dag_status(instance.status);
    let mut body = json!({
        "execution_id": instance.id.to_string(),
        "dag_status": status,
        "context": context(instance),
    });
    if status == "SUCCEED" {
        body["process"] = json!(100);
    }
    body
}

/// The tasks of a descriptor: every node but the start added for it.
fn tasks(definition: &Definition) -> Vec<&Node> {
    let start = rill_meta(definition)["start"].as_str().map(str::to_string);
    definition
        .nodes
        .iter()
        .filter(|n| Some(&n.id) != start.as_ref() && !matches!(n.kind, NodeKind::Start))
        .collect()
}

#[derive(Deserialize)]
pub struct GetQuery {
    execution_id: Option<String>,
    brief: Option<String>,
}

/// `GET /flow/get.json?execution_id=&brief=`.
async fn read(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<GetQuery>,
) -> Answer {
    let id = required(query.execution_id, "execution_id")?;
    let brief = match query.brief.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err(Fail::bad("brief: true or false")),
    };
    let detail = api.instances.detail(&caller.user, execution(&id)?).await?;
    let definition = &detail.definition;
    let instance = &detail.instance;
    let latest = |node: &str| detail.runs.iter().rev().find(|r| r.node_id == node);
    let nodes = tasks(definition);
    let status = dag_status(instance.status);
    let ended = nodes
        .iter()
        .filter(|n| matches!(task_status(latest(&n.id)), "SUCCEED" | "FAILED" | "SKIPPED"))
        .count();
    let process = if status == "SUCCEED" || nodes.is_empty() {
        100
    } else {
        ended * 100 / nodes.len()
    };
    let mut ret = json!({
        "execution_id": instance.id.to_string(),
        "dag_status": status,
        "process": process,
        "context": context(instance),
    });
    if !brief {
        let kept = rill_meta(definition)["tasks"].clone();
        let mut map = Map::new();
        for node in nodes {
            let next: Vec<&str> = definition
                .edges
                .iter()
                .filter(|e| e.from == node.id)
                .map(|e| e.to.as_str())
                .collect();
            let task = kept.get(&node.id).cloned().unwrap_or_else(
                || json!({"name": node.id, "next": next.join(","), "category": node.kind.name()}),
            );
            map.insert(
                node.id.clone(),
                json!({
                    "contains_sub": false,
                    "name": node.id,
                    "next": next,
                    "status": task_status(latest(&node.id)),
                    "task": task,
                }),
            );
        }
        ret["tasks"] = Value::Object(map);
    }
    Ok(Json(json!({ "ret": ret })))
}
