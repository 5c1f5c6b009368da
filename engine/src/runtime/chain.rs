//! Straight chains of nodes that only compute, carried on in memory and recorded in one
//! transaction with the node that led to them.

use std::time::Instant;

use chrono::Utc;
use serde_json::Value;

use super::executors::{Call, NodeError};
use super::plan::{execute, node_input, plan, reaches_outside, Plan};
use super::step::{base, record, Ran};
use super::Inner;
use crate::definition::{Located, Node, NodeKind};
use crate::instance::NodeRunStatus;
use crate::store::{StepState, StoreError, WorkItem};

/// Most nodes carried on in memory before a chain is recorded.
const MAX_CHAIN: usize = 32;

/// When `node` completed and leads on one live edge to a node that only computes and has no
/// other incoming edge, runs that node straight away, and so on; records the whole chain in one
/// transaction. `None` when there is no chain (or the instance moved meanwhile): the caller
/// records the first node alone.
pub(super) async fn chain(
    inner: &Inner,
    item: &WorkItem,
    at: Located<'_>,
    state: &StepState,
    result: &Result<Value, NodeError>,
    ran: &Ran,
) -> Result<Option<Vec<WorkItem>>, StoreError> {
    let definition = inner.definition(&item.definition_key, item.version).await?;
    let mut links: Vec<(&Node, Ran, Plan)> = Vec::new();
    let mut node = at.node;
    let mut plan_now = plan(node, &at.outgoing(), result, &state.context, None);
    let mut context = state.context.clone();
    let mut ran_now = Ran {
        input: ran.input.clone(),
        ..*ran
    };
    loop {
        let next = match plan_now.route.as_slice() {
            [(to, true)]
                if plan_now.status == NodeRunStatus::Completed
                    && plan_now.fail.is_none()
                    && plan_now.pause.is_none()
                    && links.len() + 1 < MAX_CHAIN =>
            {
                definition.locate(to)
            }
            _ => None,
        };
        let next = next.filter(|n| {
            n.parent.is_none()
                && n.incoming() == 1
                && !reaches_outside(&n.node.kind)
                && !matches!(n.node.kind, NodeKind::Foreach(_))
        });
        if let Some(ctx) = &plan_now.context {
            context = ctx.clone();
        }
        let Some(next) = next else {
            links.push((node, ran_now, plan_now));
            break;
        };
        // Run the next node on the context as it now stands.
        let started_at = Utc::now();
        let started = Instant::now();
        let input = node_input(next.node, &context);
        let recorded = input.as_ref().cloned().unwrap_or(Value::Null);
        let outcome = match input {
            Ok(input) => {
                let call = Call {
                    node: next.node,
                    input,
                    context: &context,
                    idempotency_key: String::new(),
                    extra: None,
                };
                execute(inner, next.node, call).await
            }
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            // A failure (and its retries or on_error) is handled as the node's own step.
            links.push((node, ran_now, plan_now));
            break;
        }
        links.push((node, ran_now, plan_now));
        let next_plan = plan(next.node, &next.outgoing(), &outcome, &context, None);
        node = next.node;
        plan_now = next_plan;
        ran_now = Ran {
            run_id: inner.next_id(),
            start_first: false,
            started_at,
            input: recorded,
            cost_ms: started.elapsed().as_millis() as i64,
        };
    }
    if links.len() < 2 {
        return Ok(None);
    }
    let mut c = base(inner, item, state);
    for (node, ran, plan) in links {
        record(inner, item, node, &ran, plan, &mut c);
    }
    match inner.commits.commit(c).await {
        Ok(outcome) => Ok(Some(outcome.handed)),
        // Another branch moved the instance: record the first node alone, from the new state.
        Err(StoreError::Stale) => Ok(None),
        Err(StoreError::LeaseLost) => Ok(Some(Vec::new())),
        Err(other) => Err(other),
    }
}
