//! Helpers of the robots statements (see `sql_workers.rs`), inside each adapter's impl.

macro_rules! impl_worker_helpers {
    ($store:ty, begin: $begin:literal, skip_locked: $skip_locked:literal $(,)?) => {
        impl $store {
            /// See `WorkerStore::recover_jobs`.
            async fn recover(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                silent_since: chrono::DateTime<chrono::Utc>,
            ) -> Result<usize, $crate::store::StoreError> {
                use $crate::store::waits::answer;
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                sqlx::query(
                    "update robots set status = 'disconnected'
                      where status <> 'disconnected'
                        and (last_heartbeat_at is null or last_heartbeat_at < $1)",
                )
                .bind(silent_since)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let lost: Vec<(String, Option<String>, i32, Option<String>)> =
                    sqlx::query_as(concat!(
                        "select id, robot_id, requeued, callback_hash from jobs
                          where state = 'Running' and lease_until < $1
                          order by id limit 100 ",
                        $skip_locked
                    ))
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                for (id, robot, requeued, callback) in &lost {
                    if *requeued == 0 {
                        sqlx::query(
                            "update jobs set state = 'Queued', requeued = 1, lost_by = robot_id,
                                    robot_id = null, lease_until = null,
                                    message = 'its robot stopped answering; queued again'
                              where id = $1",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        continue;
                    }
                    let message = "its robot stopped answering a second time";
                    sqlx::query(
                        "update jobs set state = 'Failed', lease_until = null, finished_at = $2,
                                message = $3
                          where id = $1",
                    )
                    .bind(id)
                    .bind(now)
                    .bind(message)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if let Some(hash) = callback {
                        let detail = serde_json::json!({"job": id, "robot": robot});
                        let result = answer::failed("job_lost", message, detail.clone());
                        Self::end_callback_in(&mut tx, hash, "failed", Some(&detail), &result, now)
                            .await?;
                    }
                }
                tx.commit().await.map_err(StoreError::from_sqlx)?;
                Ok(lost.len())
            }

            /// Runs `delete` (which deletes only what nothing refers to); when it deleted
            /// nothing, `NotFound` or `Conflict` (`why`), as `count` finds the row or not.
            async fn delete_unreferenced(
                &self,
                delete: &str,
                count: &str,
                id: &str,
                why: &str,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let gone = sqlx::query(delete)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if gone.rows_affected() > 0 {
                    return Ok(());
                }
                let there: i64 = sqlx::query_scalar(count)
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Err(if there == 0 {
                    StoreError::NotFound(id.to_string())
                } else {
                    StoreError::Conflict(why.to_string())
                })
            }

            async fn robot_where(
                &self,
                condition: &str,
                value: &str,
            ) -> Result<Option<$crate::store::Robot>, $crate::store::StoreError> {
                let row: Option<$crate::store::worker_rows::RobotRow> = sqlx::query_as(&format!(
                    "select {} from robots where {condition}",
                    $crate::store::worker_rows::ROBOT_COLUMNS
                ))
                .bind(value)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(Into::into))
            }

            /// Why a robot may not report on a job: it does not exist, or it is not running on
            /// this robot (any more).
            async fn not_running(&self, robot: &str, job: &str) -> $crate::store::StoreError {
                match $crate::store::WorkerStore::job(self, job).await {
                    Ok(Some(j)) if j.robot_id.as_deref() == Some(robot) || j.robot_id.is_none() => {
                        $crate::store::StoreError::Conflict(format!(
                            "job {job} is {} and no longer this robot's",
                            j.state
                        ))
                    }
                    Ok(Some(j)) => $crate::store::StoreError::Conflict(format!(
                        "job {job} is {} on another robot",
                        j.state
                    )),
                    Ok(None) => $crate::store::StoreError::NotFound(format!("job {job}")),
                    Err(e) => e,
                }
            }

            /// Queues a job inside a transaction (a `job` node's, with its waiting run).
            pub(crate) async fn insert_job_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                job: &$crate::store::NewJob,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "insert into jobs (id, deployment_id, queue_id, instance_id, node_id,
                            callback_hash, arguments, priority, max_retries, state, created_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'Queued', $10)",
                )
                .bind(&job.id)
                .bind(&job.deployment_id)
                .bind(&job.queue_id)
                .bind(job.instance_id.map(|i| i.0))
                .bind(job.node_id.as_deref())
                .bind(job.callback_hash.as_deref())
                .bind(sqlx::types::Json(&job.arguments))
                .bind(job.priority)
                .bind(job.max_retries)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }
        }
    };
}
