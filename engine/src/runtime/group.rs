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
            tokio::spawn(self.clone().drain());
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
    async fn drain(self: Arc<Self>) {
        // Should this task end early (a panic), the next step starts another.
        let mut idle = Idle {
            committer: &self,
            done: false,
        };
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

/// Marks the queue idle when the draining task ends before its work is done.
struct Idle<'a> {
    committer: &'a Committer,
    done: bool,
}

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.committer.lock().busy = false;
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
