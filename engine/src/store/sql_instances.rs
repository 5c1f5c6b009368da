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
        announce: $announce:literal,
        // The claimed items' instance columns (definition_key, version, status, context,
        // step_rev, debug, mock): from the joined row on PostgreSQL; SQLite's `returning` sees
        // only the updated table, so there they are read by key.
        claimed: $claimed:literal $(,)?
    ) => {
        impl_instance_helpers!($store, announce: $announce);
        impl_instance_steps!($store, begin: $begin, for_update: $for_update);

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
                use $crate::store::rows::now;
                use $crate::store::StoreError;
                let now = now();
                if let Some(key) = new.idempotency_key {
                    if let Some(found) = self.instance_by_key(new.operator, key).await? {
                        return Ok((found, true));
                    }
                }
                let row = match self.start_instance(&new, now).await {
                    Ok(row) => row,
                    // The same key, started meanwhile by a concurrent request: that one stands.
                    Err(StoreError::Conflict(why)) if new.idempotency_key.is_some() => {
                        let found = self
                            .instance_by_key(new.operator, new.idempotency_key.unwrap_or_default())
                            .await?
                            .ok_or(StoreError::Conflict(why))?;
                        return Ok((found, true));
                    }
                    Err(err) => return Err(err),
                };
                Ok((row.into_record()?, false))
            }

            async fn instance(
                &self,
                id: $crate::id::Id,
            ) -> Result<Option<$crate::instance::InstanceRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::InstanceRow> = sqlx::query_as(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms, parent_id,
                               debug, mock
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
                       and ($4 is null or operator = $5 or (definition_key in (
                            select definition_key from definition_grants
                             where $4 like '%,' || role || ',%')
                            and definition_key in (
                            select key from definitions
                             where department_id is null
                                or $10 like '%,' || department_id || ',%')))
                       and ($8 is null or created_at >= $8)
                       and ($9 is null or created_at < $9)
                       and $6 = $6 and $7 = $7";
                let roles = query.visible_to.as_ref().map(|v| v.roles_param());
                let viewer = query.visible_to.as_ref().map(|v| v.username.as_str());
                let departments = query.visible_to.as_ref().map(|v| v.departments_param());
                let total: i64 = sqlx::query_scalar(&format!("select count(*) {FILTER}"))
                    .bind(query.status.map(|s| s.as_str()))
                    .bind(query.definition_key.as_deref())
                    .bind(query.operator.as_deref())
                    .bind(roles.as_deref())
                    .bind(viewer)
                    .bind(query.limit)
                    .bind(query.offset)
                    .bind(query.started_after)
                    .bind(query.started_before)
                    .bind(departments.as_deref())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::rows::InstanceRow> = sqlx::query_as(&format!(
                    "select id, version_id, definition_key, version, status, input, context,
                            output, error, trigger, operator, created_at, ended_at, cost_ms, parent_id,
                               debug, mock
                     {FILTER} order by id desc limit $6 offset $7"
                ))
                .bind(query.status.map(|s| s.as_str()))
                .bind(query.definition_key.as_deref())
                .bind(query.operator.as_deref())
                .bind(roles.as_deref())
                .bind(viewer)
                .bind(query.limit)
                .bind(query.offset)
                .bind(query.started_after)
                .bind(query.started_before)
                .bind(departments.as_deref())
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
                // One statement, so no transaction of its own (a round trip less each way).
                let _write = self.write_guard().await;
                let rows: Vec<$crate::store::rows::WorkItemRow> = sqlx::query_as(concat!(
                    "update work_items set lease_owner = $1, lease_until = $2
                       from instances i
                      where work_items.id in (
                                select id from work_items
                                 where due_at <= $3 and (lease_until is null or lease_until < $3)
                                   and not held
                                   -- per candidate, by key: a set of every running
                                   -- instance would be built on each claim
                                   and (exists (select 1 from instances r
                                                 where r.id = work_items.instance_id
                                                   and r.status = 'running')
                                        or node_id = $5)
                                 order by due_at, id limit $4 ",
                    $skip_locked,
                    ")
                        and i.id = work_items.instance_id
                     returning work_items.id as id, work_items.instance_id as instance_id,
                               work_items.node_id as node_id, work_items.from_node as from_node,
                               work_items.live as live, work_items.attempt as attempt,
                               work_items.resume_run as resume_run, work_items.input as input,
                               work_items.skip as skip, work_items.loop_run as loop_run,
                               work_items.loop_index as loop_index, ",
                    $claimed
                ))
                .bind(owner)
                .bind(until)
                .bind(now)
                .bind(limit)
                .bind($crate::store::ACTIONS_NODE)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
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
                type Row = (String, sqlx::types::Json<serde_json::Value>, i32, bool, bool);
                let row: Option<Row> = sqlx::query_as(
                    "select status, context, step_rev, debug, mock from instances where id = $1",
                )
                .bind(instance.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                let (status, context, rev, debug, mock) =
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
                    debug,
                    mock,
                    rev,
                    arrivals,
                    iteration,
                })
            }

            async fn begin_node_run(
                &self,
                run: $crate::store::NewNodeRun<'_>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let begun = sqlx::query(
                    "insert into node_runs
                         (id, instance_id, node_id, attempt, status, input, started_at, loop_index)
                     select $1, $2, $3, $4, 'running', $5, $6, $7
                      where exists (select 1 from instances where id = $2 and status = 'running')",
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
                .map_err(StoreError::from_sqlx)?
                .rows_affected()
                    == 1;
                if !begun {
                    return Ok(false);
                }
                let event = $crate::store::NewEvent {
                    node_id: Some(run.node_id.to_string()),
                    kind: "node.started",
                    data: serde_json::json!({"run": run.id, "attempt": run.attempt}),
                };
                Self::append_events(&mut tx, run.instance_id.0, &[event], now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(true)
            }

            async fn change_instance(
                &self,
                id: $crate::id::Id,
                change: $crate::store::InstanceChange,
                actor: &str,
                actions: Option<$crate::id::Id>,
            ) -> Result<$crate::instance::InstanceRecord, $crate::store::StoreError> {
                use $crate::store::{InstanceChange, StoreError};
                let (from, to, kind) = change.rule();
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let current: Option<(String, chrono::DateTime<chrono::Utc>, bool)> = sqlx::query_as(concat!(
                    "select status, created_at, debug from instances where id = $1 ",
                    $for_update
                ))
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let (status, created, debug) =
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
                if change != InstanceChange::Cancel {
                    sqlx::query(
                        "update instances set status = $2, step_rev = step_rev + 1 where id = $1",
                    )
                    .bind(id.0)
                    .bind(to.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                match change {
                    InstanceChange::Cancel => {
                        // Everything below it (subprocesses, open tasks) is cancelled with it.
                        Self::cancel_in(&mut tx, id.0, created, now).await?;
                        Self::end_waits_in(&mut tx, id.0, to, true, now).await?;
                        if let Some(item) = actions {
                            Self::queue_phase_in(&mut tx, id.0, $crate::definition::Phase::Cancel, item, now)
                                .await?;
                        }
                    }
                    InstanceChange::Resume => {
                        let held: Option<String> = sqlx::query_scalar(
                            "select node_id from work_items
                              where instance_id = $1 and held and awaiting is null
                              order by id limit 1",
                        )
                        .bind(id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        match held {
                            // Debug mode: resuming past the failed node leaves debug mode, and
                            // the instance fails (rolling back first when it has actions).
                            Some(node) if debug => {
                                let error: Option<Option<sqlx::types::Json<serde_json::Value>>> =
                                    sqlx::query_scalar(
                                        "select error from node_runs
                                          where instance_id = $1 and node_id = $2
                                          order by id desc limit 1",
                                    )
                                    .bind(id.0)
                                    .bind(&node)
                                    .fetch_optional(&mut *tx)
                                    .await
                                    .map_err(StoreError::from_sqlx)?;
                                let cause = error.flatten().map(|e| e.0).unwrap_or_default();
                                let fail = serde_json::json!({
                                    "node": node,
                                    "code": cause["code"].as_str().unwrap_or("failed"),
                                    "message": cause["message"].as_str().unwrap_or("the node failed"),
                                });
                                sqlx::query("update instances set debug = $2 where id = $1")
                                    .bind(id.0)
                                    .bind(false)
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(StoreError::from_sqlx)?;
                                let (_, ended) =
                                    Self::fail_in(&mut tx, id.0, &fail, created, actions, now).await?;
                                let left = $crate::store::NewEvent {
                                    node_id: None,
                                    kind: "instance.debug_left",
                                    data: serde_json::json!({"by": actor}),
                                };
                                Self::append_events(&mut tx, id.0, &[left, ended], now).await?;
                                let record = Self::instance_in(&mut tx, id.0).await?;
                                tx.commit().await.map_err(StoreError::from_sqlx)?;
                                return Ok(record);
                            }
                            Some(node) => {
                                return Err(StoreError::Conflict(format!(
                                    "node `{node}` failed and waits for an operator: re-run or skip it"
                                )));
                            }
                            None => {}
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
                step: $crate::store::Completion,
            ) -> Result<$crate::store::StepOutcome, $crate::store::StoreError> {
                self.complete_step_in(step).await
            }

            async fn complete_steps(
                &self,
                steps: Vec<$crate::store::Completion>,
            ) -> Vec<Result<$crate::store::StepOutcome, $crate::store::StoreError>> {
                self.complete_steps_in(steps).await
            }

            async fn queue_node(
                &self,
                op: $crate::store::NodeOperation<'_>,
            ) -> Result<$crate::instance::InstanceRecord, $crate::store::StoreError> {
                self.queue_node_in(op).await
            }
        }
    };
}
