//! Compensation phases (see `store::actions`): one step runs one completed node's action for the
//! phase — the latest completed first — and queues the next step; the phase ends when none is
//! left. An action that fails is recorded (`rollback.failed`, …) and the phase goes on.

use serde_json::{json, Value};

use super::executors::Call;
use super::Inner;
use crate::definition::{Definition, Node, NodeKind, Phase};
use crate::id::Id;
use crate::instance::NodeRunStatus;
use crate::store::actions::phase_input;
use crate::store::{ActionRan, ActionStep, NewEvent, StoreError, WorkItem};

/// Whether any node of `definition` (foreach bodies included) has an action for `phase`.
pub(super) fn has_actions(definition: &Definition, phase: Phase) -> bool {
    fn any(nodes: &[Node], phase: Phase) -> bool {
        nodes.iter().any(|node| {
            node.compensation
                .as_ref()
                .is_some_and(|c| c.action(phase).is_some())
                || matches!(&node.kind, NodeKind::Foreach(f) if any(&f.body.nodes, phase))
        })
    }
    any(&definition.nodes, phase)
}

/// One step of a phase.
pub(super) async fn process(inner: &Inner, item: &WorkItem) -> Result<Vec<WorkItem>, StoreError> {
    let input = item.input.clone().unwrap_or_default();
    let phase = input["phase"]
        .as_str()
        .and_then(Phase::parse)
        .ok_or_else(|| StoreError::Corrupt(format!("work item {} names no phase", item.id)))?;
    let mut done: Vec<Id> = serde_json::from_value(input["done"].clone()).unwrap_or_default();
    let definition = inner.definition(&item.definition_key, item.version).await?;
    let instance = inner
        .store
        .instance(item.instance_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("instance {}", item.instance_id)))?;
    // The runs still to handle, latest completed first.
    let mut runs = inner.store.node_runs(item.instance_id).await?;
    runs.retain(|r| r.status == NodeRunStatus::Completed && !done.contains(&r.id));
    runs.sort_by(|a, b| (b.ended_at.as_deref(), b.id).cmp(&(a.ended_at.as_deref(), a.id)));
    let next = runs.into_iter().find_map(|run| {
        let node = definition.locate(&run.node_id)?.node;
        let action = node.compensation.as_ref()?.action(phase)?.clone();
        Some((run, action))
    });
    let Some((run, action)) = next else {
        return record(inner, item, phase, None, None).await;
    };

    inner
        .store
        .note_event(
            item.instance_id,
            NewEvent {
                node_id: Some(run.node_id.clone()),
                kind: match phase {
                    Phase::Rollback => "rollback.begin",
                    Phase::Cancel => "cancel.begin",
                    Phase::Delete => "delete.begin",
                },
                data: json!({"run": run.id}),
            },
        )
        .await?;
    let node = Node::bare(run.node_id.clone(), NodeKind::Http(action.clone()));
    let call = Call {
        node: &node,
        input: run.input.clone().unwrap_or(Value::Null),
        context: &instance.context,
        // The same key for the same action, however often it is tried.
        idempotency_key: format!("{}-{}", run.id, phase.as_str()),
        extra: Some(json!({"output": run.output})),
    };
    let outcome = inner.executors.http.execute(&action, &call).await;
    let ran = ActionRan {
        run: run.id,
        node_id: run.node_id.clone(),
        ok: outcome.is_ok(),
        detail: match outcome {
            Ok(response) => response,
            Err(error) => error.to_json(),
        },
    };
    done.push(run.id);
    let next = (inner.next_id(), phase_input(phase, &done));
    record(inner, item, phase, Some(ran), Some(next)).await
}

async fn record(
    inner: &Inner,
    item: &WorkItem,
    phase: Phase,
    ran: Option<ActionRan>,
    next: Option<(Id, Value)>,
) -> Result<Vec<WorkItem>, StoreError> {
    let step = ActionStep {
        instance_id: item.instance_id,
        item: item.id,
        lease_owner: &inner.owner,
        phase,
        ran,
        next,
    };
    match inner.store.record_action(step).await {
        Ok(()) | Err(StoreError::LeaseLost) => {
            inner.wake.notify_one();
            Ok(Vec::new())
        }
        Err(other) => Err(other),
    }
}
