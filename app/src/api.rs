//! Typed server functions. Their bodies run on the server only (`ssr`) and call the engine; the
//! browser gets a typed client for each. They live under `/rpc`, apart from the REST API's `/api`.

use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

pub use engine::status::{Backend, SystemStatus};

/// What can go wrong in a server function, as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("the database did not answer")]
    DatabaseUnavailable,
    /// Not signed in (any more).
    #[error("sign in first")]
    SignedOut,
    /// No such thing, or not one the user may see.
    #[error("not found")]
    NotFound,
    #[error("not allowed")]
    Forbidden,
    /// The state changed meanwhile (already completed, claimed by someone else).
    #[error("{0}")]
    Conflict(String),
    /// The input does not fit: each problem by field.
    #[error("the input does not fit")]
    Invalid(Vec<engine::task::FieldError>),
    /// A definition that cannot be saved or published as it is: every issue.
    #[error("the definition has issues")]
    InvalidDefinition(Vec<engine::definition::Issue>),
    #[error("{0}")]
    Transport(ServerFnErrorErr),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value)
    }
}

/// The installation as the database sees it right now.
#[server(prefix = "/rpc", endpoint = "system_status")]
pub async fn get_system_status() -> Result<SystemStatus, AppError> {
    let store = ssr::store()?;
    store.system_status().await.map_err(|err| {
        tracing::warn!(error = %err, source = ?std::error::Error::source(&err), "system status query failed");
        AppError::DatabaseUnavailable
    })
}

/// The signed-in user, as the UI shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
}

/// Who is signed in (the server checked the session cookie before this runs), if anyone.
#[server(prefix = "/rpc", endpoint = "me")]
pub async fn current_user() -> Result<Option<Me>, AppError> {
    let parts = use_context::<http::request::Parts>();
    Ok(parts
        .as_ref()
        .and_then(|p| p.extensions.get::<engine::service::Caller>())
        .map(|caller| Me {
            username: caller.user.username.clone(),
            display_name: caller.user.display_name.clone(),
            roles: caller
                .user
                .roles
                .iter()
                .map(|r| r.as_str().to_string())
                .collect(),
        }))
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side context for server functions and SSR: given once by the server to both
    //! `leptos_routes_with_context` and `handle_server_fns_with_context`.

    use std::sync::Arc;

    use engine::store::Store;
    use leptos::prelude::use_context;

    use super::AppError;

    /// What every server function may reach.
    #[derive(Clone)]
    pub struct AppContext {
        pub store: Arc<dyn Store>,
        pub tasks: engine::service::TaskService,
        pub instances: engine::service::InstanceService,
        pub definitions: engine::service::DefinitionService,
        pub entities: engine::service::EntityService,
    }

    /// The signed-in user (the server checked the session before any server function runs).
    pub fn user() -> Result<engine::people::User, AppError> {
        use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<engine::service::Caller>().cloned())
            .map(|caller| caller.user)
            .ok_or(AppError::SignedOut)
    }

    /// `error`, after setting the status the server function answers with.
    pub fn respond(status: http::StatusCode, error: AppError) -> AppError {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        error
    }

    pub fn store() -> Result<Arc<dyn Store>, AppError> {
        use_context::<AppContext>()
            .map(|cx| cx.store)
            .ok_or_else(|| {
                AppError::Transport(leptos::server_fn::error::ServerFnErrorErr::ServerError(
                    "server context missing".into(),
                ))
            })
    }
}
