//! The statements of triggers (see `triggers.rs` for the model and `sql.rs` for why a macro).

macro_rules! impl_trigger_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::TriggerStore for $store {
            async fn sync_triggers(
                &self,
                key: &str,
                triggers: &[$crate::definition::TriggerSpec],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::definition::TriggerSpec;
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self.pool.begin_with($begin).await.map_err(StoreError::from_sqlx)?;
                let current: Vec<(String, String, Option<String>)> = sqlx::query_as(
                    "select name, kind, schedule from triggers where definition_key = $1",
                )
                .bind(key)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::from_sqlx)?;
                for (name, _, _) in &current {
                    if !triggers.iter().any(|t| t.name() == name) {
                        sqlx::query("delete from triggers where definition_key = $1 and name = $2")
                            .bind(key)
                            .bind(name)
                            .execute(&mut *tx)
                            .await
                            .map_err(StoreError::from_sqlx)?;
                    }
                }
                for trigger in triggers {
                    let same = current.iter().find(|(name, _, _)| name == trigger.name());
                    let (schedule, input, next) = match trigger {
                        TriggerSpec::Cron { schedule, input, .. } => {
                            let next = $crate::definition::trigger::next_fire(schedule, now)
                                .map_err(StoreError::Conflict)?;
                            (Some(schedule.as_str()), input.clone(), Some(next))
                        }
                        TriggerSpec::Webhook { .. } => (None, None, None),
                    };
                    let unchanged = same.is_some_and(|(_, kind, old)| {
                        kind == trigger.kind() && old.as_deref() == schedule
                    });
                    if same.is_some() {
                        sqlx::query(
                            "update triggers
                                set kind = $3, schedule = $4, input = $5, updated_at = $6,
                                    next_fire_at = case when $7 then next_fire_at else $8 end,
                                    token_hash = case when $3 = 'webhook' then token_hash end
                              where definition_key = $1 and name = $2",
                        )
                        .bind(key)
                        .bind(trigger.name())
                        .bind(trigger.kind())
                        .bind(schedule)
                        .bind(input.as_ref().map(sqlx::types::Json))
                        .bind(now)
                        .bind(unchanged)
                        .bind(next)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    } else {
                        sqlx::query(
                            "insert into triggers
                                 (definition_key, name, kind, schedule, input, next_fire_at,
                                  updated_at)
                             values ($1, $2, $3, $4, $5, $6, $7)",
                        )
                        .bind(key)
                        .bind(trigger.name())
                        .bind(trigger.kind())
                        .bind(schedule)
                        .bind(input.as_ref().map(sqlx::types::Json))
                        .bind(next)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                    }
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn triggers(
                &self,
                key: &str,
            ) -> Result<Vec<$crate::store::TriggerRecord>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::TriggerRow> = sqlx::query_as(
                    "select definition_key, name, kind, schedule, input, next_fire_at,
                            token_hash is not null as has_token
                       from triggers where definition_key = $1 order by name",
                )
                .bind(key)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn due_triggers(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::store::TriggerRecord>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::rows::TriggerRow> = sqlx::query_as(
                    "select definition_key, name, kind, schedule, input, next_fire_at,
                            token_hash is not null as has_token
                       from triggers where next_fire_at <= $1
                      order by next_fire_at limit $2",
                )
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn advance_trigger(
                &self,
                key: &str,
                name: &str,
                from: chrono::DateTime<chrono::Utc>,
                to: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                let _write = self.write_guard().await;
                let moved = sqlx::query(
                    "update triggers set next_fire_at = $4
                      where definition_key = $1 and name = $2 and next_fire_at = $3",
                )
                .bind(key)
                .bind(name)
                .bind(from)
                .bind(to)
                .execute(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(moved.rows_affected() > 0)
            }

            async fn set_hook_token(
                &self,
                key: &str,
                name: &str,
                token_hash: &str,
            ) -> Result<(), $crate::store::StoreError> {
                let _write = self.write_guard().await;
                let set = sqlx::query(
                    "update triggers set token_hash = $3
                      where definition_key = $1 and name = $2 and kind = 'webhook'",
                )
                .bind(key)
                .bind(name)
                .bind(token_hash)
                .execute(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                if set.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound(format!(
                        "webhook `{name}` of `{key}`"
                    )));
                }
                Ok(())
            }

            async fn hook_by_token(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::store::TriggerRecord>, $crate::store::StoreError> {
                let row: Option<$crate::store::rows::TriggerRow> = sqlx::query_as(
                    "select definition_key, name, kind, schedule, input, next_fire_at,
                            token_hash is not null as has_token
                       from triggers where token_hash = $1 and kind = 'webhook'",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(row.map(Into::into))
            }
        }
    };
}
