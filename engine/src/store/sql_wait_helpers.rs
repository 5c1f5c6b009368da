//! Helpers of the waiting nodes' statements, used inside other transactions too: recording a
//! wait, releasing a node with its answer, ending what an instance waits on, cancelling an
//! instance, ending a task or a callback (see `sql.rs` for why a macro).

macro_rules! impl_wait_helpers {
    ($store:ty) => {
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
                        if let Some(job) = &callback.job {
                            Self::insert_job_in(tx, job, now).await?;
                        }
                    }
                    NewWait::Child(child) => {
                        let new = $crate::store::NewInstance {
                            id: child.id,
                            version_id: child.version_id,
                            definition_key: &child.definition_key,
                            version: child.version,
                            input: &child.input,
                            context: None,
                            trigger: $crate::instance::Trigger::Subprocess,
                            operator: &child.operator,
                            start_item: child.start_item,
                            start_node: &child.start_node,
                            deadline: child.deadline,
                            idempotency_key: None,
                            parent: Some(($crate::id::Id(instance), child.parent_item)),
                            debug: false,
                            mock: false,
                            check: $crate::store::StartCheck::None,
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
                    // Queued jobs of its job nodes go too; a running one ends when its robot
                    // reports (the node no longer waits for it).
                    sqlx::query(
                        "update jobs set state = 'Cancelled', finished_at = $2,
                                message = 'its workflow was cancelled'
                          where instance_id = $1 and state = 'Queued'",
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
                Self::drop_work_in(tx, id).await?;
                Ok(())
            }

            /// Drops an ended instance's queued work, join arrivals and foreach iterations;
            /// returns how many rows went.
            async fn drop_work_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
            ) -> Result<u64, $crate::store::StoreError> {
                let mut dropped = 0;
                for table in ["work_items", "join_arrivals", "loop_iterations"] {
                    dropped += sqlx::query(&format!("delete from {table} where instance_id = $1"))
                        .bind(instance)
                        .execute(&mut **tx)
                        .await
                        .map_err($crate::store::StoreError::from_sqlx)?
                        .rows_affected();
                }
                Ok(dropped)
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
    };
}
