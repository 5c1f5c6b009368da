//! Recording a step and an operator's node operation: the two largest transactions of the
//! instance store (see `sql.rs` for why a macro).

/// Rows per multi-row insert: far below either database's limit on bound values.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

macro_rules! impl_instance_steps {
    ($store:ty, begin: $begin:literal, for_update: $for_update:literal $(,)?) => {
        impl $store {
            async fn complete_step_in(
                &self,
                step: $crate::store::Completion,
            ) -> Result<$crate::store::StepOutcome, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let outcome = Self::record_step_in(&mut tx, &step).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(outcome)
            }

            /// New node runs (of one step, or of a group of steps), a statement per 500.
            async fn insert_runs_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                runs: &[(i64, &$crate::store::FinishedRun, &$crate::store::RunStart)],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                Self::insert_rows_in(
                    tx,
                    "insert into node_runs (id, instance_id, node_id, attempt, status, input,
                                            output, error, started_at, ended_at, cost_ms,
                                            loop_index) ",
                    runs,
                    |row, (instance, run, started)| {
                        let ended = run.status.is_final();
                        row.push_bind(run.id.0)
                            .push_bind(*instance)
                            .push_bind(started.node_id.as_str())
                            .push_bind(started.attempt)
                            .push_bind(run.status.as_str())
                            .push_bind(sqlx::types::Json(&started.input))
                            .push_bind(run.output.as_ref().map(sqlx::types::Json))
                            .push_bind(run.error.as_ref().map(sqlx::types::Json))
                            .push_bind(started.started_at)
                            .push_bind(ended.then_some(now))
                            .push_bind(ended.then_some(run.cost_ms))
                            .push_bind(started.loop_index);
                    },
                )
                .await
            }

            /// Queues next items, a statement per 500; those with a lease (its owner and end)
            /// are handed to that worker at once.
            async fn queue_next_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                items: &[(
                    i64,
                    &$crate::store::NextItem,
                    Option<(&str, chrono::DateTime<chrono::Utc>)>,
                )],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                Self::insert_rows_in(
                    tx,
                    "insert into work_items
                         (id, instance_id, node_id, from_node, live, attempt, due_at,
                          lease_owner, lease_until, resume_run, input, loop_run, loop_index,
                          held, awaiting) ",
                    items,
                    |row, (instance, next, lease)| {
                        row.push_bind(next.id.0)
                            .push_bind(*instance)
                            .push_bind(next.node_id.as_str())
                            .push_bind(next.from_node.as_deref())
                            .push_bind(next.live)
                            .push_bind(next.attempt)
                            .push_bind(now + chrono::Duration::milliseconds(next.delay_ms))
                            .push_bind(lease.map(|(owner, _)| owner))
                            .push_bind(lease.map(|(_, until)| until))
                            .push_bind(next.resume_run.map(|r| r.0))
                            .push_bind(next.input.as_ref().map(sqlx::types::Json))
                            .push_bind(next.loop_run.map(|r| r.0))
                            .push_bind(next.loop_index)
                            .push_bind(next.held || next.awaiting.is_some())
                            .push_bind(next.awaiting);
                    },
                )
                .await
            }

            /// Inserts `rows` (`head`: `insert into table (columns) `), a statement per
            /// ROWS_PER_STATEMENT rows; `bind` binds one row's values.
            async fn insert_rows_in<'r, T: Sync>(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                head: &'static str,
                rows: &'r [T],
                mut bind: impl FnMut(
                        &mut sqlx::query_builder::Separated<
                            '_,
                            'r,
                            <Self as $crate::store::sql_backend::Backend>::Db,
                            &'static str,
                        >,
                        &'r T,
                    ) + Send,
            ) -> Result<(), $crate::store::StoreError> {
                for chunk in rows.chunks($crate::store::sql_steps::ROWS_PER_STATEMENT) {
                    let mut insert = sqlx::QueryBuilder::new(head);
                    insert.push_values(chunk, |mut row, item| bind(&mut row, item));
                    insert
                        .build()
                        .execute(&mut **tx)
                        .await
                        .map_err($crate::store::StoreError::from_sqlx)?;
                }
                Ok(())
            }

            /// Records `step` in `tx` (see `InstanceStore::complete_step`); the items it hands
            /// on are this worker's once `tx` commits.
            async fn record_step_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                step: &$crate::store::Completion,
            ) -> Result<$crate::store::StepOutcome, $crate::store::StoreError> {
                use $crate::instance::InstanceStatus;
                use $crate::store::{Arrival, StoreError};
                let now = $crate::store::rows::now();
                let instance = step.instance_id.0;

                // The optimistic check: only a step computed from the current state applies.
                // The context and the workflow output are written here too when the step set them.
                let bumped: Option<(String, chrono::DateTime<chrono::Utc>, Option<i64>)> = sqlx::query_as(
                    "update instances set step_rev = step_rev + 1, context = coalesce($3, context),
                            output = coalesce($4, output)
                      where id = $1 and step_rev = $2 and status in ('running', 'paused')
                     returning status, created_at, parent_item",
                )
                .bind(instance)
                .bind(step.expected_rev)
                .bind(step.context.as_ref().map(sqlx::types::Json))
                .bind(step.output.as_ref().map(sqlx::types::Json))
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((current, created, parent_item)) = bumped else {
                    return Err(StoreError::Stale);
                };
                // Next items go to this worker only while the instance runs (not when paused).
                let hand_off = current == "running";
                let removed = sqlx::query("delete from work_items where id = $1 and lease_owner = $2")
                    .bind(step.item.0)
                    .bind(step.lease_owner.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if removed.rows_affected() == 0 {
                    return Err(StoreError::LeaseLost);
                }
                let new_runs: Vec<_> = step
                    .runs
                    .iter()
                    .filter_map(|run| Some((instance, run, run.started.as_ref()?)))
                    .collect();
                Self::insert_runs_in(tx, &new_runs, now).await?;
                // Runs recorded as started when they began are finished.
                for run in step.runs.iter().filter(|run| run.started.is_none()) {
                        sqlx::query(
                            "update node_runs set status = $2, output = $3, error = $4,
                                    ended_at = $5, cost_ms = $6
                              where id = $1",
                        )
                        .bind(run.id.0)
                        .bind(run.status.as_str())
                        .bind(run.output.as_ref().map(sqlx::types::Json))
                        .bind(run.error.as_ref().map(sqlx::types::Json))
                        .bind(now)
                        .bind(run.cost_ms)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                match &step.arrival {
                    Some(Arrival::Record { node, from, live }) => {
                        sqlx::query(
                            "insert into join_arrivals (instance_id, node_id, from_node, live)
                             values ($1, $2, $3, $4)",
                        )
                        .bind(instance)
                        .bind(node.as_str())
                        .bind(from.as_str())
                        .bind(*live)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                    Some(Arrival::Clear { node }) => {
                        sqlx::query(
                            "delete from join_arrivals where instance_id = $1 and node_id = $2",
                        )
                        .bind(instance)
                        .bind(node.as_str())
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                    None => {}
                }
                Self::change_iterations(tx, instance, &step.iterations).await?;
                let lease = (
                    step.lease_owner.as_str(),
                    now + chrono::Duration::milliseconds(step.lease_ms),
                );
                let next: Vec<_> = step
                    .next
                    .iter()
                    .map(|next| {
                        let handed = hand_off && $crate::store::Completion::hands_on(next);
                        (instance, next, handed.then_some(lease))
                    })
                    .collect();
                Self::queue_next_in(tx, &next, now).await?;

                if let Some(wait) = &step.wait {
                    Self::record_wait_in(tx, instance, wait, now).await?;
                }

                // The instance ends when it fails, or when no work is left.
                // Work was just queued, so some remains; else count what other branches hold.
                let remaining: i64 = if !step.next.is_empty() {
                    step.next.len() as i64
                } else {
                    sqlx::query_scalar(
                        "select count(*) from work_items where instance_id = $1 and node_id <> $2",
                    )
                    .bind(instance)
                    .bind($crate::store::DEADLINE_NODE)
                    .fetch_one(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?
                };
                let status = match (&step.fail, &step.pause, remaining) {
                    (Some(_), _, _) => InstanceStatus::Failed,
                    (None, Some(_), _) => InstanceStatus::Paused,
                    (None, None, 0) => InstanceStatus::Completed,
                    (None, None, _) => InstanceStatus::Running,
                };
                let mut events = step.events.clone();
                if let Some(reason) = &step.pause {
                    sqlx::query("update instances set status = 'paused' where id = $1")
                        .bind(instance)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    events.push($crate::store::NewEvent {
                        node_id: None,
                        kind: "instance.paused",
                        data: serde_json::json!({"by": "engine", "reason": reason}),
                    });
                }
                // Set when the seqs of `events` were handed out on the way.
                let mut seqs_from = None;
                let status = match (status, &step.fail) {
                    // Failed: at once, or after rolling back its completed nodes.
                    (InstanceStatus::Failed, Some(error)) => {
                        let (status, event) =
                            Self::fail_in(tx, instance, error, created, step.rollback, now)
                                .await?;
                        events.push(event);
                        status
                    }
                    (InstanceStatus::Completed, _) => {
                        let cost = (now - created).num_milliseconds().max(0);
                        events.push($crate::store::NewEvent {
                            node_id: None,
                            kind: "instance.completed",
                            data: serde_json::json!({"cost_ms": cost}),
                        });
                        // The log's seqs are handed out by the same update.
                        let last: i32 = sqlx::query_scalar(
                            "update instances set status = $2, ended_at = $3, cost_ms = $4,
                                    event_seq = event_seq + $5
                              where id = $1 returning event_seq",
                        )
                        .bind(instance)
                        .bind(status.as_str())
                        .bind(now)
                        .bind(cost)
                        .bind(events.len() as i32)
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        seqs_from = Some(last);
                        let dropped = Self::drop_work_in(tx, instance).await?;
                        // A completed instance has nothing left waiting, and usually no
                        // parent: the common case costs no statement more.
                        if dropped > 0 || parent_item.is_some() {
                            Self::end_waits_in(tx, instance, status, true, now).await?;
                        }
                        status
                    }
                    (other, _) => other,
                };
                match seqs_from {
                    Some(last) => {
                        let rows = $crate::store::NewEvent::numbered(instance, last, &events);
                        Self::insert_events_in(tx, &rows, now).await?;
                    }
                    None => Self::append_events(tx, instance, &events, now).await?,
                }
                let handed = if hand_off && status == InstanceStatus::Running {
                    step.handed()
                } else {
                    Vec::new()
                };
                Ok($crate::store::StepOutcome { status, handed })
            }

            async fn queue_node_in(
                &self,
                op: $crate::store::NodeOperation<'_>,
            ) -> Result<$crate::instance::InstanceRecord, $crate::store::StoreError> {
                use $crate::instance::NodeRunStatus;
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let id = op.instance_id;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let status: Option<String> = sqlx::query_scalar(concat!(
                    "select status from instances where id = $1 ",
                    $for_update
                ))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let status = status.ok_or_else(|| StoreError::NotFound(format!("instance {id}")))?;
                if status != "paused" {
                    return Err(StoreError::Conflict(format!(
                        "instance {id} is {status}; nodes are re-run or skipped while it is paused"
                    )));
                }
                // The node's latest run (in a foreach body: the latest of each iteration,
                // preferring an iteration whose latest run failed).
                let last: Option<(String, i32, Option<i32>)> = sqlx::query_as(
                    "select status, attempt, loop_index from node_runs r
                      where instance_id = $1 and node_id = $2
                        and id = (select max(id) from node_runs l
                                   where l.instance_id = r.instance_id and l.node_id = r.node_id
                                     and coalesce(l.loop_index, -1) = coalesce(r.loop_index, -1))
                      order by case when status in ('failed', 'timed_out') then 0 else 1 end,
                               id desc
                      limit 1",
                )
                .bind(id.0)
                .bind(op.node_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((last_status, attempt, loop_index)) = last else {
                    return Err(StoreError::Conflict(format!(
                        "node `{}` has not run in this instance",
                        op.node_id
                    )));
                };
                let queued: Vec<(i64, bool)> = sqlx::query_as(
                    "select id, held from work_items
                      where instance_id = $1 and node_id = $2
                        and coalesce(loop_index, -1) = coalesce($3, -1)",
                )
                .bind(id.0)
                .bind(op.node_id)
                .bind(loop_index)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let held = queued.iter().find(|(_, held)| *held).map(|(item, _)| *item);
                if held.is_none() && !queued.is_empty() {
                    return Err(StoreError::Conflict(format!(
                        "node `{}` is already queued to run",
                        op.node_id
                    )));
                }
                let last_status = NodeRunStatus::parse(&last_status)
                    .ok_or_else(|| StoreError::Corrupt(format!("node run status `{last_status}`")))?;
                let allowed = if op.skip {
                    matches!(last_status, NodeRunStatus::Failed | NodeRunStatus::TimedOut)
                } else {
                    last_status.is_final() && last_status != NodeRunStatus::Skipped
                };
                if !allowed {
                    return Err(StoreError::Conflict(format!(
                        "node `{}` is {}; it cannot be {}",
                        op.node_id,
                        last_status.as_str(),
                        if op.skip { "skipped" } else { "run again" }
                    )));
                }
                // In a foreach body, the activation belongs to the iteration of the last run.
                let loop_run: Option<i64> = match op.in_body_of {
                    None => None,
                    Some(parent) => sqlx::query_scalar(
                        "select id from node_runs
                          where instance_id = $1 and node_id = $2 and status = 'waiting'
                          order by id desc limit 1",
                    )
                    .bind(id.0)
                    .bind(parent)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?,
                };
                if op.in_body_of.is_some() && (loop_run.is_none() || loop_index.is_none()) {
                    return Err(StoreError::Conflict(format!(
                        "the foreach holding node `{}` is no longer running",
                        op.node_id
                    )));
                }
                if let Some(item) = held {
                    // The held activation keeps its place (its edge, its join) and is released.
                    sqlx::query(
                        "update work_items
                            set held = $2, attempt = $3, due_at = $4, input = $5, skip = $6,
                                lease_owner = null, lease_until = null
                          where id = $1",
                    )
                    .bind(item)
                    .bind(false)
                    .bind(attempt + 1)
                    .bind(now)
                    .bind(op.input.map(sqlx::types::Json))
                    .bind(op.skip)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                } else {
                    sqlx::query(
                        "insert into work_items
                             (id, instance_id, node_id, from_node, live, attempt, due_at, input, skip,
                              loop_run, loop_index)
                         values ($1, $2, $3, null, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(op.item.0)
                    .bind(id.0)
                    .bind(op.node_id)
                    .bind(true)
                    .bind(attempt + 1)
                    .bind(now)
                    .bind(op.input.map(sqlx::types::Json))
                    .bind(op.skip)
                    .bind(loop_run)
                    .bind(loop_index)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                sqlx::query(
                    "update instances set status = 'running', step_rev = step_rev + 1 where id = $1",
                )
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                // Other leases taken before the pause need not run out first.
                sqlx::query(
                    "update work_items set lease_owner = null, lease_until = null
                      where instance_id = $1",
                )
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let events = [
                    $crate::store::NewEvent {
                        node_id: Some(op.node_id.to_string()),
                        kind: if op.skip { "node.skip_requested" } else { "node.rerun_requested" },
                        data: serde_json::json!({"by": op.actor, "input": op.input}),
                    },
                    $crate::store::NewEvent {
                        node_id: None,
                        kind: "instance.resumed",
                        data: serde_json::json!({"by": op.actor}),
                    },
                ];
                Self::append_events(&mut tx, id.0, &events, now).await?;
                Self::announce(&mut tx).await?;
                let record = Self::instance_in(&mut tx, id.0).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(record)
            }
        }
    };
}
