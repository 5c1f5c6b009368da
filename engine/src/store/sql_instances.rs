//! The runtime statements, written once for both databases (see `sql.rs` for why a macro).

macro_rules! impl_instance_store {
    (
        $store:ty,
        begin: $begin:literal,
        for_update: $for_update:literal,
        // Appended to the select of due work items: `for update skip locked` on PostgreSQL, so
        // concurrent workers in several processes each take different items without waiting.
        skip_locked: $skip_locked:literal,
        // Run in a transaction that queues work for any process: tells the others at commit
        // (`pg_notify` on PostgreSQL; nothing on SQLite, where one process does all the work).
        announce: $announce:literal $(,)?
    ) => {
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
                            output, error, trigger, operator, created_at, ended_at, cost_ms
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
                            output, error, trigger, operator, created_at, ended_at, cost_ms
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
                let first = last - events.len() as i32 + 1;
                // One statement for all of them.
                let mut insert = sqlx::QueryBuilder::new(
                    "insert into events (instance_id, seq, node_id, kind, data, at) ",
                );
                insert.push_values(events.iter().enumerate(), |mut row, (offset, event)| {
                    row.push_bind(instance)
                        .push_bind(first + offset as i32)
                        .push_bind(event.node_id.clone())
                        .push_bind(event.kind)
                        .push_bind(sqlx::types::Json(event.data.clone()))
                        .push_bind(at);
                });
                insert
                    .build()
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::InstanceStore for $store {
            async fn watch_work(
                &self,
                wake: std::sync::Arc<tokio::sync::Notify>,
            ) -> Result<Option<tokio::task::JoinHandle<()>>, $crate::store::StoreError> {
                self.listen_for_work(wake).await
            }

            async fn create_instance(
                &self,
                new: $crate::store::NewInstance<'_>,
            ) -> Result<($crate::instance::InstanceRecord, bool), $crate::store::StoreError> {
                use $crate::store::rows::{now, InstanceRow};
                use $crate::store::StoreError;
                let now = now();
                if let Some(key) = new.idempotency_key {
                    if let Some(found) = self.instance_by_key(new.operator, key).await? {
                        return Ok((found, true));
                    }
                }
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let row: Result<InstanceRow, sqlx::Error> = sqlx::query_as(
                    "insert into instances
                         (id, version_id, definition_key, version, status, input, context,
                          trigger, operator, created_at, idempotency_key)
                     values ($1, $2, $3, $4, 'running', $5, $5, $6, $7, $8, $9)
                     returning id, version_id, definition_key, version, status, input, context,
                               output, error, trigger, operator, created_at, ended_at, cost_ms",
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
                .fetch_one(&mut *tx)
                .await;
                let row = match row {
                    Ok(row) => row,
                    // The same key, started meanwhile by a concurrent request: that one stands.
                    Err(err) if new.idempotency_key.is_some() && is_unique_violation(&err) => {
                        drop(tx);
                        let found = self
                            .instance_by_key(new.operator, new.idempotency_key.unwrap_or_default())
                            .await?
                            .ok_or_else(|| StoreError::from_sqlx(err))?;
                        return Ok((found, true));
                    }
                    Err(err) => return Err(StoreError::from_sqlx(err)),
                };
                sqlx::query(
                    "insert into work_items (id, instance_id, node_id, from_node, live, due_at)
                     values ($1, $2, $3, null, $4, $5)",
                )
                .bind(new.start_item.0)
                .bind(new.id.0)
                .bind(new.start_node)
                .bind(true)
                .bind(now)
                .execute(&mut *tx)
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
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                let started = $crate::store::NewEvent {
                    node_id: None,
                    kind: "instance.started",
                    data: serde_json::json!({
                        "definition_key": new.definition_key,
                        "version": new.version,
                        "trigger": new.trigger.as_str(),
                        "operator": new.operator,
                    }),
                };
                Self::append_events(&mut tx, new.id.0, &[started], now).await?;
                Self::announce(&mut tx).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok((row.into_record()?, false))
            }

            async fn instance(
                &self,
                id: $crate::id::Id,
            ) -> Result<Option<$crate::instance::InstanceRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::InstanceRow> = sqlx::query_as(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms
                       from instances where id = $1",
                )
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(|r| r.into_record()).transpose()
            }

            async fn list_instances(
                &self,
                query: &$crate::store::InstanceQuery,
            ) -> Result<
                $crate::store::Page<$crate::instance::InstanceRecord>,
                $crate::store::StoreError,
            > {
                use $crate::store::StoreError;
                const FILTER: &str = "from instances
                     where ($1 is null or status = $1)
                       and ($2 is null or definition_key = $2)
                       and ($3 is null or operator = $3)
                       and ($4 is null or operator = $5 or definition_key in (
                            select definition_key from definition_grants
                             where $4 like '%,' || role || ',%'))
                       and $6 = $6 and $7 = $7";
                let roles = query.visible_to.as_ref().map(|v| v.roles_param());
                let viewer = query.visible_to.as_ref().map(|v| v.username.as_str());
                let total: i64 = sqlx::query_scalar(&format!("select count(*) {FILTER}"))
                    .bind(query.status.map(|s| s.as_str()))
                    .bind(query.definition_key.as_deref())
                    .bind(query.operator.as_deref())
                    .bind(roles.as_deref())
                    .bind(viewer)
                    .bind(query.limit)
                    .bind(query.offset)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::rows::InstanceRow> = sqlx::query_as(&format!(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms
                     {FILTER} order by id desc limit $6 offset $7"
                ))
                .bind(query.status.map(|s| s.as_str()))
                .bind(query.definition_key.as_deref())
                .bind(query.operator.as_deref())
                .bind(roles.as_deref())
                .bind(viewer)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map(|r| r.into_record())
                        .collect::<Result<_, _>>()?,
                    total,
                })
            }

            async fn node_runs(
                &self,
                instance: $crate::id::Id,
            ) -> Result<Vec<$crate::instance::NodeRun>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::NodeRunRow> = sqlx::query_as(
                    "select id, node_id, attempt, loop_index, status, input, output, error,
                            started_at, ended_at, cost_ms
                       from node_runs where instance_id = $1 order by id",
                )
                .bind(instance.0)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                rows.into_iter().map(|r| r.into_run()).collect()
            }

            async fn events(
                &self,
                instance: $crate::id::Id,
                after: i32,
            ) -> Result<Vec<$crate::instance::Event>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::EventRow> = sqlx::query_as(
                    "select seq, node_id, kind, data, at from events
                      where instance_id = $1 and seq > $2 order by seq",
                )
                .bind(instance.0)
                .bind(after)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(|r| r.into_event()).collect())
            }

            async fn claim_work(
                &self,
                owner: &str,
                limit: i64,
                lease_ms: i64,
            ) -> Result<Vec<$crate::store::WorkItem>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let until = now + chrono::Duration::milliseconds(lease_ms);
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::rows::WorkItemRow> = sqlx::query_as(concat!(
                    "update work_items set lease_owner = $1, lease_until = $2
                      where id in (select id from work_items
                                    where due_at <= $3 and (lease_until is null or lease_until < $3)
                                      and not held
                                      and instance_id in (select id from instances where status = 'running')
                                    order by due_at, id limit $4 ",
                    $skip_locked,
                    ")
                     returning id, instance_id, node_id, from_node, live, attempt, resume_run, input, skip,
                               loop_run, loop_index,
                               (select definition_key from instances i
                                 where i.id = work_items.instance_id) as definition_key,
                               (select version from instances i
                                 where i.id = work_items.instance_id) as version"
                ))
                .bind(owner)
                .bind(until)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                let mut items: Vec<_> = rows.into_iter().map(|r| r.into_item()).collect();
                items.sort_by_key(|i| i.id);
                Ok(items)
            }

            async fn step_state(
                &self,
                instance: $crate::id::Id,
                join: Option<&str>,
                iteration: Option<$crate::store::IterationKey>,
            ) -> Result<$crate::store::StepState, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let row: Option<(String, sqlx::types::Json<serde_json::Value>, i32)> =
                    sqlx::query_as("select status, context, step_rev from instances where id = $1")
                        .bind(instance.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                let (status, context, rev) =
                    row.ok_or_else(|| StoreError::NotFound(format!("instance {instance}")))?;
                let arrivals: Vec<(String, bool)> = match join {
                    None => Vec::new(),
                    Some(node) => sqlx::query_as(
                        "select from_node, live from join_arrivals
                          where instance_id = $1 and node_id = $2 order by from_node",
                    )
                    .bind(instance.0)
                    .bind(node)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?,
                };
                let iteration = match iteration {
                    None => None,
                    Some(key) => Some(self.iteration_state(instance, key).await?),
                };
                Ok($crate::store::StepState {
                    status: $crate::instance::InstanceStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("instance status `{status}`")))?,
                    context: context.0,
                    rev,
                    arrivals,
                    iteration,
                })
            }

            async fn begin_node_run(
                &self,
                run: $crate::store::NewNodeRun<'_>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "insert into node_runs
                         (id, instance_id, node_id, attempt, status, input, started_at, loop_index)
                     values ($1, $2, $3, $4, 'running', $5, $6, $7)",
                )
                .bind(run.id.0)
                .bind(run.instance_id.0)
                .bind(run.node_id)
                .bind(run.attempt)
                .bind(sqlx::types::Json(run.input))
                .bind(now)
                .bind(run.loop_index)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let event = $crate::store::NewEvent {
                    node_id: Some(run.node_id.to_string()),
                    kind: "node.started",
                    data: serde_json::json!({"run": run.id, "attempt": run.attempt}),
                };
                Self::append_events(&mut tx, run.instance_id.0, &[event], now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn change_instance(
                &self,
                id: $crate::id::Id,
                change: $crate::store::InstanceChange,
                actor: &str,
            ) -> Result<$crate::instance::InstanceRecord, $crate::store::StoreError> {
                use $crate::store::{InstanceChange, StoreError};
                let (from, to, kind) = change.rule();
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let current: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(concat!(
                    "select status, created_at from instances where id = $1 ",
                    $for_update
                ))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let (status, created) =
                    current.ok_or_else(|| StoreError::NotFound(format!("instance {id}")))?;
                if !from.contains(&status.as_str()) {
                    return Err(StoreError::Conflict(format!(
                        "instance {id} is {status}; it cannot be {}",
                        match change {
                            InstanceChange::Cancel => "cancelled",
                            InstanceChange::Pause => "paused",
                            InstanceChange::Resume => "resumed",
                        }
                    )));
                }
                sqlx::query("update instances set status = $2, step_rev = step_rev + 1 where id = $1")
                    .bind(id.0)
                    .bind(to.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                match change {
                    InstanceChange::Cancel => {
                        let cost = (now - created).num_milliseconds().max(0);
                        sqlx::query("update instances set ended_at = $2, cost_ms = $3 where id = $1")
                            .bind(id.0)
                            .bind(now)
                            .bind(cost)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                        sqlx::query(
                            "update node_runs set status = 'cancelled', ended_at = $2
                              where instance_id = $1 and status in ('running', 'waiting')",
                        )
                        .bind(id.0)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        for table in ["work_items", "join_arrivals", "loop_iterations"] {
                            sqlx::query(&format!("delete from {table} where instance_id = $1"))
                                .bind(id.0)
                                .execute(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                        }
                    }
                    InstanceChange::Resume => {
                        let held: Option<String> = sqlx::query_scalar(
                            "select node_id from work_items where instance_id = $1 and held
                              order by id limit 1",
                        )
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        if let Some(node) = held {
                            return Err(StoreError::Conflict(format!(
                                "node `{node}` failed and waits for an operator: re-run or skip it"
                            )));
                        }
                        // Leases taken before the pause need not run out first.
                        sqlx::query(
                            "update work_items set lease_owner = null, lease_until = null
                              where instance_id = $1",
                        )
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        Self::announce(&mut tx).await?;
                    }
                    InstanceChange::Pause => {}
                }
                let event = $crate::store::NewEvent {
                    node_id: None,
                    kind,
                    data: serde_json::json!({"by": actor}),
                };
                Self::append_events(&mut tx, id.0, &[event], now).await?;
                let record = Self::instance_in(&mut tx, id.0).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(record)
            }

            async fn complete_step(
                &self,
                step: $crate::store::Completion<'_>,
            ) -> Result<$crate::store::StepOutcome, $crate::store::StoreError> {
                use $crate::instance::InstanceStatus;
                use $crate::store::{Arrival, StoreError};
                let now = $crate::store::rows::now();
                let instance = step.instance_id.0;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;

                // The optimistic check: only a step computed from the current state applies.
                // The context and the workflow output are written here too when the step set them.
                let bumped: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                    "update instances set step_rev = step_rev + 1, context = coalesce($3, context),
                            output = coalesce($4, output)
                      where id = $1 and step_rev = $2 and status in ('running', 'paused')
                     returning status, created_at",
                )
                .bind(instance)
                .bind(step.expected_rev)
                .bind(step.context.as_ref().map(sqlx::types::Json))
                .bind(step.output.as_ref().map(sqlx::types::Json))
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((current, created)) = bumped else {
                    return Err(StoreError::Stale);
                };
                // Next items go to this worker only while the instance runs (not when paused).
                let hand_off = current == "running";
                let removed = sqlx::query("delete from work_items where id = $1 and lease_owner = $2")
                    .bind(step.item.0)
                    .bind(step.lease_owner)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if removed.rows_affected() == 0 {
                    return Err(StoreError::LeaseLost);
                }
                for run in &step.runs {
                    if let Some(started) = &run.started {
                        sqlx::query(
                            "insert into node_runs (id, instance_id, node_id, attempt, status, input,
                                                    output, error, started_at, ended_at, cost_ms,
                                                    loop_index)
                             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        )
                        .bind(run.id.0)
                        .bind(instance)
                        .bind(&started.node_id)
                        .bind(started.attempt)
                        .bind(run.status.as_str())
                        .bind(sqlx::types::Json(&started.input))
                        .bind(run.output.as_ref().map(sqlx::types::Json))
                        .bind(run.error.as_ref().map(sqlx::types::Json))
                        .bind(started.started_at)
                        .bind(run.status.is_final().then_some(now))
                        .bind(run.status.is_final().then_some(run.cost_ms))
                        .bind(started.loop_index)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    } else {
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
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                }
                match &step.arrival {
                    Some(Arrival::Record { node, from, live }) => {
                        sqlx::query(
                            "insert into join_arrivals (instance_id, node_id, from_node, live)
                             values ($1, $2, $3, $4)",
                        )
                        .bind(instance)
                        .bind(*node)
                        .bind(*from)
                        .bind(*live)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                    Some(Arrival::Clear { node }) => {
                        sqlx::query(
                            "delete from join_arrivals where instance_id = $1 and node_id = $2",
                        )
                        .bind(instance)
                        .bind(*node)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                    None => {}
                }
                Self::change_iterations(&mut tx, instance, &step.iterations).await?;
                let lease_until = now + chrono::Duration::milliseconds(step.lease_ms);
                for next in &step.next {
                    let handed = hand_off && next.delay_ms == 0 && !next.held;
                    sqlx::query(
                        "insert into work_items
                             (id, instance_id, node_id, from_node, live, attempt, due_at,
                              lease_owner, lease_until, resume_run, input, loop_run, loop_index,
                              held)
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(next.id.0)
                    .bind(instance)
                    .bind(&next.node_id)
                    .bind(&next.from_node)
                    .bind(next.live)
                    .bind(next.attempt)
                    .bind(now + chrono::Duration::milliseconds(next.delay_ms))
                    .bind(handed.then_some(step.lease_owner))
                    .bind(handed.then_some(lease_until))
                    .bind(next.resume_run.map(|r| r.0))
                    .bind(next.input.as_ref().map(sqlx::types::Json))
                    .bind(next.loop_run.map(|r| r.0))
                    .bind(next.loop_index)
                    .bind(next.held)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
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
                    .fetch_one(&mut *tx)
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
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    events.push($crate::store::NewEvent {
                        node_id: None,
                        kind: "instance.paused",
                        data: serde_json::json!({"by": "engine", "reason": reason}),
                    });
                }
                if status.is_final() {
                    let cost = (now - created).num_milliseconds().max(0);
                    sqlx::query(
                        "update instances set status = $2, error = $3, ended_at = $4, cost_ms = $5
                          where id = $1",
                    )
                    .bind(instance)
                    .bind(status.as_str())
                    .bind(step.fail.as_ref().map(sqlx::types::Json))
                    .bind(now)
                    .bind(cost)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    for table in ["work_items", "join_arrivals", "loop_iterations"] {
                        sqlx::query(&format!("delete from {table} where instance_id = $1"))
                            .bind(instance)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                    }
                    events.push($crate::store::NewEvent {
                        node_id: None,
                        kind: if status == InstanceStatus::Failed {
                            "instance.failed"
                        } else {
                            "instance.completed"
                        },
                        data: serde_json::json!({"cost_ms": cost, "error": step.fail}),
                    });
                }
                Self::append_events(&mut tx, instance, &events, now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                let handed = if hand_off && status == InstanceStatus::Running {
                    step.next
                        .iter()
                        .filter(|next| next.delay_ms == 0 && !next.held)
                        .map(|next| $crate::store::WorkItem {
                            id: next.id,
                            instance_id: step.instance_id,
                            node_id: next.node_id.clone(),
                            from_node: next.from_node.clone(),
                            live: next.live,
                            attempt: next.attempt,
                            resume_run: next.resume_run,
                            input: next.input.clone(),
                            skip: false,
                            loop_run: next.loop_run,
                            loop_index: next.loop_index,
                            definition_key: step.definition_key.to_string(),
                            version: step.version,
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                Ok($crate::store::StepOutcome { status, handed })
            }

            async fn queue_node(
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
