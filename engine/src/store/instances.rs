//! The runtime half of the store: instances, node runs, the event log and the ready queue.

use async_trait::async_trait;
use serde_json::Value;

use super::StoreError;
use crate::id::Id;
use crate::instance::{Event, InstanceRecord, InstanceStatus, NodeRun, NodeRunStatus, Trigger};

#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Records a running instance (context = input) and queues its start node, at once.
    /// Records and queues a new instance; with an idempotency key already used by the same
    /// operator, returns that instance instead (`true`: it existed).
    async fn create_instance(
        &self,
        new: NewInstance<'_>,
    ) -> Result<(InstanceRecord, bool), StoreError>;

    async fn instance(&self, id: Id) -> Result<Option<InstanceRecord>, StoreError>;

    async fn list_instances(
        &self,
        query: &super::InstanceQuery,
    ) -> Result<super::Page<InstanceRecord>, StoreError>;

    async fn node_runs(&self, instance: Id) -> Result<Vec<NodeRun>, StoreError>;

    /// Events with `seq` greater than `after`, in order.
    async fn events(&self, instance: Id, after: i32) -> Result<Vec<Event>, StoreError>;

    /// Leases up to `limit` due work items to `owner` for `lease_ms`; items whose lease expired
    /// are taken over. Several processes may call this at once: each item goes to
    /// one of them.
    async fn claim_work(
        &self,
        owner: &str,
        limit: i64,
        lease_ms: i64,
    ) -> Result<Vec<WorkItem>, StoreError>;

    /// What a step is computed from: the instance's state and, for a join, the arrivals at it.
    async fn step_state(
        &self,
        instance: Id,
        join: Option<&str>,
        iteration: Option<IterationKey>,
    ) -> Result<StepState, StoreError>;

    /// Records that a node started running (a node run and a `node.started` event), if its
    /// instance still runs; `false` (nothing recorded) when it was cancelled, paused or ended
    /// since the step's state was read, so the node must not run.
    async fn begin_node_run(&self, run: NewNodeRun<'_>) -> Result<bool, StoreError>;

    /// Cancels, pauses or resumes an instance. `Conflict` when its status does not allow it;
    /// `NotFound` when there is no such instance.
    ///
    /// `actions` is the first item of the compensation phase the change starts, when the
    /// definition has actions for it: the cancel actions of a cancel; the rollback of a debug
    /// instance resumed past a failed node (which leaves debug mode and fails it).
    async fn change_instance(
        &self,
        id: Id,
        change: InstanceChange,
        actor: &str,
        actions: Option<Id>,
    ) -> Result<InstanceRecord, StoreError>;

    /// Applies a finished step in one transaction. `Stale` when the instance moved on since
    /// `expected_rev` (recompute from a fresh `step_state`); `LeaseLost` when the work item is no
    /// longer this worker's (another took it over): nothing is written in either case.
    /// The queued next items come back already leased to this worker while the instance runs,
    /// so it goes on with them without another trip to the queue.
    async fn complete_step(&self, step: Completion) -> Result<StepOutcome, StoreError>;

    /// Applies finished steps of different instances, each as [`InstanceStore::complete_step`]
    /// would, with one outcome per step in their order. PostgreSQL records the common ones
    /// (no join, wait, foreach, failure or pause) together, in one transaction of multi-row
    /// statements: the group commit that lets a worker keep up with many instances.
    async fn complete_steps(&self, steps: Vec<Completion>) -> Vec<Result<StepOutcome, StoreError>>;

    /// An operator's request on one node of a paused instance: run it again (optionally with
    /// an edited input) or skip it. The node's held activation (or a new one) is released and
    /// the instance runs again.
    async fn queue_node(&self, op: NodeOperation<'_>) -> Result<InstanceRecord, StoreError>;

    /// Wakes `wake` whenever another process queues work, until the returned task is aborted.
    /// `None` where there are no other processes to hear from (SQLite).
    async fn watch_work(
        &self,
        _wake: std::sync::Arc<tokio::sync::Notify>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(None)
    }
}

/// See [`InstanceStore::queue_node`].
#[derive(Debug, Clone, Copy)]
pub struct NodeOperation<'a> {
    pub instance_id: Id,
    pub node_id: &'a str,
    /// The work item to queue.
    pub item: Id,
    /// Skip instead of running again.
    pub skip: bool,
    /// The input to run with, or (for a skip) the output to go on with.
    pub input: Option<&'a Value>,
    pub actor: &'a str,
    /// The foreach whose body holds the node: the activation joins the iteration the node's
    /// last run was in.
    pub in_body_of: Option<&'a str>,
}

/// An operator's change to a whole instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceChange {
    /// Stops scheduling for good: queued work is dropped, running node runs are cancelled.
    Cancel,
    /// Stops scheduling new nodes; nodes already running finish and are recorded.
    Pause,
    /// Schedules again.
    Resume,
}

impl InstanceChange {
    /// (statuses it applies to, the status it leads to, its event)
    pub fn rule(self) -> (&'static [&'static str], InstanceStatus, &'static str) {
        match self {
            InstanceChange::Cancel => (
                &["pending", "running", "paused"],
                InstanceStatus::Cancelled,
                "instance.cancelled",
            ),
            InstanceChange::Pause => (&["running"], InstanceStatus::Paused, "instance.paused"),
            InstanceChange::Resume => (&["paused"], InstanceStatus::Running, "instance.resumed"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct NewInstance<'a> {
    pub id: Id,
    pub version_id: Id,
    pub definition_key: &'a str,
    pub version: i32,
    pub input: &'a Value,
    /// The starting context when it is not the input (a start from a preview adds the bound
    /// entities).
    pub context: Option<&'a Value>,
    pub trigger: Trigger,
    pub operator: &'a str,
    pub start_item: Id,
    pub start_node: &'a str,
    /// The instance's time limit: a deadline item with this id is queued, due then.
    pub deadline: Option<(Id, i64)>,
    /// The caller's key for this start: a second start with the same operator and key returns
    /// the first instance instead.
    pub idempotency_key: Option<&'a str>,
    /// A subprocess: the parent instance and its held activation, released when this one ends.
    pub parent: Option<(Id, Id)>,
    pub debug: bool,
    pub mock: bool,
    /// What must still hold of the definition when the instance is recorded; `Stale` (and
    /// nothing written) when it does not.
    pub check: StartCheck,
}

/// See [`NewInstance::check`]: a start from a version the caller remembered is checked as it
/// is written, so a start costs one statement and no read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartCheck {
    /// Nothing: the caller has just read the definition.
    None,
    /// The key is not archived.
    Active,
    /// The key is not archived and this is still its latest published version.
    Latest(i32),
}

impl StartCheck {
    /// As bound values: whether to check, and the version that must be the latest.
    pub fn params(self) -> (bool, Option<i32>) {
        match self {
            StartCheck::None => (false, None),
            StartCheck::Active => (true, None),
            StartCheck::Latest(version) => (true, Some(version)),
        }
    }
}

impl NewInstance<'_> {
    /// The first entry of the instance's event log.
    pub fn started_event(&self) -> NewEvent {
        NewEvent {
            node_id: None,
            kind: "instance.started",
            data: serde_json::json!({
                "definition_key": self.definition_key,
                "version": self.version,
                "trigger": self.trigger.as_str(),
                "operator": self.operator,
                "parent_id": self.parent.map(|(instance, _)| instance),
            }),
        }
    }
}

/// The reserved node id of an instance's deadline item (never a node's id: `$` is not allowed
/// in node ids). It does not keep an instance from completing.
pub const DEADLINE_NODE: &str = "$deadline";

/// A leased activation of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub id: Id,
    pub instance_id: Id,
    pub node_id: String,
    /// The node whose completion (or skip) led here; `None` for the start node.
    pub from_node: Option<String>,
    /// `false`: the edge was not taken; the node is skipped and the skip passes on.
    pub live: bool,
    /// Which attempt of the node this is (1 unless a retry queued it).
    pub attempt: i32,
    /// The node run this activation continues (a timer that has waited).
    pub resume_run: Option<Id>,
    /// Input set by an operator (retry with edited input), used instead of the input mappings.
    /// For a skip, the output the node is given instead.
    pub input: Option<Value>,
    /// An operator skipped the node: it does not run, and the flow goes on from it.
    pub skip: bool,
    /// In a foreach body: the foreach node's run and the iteration.
    pub loop_run: Option<Id>,
    pub loop_index: Option<i32>,
    /// The instance's definition and version, so a worker needs no extra read to find the node.
    pub definition_key: String,
    pub version: i32,
    /// The instance as the claim saw it, so the item's first step need not read it again
    /// (a step computed from it that finds the instance moved on is computed afresh). `None`
    /// for items handed on by a step.
    pub seen: Option<Seen>,
}

/// An instance's state as a claim read it (see [`WorkItem::seen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub status: InstanceStatus,
    pub context: Value,
    pub rev: i32,
    pub debug: bool,
    pub mock: bool,
}

impl Seen {
    /// The state of a step outside joins and foreach bodies.
    pub fn state(&self) -> StepState {
        StepState {
            status: self.status,
            debug: self.debug,
            mock: self.mock,
            context: self.context.clone(),
            rev: self.rev,
            arrivals: Vec::new(),
            iteration: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    pub status: InstanceStatus,
    /// Next items handed to this worker (leased to it); empty when the instance is not running.
    pub handed: Vec<WorkItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepState {
    pub status: InstanceStatus,
    /// The instance is in debug mode: a failing node pauses it instead.
    pub debug: bool,
    /// The instance is a dry run.
    pub mock: bool,
    pub context: Value,
    pub rev: i32,
    /// Branches that already arrived at the node: (from, live).
    pub arrivals: Vec<(String, bool)>,
    /// Set when the step is inside a foreach iteration.
    pub iteration: Option<IterationState>,
}

#[derive(Debug, Clone, Copy)]
pub struct NewNodeRun<'a> {
    pub id: Id,
    pub instance_id: Id,
    pub node_id: &'a str,
    pub attempt: i32,
    pub loop_index: Option<i32>,
    pub input: &'a Value,
}

#[derive(Debug, Clone)]
pub struct FinishedRun {
    pub id: Id,
    /// Set when the run was not recorded by `begin_node_run` (nodes without outside effects):
    /// the run is then written whole, here.
    pub started: Option<RunStart>,
    pub status: NodeRunStatus,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub cost_ms: i64,
}

#[derive(Debug, Clone)]
pub struct RunStart {
    pub node_id: String,
    pub attempt: i32,
    pub loop_index: Option<i32>,
    pub input: Value,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone)]
pub struct NextItem {
    pub id: Id,
    pub node_id: String,
    /// `None` when a join fires: the item then runs the node itself.
    pub from_node: Option<String>,
    pub live: bool,
    pub attempt: i32,
    /// Due this much later (a retry's backoff); due at once when zero. Delayed items are not
    /// handed to the worker: they wait in the queue.
    pub delay_ms: i64,
    pub resume_run: Option<Id>,
    pub input: Option<Value>,
    pub loop_run: Option<Id>,
    pub loop_index: Option<i32>,
    /// Kept for an operator (never leased) until they re-run or skip the node.
    pub held: bool,
    /// Held until what the node waits on answers (`task`, `callback`, `subprocess`): the
    /// answer releases it (see [`super::WaitStore`]).
    pub awaiting: Option<&'static str>,
}

impl NextItem {
    /// A live first attempt of `node_id`, due at once, coming from `from_node`.
    pub fn new(id: Id, node_id: impl Into<String>, from_node: Option<String>) -> Self {
        Self {
            id,
            node_id: node_id.into(),
            from_node,
            live: true,
            attempt: 1,
            delay_ms: 0,
            resume_run: None,
            input: None,
            loop_run: None,
            loop_index: None,
            held: false,
            awaiting: None,
        }
    }

    /// The same, in the iteration `item` runs in (if any).
    pub fn within(mut self, item: &WorkItem) -> Self {
        self.loop_run = item.loop_run;
        self.loop_index = item.loop_index;
        self
    }
}

/// Names one iteration of a foreach, and the item asking about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IterationKey {
    pub run: Id,
    pub index: i32,
    pub item: Id,
}

/// An iteration as a step inside it sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct IterationState {
    pub context: Value,
    /// The iteration's other queued work.
    pub remaining: i64,
    /// The output of this iteration's last completed node so far.
    pub output: Option<Value>,
    /// The lowest iteration not started yet.
    pub next_pending: Option<i32>,
    /// Other iterations running.
    pub running: i64,
    /// When this is the last open iteration: the outputs of all the others, by index.
    pub outputs: Option<Vec<(i32, Value)>>,
}

/// What a step changes in the iterations of a foreach (run = the foreach node's run).
#[derive(Debug, Clone)]
pub enum IterationChange {
    /// The foreach starts: one iteration per context; the first `running` run at once.
    Create {
        run: Id,
        contexts: Vec<Value>,
        running: usize,
    },
    /// A body node finished: its iteration's context and output (when it ran).
    Update {
        run: Id,
        index: i32,
        context: Option<Value>,
        output: Option<Value>,
    },
    /// An iteration is over; the pending one `start` (if any) starts.
    Finish {
        run: Id,
        index: i32,
        start: Option<i32>,
    },
    /// The foreach is over: its iterations go.
    Clear { run: Id },
}

/// [`InstanceStore::complete_steps`] one step after the other, each in its own transaction.
pub async fn complete_each<S: InstanceStore + ?Sized>(
    store: &S,
    steps: Vec<Completion>,
) -> Vec<Result<StepOutcome, StoreError>> {
    let mut outcomes = Vec::with_capacity(steps.len());
    for step in steps {
        outcomes.push(store.complete_step(step).await);
    }
    outcomes
}

impl Completion {
    /// A step of `item`, leased to `lease_owner`, computed from the instance's step counter at
    /// `expected_rev`, that records nothing yet: what it did is filled in by the caller.
    pub fn of(item: &WorkItem, lease_owner: &str, lease_ms: i64, expected_rev: i32) -> Self {
        Self {
            instance_id: item.instance_id,
            definition_key: item.definition_key.clone(),
            version: item.version,
            item: item.id,
            lease_owner: lease_owner.to_string(),
            lease_ms,
            expected_rev,
            runs: Vec::new(),
            context: None,
            arrival: None,
            next: Vec::new(),
            events: Vec::new(),
            iterations: Vec::new(),
            pause: None,
            output: None,
            fail: None,
            wait: None,
            rollback: None,
        }
    }

    /// The queued next items that stay with this worker (due now, not held), as the work
    /// items it goes on with: already leased to it by the step's transaction.
    pub fn handed(&self) -> Vec<WorkItem> {
        self.next
            .iter()
            .filter(|next| Self::hands_on(next))
            .map(|next| WorkItem {
                id: next.id,
                instance_id: self.instance_id,
                node_id: next.node_id.clone(),
                from_node: next.from_node.clone(),
                live: next.live,
                attempt: next.attempt,
                resume_run: next.resume_run,
                input: next.input.clone(),
                skip: false,
                loop_run: next.loop_run,
                loop_index: next.loop_index,
                definition_key: self.definition_key.clone(),
                version: self.version,
                seen: None,
            })
            .collect()
    }

    /// Whether a next item is leased to this worker as it is queued (while the instance runs).
    pub fn hands_on(next: &NextItem) -> bool {
        next.delay_ms == 0 && !next.held
    }
}

#[derive(Debug, Clone)]
pub struct NewEvent {
    pub node_id: Option<String>,
    pub kind: &'static str,
    pub data: Value,
}

impl NewEvent {
    /// `events` of `instance` as rows (instance, seq, event), `last` being the last one's seq.
    pub fn numbered(instance: i64, last: i32, events: &[NewEvent]) -> Vec<(i64, i32, &NewEvent)> {
        let first = last - events.len() as i32 + 1;
        events
            .iter()
            .enumerate()
            .map(|(offset, event)| (instance, first + offset as i32, event))
            .collect()
    }
}

/// A join's bookkeeping for this step.
#[derive(Debug, Clone)]
pub enum Arrival {
    /// Remember that `from` arrived (the join is still waiting).
    Record {
        node: String,
        from: String,
        live: bool,
    },
    /// The join fired: forget its arrivals.
    Clear { node: String },
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub instance_id: Id,
    /// The instance's definition and version, carried onto the items handed back.
    pub definition_key: String,
    pub version: i32,
    pub item: Id,
    pub lease_owner: String,
    /// How long the handed-over next items stay leased to this worker.
    pub lease_ms: i64,
    pub expected_rev: i32,
    /// Node runs recorded (a body node and, when its iteration ends the foreach, the foreach).
    pub runs: Vec<FinishedRun>,
    /// The new context, when the step changed it.
    pub context: Option<Value>,
    pub arrival: Option<Arrival>,
    pub next: Vec<NextItem>,
    pub events: Vec<NewEvent>,
    pub iterations: Vec<IterationChange>,
    /// Pauses the instance for an operator, with this reason (a node failed with
    /// `on_error: pause`).
    pub pause: Option<Value>,
    /// The workflow output, set by an end node.
    pub output: Option<Value>,
    /// Ends the instance as failed with this error, dropping its other work.
    pub fail: Option<Value>,
    /// What a node that starts waiting waits on (its held activation is among `next`).
    pub wait: Option<super::NewWait>,
    /// When the step fails the instance and its definition has rollback actions: the first
    /// rollback step's item (the instance is `rolling_back` until the rollback is over).
    pub rollback: Option<Id>,
}
