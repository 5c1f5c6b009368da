//! Nodes that wait on the outside: an approval opens a human task, a callback hands out a token
//! and waits for the finish call, a subprocess starts a child instance and waits for it to end.
//!
//! The first activation records a `waiting` run, what it waits on, and the node's next
//! activation held in the queue (see `store::waits`). The answer releases that activation with
//! the answer as its input; it then runs as any node does, and [`answer`] turns the answer into
//! the node's output or error — so retries and `on_error` apply to waiting nodes too.

use chrono::Utc;
use serde_json::{json, Value};

use super::executors::{Call, NodeError};
use super::plan::node_input;
use super::step::{base, commit, run_with};
use super::{foreach, Inner};
use crate::definition::template::render;
use crate::definition::{Callback, Http, Located, NodeKind};
use crate::id::Id;
use crate::instance::{InstanceStatus, NodeRunStatus, Trigger};
use crate::people::{new_token, token_hash};
use crate::store::{
    FinishedRun, NewCallback, NewChild, NewEvent, NewJob, NewTask, NewWait, NextItem, RunStart,
    StoreError, WorkItem,
};
use crate::task::DEFAULT_OUTCOMES;

/// The path a callback is finished at, under the server's address.
pub fn callback_path(token: &str) -> String {
    format!("/api/v1/callbacks/{token}")
}

/// What a callback's request may name: `{token, path, url, instance}` (`url` when the server's
/// public address is configured; `instance` is the instance's id as text).
fn callback_json(inner: &Inner, item: &WorkItem, token: &str) -> Value {
    let path = callback_path(token);
    let url = inner
        .config
        .public_url
        .as_deref()
        .map(|base| format!("{}{path}", base.trim_end_matches('/')));
    json!({"token": token, "path": path, "url": url, "instance": item.instance_id.to_string()})
}

/// A waiting node's first activation.
pub(super) async fn begin(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
) -> Result<Vec<WorkItem>, StoreError> {
    let node = at.node;
    let state = inner
        .store
        .step_state(item.instance_id, None, super::step::iteration_of(item))
        .await?;
    if state.status != InstanceStatus::Running {
        return Ok(Vec::new());
    }
    if state.mock {
        // A dry run waits on nobody (see `step::run_with`).
        return run_with(inner, item, at, None).await;
    }
    let view = foreach::view(&state).into_owned();
    let input = match &item.input {
        Some(given) => given.clone(),
        None => match node_input(node, &view) {
            Ok(input) => input,
            Err(e) => return run_with(inner, item, at, Some(Err(e))).await,
        },
    };
    let now = Utc::now();
    let run_id = inner.next_id();
    let item_id = inner.next_id();
    let scope = json!({"context": view, "input": input});
    let mut callback_call = None;
    let mut callback_info = None;
    let wait = match &node.kind {
        NodeKind::Approval(approval) => {
            let title = approval
                .title
                .as_deref()
                .unwrap_or(if node.name.is_empty() {
                    &node.id
                } else {
                    &node.name
                });
            let outcomes = if approval.outcomes.is_empty() {
                DEFAULT_OUTCOMES.iter().map(|o| o.to_string()).collect()
            } else {
                approval.outcomes.clone()
            };
            NewWait::Task(NewTask {
                id: inner.next_id(),
                node_id: node.id.clone(),
                node_run_id: run_id,
                item_id,
                definition_key: item.definition_key.clone(),
                title: render(title, &scope),
                content: render(approval.content.as_deref().unwrap_or_default(), &scope),
                assignees: approval.assignees.clone(),
                groups: approval.groups.clone(),
                form: serde_json::to_value(&approval.form).unwrap_or_default(),
                outcomes,
                due_at: approval.due.map(|d| now + to_chrono(d)),
            })
        }
        NodeKind::Callback(callback) => {
            let token = new_token();
            callback_info = Some(callback_json(inner, item, &token));
            if callback.url.is_some() {
                callback_call = Some((callback.clone(), token.clone()));
            }
            NewWait::Callback(NewCallback {
                id: inner.next_id(),
                token_hash: token_hash(&token),
                node_id: node.id.clone(),
                node_run_id: run_id,
                item_id,
                due_at: node.timeout.map(|d| now + to_chrono(d)),
                job: None,
            })
        }
        NodeKind::Job(spec) => match super::robots::job(inner, item, node, spec, &scope).await? {
            Ok(new_job) => {
                let token = new_token();
                NewWait::Callback(NewCallback {
                    id: inner.next_id(),
                    token_hash: token_hash(&token),
                    node_id: node.id.clone(),
                    node_run_id: run_id,
                    item_id,
                    due_at: node.timeout.map(|d| now + to_chrono(d)),
                    job: Some(NewJob {
                        callback_hash: Some(token_hash(&token)),
                        ..new_job
                    }),
                })
            }
            Err(e) => return run_with(inner, item, at, Some(Err(e))).await,
        },
        NodeKind::Subprocess(spec) => match child(inner, item, spec, &input, item_id).await {
            Ok(child) => NewWait::Child(child),
            Err(e) => return run_with(inner, item, at, Some(Err(e))).await,
        },
        other => {
            return Err(StoreError::Corrupt(format!(
                "{} nodes do not wait",
                other.name()
            )))
        }
    };
    let awaiting = wait.awaiting();
    let mut wait = Some(wait);
    let handed = commit(inner, item, None, Some(state), |state| {
        if state.status != InstanceStatus::Running {
            return None;
        }
        let mut c = base(inner, item, state);
        c.runs.push(FinishedRun {
            id: run_id,
            started: Some(RunStart {
                node_id: node.id.clone(),
                attempt: item.attempt,
                loop_index: item.loop_index,
                input: input.clone(),
                started_at: now,
            }),
            status: NodeRunStatus::Waiting,
            output: None,
            error: None,
            cost_ms: 0,
        });
        let mut data = json!({"run": run_id, "awaiting": awaiting});
        match wait.as_ref() {
            Some(NewWait::Task(task)) => data["task"] = json!(task.id),
            Some(NewWait::Child(child)) => data["child"] = json!(child.id),
            // Whoever may read the instance may finish its callbacks.
            Some(NewWait::Callback(_)) => data["callback"] = json!(callback_info),
            None => {}
        }
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.waiting",
            data,
        });
        c.next.push(NextItem {
            attempt: item.attempt,
            held: true,
            awaiting: Some(awaiting),
            resume_run: Some(run_id),
            ..NextItem::new(item_id, &node.id, None).within(item)
        });
        c.wait = wait.clone();
        Some(c)
    })
    .await?;
    wait.take();
    if let Some((callback, token)) = callback_call {
        send_callback(inner, item, &callback, &token, &view, input).await?;
    }
    Ok(handed)
}

/// The request that hands a callback's token to the outside. It goes out after the wait is
/// recorded, so a finish that comes back at once finds it; if it cannot be sent, the callback
/// fails at once (and the node's retries and `on_error` apply).
async fn send_callback(
    inner: &Inner,
    item: &WorkItem,
    callback: &Callback,
    token: &str,
    context: &Value,
    input: Value,
) -> Result<(), StoreError> {
    let spec = Http {
        method: callback.method.clone().or_else(|| Some("POST".into())),
        url: callback.url.clone(),
        headers: [("Baton-Callback-Token".to_string(), token.to_string())].into(),
        body: callback.body.clone(),
        accepted_statuses: Vec::new(),
    };
    let node = crate::definition::Node::bare(item.node_id.clone(), NodeKind::Http(spec.clone()));
    let call = Call {
        node: &node,
        input,
        context,
        idempotency_key: item.id.to_string(),
        extra: Some(json!({"callback": callback_json(inner, item, token)})),
    };
    if let Err(e) = inner.executors.http.execute(&spec, &call).await {
        let finish = crate::store::CallbackFinish {
            succeeded: false,
            output: &json!({"sending": e.to_json()}),
        };
        match inner
            .store
            .finish_callback(&token_hash(token), finish)
            .await
        {
            Ok(_) => inner.wake.notify_one(),
            // Finished or cancelled meanwhile: nothing to undo.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// The child instance of a subprocess node: the published version it names, with the node's
/// input checked against that version's input schema.
async fn child(
    inner: &Inner,
    item: &WorkItem,
    spec: &crate::definition::Subprocess,
    input: &Value,
    parent_item: Id,
) -> Result<NewChild, NodeError> {
    let key = spec.definition.as_deref().unwrap_or_default();
    let refused = |e: super::RuntimeError| NodeError::new("subprocess_start", e.to_string());
    let version = inner
        .published(key, spec.version.map(|v| v as i32))
        .await
        .map_err(refused)?;
    let definition = inner
        .definition(key, version.version)
        .await
        .map_err(|e| refused(e.into()))?;
    inner
        .check_input(key, version.version, &definition, input)
        .map_err(refused)?;
    let start = super::start_node(key, version.version, &definition).map_err(refused)?;
    let operator = inner
        .store
        .instance(item.instance_id)
        .await
        .ok()
        .flatten()
        .map(|parent| parent.operator)
        .unwrap_or_else(|| Trigger::Subprocess.as_str().to_string());
    Ok(NewChild {
        id: inner.next_id(),
        version_id: version.id,
        definition_key: key.to_string(),
        version: version.version,
        input: input.clone(),
        operator,
        start_item: inner.next_id(),
        start_node: start,
        deadline: definition
            .timeout
            .map(|limit| (inner.next_id(), limit.as_std().as_millis() as i64)),
        parent_item,
    })
}

/// A waiting node's result, from the answer its released activation carries.
pub(super) fn answer(input: Value) -> Result<Value, NodeError> {
    let mut input = input;
    match input["status"].as_str() {
        Some("completed") => Ok(input["output"].take()),
        Some("expired") => Err(NodeError::new(
            "expired",
            "the task was not completed before it was due",
        )),
        Some("timed_out") => Err(NodeError::new(
            "timeout",
            "no finish call came before the node's timeout",
        )),
        Some("failed") => {
            let error = input["error"].take();
            let code = match error["code"].as_str() {
                Some("callback_failed") => "callback_failed",
                Some("subprocess_cancelled") => "subprocess_cancelled",
                _ => "subprocess_failed",
            };
            let message = error["message"].as_str().unwrap_or(code).to_string();
            Err(NodeError::with_detail(
                code,
                message,
                error["detail"].clone(),
            ))
        }
        _ => Err(NodeError::new(
            "not_answered",
            "the node was released without an answer",
        )),
    }
}

fn to_chrono(duration: crate::definition::Duration) -> chrono::Duration {
    chrono::Duration::milliseconds(duration.as_std().as_millis() as i64)
}
