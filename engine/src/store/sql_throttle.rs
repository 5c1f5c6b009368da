//! The statements of sign-in throttling (see `throttle.rs`; `sql.rs` says why a macro).

macro_rules! impl_throttle_store {
    ($store:ty, begin: $begin:literal $(,)?) => {
        #[async_trait::async_trait]
        impl $crate::store::ThrottleStore for $store {
            async fn failures_since(
                &self,
                key: &str,
                since_ms: i64,
            ) -> Result<(i64, Option<i64>), $crate::store::StoreError> {
                sqlx::query_as(
                    "select count(*), min(at_ms) from login_failures
                      where key = $1 and at_ms >= $2",
                )
                .bind(key)
                .bind(since_ms)
                .fetch_one(&self.pool)
                .await
                .map_err($crate::store::StoreError::from_sqlx)
            }

            async fn record_failures(
                &self,
                keys: &[&str],
                at_ms: i64,
                forget_ms: i64,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let _write = self.write_guard().await;
                let mut tx = self
                    .pool
                    .begin_with($begin)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                sqlx::query("delete from login_failures where at_ms < $1")
                    .bind(forget_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from_sqlx)?;
                for key in keys {
                    sqlx::query("insert into login_failures (key, at_ms) values ($1, $2)")
                        .bind(*key)
                        .bind(at_ms)
                        .execute(&mut *tx)
                        .await
                        .map_err(StoreError::from_sqlx)?;
                }
                tx.commit().await.map_err(StoreError::from_sqlx)
            }

            async fn clear_failures(&self, key: &str) -> Result<(), $crate::store::StoreError> {
                let _write = self.write_guard().await;
                sqlx::query("delete from login_failures where key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::StoreError::from_sqlx)?;
                Ok(())
            }
        }
    };
}
