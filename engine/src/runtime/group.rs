//! Group commit: the steps a worker finishes while its last commit is under way are recorded
//! together in the next one (see `InstanceStore::complete_steps`). A step finished while no
//! commit is under way is recorded at once, so a quiet worker waits for nothing.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::{Completion, StepOutcome, Store, StoreError};

/// Most steps recorded in one commit.
const MAX_GROUP: usize = 64;

type Reply = oneshot::Sender<Result<StepOutcome, StoreError>>;

pub(super) struct Committer {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(Completion, Reply)>,
    /// A task is recording groups; it takes what waits until nothing does.
    busy: bool,
}

impl Committer {
    pub(super) fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            store,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Records `step` (with whatever else is waiting) and answers as `complete_step` would.
    pub(super) async fn commit(
        self: &Arc<Self>,
        step: Completion,
    ) -> Result<StepOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        let lead = {
            let mut queue = self.lock();
            queue.waiting.push((step, reply));
            !std::mem::replace(&mut queue.busy, true)
        };
        if lead {
            // Made before the task, so a task that never runs still gives the queue back.
            let idle = Idle {
                committer: self.clone(),
                done: false,
            };
            tokio::spawn(self.clone().drain(idle));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Corrupt(
                "the step's commit ended without an answer".into(),
            ))
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue holds no invariant a panic elsewhere could break.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records groups until none waits.
    async fn drain(self: Arc<Self>, mut idle: Idle) {
        loop {
            let group = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    queue.busy = false;
                    idle.done = true;
                    return;
                }
                take_group(&mut queue.waiting)
            };
            let (steps, replies): (Vec<_>, Vec<_>) = group.into_iter().unzip();
            let outcomes = self.store.complete_steps(steps).await;
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
    }
}

/// Gives the queue back when the draining task ends before its work is done (a panic in the
/// store, a runtime shutting down): the steps still waiting are answered with an error rather
/// than left waiting for a task that is gone, and the next step starts a new one.
struct Idle {
    committer: Arc<Committer>,
    done: bool,
}

impl Drop for Idle {
    fn drop(&mut self) {
        if !self.done {
            let abandoned = {
                let mut queue = self.committer.lock();
                queue.busy = false;
                std::mem::take(&mut queue.waiting)
            };
            // Dropping a reply answers its step: "the step's commit ended without an answer".
            drop(abandoned);
        }
    }
}

/// Up to MAX_GROUP waiting steps, in the order they came, at most one per instance (a second
/// step of an instance waits for the next group: it was computed from the same state).
fn take_group(waiting: &mut Vec<(Completion, Reply)>) -> Vec<(Completion, Reply)> {
    let mut instances = std::collections::HashSet::new();
    let mut group = Vec::new();
    let mut left = Vec::new();
    for entry in waiting.drain(..) {
        if group.len() < MAX_GROUP && instances.insert(entry.0.instance_id) {
            group.push(entry);
        } else {
            left.push(entry);
        }
    }
    *waiting = left;
    group
}
