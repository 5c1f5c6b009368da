//! The workflows pages' server functions: the definitions the signed-in person may see, creating
//! and duplicating one, and the designer's load, save and publish. The rules are the engine's
//! `DefinitionService`, the same the REST API applies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;
pub use engine::definition::{DefinitionStatus, DefinitionSummary, Issue};

/// Definitions per page of the list.
pub const PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowList {
    pub items: Vec<DefinitionSummary>,
    pub total: i64,
    pub offset: i64,
    /// The user may create definitions (designer or admin).
    pub may_create: bool,
}

/// A published version as the history lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    pub version: i32,
    pub published_by: String,
    pub published_at: String,
}

/// What the designer opens: the draft (or the latest version when there is no draft), or one
/// version read-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Design {
    pub key: String,
    /// The document as JSON text (it may not be a valid definition yet).
    pub document: String,
    /// Newest first.
    pub versions: Vec<VersionInfo>,
    pub latest_version: Option<i32>,
    pub status: DefinitionStatus,
    /// A saved draft differs from the latest version (there is something to publish).
    pub has_draft: bool,
    /// The version shown, when it is not the draft.
    pub viewing: Option<i32>,
    /// MGMT: may save and publish.
    pub may_manage: bool,
}

/// What saving answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub issues: Vec<Issue>,
    pub updated_at: String,
}

#[server(prefix = "/rpc", endpoint = "workflows")]
pub async fn list_workflows(q: String, offset: i64) -> Result<WorkflowList, AppError> {
    use engine::people::Role;
    let (service, user) = ssr::service_and_user()?;
    let offset = offset.max(0);
    let page = service
        .list(&user, Some(q), None, PAGE_SIZE, offset)
        .await
        .map_err(ssr::failed)?;
    Ok(WorkflowList {
        items: page.items,
        total: page.total,
        offset,
        may_create: user.has(Role::Designer) || user.is_admin(),
    })
}

/// Creates `key` as an empty draft, ready to draw on.
#[server(prefix = "/rpc", endpoint = "create_workflow")]
pub async fn create_workflow(key: String, name: String) -> Result<String, AppError> {
    let (service, user) = ssr::service_and_user()?;
    let key = key.trim().to_string();
    let document = serde_json::json!({
        "key": key,
        "name": name.trim(),
        "nodes": [],
        "edges": []
    });
    service
        .create_draft(&user, document)
        .await
        .map_err(ssr::failed)?;
    Ok(key)
}

/// Copies `from` (its draft, else its latest version) as a new draft `key`.
#[server(prefix = "/rpc", endpoint = "duplicate_workflow")]
pub async fn duplicate_workflow(
    from: String,
    key: String,
    name: String,
) -> Result<String, AppError> {
    let (service, user) = ssr::service_and_user()?;
    let key = key.trim().to_string();
    service
        .duplicate(&user, &from, &key, name.trim())
        .await
        .map_err(ssr::failed)?;
    Ok(key)
}

/// The draft of `key` (or its latest version), or `version` read-only.
#[server(prefix = "/rpc", endpoint = "design")]
pub async fn load_design(key: String, version: Option<i32>) -> Result<Design, AppError> {
    use engine::people::Permission;
    let (service, user) = ssr::service_and_user()?;
    let grants = service
        .authorize(&user, &key, Permission::Use)
        .await
        .map_err(ssr::failed)?;
    let overview = service.overview(&key).await.map_err(ssr::failed)?;
    let document = match version {
        Some(v) => {
            service
                .version(&key, Some(v))
                .await
                .map_err(ssr::failed)?
                .0
                .document
        }
        None => service.current(&key).await.map_err(ssr::failed)?,
    };
    Ok(Design {
        key,
        document: serde_json::to_string(&document).unwrap_or_default(),
        versions: overview
            .versions
            .into_iter()
            .map(|v| VersionInfo {
                version: v.version,
                published_by: v.published_by,
                published_at: v.published_at,
            })
            .collect(),
        latest_version: overview.record.latest_version,
        status: overview.record.status,
        has_draft: overview.record.draft.is_some(),
        viewing: version,
        may_manage: user.may(&grants, Permission::Mgmt),
    })
}

/// Saves `document` (JSON text) as the draft of `key`; it may still have issues.
#[server(prefix = "/rpc", endpoint = "save_design")]
pub async fn save_design(key: String, document: String) -> Result<Saved, AppError> {
    use engine::people::Permission;
    let (service, user) = ssr::service_and_user()?;
    service
        .authorize(&user, &key, Permission::Mgmt)
        .await
        .map_err(ssr::failed)?;
    let document: serde_json::Value = serde_json::from_str(&document).map_err(|e| {
        ssr::failed(engine::service::ServiceError::Invalid(vec![
            Issue::document(
                engine::definition::IssueCode::InvalidDocument,
                format!("not valid JSON: {e}"),
            ),
        ]))
    })?;
    if document.get("key").and_then(serde_json::Value::as_str) != Some(key.as_str()) {
        return Err(ssr::failed(engine::service::ServiceError::Invalid(vec![
            Issue::field(
                "key",
                engine::definition::IssueCode::InvalidValue,
                format!("the key of a saved definition stays `{key}`"),
            ),
        ])));
    }
    let saved = service
        .save_draft(document, &user.username)
        .await
        .map_err(ssr::failed)?;
    Ok(Saved {
        issues: saved.issues,
        updated_at: saved.record.draft_updated_at.unwrap_or_default(),
    })
}

/// Freezes the saved draft of `key` as its next version; returns the version number.
#[server(prefix = "/rpc", endpoint = "publish_design")]
pub async fn publish_design(key: String) -> Result<i32, AppError> {
    use engine::people::Permission;
    let (service, user) = ssr::service_and_user()?;
    service
        .authorize(&user, &key, Permission::Mgmt)
        .await
        .map_err(ssr::failed)?;
    let version = service
        .publish(&key, &user.username)
        .await
        .map_err(ssr::failed)?;
    Ok(version.version)
}

/// A definition service error as a page sees it (for the other pages' server functions).
#[cfg(feature = "ssr")]
pub(crate) fn ssr_failed(err: engine::service::ServiceError) -> AppError {
    ssr::failed(err)
}

#[cfg(feature = "ssr")]
mod ssr {
    use engine::people::User;
    use engine::service::{DefinitionService, ServiceError};
    use engine::store::StoreError;
    use http::StatusCode;
    use leptos::prelude::use_context;

    use crate::api::ssr::{respond, AppContext};
    use crate::api::AppError;

    pub fn service_and_user() -> Result<(DefinitionService, User), AppError> {
        let service = use_context::<AppContext>()
            .map(|cx| cx.definitions)
            .ok_or(AppError::SignedOut)?;
        Ok((service, crate::api::ssr::user()?))
    }

    /// The error as the page sees it, with the status it answers with.
    pub fn failed(err: ServiceError) -> AppError {
        match err {
            ServiceError::Invalid(issues) => respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                AppError::InvalidDefinition(issues),
            ),
            ServiceError::Forbidden(_) => respond(StatusCode::FORBIDDEN, AppError::Forbidden),
            ServiceError::Store(StoreError::NotFound(_)) => {
                respond(StatusCode::NOT_FOUND, AppError::NotFound)
            }
            ServiceError::Store(StoreError::Conflict(why)) => {
                respond(StatusCode::CONFLICT, AppError::Conflict(why))
            }
            ServiceError::Store(err) => {
                tracing::warn!(error = %err, "a definition operation failed");
                respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    AppError::DatabaseUnavailable,
                )
            }
        }
    }
}
