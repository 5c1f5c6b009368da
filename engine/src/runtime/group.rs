//! Group commit: the steps a worker finishes while its last commit is under way are recorded
//! together in the next one (see `InstanceStore::complete_steps`). A step finished while no
//! commit is under way is recorded at once, so a quiet worker waits for nothing.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::store::{Completion, StepOutcome, Store, StoreError};

/// Most steps recorded in one commit.
const MAX_GROUP: usize = 64;

type Outcome = Result<StepOutcome, StoreError>;
type Reply = oneshot::Sender<Outcome>;

/// What records a group of steps, one outcome per step in their order: the store (this
/// module's tests put a stand-in there).
pub(super) trait Record: Send + Sync + 'static {
    fn record(&self, steps: Vec<Completion>) -> impl Future<Output = Vec<Outcome>> + Send;
}

impl Record for Arc<dyn Store> {
    fn record(&self, steps: Vec<Completion>) -> impl Future<Output = Vec<Outcome>> + Send {
        self.complete_steps(steps)
    }
}

pub(super) struct Committer<R: Record = Arc<dyn Store>> {
    recorder: R,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<(Completion, Reply)>,
    /// A task is recording groups; it takes what waits until nothing does.
    busy: bool,
}

impl<R: Record> Committer<R> {
    pub(super) fn new(recorder: R) -> Arc<Self> {
        Arc::new(Self {
            recorder,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Records `step` (with whatever else is waiting) and answers as `complete_step` would.
    pub(super) async fn commit(self: &Arc<Self>, step: Completion) -> Outcome {
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
    async fn drain(self: Arc<Self>, mut idle: Idle<R>) {
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
            let outcomes = self.recorder.record(steps).await;
            for (outcome, reply) in outcomes.into_iter().zip(replies) {
                let _ = reply.send(outcome);
            }
        }
    }
}

/// Gives the queue back when the draining task ends before its work is done (a panic in the
/// store, a runtime shutting down): the steps still waiting are answered with an error rather
/// than left waiting for a task that is gone, and the next step starts a new one.
struct Idle<R: Record> {
    committer: Arc<Committer<R>>,
    done: bool,
}

impl<R: Record> Drop for Idle<R> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;
    use crate::instance::InstanceStatus;
    use tokio::sync::Semaphore;

    /// Records groups as lists of instance ids; waits for a permit before each group, and
    /// panics on a group holding `panics_on`.
    struct Recorder {
        groups: Mutex<Vec<Vec<i64>>>,
        gate: Semaphore,
        panics_on: Option<i64>,
    }

    impl Recorder {
        fn new(panics_on: Option<i64>) -> Self {
            Self {
                groups: Mutex::new(Vec::new()),
                gate: Semaphore::new(0),
                panics_on,
            }
        }

        /// The groups recorded, each sorted (steps that came together came in any order).
        fn groups(&self) -> Vec<Vec<i64>> {
            let mut groups = self.groups.lock().map(|g| g.clone()).unwrap_or_default();
            groups.iter_mut().for_each(|group| group.sort_unstable());
            groups
        }
    }

    impl Record for Arc<Recorder> {
        async fn record(&self, steps: Vec<Completion>) -> Vec<Outcome> {
            if let Ok(permit) = self.gate.acquire().await {
                permit.forget();
            }
            let ids: Vec<i64> = steps.iter().map(|s| s.instance_id.0).collect();
            if let Ok(mut groups) = self.groups.lock() {
                groups.push(ids.clone());
            }
            assert!(
                self.panics_on.is_none_or(|p| !ids.contains(&p)),
                "recording failed"
            );
            steps
                .iter()
                .map(|_| {
                    Ok(StepOutcome {
                        status: InstanceStatus::Running,
                        handed: Vec::new(),
                    })
                })
                .collect()
        }
    }

    fn step(instance: i64) -> Completion {
        Completion {
            instance_id: Id(instance),
            definition_key: "k".into(),
            version: 1,
            item: Id(instance * 100),
            lease_owner: "w".into(),
            lease_ms: 1_000,
            expected_rev: 0,
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

    /// Runs a test, failing it should a step wait for an answer that never comes.
    async fn within(test: impl Future<Output = ()>) {
        tokio::time::timeout(std::time::Duration::from_secs(10), test)
            .await
            .expect("every step is answered");
    }

    /// Waits until the draining task has taken what was queued (and waits at the gate).
    async fn taken<R: Record>(committer: &Committer<R>) {
        while !{
            let queue = committer.lock();
            queue.busy && queue.waiting.is_empty()
        } {
            tokio::task::yield_now().await;
        }
    }

    /// Waits until `count` steps are queued behind the group being recorded.
    async fn queued<R: Record>(committer: &Committer<R>, count: usize) {
        while committer.lock().waiting.len() < count {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn steps_that_finish_during_a_commit_go_together_one_per_instance() {
        within(grouped()).await;
    }

    async fn grouped() {
        let recorder = Arc::new(Recorder::new(None));
        let committer = Committer::new(recorder.clone());
        let first = tokio::spawn({
            let c = committer.clone();
            async move { c.commit(step(1)).await }
        });
        // The first step's commit is under way (its task waits at the gate) ...
        taken(&committer).await;
        let later: Vec<_> = [2, 3, 3]
            .into_iter()
            .map(|instance| {
                let c = committer.clone();
                tokio::spawn(async move { c.commit(step(instance)).await })
            })
            .collect();
        queued(&committer, 3).await;
        // ... so the three that came meanwhile wait for the next: 2 and 3 together, the second
        // step of 3 alone after them.
        recorder.gate.add_permits(3);
        assert!(first.await.expect("joined").is_ok());
        for answer in later {
            assert!(answer.await.expect("joined").is_ok());
        }
        assert_eq!(recorder.groups(), vec![vec![1], vec![2, 3], vec![3]]);
        assert!(!committer.lock().busy);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_recording_that_fails_answers_every_waiting_step_and_the_next_commit_works() {
        within(failed()).await;
    }

    async fn failed() {
        let recorder = Arc::new(Recorder::new(Some(1)));
        let committer = Committer::new(recorder.clone());
        let first = tokio::spawn({
            let c = committer.clone();
            async move { c.commit(step(1)).await }
        });
        taken(&committer).await;
        let second = tokio::spawn({
            let c = committer.clone();
            async move { c.commit(step(2)).await }
        });
        queued(&committer, 1).await;
        // The group of step 1 panics: it and the step waiting behind it get an error, not a
        // wait that never ends.
        recorder.gate.add_permits(1);
        assert!(matches!(
            first.await.expect("joined"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            second.await.expect("joined"),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(recorder.groups(), vec![vec![1]]);
        // The queue is free again: a later step is recorded.
        recorder.gate.add_permits(1);
        assert!(committer.commit(step(4)).await.is_ok());
        assert_eq!(recorder.groups(), vec![vec![1], vec![4]]);
    }
}
