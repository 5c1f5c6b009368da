//! Requests sent when an instance ends (see `runtime::hooks`): a Rill Flow submit's `callback`
//! URL. A hook is claimed once its instance is completed, failed or cancelled; a claim moves its
//! due time past the sending, so two processes never send it at once, and a process that dies
//! mid-send leaves it to be sent again when the claim lapses (at least once).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::id::Id;

#[async_trait]
pub trait HookStore: Send + Sync {
    async fn add_hook(&self, hook: NewHook<'_>) -> Result<(), StoreError>;

    /// Up to `limit` pending hooks due at `now` whose instance has ended, each claimed until
    /// `until` (its attempts counted).
    async fn claim_hooks(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Hook>, StoreError>;

    /// How a claimed hook's sending went.
    async fn record_hook(&self, id: Id, outcome: HookOutcome) -> Result<(), StoreError>;

    /// The hooks of an instance, oldest first.
    async fn hooks_of(&self, instance: Id) -> Result<Vec<Hook>, StoreError>;
}

#[derive(Debug, Clone, Copy)]
pub struct NewHook<'a> {
    pub id: Id,
    pub instance_id: Id,
    pub url: &'a str,
    /// Which surface shapes the body (`rill`); `""` for Baton's own.
    pub format: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub id: Id,
    pub instance_id: Id,
    pub url: String,
    pub format: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    Delivered,
    /// Try again at the time given.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Given up.
    Failed {
        error: String,
    },
}
