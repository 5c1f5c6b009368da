//! Helpers of the instance store's statements: announcing queued work, foreach iterations, an
//! instance read inside a transaction, the event log (see `sql.rs` for why a macro).

macro_rules! impl_instance_helpers {
    ($store:ty, announce: $announce:literal $(,)?) => {
        impl $store {
            async fn announce(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
            ) -> Result<(), $crate::store::StoreError> {
                if !$announce.is_empty() {
                    sqlx::query($announce)
                        .execute(&mut **tx)
                        .await
                        .map_err($crate::store::StoreError::from_sqlx)?;
                }
                Ok(())
            }

            /// Records a new running instance: its row, its start item, its deadline item and
            /// its `instance.started` event. A repeated idempotency key is a `Conflict`; a failed
            /// `new.check` is `Stale`.
            async fn insert_instance_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                new: &$crate::store::NewInstance<'_>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::rows::InstanceRow, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let row: $crate::store::rows::InstanceRow = sqlx::query_as(
                    "insert into instances
                         (id, version_id, definition_key, version, status, input, context,
                          trigger, operator, created_at, idempotency_key, parent_id, parent_item,
                          debug, mock, event_seq)
                     select $1, $2, $3, $4, 'running', $5, coalesce($14, $5), $6, $7, $8, $9, $10,
                            $11, $12, $13, 1
                      where not $15 or exists (
                            select 1 from definitions
                             where key = $3 and status = 'active'
                               and ($16 is null or latest_version = $16))
                     returning id, version_id, definition_key, version, status, input, context,
                               output, error, trigger, operator, created_at, ended_at, cost_ms, parent_id,
                               debug, mock",
                )
                .bind(new.id.0)
                .bind(new.version_id.0)
                .bind(new.definition_key)
                .bind(new.version)
                .bind(sqlx::types::Json(new.input))
                .bind(new.trigger.as_str())
                .bind(new.operator)
                .bind(now)
                .bind(new.idempotency_key)
                .bind(new.parent.map(|(instance, _)| instance.0))
                .bind(new.parent.map(|(_, item)| item.0))
                .bind(new.debug)
                .bind(new.mock)
                .bind(new.context.map(sqlx::types::Json))
                .bind(new.check.params().0)
                .bind(new.check.params().1)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?
                .ok_or(StoreError::Stale)?;
                sqlx::query(
                    "insert into work_items (id, instance_id, node_id, from_node, live, due_at)
                     values ($1, $2, $3, null, $4, $5)",
                )
                .bind(new.start_item.0)
                .bind(new.id.0)
                .bind(new.start_node)
                .bind(true)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if let Some((item, after_ms)) = new.deadline {
                    sqlx::query(
                        "insert into work_items (id, instance_id, node_id, from_node, live, due_at)
                         values ($1, $2, $3, null, $4, $5)",
                    )
                    .bind(item.0)
                    .bind(new.id.0)
                    .bind($crate::store::DEADLINE_NODE)
                    .bind(true)
                    .bind(now + chrono::Duration::milliseconds(after_ms))
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                // Its first event, seq 1 (the row starts with event_seq 1).
                let started = new.started_event();
                Self::insert_events_in(tx, &[(new.id.0, 1, &started)], now).await?;
                Ok(row)
            }

            /// One iteration of a foreach as a step inside it sees it.
            async fn iteration_state(
                &self,
                instance: $crate::id::Id,
                key: $crate::store::IterationKey,
            ) -> Result<$crate::store::IterationState, $crate::store::StoreError> {
                use $crate::store::StoreError;
                type Json = sqlx::types::Json<serde_json::Value>;
                let found: Option<(Json, Option<Json>)> = sqlx::query_as(
                    "select context, output from loop_iterations where run_id = $1 and idx = $2",
                )
                .bind(key.run.0)
                .bind(key.index)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let (context, output) = found.ok_or_else(|| {
                    StoreError::NotFound(format!("iteration {} of run {} in {instance}", key.index, key.run))
                })?;
                let remaining: i64 = sqlx::query_scalar(
                    "select count(*) from work_items
                      where loop_run = $1 and loop_index = $2 and id <> $3",
                )
                .bind(key.run.0)
                .bind(key.index)
                .bind(key.item.0)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let (next_pending, running): (Option<i32>, i64) = sqlx::query_as(
                    "select min(case when status = 'pending' then idx end),
                            count(case when status = 'running' and idx <> $2 then 1 end)
                       from loop_iterations where run_id = $1",
                )
                .bind(key.run.0)
                .bind(key.index)
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let outputs = if next_pending.is_none() && running == 0 {
                    let rows: Vec<(i32, Option<sqlx::types::Json<serde_json::Value>>)> =
                        sqlx::query_as(
                            "select idx, output from loop_iterations
                              where run_id = $1 and idx <> $2 order by idx",
                        )
                        .bind(key.run.0)
                        .bind(key.index)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    Some(
                        rows.into_iter()
                            .map(|(i, o)| (i, o.map_or(serde_json::Value::Null, |j| j.0)))
                            .collect(),
                    )
                } else {
                    None
                };
                Ok($crate::store::IterationState {
                    context: context.0,
                    output: output.map(|o| o.0),
                    remaining,
                    next_pending,
                    running,
                    outputs,
                })
            }

            /// Applies a step's changes to foreach iterations.
            async fn change_iterations(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                changes: &[$crate::store::IterationChange],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::{IterationChange, StoreError};
                for change in changes {
                    match change {
                        IterationChange::Create { run, contexts, running } => {
                            // In chunks, to stay under the drivers' bind limits.
                            for (chunk_no, chunk) in contexts.chunks(1000).enumerate() {
                                let mut insert = sqlx::QueryBuilder::new(
                                    "insert into loop_iterations
                                         (run_id, idx, instance_id, status, context) ",
                                );
                                insert.push_values(chunk.iter().enumerate(), |mut row, (i, ctx)| {
                                    let index = chunk_no * 1000 + i;
                                    row.push_bind(run.0)
                                        .push_bind(index as i32)
                                        .push_bind(instance)
                                        .push_bind(if index < *running { "running" } else { "pending" })
                                        .push_bind(sqlx::types::Json(ctx.clone()));
                                });
                                insert
                                    .build()
                                    .execute(&mut **tx)
                                    .await
                                    .map_err(StoreError::from_sqlx)?;
                            }
                        }
                        IterationChange::Update { run, index, context, output } => {
                            sqlx::query(
                                "update loop_iterations
                                    set context = coalesce($3, context), output = coalesce($4, output)
                                  where run_id = $1 and idx = $2",
                            )
                            .bind(run.0)
                            .bind(*index)
                            .bind(context.as_ref().map(sqlx::types::Json))
                            .bind(output.as_ref().map(sqlx::types::Json))
                            .execute(&mut **tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                        }
                        IterationChange::Finish { run, index, start } => {
                            sqlx::query(
                                "update loop_iterations set status = 'completed'
                                  where run_id = $1 and idx = $2",
                            )
                            .bind(run.0)
                            .bind(*index)
                            .execute(&mut **tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                            if let Some(next) = start {
                                sqlx::query(
                                    "update loop_iterations set status = 'running'
                                      where run_id = $1 and idx = $2 and status = 'pending'",
                                )
                                .bind(run.0)
                                .bind(*next)
                                .execute(&mut **tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                            }
                        }
                        IterationChange::Clear { run } => {
                            sqlx::query("delete from loop_iterations where run_id = $1")
                                .bind(run.0)
                                .execute(&mut **tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                        }
                    }
                }
                Ok(())
            }

            async fn instance_by_key(
                &self,
                operator: &str,
                key: &str,
            ) -> Result<Option<$crate::instance::InstanceRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::InstanceRow> = sqlx::query_as(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms, parent_id,
                               debug, mock
                       from instances where operator = $1 and idempotency_key = $2",
                )
                .bind(operator)
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(|r| r.into_record()).transpose()
            }

            /// Reads an instance inside a transaction (after changing it).
            async fn instance_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                id: i64,
            ) -> Result<$crate::instance::InstanceRecord, $crate::store::StoreError> {
                let row: $crate::store::rows::InstanceRow = sqlx::query_as(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms, parent_id,
                               debug, mock
                       from instances where id = $1",
                )
                .bind(id)
                .fetch_one(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.into_record()
            }

            /// Appends events under the instance row's lock: seqs are handed out by the row.
            async fn append_events(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                events: &[$crate::store::NewEvent],
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                if events.is_empty() {
                    return Ok(());
                }
                let last: i32 = sqlx::query_scalar(
                    "update instances set event_seq = event_seq + $2 where id = $1
                     returning event_seq",
                )
                .bind(instance)
                .bind(events.len() as i32)
                .fetch_one(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                Self::insert_events_in(tx, &$crate::store::NewEvent::numbered(instance, last, events), at)
                    .await
            }

            /// Inserts events with their seqs (instance, seq, event), a statement per 500.
            async fn insert_events_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                rows: &[(i64, i32, &$crate::store::NewEvent)],
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                Self::insert_rows_in(
                    tx,
                    "insert into events (instance_id, seq, node_id, kind, data, at) ",
                    rows,
                    |row, (instance, seq, event)| {
                        row.push_bind(*instance)
                            .push_bind(*seq)
                            .push_bind(event.node_id.as_deref())
                            .push_bind(event.kind)
                            .push_bind(sqlx::types::Json(&event.data))
                            .push_bind(at);
                    },
                )
                .await
            }
        }

    };
}
