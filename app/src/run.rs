//! The run page's server functions: what a workflow starts from, the records of its root entity
//! type, the execution preview, and launching from it. The rules are the engine's (USE on the
//! definition; the preview session's bindings), the same the REST API applies.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::AppError;
pub use engine::entity::{Binding, EntityRecord, Preview, TreeNode};

/// A bound task node, as the page colours and lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundNode {
    pub id: String,
    pub label: String,
}

/// What the run page shows before a root is picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub key: String,
    pub name: String,
    pub version: i32,
    pub root_entity: Option<String>,
    /// The input schema as JSON text, when there is one.
    pub input_schema: Option<String>,
    pub bound_nodes: Vec<BoundNode>,
}

#[server(prefix = "/rpc", endpoint = "run_info")]
pub async fn load_run(key: String) -> Result<RunInfo, AppError> {
    use engine::people::Permission;
    let (cx, user) = ssr::context()?;
    cx.definitions
        .authorize(&user, &key, Permission::Use)
        .await
        .map_err(crate::workflows::ssr_failed)?;
    let (version, definition) = cx
        .definitions
        .version(&key, None)
        .await
        .map_err(crate::workflows::ssr_failed)?;
    Ok(RunInfo {
        key,
        name: definition.name.clone(),
        version: version.version,
        root_entity: definition.root_entity.clone(),
        input_schema: definition.input_schema.as_ref().map(|s| s.to_string()),
        bound_nodes: definition
            .nodes
            .iter()
            .filter(|n| n.binding.is_some())
            .map(|n| BoundNode {
                id: n.id.clone(),
                label: if n.name.is_empty() {
                    n.id.clone()
                } else {
                    n.name.clone()
                },
            })
            .collect(),
    })
}

/// Up to 20 records of the workflow's root entity type matching `q`.
#[server(prefix = "/rpc", endpoint = "root_choices")]
pub async fn root_choices(key: String, q: String) -> Result<Vec<EntityRecord>, AppError> {
    let (cx, user) = ssr::context()?;
    let page = cx
        .entities
        .root_records(&user, &key, None, Some(q.as_str()), 20, 0)
        .await
        .map_err(ssr::failed)?;
    Ok(page.items)
}

#[server(prefix = "/rpc", endpoint = "preview_run")]
pub async fn preview_run(key: String, root: String) -> Result<Preview, AppError> {
    let (cx, user) = ssr::context()?;
    cx.entities
        .preview(&user, &key, None, &root)
        .await
        .map_err(ssr::failed)
}

/// Starts `key` from the preview `session_id`, each bound node for the bindings kept (`kept`:
/// a JSON list of `[node, data_id]`), with `input` (JSON text); a dry run when `mock`. Returns
/// the instance's id.
#[server(prefix = "/rpc", endpoint = "launch")]
pub async fn launch(
    key: String,
    session_id: String,
    kept: String,
    input: String,
    mock: bool,
) -> Result<String, AppError> {
    use engine::people::Permission;
    let (cx, user) = ssr::context()?;
    let invalid = |field: &str, message: String| {
        ssr::respond_invalid(vec![engine::task::FieldError {
            field: field.into(),
            message,
        }])
    };
    let kept: Vec<(String, String)> =
        serde_json::from_str(&kept).map_err(|e| invalid("bindings", e.to_string()))?;
    let input: serde_json::Value = if input.trim().is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(&input).map_err(|e| invalid("input", format!("is not JSON: {e}")))?
    };
    cx.definitions
        .authorize(&user, &key, Permission::Use)
        .await
        .map_err(crate::workflows::ssr_failed)?;
    let (version, bound) = cx
        .entities
        .start_bindings(&key, &session_id, Some(kept))
        .await
        .map_err(ssr::failed)?;
    let started = cx
        .instances
        .runtime()
        .start_bound(
            engine::runtime::StartRequest {
                definition_key: key,
                version: Some(version),
                input,
                trigger: engine::instance::Trigger::Api,
                operator: user.username.clone(),
                idempotency_key: None,
            },
            engine::runtime::Mode { debug: false, mock },
            Some(bound),
        )
        .await
        .map_err(ssr::start_failed)?;
    Ok(started.instance.id.to_string())
}

#[cfg(feature = "ssr")]
mod ssr {
    use engine::people::User;
    use engine::runtime::RuntimeError;
    use engine::service::EntityError;
    use engine::task::FieldError;
    use http::StatusCode;
    use leptos::prelude::use_context;

    use crate::api::ssr::{respond, AppContext};
    use crate::api::AppError;

    pub fn context() -> Result<(AppContext, User), AppError> {
        let cx = use_context::<AppContext>().ok_or(AppError::SignedOut)?;
        Ok((cx, crate::api::ssr::user()?))
    }

    pub fn respond_invalid(errors: Vec<FieldError>) -> AppError {
        respond(StatusCode::UNPROCESSABLE_ENTITY, AppError::Invalid(errors))
    }

    pub fn failed(err: EntityError) -> AppError {
        match err {
            EntityError::NotFound(_) => respond(StatusCode::NOT_FOUND, AppError::NotFound),
            EntityError::Forbidden(_) => respond(StatusCode::FORBIDDEN, AppError::Forbidden),
            EntityError::Invalid(errors) => respond_invalid(errors),
            EntityError::Definition(e) => crate::workflows::ssr_failed(e),
            EntityError::Store(e) => {
                crate::workflows::ssr_failed(engine::service::ServiceError::Store(e))
            }
        }
    }

    pub fn start_failed(err: RuntimeError) -> AppError {
        match err {
            RuntimeError::InvalidInput(errors) => respond_invalid(
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        field: e.field,
                        message: e.message,
                    })
                    .collect(),
            ),
            RuntimeError::NoSuchVersion { .. } => {
                respond(StatusCode::NOT_FOUND, AppError::NotFound)
            }
            other => respond(StatusCode::CONFLICT, AppError::Conflict(other.to_string())),
        }
    }
}
