//! foreach: the body runs once per item of a collection, at most `concurrency` iterations at a
//! time. Each iteration has its own context — `item`, `index` and whatever its nodes' output
//! mappings write — read over the instance's context, so iterations never overwrite each other
//! or the instance. An iteration's output is the output of its last completed node; when the
//! last iteration ends, the foreach node completes with the outputs in item order, and its own
//! output mappings and edges apply as for any node.

use std::borrow::Cow;

use chrono::Utc;
use serde_json::{json, Map, Value};

use super::executors::NodeError;
use super::plan::plan;
use super::step::{base, commit};
use super::Inner;
use crate::definition::{path, Foreach, Located, Node, NodeKind};
use crate::instance::NodeRunStatus;
use crate::store::{
    Completion, FinishedRun, IterationChange, NewEvent, NextItem, RunStart, StepState, StoreError,
    WorkItem,
};

/// Most items one foreach takes.
pub const MAX_ITEMS: usize = 10_000;

/// `overlay`'s keys over `base`'s (both objects); otherwise `overlay`.
pub(super) fn merge(base: &Value, overlay: &Value) -> Value {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            let mut merged: Map<String, Value> = base.clone();
            for (key, value) in overlay {
                merged.insert(key.clone(), value.clone());
            }
            Value::Object(merged)
        }
        _ => overlay.clone(),
    }
}

/// The context a step reads: the instance's, or inside a body the iteration's over it.
pub(super) fn view(state: &StepState) -> Cow<'_, Value> {
    match &state.iteration {
        Some(it) => Cow::Owned(merge(&state.context, &it.context)),
        None => Cow::Borrowed(&state.context),
    }
}

/// The items to iterate: the `items` path over `{context, input}`. One list found gives its
/// elements; a path matching several values (a wildcard) gives those values.
pub(super) fn collection(
    spec: &Foreach,
    context: &Value,
    input: &Value,
    item: &WorkItem,
) -> Result<Vec<Value>, NodeError> {
    if item.loop_run.is_some() {
        return Err(NodeError::new(
            "not_supported",
            "a foreach inside another foreach's body cannot run in this version of Baton",
        ));
    }
    let text = spec.items.as_deref().unwrap_or_default();
    let query = path::parse(text).map_err(|e| NodeError::new("items", e))?;
    let source = json!({"context": context, "input": input});
    let found = query.query(&source).all();
    let items: Vec<Value> = match found.as_slice() {
        [] => {
            return Err(NodeError::new(
                "items",
                format!("`{text}` finds nothing to iterate"),
            ))
        }
        [Value::Array(list)] => list.clone(),
        [other] => {
            return Err(NodeError::new(
                "items",
                format!(
                    "`{text}` is {}, not a list",
                    match other {
                        Value::Object(_) => "an object",
                        Value::String(_) => "a string",
                        Value::Number(_) => "a number",
                        Value::Bool(_) => "a boolean",
                        _ => "null",
                    }
                ),
            ))
        }
        many => many.iter().map(|v| (*v).clone()).collect(),
    };
    if items.len() > MAX_ITEMS {
        return Err(NodeError::new(
            "items",
            format!("{} items; a foreach takes at most {MAX_ITEMS}", items.len()),
        ));
    }
    Ok(items)
}

/// The body's entries: its nodes nothing in the body points to.
fn entries(spec: &Foreach) -> Vec<&str> {
    spec.body
        .nodes
        .iter()
        .filter(|n| !spec.body.edges.iter().any(|e| e.to == n.id))
        .map(|n| n.id.as_str())
        .collect()
}

/// Starts a foreach over `items` (at least one): its run waits, the iterations are created,
/// and the first `concurrency` of them are queued.
pub(super) async fn start(
    inner: &Inner,
    item: &WorkItem,
    node: &Node,
    spec: &Foreach,
    state: StepState,
    items: Vec<Value>,
    input: Value,
) -> Result<Vec<WorkItem>, StoreError> {
    let run_id = inner.next_id();
    let started_at = Utc::now();
    let concurrency = spec.concurrency.unwrap_or(1).max(1) as usize;
    let running = concurrency.min(items.len());
    let entries = entries(spec);
    let contexts: Vec<Value> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| json!({"item": item, "index": index}))
        .collect();
    let total = contexts.len();
    commit(inner, item, None, Some(state), |state| {
        let mut c = base(inner, item, state);
        c.runs.push(FinishedRun {
            id: run_id,
            started: Some(RunStart {
                node_id: node.id.clone(),
                attempt: item.attempt,
                loop_index: None,
                input: input.clone(),
                started_at,
            }),
            status: NodeRunStatus::Waiting,
            output: None,
            error: None,
            cost_ms: 0,
        });
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.started",
            data: json!({"run": run_id, "attempt": item.attempt}),
        });
        c.events.push(NewEvent {
            node_id: Some(node.id.clone()),
            kind: "node.waiting",
            data: json!({"run": run_id, "iterations": total, "concurrency": concurrency}),
        });
        c.iterations.push(IterationChange::Create {
            run: run_id,
            contexts: contexts.clone(),
            running,
        });
        for index in 0..running {
            queue_iteration(inner, &mut c, &entries, run_id, index as i32);
        }
        Some(c)
    })
    .await
}

fn queue_iteration(
    inner: &Inner,
    c: &mut Completion,
    entries: &[&str],
    run: crate::id::Id,
    index: i32,
) {
    for entry in entries {
        c.next.push(NextItem {
            loop_run: Some(run),
            loop_index: Some(index),
            ..NextItem::new(inner.next_id(), *entry, None)
        });
    }
}

/// Called on every step inside a body: when the step leaves its iteration nothing more to do,
/// the iteration ends; the next pending one starts, or, when it was the last, the foreach
/// completes. `produced` is what this step's node output (when it completed).
pub(super) fn close_iteration(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
    state: &StepState,
    c: &mut Completion,
    produced: Option<Value>,
) {
    let (Some(run), Some(index), Some(it), Some((parent, parent_edges))) =
        (item.loop_run, item.loop_index, &state.iteration, at.parent)
    else {
        return;
    };
    let more_here = c
        .next
        .iter()
        .any(|n| n.loop_run == Some(run) && n.loop_index == Some(index));
    if more_here || it.remaining > 0 || c.fail.is_some() || c.pause.is_some() {
        return;
    }
    c.iterations.push(IterationChange::Finish {
        run,
        index,
        start: it.next_pending,
    });
    c.events.push(NewEvent {
        node_id: Some(parent.id.clone()),
        kind: "iteration.completed",
        data: json!({"run": run, "index": index}),
    });
    let NodeKind::Foreach(spec) = &parent.kind else {
        return;
    };
    if let Some(next) = it.next_pending {
        queue_iteration(inner, c, &entries(spec), run, next);
        return;
    }
    if it.running > 0 {
        // Another iteration is still going; the last to end completes the foreach.
        return;
    }
    let mut outputs = it.outputs.clone().unwrap_or_default();
    outputs.push((
        index,
        produced
            .or_else(|| it.output.clone())
            .unwrap_or(Value::Null),
    ));
    outputs.sort_by_key(|(i, _)| *i);
    let collected = Value::Array(outputs.into_iter().map(|(_, v)| v).collect());
    let outgoing: Vec<_> = parent_edges
        .iter()
        .filter(|e| e.from == parent.id)
        .collect();
    let done = plan(parent, &outgoing, &Ok(collected), &state.context, None);
    c.events.push(NewEvent {
        node_id: Some(parent.id.clone()),
        kind: if done.status == NodeRunStatus::Completed {
            "node.completed"
        } else {
            "node.failed"
        },
        data: json!({"run": run, "error": done.error}),
    });
    c.runs.push(FinishedRun {
        id: run,
        started: None,
        status: done.status,
        output: done.output,
        error: done.error,
        cost_ms: 0,
    });
    c.iterations.push(IterationChange::Clear { run });
    c.context = done.context;
    c.next
        .extend(done.route.into_iter().map(|(to, live)| NextItem {
            live,
            ..NextItem::new(inner.next_id(), to, Some(parent.id.clone()))
        }));
    c.fail = done.fail;
    c.pause = done.pause;
}
