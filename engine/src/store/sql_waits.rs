//! The statements of waiting nodes: human tasks, callbacks, subprocesses (see `waits.rs` for the
//! model and `sql.rs` for why a macro).

macro_rules! impl_wait_store {
    (
        $store:ty,
        begin: $begin:literal,
        // Appended to the select of due waits: `for update skip locked` on PostgreSQL.
        skip_locked: $skip_locked:literal $(,)?
    ) => {
        impl $store {
            /// Records what a node that starts waiting waits on, in the step's transaction.
            async fn record_wait_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                wait: &$crate::store::NewWait,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::waits::{group_principal, user_principal};
                use $crate::store::{NewWait, StoreError};
                match wait {
                    NewWait::Task(task) => {
                        sqlx::query(
                            "insert into human_tasks
                                 (id, instance_id, node_id, node_run_id, item_id, definition_key,
                                  title, content, assignees, candidate_groups, form, outcomes,
                                  status, due_at, created_at)
                             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'open',
                                     $13, $14)",
                        )
                        .bind(task.id.0)
                        .bind(instance)
                        .bind(&task.node_id)
                        .bind(task.node_run_id.0)
                        .bind(task.item_id.0)
                        .bind(&task.definition_key)
                        .bind(&task.title)
                        .bind(&task.content)
                        .bind(sqlx::types::Json(&task.assignees))
                        .bind(sqlx::types::Json(&task.groups))
                        .bind(sqlx::types::Json(&task.form))
                        .bind(sqlx::types::Json(&task.outcomes))
                        .bind(task.due_at)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        let mut principals: Vec<String> = task
                            .assignees
                            .iter()
                            .map(|a| user_principal(a))
                            .chain(task.groups.iter().map(|g| group_principal(g)))
                            .collect();
                        principals.sort();
                        principals.dedup();
                        if !principals.is_empty() {
                            let mut insert = sqlx::QueryBuilder::new(
                                "insert into task_candidates (task_id, principal, status) ",
                            );
                            insert.push_values(principals, |mut row, principal| {
                                row.push_bind(task.id.0).push_bind(principal).push_bind("open");
                            });
                            insert
                                .build()
                                .execute(&mut **tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                        }
                    }
                    NewWait::Callback(callback) => {
                        sqlx::query(
                            "insert into callbacks
                                 (id, token_hash, instance_id, node_id, node_run_id, item_id,
                                  status, due_at, created_at)
                             values ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8)",
                        )
                        .bind(callback.id.0)
                        .bind(&callback.token_hash)
                        .bind(instance)
                        .bind(&callback.node_id)
                        .bind(callback.node_run_id.0)
                        .bind(callback.item_id.0)
                        .bind(callback.due_at)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                    NewWait::Child(child) => {
                        let new = $crate::store::NewInstance {
                            id: child.id,
                            version_id: child.version_id,
                            definition_key: &child.definition_key,
                            version: child.version,
                            input: &child.input,
                            trigger: $crate::instance::Trigger::Subprocess,
                            operator: &child.operator,
                            start_item: child.start_item,
                            start_node: &child.start_node,
                            deadline: child.deadline,
                            idempotency_key: None,
                            parent: Some(($crate::id::Id(instance), child.parent_item)),
                            debug: false,
                            mock: false,
                        };
                        Self::insert_instance_in(tx, &new, now).await?;
                        Self::announce(tx).await?;
                    }
                }
                Ok(())
            }

            /// Releases a waiting node's held activation with `answer` as its input: it runs
            /// next, ending the node's waiting run with the answer.
            async fn release_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                item: i64,
                answer: &serde_json::Value,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let released = sqlx::query(
                    "update work_items
                        set held = $2, awaiting = null, due_at = $3, input = $4,
                            lease_owner = null, lease_until = null
                      where id = $1 and awaiting is not null",
                )
                .bind(item)
                .bind(false)
                .bind(now)
                .bind(sqlx::types::Json(answer))
                .execute(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                if released.rows_affected() > 0 {
                    Self::announce(tx).await?;
                }
                Ok(())
            }

            /// An instance is over (`status`): what it still waits on ends — open tasks and
            /// callbacks are cancelled, running subprocesses are cancelled with everything below
            /// them — and, with `release_parent`, a subprocess's parent goes on with its result
            /// (not yet while it rolls back).
            async fn end_waits_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                status: $crate::instance::InstanceStatus,
                release_parent: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::instance::InstanceStatus;
                use $crate::store::waits::answer;
                use $crate::store::StoreError;
                let parent: Option<(Option<i64>, Option<sqlx::types::Json<serde_json::Value>>, Option<sqlx::types::Json<serde_json::Value>>)> =
                    sqlx::query_as("select parent_item, output, error from instances where id = $1")
                        .bind(instance)
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                if let (true, Some((Some(item), output, error))) = (release_parent, parent) {
                    let result = match status {
                        InstanceStatus::Completed => {
                            answer::completed(output.map(|o| o.0).unwrap_or_default())
                        }
                        InstanceStatus::Cancelled => answer::failed(
                            "subprocess_cancelled",
                            "the subprocess was cancelled",
                            serde_json::json!({"instance_id": $crate::id::Id(instance)}),
                        ),
                        _ => answer::failed(
                            "subprocess_failed",
                            "the subprocess failed",
                            serde_json::json!({
                                "instance_id": $crate::id::Id(instance),
                                "error": error.map(|e| e.0),
                            }),
                        ),
                    };
                    Self::release_in(tx, item, &result, now).await?;
                }
                let mut pending = vec![instance];
                while let Some(id) = pending.pop() {
                    sqlx::query(
                        "update task_candidates set status = 'cancelled'
                          where task_id in (select id from human_tasks
                                             where instance_id = $1
                                               and status in ('open', 'claimed'))",
                    )
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    sqlx::query(
                        "update human_tasks set status = 'cancelled'
                          where instance_id = $1 and status in ('open', 'claimed')",
                    )
                    .bind(id)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    sqlx::query(
                        "update callbacks set status = 'cancelled', finished_at = $2
                          where instance_id = $1 and status = 'waiting'",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    let children: Vec<(i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
                        "select id, created_at from instances
                          where parent_id = $1 and status in ('pending', 'running', 'paused')",
                    )
                    .bind(id)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    for (child, created) in children {
                        Self::cancel_in(tx, child, created, now).await?;
                        let event = $crate::store::NewEvent {
                            node_id: None,
                            kind: "instance.cancelled",
                            data: serde_json::json!({"by": "parent", "parent_id": $crate::id::Id(id)}),
                        };
                        Self::append_events(tx, child, &[event], now).await?;
                        pending.push(child);
                    }
                }
                Ok(())
            }

            /// Marks an instance cancelled: its running and waiting node runs are cancelled and
            /// its queued work is dropped.
            async fn cancel_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                id: i64,
                created: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let cost = (now - created).num_milliseconds().max(0);
                sqlx::query(
                    "update instances set status = 'cancelled', step_rev = step_rev + 1,
                            ended_at = $2, cost_ms = $3
                      where id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(cost)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "update node_runs set status = 'cancelled', ended_at = $2
                      where instance_id = $1 and status in ('running', 'waiting')",
                )
                .bind(id)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                for table in ["work_items", "join_arrivals", "loop_iterations"] {
                    sqlx::query(&format!("delete from {table} where instance_id = $1"))
                        .bind(id)
                        .execute(&mut **tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                Ok(())
            }

            async fn task_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                id: i64,
            ) -> Result<Option<$crate::task::HumanTask>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::TaskRow> = sqlx::query_as(&format!(
                    "select {} from human_tasks where id = $1",
                    $crate::store::rows::TASK_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(|r| r.into_task()).transpose()
            }

            /// Why a task cannot be claimed, released or completed by `user` now.
            fn task_conflict(
                task: &$crate::task::HumanTask,
                user: &str,
            ) -> $crate::store::StoreError {
                use $crate::task::TaskStatus;
                $crate::store::StoreError::Conflict(match (task.status, &task.claimed_by) {
                    (TaskStatus::Claimed, Some(by)) if by != user => {
                        format!("task {} is claimed by {by}", task.id)
                    }
                    (TaskStatus::Claimed, _) => format!("task {} is already claimed", task.id),
                    (TaskStatus::Open, _) => format!("task {} is not claimed", task.id),
                    (status, _) => format!("task {} is already {}", task.id, status.as_str()),
                })
            }

            /// Ends a task (`completed` or `expired`), if it is still open: its candidates
            /// follow, and its node's activation is released with `answer`. `false` when the
            /// task had already ended (or, completing, is claimed by someone else).
            #[allow(clippy::too_many_arguments)]
            async fn end_task_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                id: i64,
                user: Option<&str>,
                outcome: Option<&str>,
                data: Option<&serde_json::Value>,
                answer: &serde_json::Value,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let status = if user.is_some() { "completed" } else { "expired" };
                let ended: Option<(i64, String, i64)> = sqlx::query_as(
                    "update human_tasks
                        set status = $2, outcome = $3, data = $4, completed_by = $5,
                            completed_at = $6
                      where id = $1
                        and (status = 'open' or (status = 'claimed'
                                                 and ($5 is null or claimed_by = $5)))
                     returning instance_id, node_id, item_id",
                )
                .bind(id)
                .bind(status)
                .bind(outcome)
                .bind(data.map(sqlx::types::Json))
                .bind(user)
                .bind(now)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((instance, node, item)) = ended else {
                    return Ok(false);
                };
                sqlx::query("update task_candidates set status = $2 where task_id = $1")
                    .bind(id)
                    .bind(status)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Self::release_in(tx, item, answer, now).await?;
                let event = $crate::store::NewEvent {
                    node_id: Some(node),
                    kind: if user.is_some() { "task.completed" } else { "task.expired" },
                    data: serde_json::json!({
                        "task": $crate::id::Id(id), "by": user, "outcome": outcome,
                    }),
                };
                Self::append_events(tx, instance, &[event], now).await?;
                Ok(true)
            }

            /// Ends the wait of the callback whose token hashes to `token_hash`, if it is still
            /// waiting (`succeeded`, `failed` or `timed_out`), releasing its node with `answer`.
            /// Returns the instance when it did.
            async fn end_callback_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                token_hash: &str,
                status: &str,
                output: Option<&serde_json::Value>,
                answer: &serde_json::Value,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<i64>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let ended: Option<(i64, String, i64)> = sqlx::query_as(
                    "update callbacks set status = $2, output = $3, finished_at = $4
                      where token_hash = $1 and status = 'waiting'
                     returning instance_id, node_id, item_id",
                )
                .bind(token_hash)
                .bind(status)
                .bind(output.map(sqlx::types::Json))
                .bind(now)
                .fetch_optional(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let Some((instance, node, item)) = ended else {
                    return Ok(None);
                };
                Self::release_in(tx, item, answer, now).await?;
                let event = $crate::store::NewEvent {
                    node_id: Some(node),
                    kind: "callback.finished",
                    data: serde_json::json!({"status": status}),
                };
                Self::append_events(tx, instance, &[event], now).await?;
                Ok(Some(instance))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::WaitStore for $store {
            async fn task(
                &self,
                id: $crate::id::Id,
            ) -> Result<Option<$crate::task::HumanTask>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::TaskRow> = sqlx::query_as(&format!(
                    "select {} from human_tasks where id = $1",
                    $crate::store::rows::TASK_COLUMNS
                ))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(|r| r.into_task()).transpose()
            }

            async fn inbox(
                &self,
                query: &$crate::store::InboxQuery,
            ) -> Result<
                $crate::store::Page<$crate::task::HumanTask>,
                $crate::store::StoreError,
            > {
                use $crate::store::StoreError;
                use $crate::task::TaskStatus;
                // Which tasks, as a set of ids read from indexes only: those offered to one of
                // the person's principals in the status asked for, and those they claimed; by
                // default both open and claimed. Counting and choosing the page need no task
                // rows; only the page's tasks are read.
                let ids = |b: &mut sqlx::QueryBuilder<'_, <Self as $crate::store::sql_backend::Backend>::Db>| {
                    let offered = match query.status {
                        None => Some(TaskStatus::Open),
                        Some(TaskStatus::Claimed) => None,
                        Some(other) => Some(other),
                    };
                    let of_definition = |b: &mut sqlx::QueryBuilder<'_, <Self as $crate::store::sql_backend::Backend>::Db>, column: &str| {
                        if let Some(key) = &query.definition_key {
                            b.push(format!(
                                " and {column} in (select id from human_tasks where definition_key = "
                            ));
                            b.push_bind(key.clone());
                            b.push(")");
                        }
                    };
                    if let Some(status) = offered {
                        b.push("select task_id as id from task_candidates where status = ");
                        b.push_bind(status.as_str());
                        b.push(" and principal in (");
                        let mut list = b.separated(", ");
                        for principal in query.principals() {
                            list.push_bind(principal);
                        }
                        b.push(")");
                        of_definition(b, "task_id");
                    }
                    if matches!(query.status, None | Some(TaskStatus::Claimed)) {
                        if offered.is_some() {
                            b.push(" union ");
                        }
                        b.push("select id from human_tasks where status = 'claimed' and claimed_by = ");
                        b.push_bind(query.username.clone());
                        of_definition(b, "id");
                    }
                };
                let mut count = sqlx::QueryBuilder::new("select count(*) from (");
                ids(&mut count);
                count.push(") ids");
                let total: i64 = count
                    .build_query_scalar()
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let mut page = sqlx::QueryBuilder::new(format!(
                    "select {} from human_tasks where id in (select id from (",
                    $crate::store::rows::TASK_COLUMNS
                ));
                ids(&mut page);
                page.push(") ids order by id desc limit ");
                page.push_bind(query.limit);
                page.push(" offset ");
                page.push_bind(query.offset);
                page.push(") order by id desc");
                let rows: Vec<$crate::store::rows::TaskRow> = page
                    .build_query_as()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let items = rows
                    .into_iter()
                    .map(|r| r.into_task())
                    .collect::<Result<Vec<_>, _>>()?;
                Ok($crate::store::Page { items, total })
            }

            async fn claim_task(
                &self,
                id: $crate::id::Id,
                user: &str,
                claim: bool,
            ) -> Result<$crate::task::HumanTask, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let changed = if claim {
                    sqlx::query(
                        "update human_tasks set status = 'claimed', claimed_by = $2,
                                claimed_at = $3
                          where id = $1 and status = 'open'",
                    )
                    .bind(id.0)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                } else {
                    sqlx::query(
                        "update human_tasks set status = 'open', claimed_by = null,
                                claimed_at = null
                          where id = $1 and status = 'claimed' and claimed_by = $2",
                    )
                    .bind(id.0)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                }
                .map_err(StoreError::from_sqlx)?;
                let task = Self::task_in(&mut tx, id.0)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("task {id}")))?;
                if changed.rows_affected() == 0 {
                    return Err(Self::task_conflict(&task, user));
                }
                sqlx::query("update task_candidates set status = $2 where task_id = $1")
                    .bind(id.0)
                    .bind(task.status.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let event = $crate::store::NewEvent {
                    node_id: Some(task.node_id.clone()),
                    kind: if claim { "task.claimed" } else { "task.released" },
                    data: serde_json::json!({"task": id, "by": user}),
                };
                Self::append_events(&mut tx, task.instance_id.0, &[event], now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(task)
            }

            async fn complete_task(
                &self,
                answer: $crate::store::TaskAnswer<'_>,
            ) -> Result<$crate::task::HumanTask, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let result = $crate::store::waits::answer::completed(serde_json::json!({
                    "outcome": answer.outcome,
                    "data": answer.data,
                    "by": answer.user,
                }));
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let done = Self::end_task_in(
                    &mut tx,
                    answer.id.0,
                    Some(answer.user),
                    Some(answer.outcome),
                    Some(answer.data),
                    &result,
                    now,
                )
                .await?;
                let task = Self::task_in(&mut tx, answer.id.0)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("task {}", answer.id)))?;
                if !done {
                    return Err(Self::task_conflict(&task, answer.user));
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(task)
            }

            async fn finish_callback(
                &self,
                token_hash: &str,
                finish: $crate::store::CallbackFinish<'_>,
            ) -> Result<$crate::store::CallbackOutcome, $crate::store::StoreError> {
                use $crate::store::waits::answer;
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let (status, result) = if finish.succeeded {
                    ("succeeded", answer::completed(finish.output.clone()))
                } else {
                    (
                        "failed",
                        answer::failed(
                            "callback_failed",
                            "the callback reported a failure",
                            finish.output.clone(),
                        ),
                    )
                };
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let ended = Self::end_callback_in(
                    &mut tx,
                    token_hash,
                    status,
                    Some(finish.output),
                    &result,
                    now,
                )
                .await?;
                if let Some(instance) = ended {
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                    return Ok($crate::store::CallbackOutcome {
                        applied: true,
                        status: status.to_string(),
                        instance_id: $crate::id::Id(instance),
                    });
                }
                let current: Option<(String, i64)> = sqlx::query_as(
                    "select status, instance_id from callbacks where token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                match current {
                    None => Err(StoreError::NotFound("callback".into())),
                    // The same finish again: nothing more to do.
                    Some((current, instance)) if current == status => {
                        Ok($crate::store::CallbackOutcome {
                            applied: false,
                            status: current,
                            instance_id: $crate::id::Id(instance),
                        })
                    }
                    Some((current, _)) => Err(StoreError::Conflict(format!(
                        "the callback's wait is over ({current}); this finish changes nothing"
                    ))),
                }
            }

            async fn expire_waits(&self, limit: i64) -> Result<usize, $crate::store::StoreError> {
                use $crate::store::waits::answer;
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let tasks: Vec<i64> = sqlx::query_scalar(concat!(
                    "select id from human_tasks
                      where due_at <= $1 and status in ('open', 'claimed')
                      order by due_at limit $2 ",
                    $skip_locked
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let mut ended = 0;
                for task in tasks {
                    let expired = answer::expired();
                    if Self::end_task_in(&mut tx, task, None, None, None, &expired, now).await? {
                        ended += 1;
                    }
                }
                let callbacks: Vec<String> = sqlx::query_scalar(concat!(
                    "select token_hash from callbacks
                      where due_at <= $1 and status = 'waiting'
                      order by due_at limit $2 ",
                    $skip_locked
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                for token_hash in callbacks {
                    let timed_out = answer::timed_out();
                    let filter = token_hash.as_str();
                    if Self::end_callback_in(&mut tx, filter, "timed_out", None, &timed_out, now)
                        .await?
                        .is_some()
                    {
                        ended += 1;
                    }
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(ended)
            }
        }
    };
}
