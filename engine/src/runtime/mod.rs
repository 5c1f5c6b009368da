//! The scheduler: starts instances and runs their nodes from the durable ready queue.
//!
//! Every activation of a node is a work item in the store. A worker leases due items, runs each
//! node, and records the result in one transaction that also deletes the item and queues what
//! comes next — so a completed node never runs again, and an item whose worker died is taken over
//! when its lease expires. Several processes on one PostgreSQL share the queue.

mod actions;
mod chain;
pub mod executors;
pub mod expr;
mod foreach;
mod group;
pub mod hooks;
pub mod mapping;
mod plan;
mod robots;
pub mod route;
mod step;
mod triggers;
mod versions;
pub mod waits;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::definition::Definition;
use crate::id::{Id, IdGenerator};
use crate::instance::{InstanceRecord, Trigger};
use crate::store::{
    InstanceChange, NewInstance, NodeOperation, StartCheck, Store, StoreError, WorkItem,
};
use executors::{AddressPolicy, Executors};
use versions::start_node;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// How long a worker owns a leased item; past it, another may take the item over.
    pub lease: Duration,
    /// Items leased at once.
    pub batch: i64,
    /// How often an idle worker looks for work that another process queued.
    pub idle_poll: Duration,
    /// Internal addresses http nodes may call anyway (all public addresses may be called).
    pub http_allow: Vec<ipnet::IpNet>,
    /// Largest instance input accepted, serialised as JSON.
    pub max_input_bytes: usize,
    /// Where the outside reaches this server (`https://baton.example.com`): callback nodes
    /// send `{{callback.url}}` under it.
    pub public_url: Option<String>,
    /// How often due human tasks and callbacks are looked for (and instance hooks sent).
    pub expiry_poll: Duration,
    /// Bodies of instance hooks by format name (see [`hooks`]); others get Baton's own.
    pub hook_formats: Vec<(&'static str, hooks::HookFormat)>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            batch: 32,
            idle_poll: Duration::from_millis(200),
            http_allow: Vec::new(),
            max_input_bytes: 1024 * 1024,
            public_url: None,
            expiry_poll: Duration::from_secs(1),
            hook_formats: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("definition `{key}` has no published version{}", version.map(|v| format!(" {v}")).unwrap_or_default())]
    NoSuchVersion { key: String, version: Option<i32> },
    #[error("definition `{0}` is archived and cannot start instances")]
    Archived(String),
    #[error("the input does not match the definition's input_schema: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    InvalidInput(Vec<InputError>),
    #[error("the input is {size} bytes; at most {limit} are accepted")]
    InputTooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One way the input breaks the definition's `input_schema`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputError {
    /// Where in the input: `input` or a JSON Pointer below it (`input/user/name`).
    pub field: String,
    pub message: String,
}

/// What an operator asks of one node (see [`Runtime::node_action`]).
#[derive(Debug, Clone, PartialEq)]
pub enum NodeAction {
    /// Run it again: with this input instead of its input mappings, when given.
    Rerun { input: Option<Value> },
    /// Do not run it; go on as if it had produced this output (null when not given).
    Skip { output: Option<Value> },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub definition_key: String,
    /// The latest published version when `None`.
    pub version: Option<i32>,
    pub input: Value,
    pub trigger: Trigger,
    pub operator: String,
    /// The caller's key: the same operator starting with the same key gets the first instance.
    pub idempotency_key: Option<String>,
}

/// How an instance runs (see DESIGN §4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// A node that fails (after its retries) pauses the instance for an operator, who re-runs
    /// it, skips it, or resumes — leaving debug mode, so the instance fails and rolls back.
    pub debug: bool,
    /// A dry run: nodes that reach outside (http, callback, approval, subprocess, timer, job)
    /// are not run; each completes with its `mock` output (or a neutral one), so the run shows
    /// what would happen with no external effect.
    pub mock: bool,
}

/// A start's outcome.
#[derive(Debug, Clone)]
pub struct Started {
    pub instance: InstanceRecord,
    /// The idempotency key had been used: this is the earlier instance.
    pub existing: bool,
}

#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    ids: IdGenerator,
    /// Names this worker in leases.
    owner: String,
    config: RuntimeConfig,
    executors: Executors,
    /// The version starts of a key ran (by the version asked for; `None`: the latest), checked
    /// again by every start that uses it (see `StartCheck`).
    versions: Mutex<HashMap<(String, Option<i32>), versions::Published>>,
    /// Published versions never change, so they are kept once read.
    definitions: Mutex<HashMap<(String, i32), Arc<Definition>>>,
    /// Their input schemas, compiled once.
    validators: Mutex<HashMap<(String, i32), Arc<jsonschema::Validator>>>,
    /// Woken when work is queued (by this process, or another one on PostgreSQL), so a worker
    /// need not wait for the next poll.
    wake: Arc<Notify>,
    /// Records finished steps, several in one commit when they come together.
    commits: Arc<group::Committer>,
}

impl Runtime {
    pub fn new(
        store: Arc<dyn Store>,
        ids: IdGenerator,
        owner: impl Into<String>,
        config: RuntimeConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ids,
                owner: owner.into(),
                executors: Executors::new(AddressPolicy {
                    allow: config.http_allow.clone(),
                }),
                config,
                versions: Mutex::new(HashMap::new()),
                definitions: Mutex::new(HashMap::new()),
                validators: Mutex::new(HashMap::new()),
                wake: Arc::new(Notify::new()),
                commits: group::Committer::new(store.clone()),
                store,
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Starts an instance of a published version: recorded, queued, then acknowledged.
    pub async fn start(&self, request: StartRequest) -> Result<InstanceRecord, RuntimeError> {
        Ok(self.start_once(request).await?.instance)
    }

    /// [`Runtime::start`], telling whether an idempotency key found an earlier instance.
    pub async fn start_once(&self, request: StartRequest) -> Result<Started, RuntimeError> {
        self.start_with(request, Mode::default()).await
    }

    /// [`Runtime::start_once`] in debug mode or as a dry run.
    pub async fn start_with(
        &self,
        request: StartRequest,
        mode: Mode,
    ) -> Result<Started, RuntimeError> {
        self.start_bound(request, mode, None).await
    }

    /// [`Runtime::start_with`], with more for the starting context than the input: the
    /// entries of `extra` (from a preview, the entities each bound node runs for and the root
    /// record: see `EntityService::start_bindings`).
    pub async fn start_bound(
        &self,
        request: StartRequest,
        mode: Mode,
        extra: Option<Value>,
    ) -> Result<Started, RuntimeError> {
        let inner = &self.inner;
        let key = request.definition_key.as_str();
        let context = extra.map(|extra| {
            let mut context = request.input.clone();
            if let (Value::Object(map), Value::Object(more)) = (&mut context, extra) {
                map.extend(more);
            }
            context
        });
        // The version remembered from an earlier start is checked as the instance is written;
        // when it no longer holds (published since, archived), it is read afresh.
        let mut remembered = inner.remembered(key, request.version);
        let instance = loop {
            let (version, check) = match remembered.take() {
                Some(known) => (
                    known,
                    match request.version {
                        None => StartCheck::Latest(known.version),
                        Some(_) => StartCheck::Active,
                    },
                ),
                None => (
                    inner.published(key, request.version).await?,
                    StartCheck::None,
                ),
            };
            let prepared = async {
                let definition = inner.definition(key, version.version).await?;
                inner.check_input(key, version.version, &definition, &request.input)?;
                let start = start_node(key, version.version, &definition)?;
                Ok::<_, RuntimeError>((definition, start))
            }
            .await;
            let (definition, start) = match prepared {
                // The remembered version may be the one that refuses (an input schema changed
                // by a later version, say): the answer comes from the version read afresh.
                Err(_) if check != StartCheck::None => continue,
                prepared => prepared?,
            };
            let created = inner
                .store
                .create_instance(NewInstance {
                    id: inner.ids.next_id(),
                    version_id: version.id,
                    definition_key: key,
                    version: version.version,
                    input: &request.input,
                    context: context.as_ref(),
                    trigger: request.trigger,
                    operator: &request.operator,
                    start_item: inner.ids.next_id(),
                    start_node: &start,
                    deadline: definition
                        .timeout
                        .map(|limit| (inner.ids.next_id(), limit.as_std().as_millis() as i64)),
                    idempotency_key: request.idempotency_key.as_deref(),
                    parent: None,
                    debug: mode.debug,
                    mock: mode.mock,
                    check,
                })
                .await;
            match created {
                Err(StoreError::Stale) if check != StartCheck::None => continue,
                created => break created?,
            }
        };
        inner.wake.notify_one();
        Ok(Started {
            instance: instance.0,
            existing: instance.1,
        })
    }

    /// Cancels, pauses or resumes an instance; every change is in its event log.
    pub async fn change(
        &self,
        id: Id,
        change: InstanceChange,
        actor: &str,
    ) -> Result<InstanceRecord, StoreError> {
        // The compensation phase this change may start: a cancel's cancel actions; the
        // rollback of a debug instance resumed past its failed node.
        let phase = match change {
            InstanceChange::Cancel => Some(crate::definition::Phase::Cancel),
            InstanceChange::Resume => Some(crate::definition::Phase::Rollback),
            InstanceChange::Pause => None,
        };
        let mut actions = None;
        if let Some(phase) = phase {
            if let Some(current) = self.inner.store.instance(id).await? {
                let definition = self
                    .inner
                    .definition(&current.definition_key, current.version)
                    .await?;
                let applies = phase == crate::definition::Phase::Cancel || current.debug;
                if applies && !current.mock && actions::has_actions(&definition, phase) {
                    actions = Some(self.inner.next_id());
                }
            }
        }
        let instance = self
            .inner
            .store
            .change_instance(id, change, actor, actions)
            .await?;
        self.inner.wake.notify_one();
        Ok(instance)
    }

    /// Deletes an ended instance: runs the `delete` actions of its completed nodes (latest
    /// first), cleaning up what it produced; `instance.deleted` ends its log. The record stays.
    pub async fn delete(&self, id: Id, actor: &str) -> Result<(), StoreError> {
        self.inner
            .store
            .request_delete(id, self.inner.next_id(), actor)
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Re-runs or skips one node of a paused instance (one that failed with `on_error: pause`,
    /// or any final node run while an operator has paused the instance); it then runs again.
    pub async fn node_action(
        &self,
        id: Id,
        node_id: &str,
        action: NodeAction,
        actor: &str,
    ) -> Result<InstanceRecord, StoreError> {
        let inner = &self.inner;
        let instance = inner
            .store
            .instance(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("instance {id}")))?;
        let definition = inner
            .definition(&instance.definition_key, instance.version)
            .await?;
        let Some(at) = definition.locate(node_id) else {
            return Err(StoreError::NotFound(format!(
                "node `{node_id}` in instance {id}"
            )));
        };
        let in_body_of = at.parent.map(|(parent, _)| parent.id.as_str());
        let (skip, input) = match &action {
            NodeAction::Rerun { input } => (false, input.as_ref()),
            NodeAction::Skip { output } => (true, output.as_ref()),
        };
        let instance = inner
            .store
            .queue_node(NodeOperation {
                instance_id: id,
                node_id,
                item: inner.next_id(),
                skip,
                input,
                actor,
                in_body_of,
            })
            .await?;
        inner.wake.notify_one();
        Ok(instance)
    }

    /// Leases one batch of due work and runs it; returns how many items it ran.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let items = inner
            .store
            .claim_work(
                &inner.owner,
                inner.config.batch,
                inner.config.lease.as_millis() as i64,
            )
            .await?;
        let count = items.len();
        // Items a step hands on (already leased to this worker) run as tasks of their own, so
        // parallel branches and foreach iterations run side by side.
        let mut running = JoinSet::new();
        for item in items {
            running.spawn(step_task(self.inner.clone(), item));
        }
        while let Some(done) = running.join_next().await {
            for item in done.unwrap_or_default() {
                running.spawn(step_task(self.inner.clone(), item));
            }
        }
        Ok(count)
    }

    /// Runs work until `shutdown` completes. Work in hand is finished first.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let watcher = match self.inner.store.watch_work(self.inner.wake.clone()).await {
            Ok(watcher) => watcher,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for work from other processes; polling");
                None
            }
        };
        let mut expiry = tokio::time::interval(self.inner.config.expiry_poll);
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let ran = match self.run_once().await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot lease work");
                    0
                }
            };
            if ran > 0 {
                continue;
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(self.inner.config.idle_poll) => {}
                _ = expiry.tick() => {
                    self.expire_waits().await;
                    self.fire_triggers().await;
                    self.deliver_hooks().await;
                    self.recover_jobs().await;
                }
            }
        }
        if let Some(watcher) = watcher {
            watcher.abort();
        }
    }

    /// Ends the human tasks and callbacks whose due time has passed; their nodes then run on.
    pub async fn expire_waits(&self) -> usize {
        match self.inner.store.expire_waits(100).await {
            Ok(0) => 0,
            Ok(ended) => {
                self.inner.wake.notify_one();
                ended
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot end due tasks and callbacks");
                0
            }
        }
    }

    /// Starts an instance for each due cron tick (see `triggers.rs`).
    pub async fn fire_triggers(&self) -> usize {
        triggers::fire(self).await
    }

    /// A published version's definition (kept once read).
    pub async fn definition(&self, key: &str, version: i32) -> Result<Arc<Definition>, StoreError> {
        self.inner.definition(key, version).await
    }

    /// Tells the workers that work was queued (by an answer from outside: a completed task, a
    /// finished callback), so it runs without waiting for the next poll.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs until no work is due (tests and benchmarks).
    pub async fn drain(&self) -> Result<(), StoreError> {
        while self.run_once().await? > 0 {}
        Ok(())
    }
}

/// Runs one item; returns the items handed on.
async fn step_task(inner: Arc<Inner>, item: WorkItem) -> Vec<WorkItem> {
    let instance = item.instance_id;
    match step::process(&inner, item).await {
        Ok(handed) => handed,
        // The item stays queued; its lease expires and it is tried again.
        Err(err) => {
            tracing::warn!(%instance, error = %err, "step failed; it will be retried");
            Vec::new()
        }
    }
}

impl Inner {
    fn next_id(&self) -> Id {
        self.ids.next_id()
    }
}
