//! The statements of robots and jobs (see `workers.rs` for the model, `sql.rs` for why a macro).

macro_rules! impl_worker_store {
    ($store:ty, begin: $begin:literal, skip_locked: $skip_locked:literal, for_update: $for_update:literal $(,)?) => {
        impl_worker_helpers!($store, begin: $begin, skip_locked: $skip_locked);

        #[async_trait::async_trait]
        impl $crate::store::WorkerStore for $store {
            async fn create_queue(
                &self,
                queue: $crate::store::NewQueue<'_>,
            ) -> Result<$crate::store::Queue, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "insert into queues (id, name, description, created_by, created_at,
                                             updated_at, tags, department_id)
                         values ($1, $2, $3, $4, $5, $5, $6, $7)",
                    )
                    .bind(queue.id)
                    .bind(queue.name)
                    .bind(queue.description)
                    .bind(queue.created_by)
                    .bind(now)
                    .bind(serde_json::to_string(queue.tags).unwrap_or_else(|_| "[]".into()))
                    .bind(queue.department_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::worker_rows::unique(e, "queue name"))?;
                }
                self.queue(queue.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("queue {}", queue.id)))
            }

            async fn queues(&self) -> Result<Vec<$crate::store::Queue>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::worker_rows::QueueRow> =
                    sqlx::query_as(&format!("{} order by q.name", $crate::store::worker_rows::QUEUES))
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn queue(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::Queue>, $crate::store::StoreError> {
                let row: Option<$crate::store::worker_rows::QueueRow> =
                    sqlx::query_as(&format!("{} where q.id = $1", $crate::store::worker_rows::QUEUES))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(Into::into))
            }

            async fn update_queue(
                &self,
                id: &str,
                change: $crate::store::QueueChange<'_>,
            ) -> Result<$crate::store::Queue, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update queues set name = coalesce($2, name),
                                description = coalesce($3, description),
                                tags = coalesce($4, tags), updated_at = $5
                          where id = $1",
                    )
                    .bind(id)
                    .bind(change.name)
                    .bind(change.description)
                    .bind(change.tags.map(|t| serde_json::to_string(t).unwrap_or_default()))
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::worker_rows::unique(e, "queue name"))?;
                }
                self.queue(id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("queue {id}")))
            }

            async fn delete_queue(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                self.delete_unreferenced(
                    "delete from queues where id = $1
                        and not exists (select 1 from robots where queue_id = $1)
                        and not exists (select 1 from deployments where queue_id = $1)",
                    "select count(*) from queues where id = $1",
                    id,
                    "the robot group has robots or deployments",
                )
                .await
            }

            async fn create_robot(
                &self,
                robot: $crate::store::NewRobot<'_>,
            ) -> Result<$crate::store::Robot, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "insert into robots (id, name, description, queue_id, token_hash, status,
                                             created_at)
                         values ($1, $2, $3, $4, $5, 'disconnected', $6)",
                    )
                    .bind(robot.id)
                    .bind(robot.name)
                    .bind(robot.description)
                    .bind(robot.queue_id)
                    .bind(robot.token_hash)
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::worker_rows::unique(e, "robot name"))?;
                }
                self.robot(robot.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("robot {}", robot.id)))
            }

            async fn robots(
                &self,
                queue: Option<&str>,
            ) -> Result<Vec<$crate::store::Robot>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::worker_rows::RobotRow> = sqlx::query_as(&format!(
                    "select {} from robots where ($1 is null or queue_id = $1) order by name",
                    $crate::store::worker_rows::ROBOT_COLUMNS
                ))
                .bind(queue)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn robot(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::Robot>, $crate::store::StoreError> {
                self.robot_where("id = $1", id).await
            }

            async fn robot_by_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::store::Robot>, $crate::store::StoreError> {
                self.robot_where("token_hash = $1", token_hash).await
            }

            async fn heartbeat(
                &self,
                robot: &str,
                sdk_version: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::Robot, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update robots
                            set last_heartbeat_at = $2,
                                sdk_version = coalesce($3, sdk_version),
                                status = case when exists (
                                    select 1 from jobs where robot_id = $1 and state = 'Running')
                                  then 'busy' else 'ready' end
                          where id = $1",
                    )
                    .bind(robot)
                    .bind(now)
                    .bind(sdk_version)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                }
                self.robot(robot)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("robot {robot}")))
            }

            async fn create_deployment(
                &self,
                d: $crate::store::NewDeployment<'_>,
            ) -> Result<$crate::store::Deployment, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "insert into deployments (id, name, description, package_name,
                                package_version, queue_id, arguments, priority, max_retries,
                                trigger_policy, created_by, created_at, updated_at, department_id)
                         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
                    )
                    .bind(d.id)
                    .bind(d.name)
                    .bind(d.description)
                    .bind(d.package_name)
                    .bind(d.package_version)
                    .bind(d.queue_id)
                    .bind(sqlx::types::Json(d.arguments))
                    .bind(d.priority)
                    .bind(d.max_retries)
                    .bind(d.trigger_policy.as_str())
                    .bind(d.created_by)
                    .bind(now)
                    .bind(d.department_id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::worker_rows::unique(e, "deployment name"))?;
                }
                self.deployment(d.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("deployment {}", d.id)))
            }

            async fn deployments(
                &self,
            ) -> Result<Vec<$crate::store::Deployment>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::worker_rows::DeploymentRow> = sqlx::query_as(&format!(
                    "select {} from deployments order by name",
                    $crate::store::worker_rows::DEPLOYMENT_COLUMNS
                ))
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn deployment(
                &self,
                id_or_name: &str,
            ) -> Result<Option<$crate::store::Deployment>, $crate::store::StoreError> {
                let row: Option<$crate::store::worker_rows::DeploymentRow> = sqlx::query_as(&format!(
                    "select {} from deployments where id = $1 or name = $1
                      order by case when id = $1 then 0 else 1 end limit 1",
                    $crate::store::worker_rows::DEPLOYMENT_COLUMNS
                ))
                .bind(id_or_name)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn update_deployment(
                &self,
                id: &str,
                d: $crate::store::NewDeployment<'_>,
            ) -> Result<$crate::store::Deployment, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update deployments set name = $2, description = $3, package_name = $4,
                                package_version = $5, queue_id = $6, arguments = $7, priority = $8,
                                max_retries = $9, trigger_policy = $10, updated_at = $11
                          where id = $1",
                    )
                    .bind(id)
                    .bind(d.name)
                    .bind(d.description)
                    .bind(d.package_name)
                    .bind(d.package_version)
                    .bind(d.queue_id)
                    .bind(sqlx::types::Json(d.arguments))
                    .bind(d.priority)
                    .bind(d.max_retries)
                    .bind(d.trigger_policy.as_str())
                    .bind($crate::store::rows::now())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::worker_rows::unique(e, "deployment name"))?;
                }
                self.deployment(id)
                    .await?
                    .filter(|found| found.id == id)
                    .ok_or_else(|| StoreError::NotFound(format!("deployment {id}")))
            }

            async fn delete_deployment(&self, id: &str) -> Result<(), $crate::store::StoreError> {
                self.delete_unreferenced(
                    "delete from deployments where id = $1
                        and not exists (select 1 from jobs where deployment_id = $1)",
                    "select count(*) from deployments where id = $1",
                    id,
                    "the deployment has jobs",
                )
                .await
            }

            async fn create_job(
                &self,
                job: &$crate::store::NewJob,
            ) -> Result<$crate::store::Job, $crate::store::StoreError> {
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                    Self::insert_job_in(&mut tx, job, $crate::store::rows::now()).await?;
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                }
                self.job(&job.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("job {}", job.id)))
            }

            async fn job(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::Job>, $crate::store::StoreError> {
                let row: Option<$crate::store::worker_rows::JobRow> = sqlx::query_as(&format!(
                    "select {} from jobs where id = $1",
                    $crate::store::worker_rows::JOB_COLUMNS
                ))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn jobs(
                &self,
                query: &$crate::store::JobQuery,
            ) -> Result<$crate::store::Page<$crate::store::Job>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                const FILTER: &str = "from jobs where ($1 is null or queue_id = $1)
                                        and ($2 is null or instance_id = $2)";
                let instance = query.instance_id.map(|i| i.0);
                let total: i64 = sqlx::query_scalar(&format!("select count(*) {FILTER}"))
                    .bind(query.queue_id.as_deref())
                    .bind(instance)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                let rows: Vec<$crate::store::worker_rows::JobRow> = sqlx::query_as(&format!(
                    "select {} {FILTER} order by created_at desc, id limit $3 offset $4",
                    $crate::store::worker_rows::JOB_COLUMNS
                ))
                .bind(query.queue_id.as_deref())
                .bind(instance)
                .bind(query.limit)
                .bind(query.offset)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok($crate::store::Page {
                    items: rows
                        .into_iter()
                        .map(TryInto::try_into)
                        .collect::<Result<_, _>>()?,
                    total,
                })
            }

            async fn ready_robots(
                &self,
                deployment: &str,
                since: chrono::DateTime<chrono::Utc>,
            ) -> Result<i64, $crate::store::StoreError> {
                sqlx::query_scalar(
                    "select count(*) from robots r join deployments d on d.queue_id = r.queue_id
                      where d.id = $1 and r.status = 'ready' and r.last_heartbeat_at >= $2
                        and (not exists (select 1 from deployment_robots b
                                          where b.deployment_id = d.id)
                             or exists (select 1 from deployment_robots b
                                         where b.deployment_id = d.id and b.robot_id = r.id))",
                )
                .bind(deployment)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)
            }

            async fn claim_job(
                &self,
                robot: &str,
                now: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::Job>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let claimed: Option<String> = {
                    let _write = self.write_guard().await;
                    let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                    // Jobs whose node stopped waiting (its instance was cancelled) are dropped.
                    sqlx::query(
                        "update jobs set state = 'Cancelled', finished_at = $2,
                                message = 'the workflow no longer waits for it'
                          where state = 'Queued'
                            and queue_id = (select queue_id from robots where id = $1)
                            and callback_hash is not null
                            and not exists (select 1 from callbacks c
                                             where c.token_hash = jobs.callback_hash
                                               and c.status = 'waiting')",
                    )
                    .bind(robot)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    let next: Option<String> = sqlx::query_scalar(concat!(
                        "select id from jobs
                          where state = 'Queued'
                            and queue_id = (select queue_id from robots where id = $1)
                            and (lost_by is null or lost_by <> $1)
                            and (not exists (select 1 from deployment_robots b
                                              where b.deployment_id = jobs.deployment_id)
                                 or exists (select 1 from deployment_robots b
                                             where b.deployment_id = jobs.deployment_id
                                               and b.robot_id = $1))
                          order by priority desc, created_at, id
                          limit 1 ",
                        $skip_locked
                    ))
                    .bind(robot)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if let Some(id) = &next {
                        let taken = sqlx::query(
                            "update jobs set state = 'Running', robot_id = $2, lease_until = $3,
                                    started_at = coalesce(started_at, $4)
                              where id = $1 and state = 'Queued'",
                        )
                        .bind(id)
                        .bind(robot)
                        .bind(until)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                        if taken.rows_affected() == 1 {
                            sqlx::query("update robots set status = 'busy', last_heartbeat_at = $2 where id = $1")
                                .bind(robot)
                                .bind(now)
                                .execute(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                        }
                    }
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                    next
                };
                match claimed {
                    Some(id) => self.job(&id).await,
                    None => Ok(None),
                }
            }

            async fn job_progress(
                &self,
                robot: &str,
                job: &str,
                message: Option<&str>,
                until: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::Job, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let moved = {
                    let _write = self.write_guard().await;
                    sqlx::query(
                        "update jobs set lease_until = $3, message = coalesce($4, message)
                          where id = $1 and robot_id = $2 and state = 'Running'",
                    )
                    .bind(job)
                    .bind(robot)
                    .bind(until)
                    .bind(message)
                    .execute(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?
                    .rows_affected()
                };
                if moved == 0 {
                    return Err(self.not_running(robot, job).await);
                }
                self.job(job)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("job {job}")))
            }

            async fn finish_job(
                &self,
                f: $crate::store::JobFinish<'_>,
            ) -> Result<$crate::store::Job, $crate::store::StoreError> {
                use $crate::store::waits::answer;
                use $crate::store::StoreError;
                {
                    let _write = self.write_guard().await;
                    let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                    let current: Option<(Option<String>, i32, i32)> = sqlx::query_as(concat!(
                        "select callback_hash, retried_count, max_retries from jobs
                          where id = $1 and robot_id = $2 and state = 'Running' ",
                        $for_update
                    ))
                    .bind(f.job)
                    .bind(f.robot)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    let Some((callback, retried, max_retries)) = current else {
                        drop(tx);
                        return Err(self.not_running(f.robot, f.job).await);
                    };
                    let retry = !f.succeeded && retried < max_retries;
                    let state = if f.succeeded {
                        "Succeeded"
                    } else if retry {
                        "Queued"
                    } else {
                        "Failed"
                    };
                    sqlx::query(
                        "update jobs
                            set state = $2, message = $3, output = $4,
                                retried_count = retried_count + $5,
                                robot_id = case when $5 = 1 then null else robot_id end,
                                lease_until = null,
                                finished_at = case when $5 = 1 then null else $6 end
                          where id = $1",
                    )
                    .bind(f.job)
                    .bind(state)
                    .bind(f.message)
                    .bind(sqlx::types::Json(f.output))
                    .bind(i32::from(retry))
                    .bind(f.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    sqlx::query(
                        "update robots set status = 'ready', last_heartbeat_at = $2 where id = $1",
                    )
                    .bind(f.robot)
                    .bind(f.now)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                    if let (Some(hash), false) = (callback, retry) {
                        let detail = serde_json::json!({
                            "job": f.job, "robot": f.robot, "output": f.output, "message": f.message,
                        });
                        let (status, result) = if f.succeeded {
                            ("succeeded", answer::completed(detail.clone()))
                        } else {
                            ("failed", answer::failed("job_failed", f.message, detail.clone()))
                        };
                        // The node may have stopped waiting (cancelled): the job still ends.
                        Self::end_callback_in(&mut tx, &hash, status, Some(&detail), &result, f.now)
                            .await?;
                    }
                    tx.commit().await.map_err(StoreError::from_sqlx)?;
                }
                self.job(f.job)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("job {}", f.job)))
            }

            async fn recover_jobs(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                silent_since: chrono::DateTime<chrono::Utc>,
            ) -> Result<usize, $crate::store::StoreError> {
                self.recover(now, silent_since).await
            }
        }
    };
}
