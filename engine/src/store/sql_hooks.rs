//! The statements of instance hooks (see `hooks.rs` for the model and `sql.rs` for why a macro).

macro_rules! impl_hook_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::HookStore for $store {
            async fn add_hook(
                &self,
                hook: $crate::store::NewHook<'_>,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = $crate::store::rows::now();
                let _write = self.write_guard().await;
                sqlx::query(
                    "insert into instance_hooks (id, instance_id, url, format, state, attempts,
                                                 next_at, created_at)
                     values ($1, $2, $3, $4, 'pending', 0, $5, $5)",
                )
                .bind(hook.id.0)
                .bind(hook.instance_id.0)
                .bind(hook.url)
                .bind(hook.format)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn claim_hooks(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                until: chrono::DateTime<chrono::Utc>,
                limit: i64,
            ) -> Result<Vec<$crate::store::Hook>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                // The outer `next_at <= $1` is checked again on a row another process changed
                // meanwhile (PostgreSQL re-reads a locked row), so a hook is claimed once.
                let rows: Vec<(i64, i64, String, String, String, i32, Option<String>)> =
                    sqlx::query_as(
                        "update instance_hooks
                            set next_at = $2, attempts = attempts + 1
                          where state = 'pending' and next_at <= $1
                            and id in (
                                select h.id from instance_hooks h
                                  join instances i on i.id = h.instance_id
                                 where h.state = 'pending' and h.next_at <= $1
                                   and i.status in ('completed', 'failed', 'cancelled')
                                 order by h.next_at, h.id
                                 limit $3)
                          returning id, instance_id, url, format, state, attempts, last_error",
                    )
                    .bind(now)
                    .bind(until)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Self::hook_row).collect())
            }

            async fn record_hook(
                &self,
                id: $crate::id::Id,
                outcome: $crate::store::HookOutcome,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::{HookOutcome, StoreError};
                let now = $crate::store::rows::now();
                let (state, error, next_at) = match outcome {
                    HookOutcome::Delivered => ("delivered", None, now),
                    HookOutcome::Retry { error, at } => ("pending", Some(error), at),
                    HookOutcome::Failed { error } => ("failed", Some(error), now),
                };
                let _write = self.write_guard().await;
                sqlx::query(
                    "update instance_hooks
                        set state = $2, last_error = coalesce($3, last_error), next_at = $4,
                            delivered_at = case when $2 = 'delivered' then $5 end
                      where id = $1",
                )
                .bind(id.0)
                .bind(state)
                .bind(error)
                .bind(next_at)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(StoreError::from_sqlx)?;
                Ok(())
            }

            async fn hooks_of(
                &self,
                instance: $crate::id::Id,
            ) -> Result<Vec<$crate::store::Hook>, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let rows: Vec<(i64, i64, String, String, String, i32, Option<String>)> =
                    sqlx::query_as(
                        "select id, instance_id, url, format, state, attempts, last_error
                           from instance_hooks where instance_id = $1 order by id",
                    )
                    .bind(instance.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                Ok(rows.into_iter().map(Self::hook_row).collect())
            }
        }

        impl $store {
            fn hook_row(
                (id, instance_id, url, format, state, attempts, last_error): (
                    i64,
                    i64,
                    String,
                    String,
                    String,
                    i32,
                    Option<String>,
                ),
            ) -> $crate::store::Hook {
                $crate::store::Hook {
                    id: $crate::id::Id(id),
                    instance_id: $crate::id::Id(instance_id),
                    url,
                    format,
                    state,
                    attempts,
                    last_error,
                }
            }
        }
    };
}
