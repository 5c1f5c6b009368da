//! The statements of waiting nodes: human tasks, callbacks, subprocesses (see `waits.rs` for the
//! model and `sql.rs` for why a macro).

macro_rules! impl_wait_store {
    (
        $store:ty,
        begin: $begin:literal,
        // Appended to the select of due waits: `for update skip locked` on PostgreSQL.
        skip_locked: $skip_locked:literal $(,)?
    ) => {
        impl_wait_helpers!($store);

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
