//! Failed sign-ins, kept in the database so that every server process sharing it throttles the
//! same guesses (see `service::access`).

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait ThrottleStore: Send + Sync {
    /// How many failures `key` has at or after `since_ms`, and the time of the oldest of them.
    async fn failures_since(
        &self,
        key: &str,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError>;

    /// Records a failure for each key at `at_ms`, and forgets every failure before `forget_ms`.
    async fn record_failures(
        &self,
        keys: &[&str],
        at_ms: i64,
        forget_ms: i64,
    ) -> Result<(), StoreError>;

    /// Forgets the failures of `key` (a successful sign-in).
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
}
