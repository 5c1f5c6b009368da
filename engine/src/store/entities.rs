//! The entity catalog (types, records and the links between them kept from the records'
//! reference attributes) and the preview sessions that resolve bindings against it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Page, StoreError};
use crate::entity::{EntityRecord, EntityType};

#[async_trait]
pub trait EntityStore: Send + Sync {
    /// Creates or replaces an entity type.
    async fn put_entity_type(&self, entity_type: &EntityType) -> Result<(), StoreError>;

    async fn entity_types(&self) -> Result<Vec<EntityType>, StoreError>;

    async fn entity_type(&self, id: &str) -> Result<Option<EntityType>, StoreError>;

    /// Removes a type that has no records (`Conflict` when it has); `false` when there was none.
    async fn delete_entity_type(&self, id: &str) -> Result<bool, StoreError>;

    /// Creates or replaces records, with their links (`(from, attribute, to)`, replacing the
    /// records' old ones), all in one transaction.
    async fn put_entity_records(
        &self,
        records: &[EntityRecord],
        links: &[(String, String, String)],
    ) -> Result<(), StoreError>;

    async fn entity_record(&self, guid: &str) -> Result<Option<EntityRecord>, StoreError>;

    /// Records of a type, by display name, matching `q` (part of the display name or guid).
    async fn entity_records(
        &self,
        entity_type: &str,
        q: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<EntityRecord>, StoreError>;

    /// Removes a record and its links; `false` when there was none, `Conflict` while other
    /// records reference it.
    async fn delete_entity_record(&self, guid: &str) -> Result<bool, StoreError>;

    /// One step of a walk: for each of `from`, the records of `entity_type` it references
    /// (`forward`, through `attribute` or any attribute when `None`) or that reference it
    /// through `attribute` (backward). Returns `(the record walked from, the record reached)`.
    async fn entity_neighbours(
        &self,
        from: &[String],
        forward: bool,
        attribute: Option<&str>,
        entity_type: &str,
    ) -> Result<Vec<(String, EntityRecord)>, StoreError>;

    async fn save_preview(&self, session: &PreviewSession) -> Result<(), StoreError>;

    /// A session that has not expired at `now`.
    async fn preview(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PreviewSession>, StoreError>;
}

/// What a preview resolved, kept so that a start can refer to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewSession {
    pub id: String,
    pub definition_key: String,
    pub version: i32,
    pub root_guid: String,
    pub tree: Value,
    pub bindings: Value,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
