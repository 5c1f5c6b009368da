//! Triggers in force: the cron schedules and webhooks of each definition's latest published
//! version (see [`crate::definition::TriggerSpec`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;
use crate::definition::TriggerSpec;

#[async_trait]
pub trait TriggerStore: Send + Sync {
    /// Makes `triggers` the ones in force for `key`: new and changed cron triggers are due at
    /// their next time after `now`; unchanged ones keep theirs; webhooks keep their token;
    /// triggers no longer listed go.
    async fn sync_triggers(
        &self,
        key: &str,
        triggers: &[TriggerSpec],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    async fn triggers(&self, key: &str) -> Result<Vec<TriggerRecord>, StoreError>;

    /// Cron triggers due at `now`, oldest first.
    async fn due_triggers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<TriggerRecord>, StoreError>;

    /// Moves a cron trigger from the tick `from` to `to`; `false` when another process moved
    /// it first.
    async fn advance_trigger(
        &self,
        key: &str,
        name: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives a webhook a new token (by its hash); the old one stops working. `NotFound` when
    /// `key` has no webhook of that name.
    async fn set_hook_token(
        &self,
        key: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<(), StoreError>;

    /// The webhook whose token hashes to `token_hash`.
    async fn hook_by_token(&self, token_hash: &str) -> Result<Option<TriggerRecord>, StoreError>;
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TriggerRecord {
    pub definition_key: String,
    pub name: String,
    /// `cron` or `webhook`.
    pub kind: String,
    pub schedule: Option<String>,
    pub input: Option<Value>,
    pub next_fire_at: Option<DateTime<Utc>>,
    /// A webhook has a token (only its hash is kept; it was shown once, when issued).
    pub has_token: bool,
}
