//! The statements of compensation phases (see `actions.rs` for the model and `sql.rs` for why a
//! macro).

macro_rules! impl_action_store {
    ($store:ty, begin: $begin:literal, for_update: $for_update:literal $(,)?) => {
        impl $store {
            /// Queues the first step of a phase, due at once.
            async fn queue_phase_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                phase: $crate::definition::Phase,
                item: $crate::id::Id,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let input = $crate::store::actions::phase_input(phase, &[]);
                Self::insert_phase_item_in(tx, instance, item, &input, now).await?;
                Self::announce(tx).await
            }

            /// A step of a phase in the queue, due at once.
            async fn insert_phase_item_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                item: $crate::id::Id,
                input: &serde_json::Value,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "insert into work_items (id, instance_id, node_id, from_node, live, due_at, input)
                     values ($1, $2, $3, null, $4, $5, $6)",
                )
                .bind(item.0)
                .bind(instance)
                .bind($crate::store::ACTIONS_NODE)
                .bind(true)
                .bind(now)
                .bind(sqlx::types::Json(input))
                .execute(&mut **tx)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }

            /// Ends an instance as failed now, or — when `rollback` names the first step of
            /// its rollback — marks it `rolling_back` (it fails when the rollback is over).
            /// Its queued work is dropped and what it waits on ends. Returns the status and the
            /// event to append after the step's own.
            async fn fail_in(
                tx: &mut sqlx::Transaction<'_, <Self as $crate::store::sql_backend::Backend>::Db>,
                instance: i64,
                error: &serde_json::Value,
                created: chrono::DateTime<chrono::Utc>,
                rollback: Option<$crate::id::Id>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<($crate::instance::InstanceStatus, $crate::store::NewEvent), $crate::store::StoreError> {
                use $crate::instance::InstanceStatus;
                use $crate::store::StoreError;
                let status = if rollback.is_some() {
                    InstanceStatus::RollingBack
                } else {
                    InstanceStatus::Failed
                };
                let cost = (now - created).num_milliseconds().max(0);
                let ended = rollback.is_none();
                sqlx::query(
                    "update instances set status = $2, error = $3, ended_at = $4, cost_ms = $5,
                            step_rev = step_rev + 1
                      where id = $1",
                )
                .bind(instance)
                .bind(status.as_str())
                .bind(sqlx::types::Json(error))
                .bind(ended.then_some(now))
                .bind(ended.then_some(cost))
                .execute(&mut **tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                Self::drop_work_in(tx, instance).await?;
                Self::end_waits_in(tx, instance, InstanceStatus::Failed, ended, now).await?;
                let event = match rollback {
                    Some(item) => {
                        Self::queue_phase_in(tx, instance, $crate::definition::Phase::Rollback, item, now)
                            .await?;
                        $crate::store::NewEvent {
                            node_id: None,
                            kind: "instance.rolling_back",
                            data: serde_json::json!({"error": error}),
                        }
                    }
                    None => $crate::store::NewEvent {
                        node_id: None,
                        kind: "instance.failed",
                        data: serde_json::json!({"cost_ms": cost, "error": error}),
                    },
                };
                Ok((status, event))
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ActionStore for $store {
            async fn request_delete(
                &self,
                instance: $crate::id::Id,
                item: $crate::id::Id,
                actor: &str,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let status: Option<String> = sqlx::query_scalar(concat!(
                    "select status from instances where id = $1 ",
                    $for_update
                ))
                .bind(instance.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                let status =
                    status.ok_or_else(|| StoreError::NotFound(format!("instance {instance}")))?;
                if !["completed", "failed", "cancelled"].contains(&status.as_str()) {
                    return Err(StoreError::Conflict(format!(
                        "instance {instance} is {status}; only an ended instance is deleted"
                    )));
                }
                let busy: i64 = sqlx::query_scalar(
                    "select count(*) from work_items where instance_id = $1 and node_id = $2",
                )
                .bind(instance.0)
                .bind($crate::store::ACTIONS_NODE)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                if busy > 0 {
                    return Err(StoreError::Conflict(format!(
                        "instance {instance} is still running its cancel or cleanup actions"
                    )));
                }
                Self::queue_phase_in(&mut tx, instance.0, $crate::definition::Phase::Delete, item, now)
                    .await?;
                let event = $crate::store::NewEvent {
                    node_id: None,
                    kind: "instance.delete_requested",
                    data: serde_json::json!({"by": actor}),
                };
                Self::append_events(&mut tx, instance.0, &[event], now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn note_event(
                &self,
                instance: $crate::id::Id,
                event: $crate::store::NewEvent,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                Self::append_events(&mut tx, instance.0, &[event], now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn record_action(
                &self,
                step: $crate::store::ActionStep<'_>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::definition::Phase;
                use $crate::store::{NewEvent, StoreError};
                let now = $crate::store::rows::now();
                let instance = step.instance_id.0;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let removed = sqlx::query("delete from work_items where id = $1 and lease_owner = $2")
                    .bind(step.item.0)
                    .bind(step.lease_owner)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                if removed.rows_affected() == 0 {
                    return Err(StoreError::LeaseLost);
                }
                let mut events = Vec::new();
                if let Some(ran) = &step.ran {
                    if ran.ok && step.phase == Phase::Rollback {
                        sqlx::query("update node_runs set status = 'compensated' where id = $1")
                            .bind(ran.run.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                    }
                    events.push(NewEvent {
                        node_id: Some(ran.node_id.clone()),
                        kind: match (step.phase, ran.ok) {
                            (Phase::Rollback, true) => "rollback.success",
                            (Phase::Rollback, false) => "rollback.failed",
                            (Phase::Cancel, true) => "cancel.success",
                            (Phase::Cancel, false) => "cancel.failed",
                            (Phase::Delete, true) => "delete.success",
                            (Phase::Delete, false) => "delete.failed",
                        },
                        data: serde_json::json!({"run": ran.run, "detail": ran.detail}),
                    });
                }
                match &step.next {
                    Some((item, input)) => {
                        Self::insert_phase_item_in(&mut tx, instance, *item, input, now).await?;
                    }
                    None => match step.phase {
                        Phase::Rollback => {
                            let ended: Option<(chrono::DateTime<chrono::Utc>, Option<sqlx::types::Json<serde_json::Value>>)> =
                                sqlx::query_as(
                                    "select created_at, error from instances
                                      where id = $1 and status = 'rolling_back'",
                                )
                                .bind(instance)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                            if let Some((created, error)) = ended {
                                let cost = (now - created).num_milliseconds().max(0);
                                sqlx::query(
                                    "update instances set status = 'failed', ended_at = $2,
                                            cost_ms = $3
                                      where id = $1",
                                )
                                .bind(instance)
                                .bind(now)
                                .bind(cost)
                                .execute(&mut *tx)
                                .await
                                .map_err(StoreError::from_sqlx)?;
                                Self::end_waits_in(
                                    &mut tx,
                                    instance,
                                    $crate::instance::InstanceStatus::Failed,
                                    true,
                                    now,
                                )
                                .await?;
                                events.push(NewEvent {
                                    node_id: None,
                                    kind: "instance.failed",
                                    data: serde_json::json!({
                                        "cost_ms": cost,
                                        "error": error.map(|e| e.0),
                                        "rolled_back": true,
                                    }),
                                });
                            }
                        }
                        Phase::Cancel => events.push(NewEvent {
                            node_id: None,
                            kind: "instance.cancel_actions_done",
                            data: serde_json::json!({}),
                        }),
                        Phase::Delete => events.push(NewEvent {
                            node_id: None,
                            kind: "instance.deleted",
                            data: serde_json::json!({}),
                        }),
                    },
                }
                Self::append_events(&mut tx, instance, &events, now).await?;
                tx.commit().await.map_err(StoreError::from_sqlx)
            }
        }
    };
}
