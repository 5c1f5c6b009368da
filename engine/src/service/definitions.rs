//! Drafts, publishing and versions: a draft per key may be saved while still invalid (the
//! designer saves work in progress), but only a valid draft becomes a version.

use std::sync::Arc;

use serde_json::Value;

use crate::definition::{Definition, DefinitionRecord, Issue, VersionRecord};
use crate::id::IdGenerator;
use crate::store::{NewDraft, NewVersion, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The document cannot be accepted; every issue is listed.
    #[error("the definition has {} issue(s)", .0.len())]
    Invalid(Vec<Issue>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A draft as saved, with what still stands between it and publishing.
#[derive(Debug, Clone)]
pub struct SavedDraft {
    pub record: DefinitionRecord,
    pub issues: Vec<Issue>,
}

#[derive(Clone)]
pub struct DefinitionService {
    store: Arc<dyn Store>,
    ids: IdGenerator,
}

impl DefinitionService {
    pub fn new(store: Arc<dyn Store>, ids: IdGenerator) -> Self {
        Self { store, ids }
    }

    /// Saves `document` as the draft of its key. The document must be readable as a definition
    /// (its shape: known kinds and fields); its graph may still have issues, which are returned.
    pub async fn save_draft(
        &self,
        document: Value,
        actor: &str,
    ) -> Result<SavedDraft, ServiceError> {
        let definition = Definition::from_value(document).map_err(ServiceError::Invalid)?;
        let key_issues: Vec<Issue> = definition
            .check()
            .into_iter()
            .filter(|i| i.node.is_none() && i.field.as_deref() == Some("key"))
            .collect();
        if !key_issues.is_empty() {
            // Without a usable key there is nowhere to save it.
            return Err(ServiceError::Invalid(key_issues));
        }
        let canonical = serde_json::to_value(&definition)
            .map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))?;
        let record = self
            .store
            .save_draft(NewDraft {
                key: &definition.key,
                name: &definition.name,
                document: &canonical,
                actor,
            })
            .await?;
        Ok(SavedDraft {
            record,
            issues: definition.check(),
        })
    }

    /// Freezes the key's draft as its next version, if it is valid.
    pub async fn publish(&self, key: &str, actor: &str) -> Result<VersionRecord, ServiceError> {
        let record = self
            .store
            .definition(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("definition `{key}`")))?;
        let (Some(draft), Some(stamp)) = (record.draft, record.draft_updated_at) else {
            return Err(StoreError::Conflict(format!(
                "definition `{key}` has no draft to publish"
            ))
            .into());
        };
        let definition = Definition::from_value(draft).map_err(ServiceError::Invalid)?;
        let issues = definition.check();
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        let document = serde_json::to_value(&definition)
            .map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))?;
        let version = self
            .store
            .publish(NewVersion {
                id: self.ids.next_id(),
                key,
                draft_updated_at: &stamp,
                document: &document,
                actor,
            })
            .await?;
        // The new version's triggers are the ones in force from now on.
        self.store
            .sync_triggers(key, &definition.triggers, chrono::Utc::now())
            .await?;
        Ok(version)
    }

    /// A published version read back as a definition, or the latest when `version` is `None`.
    pub async fn version(
        &self,
        key: &str,
        version: Option<i32>,
    ) -> Result<(VersionRecord, Definition), ServiceError> {
        let record = self.store.version(key, version).await?.ok_or_else(|| {
            StoreError::NotFound(match version {
                Some(v) => format!("version {v} of `{key}`"),
                None => format!("a published version of `{key}`"),
            })
        })?;
        let definition = Definition::from_value(record.document.clone()).map_err(|issues| {
            StoreError::Corrupt(format!("version {}: {issues:?}", record.version))
        })?;
        Ok((record, definition))
    }
}
