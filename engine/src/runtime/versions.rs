//! What a start runs: published versions (remembered, and checked again as each instance is
//! written), their definitions and their compiled input schemas, kept once read.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{Inner, InputError, RuntimeError};
use crate::definition::{Definition, NodeKind};
use crate::id::Id;
use crate::store::StoreError;

/// A published version a start runs: its id and number.
#[derive(Debug, Clone, Copy)]
pub(super) struct Published {
    pub(super) id: Id,
    pub(super) version: i32,
}

/// The id of a version's start node.
pub(super) fn start_node(
    key: &str,
    version: i32,
    definition: &Definition,
) -> Result<String, RuntimeError> {
    definition
        .nodes
        .iter()
        .find(|n| matches!(n.kind, NodeKind::Start))
        .map(|n| n.id.clone())
        .ok_or_else(|| {
            StoreError::Corrupt(format!("version {version} of `{key}` has no start")).into()
        })
}

impl Inner {
    /// A published version that may start instances: the latest when `version` is `None`.
    pub(super) async fn published(
        &self,
        key: &str,
        version: Option<i32>,
    ) -> Result<Published, RuntimeError> {
        let found = self.store.startable(key, version).await?;
        if found.is_some_and(|f| f.archived) {
            return Err(RuntimeError::Archived(key.to_string()));
        }
        match found.and_then(|f| f.version) {
            Some((id, number)) => {
                let published = Published {
                    id,
                    version: number,
                };
                self.lock_versions()
                    .insert((key.to_string(), version), published);
                Ok(published)
            }
            None => Err(RuntimeError::NoSuchVersion {
                key: key.to_string(),
                version,
            }),
        }
    }

    /// The version an earlier start of `key` (asking for `version`) ran, if any.
    pub(super) fn remembered(&self, key: &str, version: Option<i32>) -> Option<Published> {
        self.lock_versions()
            .get(&(key.to_string(), version))
            .copied()
    }

    fn lock_versions(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, Option<i32>), Published>> {
        // A map of plain values: nothing a panic elsewhere could leave half-changed.
        self.versions.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn definition(
        &self,
        key: &str,
        version: i32,
    ) -> Result<Arc<Definition>, StoreError> {
        let cache_key = (key.to_string(), version);
        if let Some(found) = self.cached(&cache_key) {
            return Ok(found);
        }
        let record = self
            .store
            .version(key, Some(version))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("version {version} of `{key}`")))?;
        let definition = Definition::from_value(record.document).map_err(|issues| {
            StoreError::Corrupt(format!("version {version} of `{key}`: {issues:?}"))
        })?;
        let definition = Arc::new(definition);
        if let Ok(mut cache) = self.definitions.lock() {
            cache.insert(cache_key, definition.clone());
        }
        Ok(definition)
    }

    /// The input fits the size limit and the definition's `input_schema`.
    pub(super) fn check_input(
        &self,
        key: &str,
        version: i32,
        definition: &Definition,
        input: &Value,
    ) -> Result<(), RuntimeError> {
        let size = serde_json::to_vec(input)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        let limit = self.config.max_input_bytes;
        if size > limit {
            return Err(RuntimeError::InputTooLarge { size, limit });
        }
        let Some(schema) = &definition.input_schema else {
            return Ok(());
        };
        let cache_key = (key.to_string(), version);
        let cached = self
            .validators
            .lock()
            .ok()
            .and_then(|cache| cache.get(&cache_key).cloned());
        let validator = match cached {
            Some(validator) => validator,
            None => {
                // Checked when the version was published; a schema that still does not compile
                // refuses every input rather than none.
                let compiled = jsonschema::validator_for(schema).map_err(|e| {
                    RuntimeError::InvalidInput(vec![InputError {
                        field: "input_schema".into(),
                        message: e.masked().to_string(),
                    }])
                })?;
                let compiled = Arc::new(compiled);
                if let Ok(mut cache) = self.validators.lock() {
                    cache.insert(cache_key, compiled.clone());
                }
                compiled
            }
        };
        let errors: Vec<InputError> = validator
            .iter_errors(input)
            .take(20)
            .map(|e| InputError {
                field: format!("input{}", e.instance_path().as_str()),
                message: e.masked().to_string(),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::InvalidInput(errors))
        }
    }

    fn cached(&self, key: &(String, i32)) -> Option<Arc<Definition>> {
        self.definitions.lock().ok()?.get(key).cloned()
    }
}
