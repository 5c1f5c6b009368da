//! The engine's hot path on PostgreSQL in fewer round trips: a start is one statement, and the
//! common steps of several instances are recorded in one transaction of multi-row statements
//! (the group commit of [`InstanceStore::complete_steps`]).
//!
//! On two cores the round trips (loopback, context switches), not the commits, bound
//! throughput: a step alone costs about a dozen and a start seven. So a start's rows go in one
//! statement (an implicit transaction), and a worker that finished several steps while its last
//! commit was under way records them together: the same statements, one row per step, about
//! ten round trips for the whole group. Steps that join branches, wait, change a foreach, fail
//! or pause go one by one through `complete_step`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::types::Json;
use sqlx::Postgres;

use super::PostgresStore;
use crate::instance::InstanceStatus;
use crate::store::instances::complete_each;
use crate::store::rows::InstanceRow;
use crate::store::{
    Completion, FinishedRun, InstanceStore, NewEvent, NewInstance, RunStart, StepOutcome,
    StoreError, DEADLINE_NODE,
};

/// Whether a step may go with others: it only records runs, queues next items, sets the
/// context or the output, logs events, and may end its instance as completed.
fn plain(step: &Completion) -> bool {
    step.arrival.is_none()
        && step.iterations.is_empty()
        && step.wait.is_none()
        && step.fail.is_none()
        && step.pause.is_none()
        && step.rollback.is_none()
}

/// A step's instance after the optimistic check: id, status, created_at, parent_item, and
/// whether the step's work item was still its worker's (and is now deleted).
type Bumped = (i64, String, DateTime<Utc>, Option<i64>, bool);

/// A step the group's optimistic check let through.
struct Applied<'s> {
    step: &'s Completion,
    /// The instance runs (not paused): its next items stay with this worker.
    hand_off: bool,
    created: DateTime<Utc>,
    parent_item: Option<i64>,
}

impl PostgresStore {
    /// Records a started instance in one statement: its row, its start item (and deadline
    /// item) and its `instance.started` event — what `insert_instance_in` does in a
    /// transaction of six round trips — then has the other processes told (`Notifier`, after
    /// the commit). `Stale` when `new.check` fails.
    pub(super) async fn start_instance(
        &self,
        new: &NewInstance<'_>,
        now: DateTime<Utc>,
    ) -> Result<InstanceRow, StoreError> {
        let deadline = new
            .deadline
            .map(|(item, after_ms)| (item.0, now + chrono::Duration::milliseconds(after_ms)));
        let started = new.started_event();
        let row = sqlx::query_as(
            "with i as (
                 insert into instances
                     (id, version_id, definition_key, version, status, input, context, trigger,
                      operator, created_at, idempotency_key, parent_id, parent_item, debug, mock,
                      event_seq)
                 select $1, $2, $3, $4, 'running', $5, coalesce($14, $5), $6, $7, $8, $9,
                        $10, $11, $12, $13, 1
                  where not $22 or exists (
                        select 1 from definitions
                         where key = $3 and status = 'active'
                           and ($23::integer is null or latest_version = $23))
                 returning id, version_id, definition_key, version, status, input, context,
                           output, error, trigger, operator, created_at, ended_at, cost_ms,
                           parent_id, debug, mock),
             w as (
                 insert into work_items (id, instance_id, node_id, from_node, live, due_at)
                 select $15::bigint, id, $16::text, null, true, created_at from i
                 union all
                 select $17::bigint, id, $18::text, null, true, $19::timestamptz from i
                  where $17::bigint is not null),
             e as (
                 insert into events (instance_id, seq, node_id, kind, data, at)
                 select id, 1, null, $20::text, $21::jsonb, created_at from i)
             select i.* from i",
        )
        .bind(new.id.0)
        .bind(new.version_id.0)
        .bind(new.definition_key)
        .bind(new.version)
        .bind(Json(new.input))
        .bind(new.trigger.as_str())
        .bind(new.operator)
        .bind(now)
        .bind(new.idempotency_key)
        .bind(new.parent.map(|(instance, _)| instance.0))
        .bind(new.parent.map(|(_, item)| item.0))
        .bind(new.debug)
        .bind(new.mock)
        .bind(new.context.map(Json))
        .bind(new.start_item.0)
        .bind(new.start_node)
        .bind(deadline.map(|(item, _)| item))
        .bind(crate::store::DEADLINE_NODE)
        .bind(deadline.map(|(_, due)| due))
        .bind(started.kind)
        .bind(Json(&started.data))
        .bind(new.check.params().0)
        .bind(new.check.params().1)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?
        .ok_or(StoreError::Stale)?;
        // Committed: now the other processes may be told (see `Notifier`).
        self.starts.announce();
        Ok(row)
    }

    pub(super) async fn complete_steps_in(
        &self,
        steps: Vec<Completion>,
    ) -> Vec<Result<StepOutcome, StoreError>> {
        // One step per instance in a group (the others go alone, and usually find it stale).
        // A lone plain step goes this way too: its statements are fewer than `complete_step`'s.
        let mut instances = HashSet::new();
        let together: Vec<bool> = steps
            .iter()
            .map(|step| plain(step) && instances.insert(step.instance_id))
            .collect();
        if !together.contains(&true) {
            return complete_each(self, steps).await;
        }
        let group: Vec<&Completion> = steps
            .iter()
            .zip(&together)
            .filter_map(|(step, t)| t.then_some(step))
            .collect();
        // Anything unexpected (a lease lost, a deadlock with another process, a lost
        // connection) rolls the group back; its steps are then recorded one by one, which
        // tells each its own outcome.
        let grouped = match self.commit_group(&group).await {
            Ok(outcomes) => Some(outcomes),
            Err(err) => {
                tracing::debug!(error = %err, steps = group.len(), "group commit rolled back; recording one by one");
                None
            }
        };
        let mut grouped = grouped.map(Vec::into_iter);
        let mut outcomes = Vec::with_capacity(steps.len());
        for (step, together) in steps.into_iter().zip(together) {
            let outcome = match (&mut grouped, together) {
                (Some(done), true) => done.next(),
                _ => None,
            };
            outcomes.push(match outcome {
                Some(outcome) => outcome,
                None => self.complete_step(step).await,
            });
        }
        outcomes
    }

    /// Records `group` in one transaction: an outcome per step (`Stale` where the instance
    /// moved on), or an error when the whole group must be rolled back.
    async fn commit_group(
        &self,
        group: &[&Completion],
    ) -> Result<Vec<Result<StepOutcome, StoreError>>, StoreError> {
        let now = crate::store::rows::now();
        // Answered in the order given; written in the order of the instances' ids, the same
        // in every process, so two processes' groups never wait on each other's rows.
        let answer_order = group;
        let mut group = group.to_vec();
        group.sort_by_key(|step| step.instance_id.0);
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;

        // The optimistic check of every step at once, context and output written with it, and
        // the work item of each step that passed it deleted, if still leased to its worker.
        let bumped: Vec<Bumped> = sqlx::query_as(
            "with b as (
                 update instances i set step_rev = i.step_rev + 1,
                        context = coalesce(s.context, i.context),
                        output = coalesce(s.output, i.output)
                   from unnest($1::bigint[], $2::integer[], $3::jsonb[], $4::jsonb[])
                        as s(id, rev, context, output)
                  where i.id = s.id and i.step_rev = s.rev and i.status in ('running', 'paused')
                 returning i.id, i.status, i.created_at, i.parent_item),
             d as (
                 delete from work_items w
                  using unnest($1::bigint[], $5::bigint[], $6::text[]) as s(instance, item, owner)
                  where w.id = s.item and w.lease_owner = s.owner
                    and s.instance in (select id from b)
                 returning w.instance_id)
             select b.id, b.status, b.created_at, b.parent_item,
                    exists (select 1 from d where d.instance_id = b.id)
               from b",
        )
        .bind(group.iter().map(|s| s.instance_id.0).collect::<Vec<_>>())
        .bind(group.iter().map(|s| s.expected_rev).collect::<Vec<_>>())
        .bind(
            group
                .iter()
                .map(|s| s.context.as_ref().map(Json))
                .collect::<Vec<_>>(),
        )
        .bind(
            group
                .iter()
                .map(|s| s.output.as_ref().map(Json))
                .collect::<Vec<_>>(),
        )
        .bind(group.iter().map(|s| s.item.0).collect::<Vec<_>>())
        .bind(
            group
                .iter()
                .map(|s| s.lease_owner.as_str())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        // A step whose item another worker took over: the group is rolled back (see above).
        if bumped.iter().any(|(.., removed)| !removed) {
            return Err(StoreError::LeaseLost);
        }
        let bumped: HashMap<i64, (String, DateTime<Utc>, Option<i64>)> = bumped
            .into_iter()
            .map(|(id, status, created, parent, _)| (id, (status, created, parent)))
            .collect();
        let applied: Vec<Applied> = group
            .iter()
            .filter_map(|step| {
                let (status, created, parent_item) = bumped.get(&step.instance_id.0)?;
                Some(Applied {
                    step,
                    hand_off: status == "running",
                    created: *created,
                    parent_item: *parent_item,
                })
            })
            .collect();
        if applied.is_empty() {
            return Ok(answer_order
                .iter()
                .map(|_| Err(StoreError::Stale))
                .collect());
        }

        let new_runs: Vec<_> = applied
            .iter()
            .flat_map(|a| {
                a.step
                    .runs
                    .iter()
                    .map(move |run| (a.step.instance_id.0, run))
            })
            .filter_map(|(instance, run)| Some((instance, run, run.started.as_ref()?)))
            .collect();
        insert_runs(&mut tx, &new_runs, now).await?;
        finish_runs(&mut tx, &applied, now).await?;
        let next: Vec<_> = applied
            .iter()
            .flat_map(|a| {
                let lease = (
                    a.step.lease_owner.as_str(),
                    now + chrono::Duration::milliseconds(a.step.lease_ms),
                );
                a.step.next.iter().map(move |next| {
                    let handed = a.hand_off && Completion::hands_on(next);
                    (a.step.instance_id.0, next, handed.then_some(lease))
                })
            })
            .collect();
        Self::queue_next_in(&mut tx, &next, now).await?;

        // The instances whose last work this was end, completed.
        let ending: Vec<i64> = applied
            .iter()
            .filter(|a| a.step.next.is_empty())
            .map(|a| a.step.instance_id.0)
            .collect();
        let busy: HashSet<i64> = if ending.is_empty() {
            HashSet::new()
        } else {
            sqlx::query_scalar(
                "select distinct instance_id from work_items
                  where instance_id = any($1) and node_id <> $2",
            )
            .bind(&ending)
            .bind(DEADLINE_NODE)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?
            .into_iter()
            .collect()
        };
        let mut events: Vec<(i64, Vec<NewEvent>)> = Vec::with_capacity(applied.len());
        let mut statuses = Vec::with_capacity(applied.len());
        let mut costs = Vec::with_capacity(applied.len());
        for a in &applied {
            let id = a.step.instance_id.0;
            let done = a.step.next.is_empty() && !busy.contains(&id);
            let cost = (now - a.created).num_milliseconds().max(0);
            let mut logged = a.step.events.clone();
            if done {
                logged.push(NewEvent {
                    node_id: None,
                    kind: "instance.completed",
                    data: json!({"cost_ms": cost}),
                });
            }
            events.push((id, logged));
            statuses.push(if done {
                InstanceStatus::Completed
            } else {
                InstanceStatus::Running
            });
            costs.push(cost);
        }

        // Event seqs handed out by each instance's row, and the ends recorded, in one update.
        let done: Vec<bool> = statuses
            .iter()
            .map(|s| *s == InstanceStatus::Completed)
            .collect();
        let last: HashMap<i64, i32> = sqlx::query_as(
            "update instances i set event_seq = i.event_seq + s.n,
                    status = case when s.done then 'completed' else i.status end,
                    ended_at = case when s.done then $5 else i.ended_at end,
                    cost_ms = case when s.done then s.cost else i.cost_ms end
               from unnest($1::bigint[], $2::integer[], $3::boolean[], $4::bigint[])
                    as s(id, n, done, cost)
              where i.id = s.id
             returning i.id, i.event_seq",
        )
        .bind(events.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(
            events
                .iter()
                .map(|(_, e)| e.len() as i32)
                .collect::<Vec<_>>(),
        )
        .bind(&done)
        .bind(&costs)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?
        .into_iter()
        .collect();
        let mut rows = Vec::new();
        for (id, logged) in &events {
            let last = last.get(id).copied().ok_or(StoreError::Stale)?;
            rows.extend(NewEvent::numbered(*id, last, logged));
        }
        insert_events(&mut tx, &rows, now).await?;

        // A completed instance keeps nothing queued; what it still had waiting (and a parent
        // waiting on it, when it is a subprocess) is settled as a lone step would.
        let completed: Vec<i64> = applied
            .iter()
            .zip(&done)
            .filter_map(|(a, done)| done.then_some(a.step.instance_id.0))
            .collect();
        if !completed.is_empty() {
            let dropped: HashSet<i64> = sqlx::query_scalar(
                "with w as (delete from work_items where instance_id = any($1)
                             returning instance_id),
                      a as (delete from join_arrivals where instance_id = any($1)
                             returning instance_id),
                      l as (delete from loop_iterations where instance_id = any($1)
                             returning instance_id)
                 select instance_id from w union select instance_id from a
                 union select instance_id from l",
            )
            .bind(&completed)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?
            .into_iter()
            .collect();
            for (a, done) in applied.iter().zip(&done) {
                let id = a.step.instance_id.0;
                if *done && (dropped.contains(&id) || a.parent_item.is_some()) {
                    Self::end_waits_in(&mut tx, id, InstanceStatus::Completed, true, now).await?;
                }
            }
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;

        let mut outcomes: HashMap<i64, StepOutcome> = applied
            .iter()
            .zip(statuses)
            .map(|(a, status)| {
                let handed = if a.hand_off && status == InstanceStatus::Running {
                    a.step.handed()
                } else {
                    Vec::new()
                };
                (a.step.instance_id.0, StepOutcome { status, handed })
            })
            .collect();
        Ok(answer_order
            .iter()
            .map(|step| {
                outcomes
                    .remove(&step.instance_id.0)
                    .ok_or(StoreError::Stale)
            })
            .collect())
    }
}

/// The group's runs that were recorded as started when they began, finished.
async fn finish_runs(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    applied: &[Applied<'_>],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let finished: Vec<_> = applied
        .iter()
        .flat_map(|a| a.step.runs.iter())
        .filter(|run| run.started.is_none())
        .collect();
    if finished.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update node_runs r set status = s.status, output = s.output, error = s.error,
                ended_at = $6, cost_ms = s.cost_ms
           from unnest($1::bigint[], $2::text[], $3::jsonb[], $4::jsonb[], $5::bigint[])
                as s(id, status, output, error, cost_ms)
          where r.id = s.id",
    )
    .bind(finished.iter().map(|r| r.id.0).collect::<Vec<_>>())
    .bind(
        finished
            .iter()
            .map(|r| r.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        finished
            .iter()
            .map(|r| r.output.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(
        finished
            .iter()
            .map(|r| r.error.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(finished.iter().map(|r| r.cost_ms).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

// The group's rows go in as arrays: one statement text whatever the group's size, so each
// connection prepares it once (a `values` list per size would be parsed and planned anew).

/// New node runs (instance, run, its start).
async fn insert_runs(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    runs: &[(i64, &FinishedRun, &RunStart)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if runs.is_empty() {
        return Ok(());
    }
    let ended = |run: &FinishedRun| run.status.is_final();
    sqlx::query(
        "insert into node_runs (id, instance_id, node_id, attempt, status, input, output, error,
                                started_at, ended_at, cost_ms, loop_index)
         select * from unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[], $5::text[],
                              $6::jsonb[], $7::jsonb[], $8::jsonb[], $9::timestamptz[],
                              $10::timestamptz[], $11::bigint[], $12::integer[])",
    )
    .bind(runs.iter().map(|(_, r, _)| r.id.0).collect::<Vec<_>>())
    .bind(runs.iter().map(|(i, _, _)| *i).collect::<Vec<_>>())
    .bind(
        runs.iter()
            .map(|(_, _, s)| s.node_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(runs.iter().map(|(_, _, s)| s.attempt).collect::<Vec<_>>())
    .bind(
        runs.iter()
            .map(|(_, r, _)| r.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, _, s)| Json(&s.input))
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, r, _)| r.output.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, r, _)| r.error.as_ref().map(Json))
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, _, s)| s.started_at)
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, r, _)| ended(r).then_some(now))
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, r, _)| ended(r).then_some(r.cost_ms))
            .collect::<Vec<_>>(),
    )
    .bind(
        runs.iter()
            .map(|(_, _, s)| s.loop_index)
            .collect::<Vec<_>>(),
    )
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// Events with their seqs (instance, seq, event).
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    rows: &[(i64, i32, &NewEvent)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into events (instance_id, seq, node_id, kind, data, at)
         select s.instance_id, s.seq, s.node_id, s.kind, s.data, $6
           from unnest($1::bigint[], $2::integer[], $3::text[], $4::text[], $5::jsonb[])
                as s(instance_id, seq, node_id, kind, data)",
    )
    .bind(rows.iter().map(|(i, _, _)| *i).collect::<Vec<_>>())
    .bind(rows.iter().map(|(_, seq, _)| *seq).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|(_, _, e)| e.node_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|(_, _, e)| e.kind).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|(_, _, e)| Json(&e.data))
            .collect::<Vec<_>>(),
    )
    .bind(at)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}
