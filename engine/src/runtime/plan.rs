//! What a node's result changes (its run, the context, where the flow goes), and the helpers
//! that run a node: its input, its executor under its time limit, the wait before a retry.

use serde_json::{json, Value};

use super::executors::{Call, NodeError};
use super::route::{route, Outcome};
use super::{foreach, mapping, Inner};
use crate::definition::{Edge, Node, NodeKind, OnError, Retry};
use crate::instance::NodeRunStatus;

/// The wait before attempt `attempt + 1`: initial × factor^(attempt − 1), at most
/// `max_interval` (one hour when unset).
pub(super) fn backoff_ms(retry: &Retry, attempt: i32) -> i64 {
    let initial = retry.initial_interval.as_millis() as f64;
    let cap = retry
        .max_interval
        .map_or(3_600_000.0, |d| d.as_millis() as f64);
    let exponent = (attempt - 1).clamp(0, 64);
    (initial * retry.backoff_factor.powi(exponent))
        .min(cap)
        .max(0.0) as i64
}

/// A run that hit its time limit is `timed_out`; any other failure is `failed`.
pub(super) fn failure_status(error: &NodeError) -> NodeRunStatus {
    if error.code == "timeout" {
        NodeRunStatus::TimedOut
    } else {
        NodeRunStatus::Failed
    }
}

/// Kinds whose work has effects outside Baton (or waits on them).
pub(super) fn reaches_outside(kind: &NodeKind) -> bool {
    !matches!(
        kind,
        NodeKind::Start
            | NodeKind::End
            | NodeKind::Condition
            | NodeKind::Parallel
            | NodeKind::Join { .. }
            | NodeKind::Script { .. }
            | NodeKind::Foreach(_)
    )
}

/// The node's input: its input mappings applied to the context, or the whole context.
pub(super) fn node_input(node: &Node, context: &Value) -> Result<Value, NodeError> {
    if node.input_mappings.is_empty() {
        return Ok(context.clone());
    }
    let source = json!({ "context": context });
    let mut target = json!({ "input": {} });
    mapping::apply(&node.input_mappings, &source, &mut target)
        .map_err(|e| NodeError::new("input_mapping", e))?;
    Ok(target["input"].take())
}

/// Runs the node's work. A script or http node bound to entities by a preview (its entities are
/// in the context under `_bindings`) runs once per entity, with `input.entity` (and
/// `{{entity.…}}` in templates) set to it; its output lists each entity's output.
pub(super) async fn execute(
    inner: &Inner,
    node: &Node,
    call: Call<'_>,
) -> Result<Value, NodeError> {
    let bound = match (&node.kind, &node.binding) {
        (NodeKind::Script { .. } | NodeKind::Http(_), Some(_)) => call
            .context
            .get(crate::service::BINDINGS_KEY)
            .and_then(|b| b.get(&node.id))
            .and_then(Value::as_array)
            .cloned(),
        _ => None,
    };
    let Some(entities) = bound else {
        return execute_once(inner, node, call).await;
    };
    let mut outputs = Vec::with_capacity(entities.len());
    for entity in entities {
        let mut input = call.input.clone();
        if let Value::Object(map) = &mut input {
            map.insert("entity".into(), entity.clone());
        }
        let guid = entity["guid"].as_str().unwrap_or_default().to_string();
        let output = execute_once(
            inner,
            node,
            Call {
                node,
                input,
                context: call.context,
                idempotency_key: format!("{}/{guid}", call.idempotency_key),
                extra: Some(serde_json::json!({ "entity": entity })),
            },
        )
        .await?;
        outputs.push(serde_json::json!({
            "guid": guid,
            "display_name": entity["display_name"],
            "output": output,
        }));
    }
    Ok(serde_json::json!({ "entities": outputs }))
}

async fn execute_once(inner: &Inner, node: &Node, call: Call<'_>) -> Result<Value, NodeError> {
    let work = inner.executors.execute(call);
    match node.timeout {
        Some(limit) => tokio::time::timeout(limit.as_std(), work)
            .await
            .unwrap_or_else(|_| {
                Err(NodeError::new(
                    "timeout",
                    format!("the node ran longer than {limit}"),
                ))
            }),
        None => work.await,
    }
}

/// What a finished node changes.
pub(super) struct Plan {
    pub status: NodeRunStatus,
    pub output: Option<Value>,
    pub error: Option<Value>,
    /// The new context, when output mappings wrote to it.
    pub context: Option<Value>,
    /// The workflow's output, when this is an end node.
    pub instance_output: Option<Value>,
    pub route: Vec<(String, bool)>,
    pub fail: Option<Value>,
    /// Why the instance pauses (the node failed with `on_error: pause`).
    pub pause: Option<Value>,
}

/// What `node`'s result changes. `context` is where its output mappings write: the instance's
/// context, or inside a foreach body the iteration's, read over `outer` (the instance's).
pub(super) fn plan(
    node: &Node,
    outgoing: &[&Edge],
    result: &Result<Value, NodeError>,
    context: &Value,
    outer: Option<&Value>,
) -> Plan {
    let failed = |error: &NodeError, output: Option<Value>| Plan {
        status: failure_status(error),
        output,
        error: Some(error.to_json()),
        context: None,
        instance_output: None,
        route: Vec::new(),
        fail: Some(json!({"node": node.id, "code": error.code, "message": error.message})),
        pause: None,
    };
    let (outcome, output) = match (result, node.on_error) {
        (Ok(output), _) => (Outcome::Succeeded, output.clone()),
        (Err(error), OnError::Ignore) => (Outcome::Ignored, json!({"error": error.to_json()})),
        (Err(_), OnError::Branch) => (Outcome::Branched, Value::Null),
        (Err(error), OnError::Fail) => return failed(error, None),
        // The instance waits for an operator to re-run the node (perhaps with another input)
        // or skip it; its other branches wait too.
        (Err(error), OnError::Pause) => {
            let mut plan = failed(error, None);
            plan.pause = plan.fail.take();
            return plan;
        }
    };

    let mut new_context = None;
    let mut instance_output = None;
    if outcome == Outcome::Succeeded && !node.output_mappings.is_empty() {
        if matches!(node.kind, NodeKind::End) && outer.is_none() {
            // An end node maps the context into the workflow's output.
            let mut target = json!({ "output": {} });
            if let Err(e) = mapping::apply(
                &node.output_mappings,
                &json!({ "context": context }),
                &mut target,
            ) {
                return failed(&NodeError::new("output_mapping", e), Some(output));
            }
            instance_output = Some(target["output"].take());
        } else {
            let mut target = json!({ "context": context });
            if let Err(e) = mapping::apply(
                &node.output_mappings,
                &json!({ "output": output }),
                &mut target,
            ) {
                return failed(&NodeError::new("output_mapping", e), Some(output));
            }
            new_context = Some(target["context"].take());
        }
    }
    let written = new_context.as_ref().unwrap_or(context);
    let merged;
    let routing_context = match outer {
        Some(outer) => {
            merged = foreach::merge(outer, written);
            &merged
        }
        None => written,
    };
    let route = match route(&node.kind, outgoing, outcome, routing_context, &output) {
        Ok(route) => route
            .into_iter()
            .map(|(e, live)| (e.to.clone(), live))
            .collect(),
        Err(message) => return failed(&NodeError::new("condition", message), Some(output)),
    };
    let error = match result {
        Err(e) => Some(e.to_json()),
        Ok(_) => None,
    };
    Plan {
        status: match result {
            Err(e) => failure_status(e),
            Ok(_) => NodeRunStatus::Completed,
        },
        output: Some(output),
        error,
        context: new_context,
        instance_output,
        route,
        fail: None,
        pause: None,
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;
    use crate::definition::{Duration, Retry};

    #[test]
    fn backoff_grows_by_its_factor_up_to_the_cap() {
        let retry = Retry {
            max_attempts: 10,
            initial_interval: Duration::from_millis(100),
            backoff_factor: 2.0,
            max_interval: Some(Duration::from_millis(1_000)),
        };
        let waits: Vec<i64> = (1..=6).map(|a| backoff_ms(&retry, a)).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1_000, 1_000]);
    }
}
