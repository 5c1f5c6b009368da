//! Drafts, publishing and versions: a draft per key may be saved while still invalid (the
//! designer saves work in progress), but only a valid draft becomes a version.

use std::sync::Arc;

use serde_json::Value;

use crate::definition::{
    Definition, DefinitionRecord, DefinitionStatus, DefinitionSummary, Issue, VersionRecord,
};
use crate::id::IdGenerator;
use crate::people::{Grant, Permission, Role, User, DEFAULT_GRANTS};
use crate::store::{DefinitionQuery, NewDraft, NewVersion, Page, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The document cannot be accepted; every issue is listed.
    #[error("the definition has {} issue(s)", .0.len())]
    Invalid(Vec<Issue>),
    /// The caller sees the definition but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Includes `NotFound` for a definition the caller may not see (its existence is not
    /// revealed) and `Conflict` for a key that exists.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A draft as saved, with what still stands between it and publishing.
#[derive(Debug, Clone)]
pub struct SavedDraft {
    pub record: DefinitionRecord,
    pub issues: Vec<Issue>,
}

/// See [`DefinitionService::overview`].
#[derive(Debug, Clone)]
pub struct Overview {
    pub record: DefinitionRecord,
    pub versions: Vec<VersionRecord>,
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

    /// What `user` may do with the definition `key`, checked on the object: `NotFound` when they
    /// may not even see it, `Forbidden` when they see it but lack `needed`. Returns its grants.
    pub async fn authorize(
        &self,
        user: &User,
        key: &str,
        needed: Permission,
    ) -> Result<Vec<Grant>, ServiceError> {
        let grants = self.store.grants(key).await?;
        if !user.may(&grants, Permission::Use)
            || !super::scope::sees_definition(self.store.as_ref(), user, key).await?
        {
            return Err(StoreError::NotFound(format!("definition `{key}`")).into());
        }
        if !user.may(&grants, needed) {
            return Err(ServiceError::Forbidden(format!(
                "{} on `{key}` is needed for this",
                needed.as_str()
            )));
        }
        Ok(grants)
    }

    /// Creates a definition from a valid document: its first draft, with the default grants.
    /// Needs the designer (or admin) role; `Conflict` when the key exists.
    pub async fn create(&self, user: &User, document: Value) -> Result<SavedDraft, ServiceError> {
        let definition = Definition::from_value(document.clone()).map_err(ServiceError::Invalid)?;
        let issues = definition.check();
        if !issues.is_empty() {
            return Err(ServiceError::Invalid(issues));
        }
        self.create_draft(user, document).await
    }

    /// A copy of `from` (its draft, else its latest version) created as `key` named `name`.
    /// Needs USE on the original and the designer role.
    pub async fn duplicate(
        &self,
        user: &User,
        from: &str,
        key: &str,
        name: &str,
    ) -> Result<SavedDraft, ServiceError> {
        self.authorize(user, from, Permission::Use).await?;
        let mut document = self.current(from).await?;
        if let Value::Object(map) = &mut document {
            map.insert("key".into(), Value::String(key.to_string()));
            map.insert("name".into(), Value::String(name.to_string()));
            // Triggers stay with the original: a copy does not start firing on publish.
            map.remove("triggers");
        }
        self.create_draft(user, document).await
    }

    /// The definitions `user` may see, newest change first; `q` matches key, name or a tag.
    pub async fn list(
        &self,
        user: &User,
        q: Option<String>,
        status: Option<DefinitionStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<DefinitionSummary>, ServiceError> {
        Ok(self
            .store
            .list_definitions(&DefinitionQuery {
                q,
                status,
                visible_to: super::scope::visibility(self.store.as_ref(), user).await?,
                limit,
                offset,
            })
            .await?)
    }

    /// Puts the definition in `department` (`None`: in none), so only the people of that part
    /// of the company see it (see [`super::scope`]). Needs MGMT; someone not an administrator
    /// may only choose a department they see themselves (others are `NotFound`).
    pub async fn set_department(
        &self,
        user: &User,
        key: &str,
        department: Option<&str>,
    ) -> Result<DefinitionRecord, ServiceError> {
        self.authorize(user, key, Permission::Mgmt).await?;
        if let Some(id) = department {
            // A department the caller does not see is, to them, one that does not exist.
            if self.store.department(id).await?.is_none()
                || !super::scope::sees(self.store.as_ref(), user, Some(id)).await?
            {
                return Err(StoreError::NotFound(format!("department {id}")).into());
            }
        }
        Ok(self.store.set_department(key, department).await?)
    }

    /// A key's record and its published versions (newest first). The caller checks access.
    pub async fn overview(&self, key: &str) -> Result<Overview, ServiceError> {
        let record = self
            .store
            .definition(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("definition `{key}`")))?;
        let versions = self.store.versions(key).await?;
        Ok(Overview { record, versions })
    }

    /// The document a designer works on: the draft, else the latest version.
    pub async fn current(&self, key: &str) -> Result<Value, ServiceError> {
        let record = self
            .store
            .definition(key)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("definition `{key}`")))?;
        if let Some(draft) = record.draft {
            return Ok(draft);
        }
        Ok(self.version(key, None).await?.0.document)
    }

    /// Like [`Self::create`] but the document need only be readable: a designer starts from an
    /// empty canvas, and a copy of a draft in progress keeps its issues.
    pub async fn create_draft(
        &self,
        user: &User,
        document: Value,
    ) -> Result<SavedDraft, ServiceError> {
        if !user.has(Role::Designer) && !user.is_admin() {
            return Err(ServiceError::Forbidden(
                "creating definitions needs the designer role".into(),
            ));
        }
        let key = document
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.store.definition(&key).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "definition `{key}` exists; save its draft instead"
            ))
            .into());
        }
        let saved = self.save_draft(document, &user.username).await?;
        self.store
            .set_grants(&saved.record.key, &DEFAULT_GRANTS)
            .await?;
        Ok(saved)
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
                tags: &definition.tags,
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
