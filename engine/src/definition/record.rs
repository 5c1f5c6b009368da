//! Definitions as they are kept: a draft per key, and published versions frozen as they were.
//! Plain data shared with the browser.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinitionStatus {
    /// No version published yet: only the draft exists.
    Draft,
    Published,
    /// Cannot start instances; its versions stay readable.
    Archived,
}

/// One key: its draft (if any) and where its versions stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionRecord {
    pub key: String,
    pub name: String,
    pub status: DefinitionStatus,
    /// The draft document as saved; may not be valid yet.
    pub draft: Option<Value>,
    pub draft_updated_at: Option<String>,
    pub latest_version: Option<i32>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// The department it belongs to: only people in it, above it or below it see it (and its
    /// instances). `None`: everybody its grants allow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_id: Option<String>,
}

/// A published version: frozen, valid, what instances run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub id: Id,
    pub key: String,
    pub version: i32,
    pub document: Value,
    pub published_by: String,
    pub published_at: String,
}

/// A row of the definitions list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinitionSummary {
    pub key: String,
    pub name: String,
    pub status: DefinitionStatus,
    pub latest_version: Option<i32>,
    /// There are changes not yet published.
    pub has_draft: bool,
    pub tags: Vec<String>,
    pub updated_at: String,
}
