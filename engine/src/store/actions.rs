//! Compensation phases: the rollback of a failed instance, the cancel actions of a cancelled
//! one, the cleanup of a deleted one. A phase is a work item on the reserved node id
//! [`ACTIONS_NODE`] whose input names the phase and the node runs already handled; each step
//! runs one node's action and queues the next, so a phase survives restarts, one action at a
//! time, in reverse order of completion.

use async_trait::async_trait;
use serde_json::Value;

use super::StoreError;
use crate::definition::Phase;
use crate::id::Id;

/// The reserved node id of a compensation phase's work items (`$` is never in a node id).
pub const ACTIONS_NODE: &str = "$actions";

#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Queues the cleanup of an ended instance (`delete`). `Conflict` when it has not ended or
    /// a phase is already under way; `NotFound` when there is no such instance.
    async fn request_delete(&self, instance: Id, item: Id, actor: &str) -> Result<(), StoreError>;

    /// Appends one event to an instance's log (a phase's `*.begin`, before its action runs).
    async fn note_event(&self, instance: Id, event: super::NewEvent) -> Result<(), StoreError>;

    /// Records one step of a phase. `LeaseLost` when the item is no longer this worker's.
    async fn record_action(&self, step: ActionStep<'_>) -> Result<(), StoreError>;
}

#[derive(Debug, Clone)]
pub struct ActionStep<'a> {
    pub instance_id: Id,
    pub item: Id,
    pub lease_owner: &'a str,
    pub phase: Phase,
    /// The action that ran: on which node run, and how it went.
    pub ran: Option<ActionRan>,
    /// The next step's item and input; `None` ends the phase.
    pub next: Option<(Id, Value)>,
}

#[derive(Debug, Clone)]
pub struct ActionRan {
    pub run: Id,
    pub node_id: String,
    pub ok: bool,
    /// The action's response, or its error.
    pub detail: Value,
}

/// A phase's item input: the phase and the node runs it has handled.
pub fn phase_input(phase: Phase, done: &[Id]) -> Value {
    serde_json::json!({"phase": phase.as_str(), "done": done})
}
