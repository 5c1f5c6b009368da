//! The native REST API, `/api/v1`. Every route but `POST /auth/token` is behind the access-token
//! check, and an unknown path under `/api/v1` is behind it too: nothing answers an anonymous
//! caller but 401. Authorisation is then checked on the object in each handler.

mod auth;
pub mod body;
mod definitions;
pub mod error;
mod instances;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::{middleware, Router};
use engine::runtime::Runtime;
use engine::service::{AccessService, DefinitionService};
use engine::store::Store;

use error::ApiError;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub runtime: Runtime,
    pub definitions: DefinitionService,
    pub access: AccessService,
}

/// `/api/v1`'s routes, to be nested there.
pub fn router(state: ApiState) -> Router {
    let protected = Router::new()
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(auth::me))
        .route("/me/password", post(auth::change_password))
        .route(
            "/definitions",
            post(definitions::create).get(definitions::list),
        )
        .route("/definitions/validate", post(definitions::validate))
        .route("/definitions/{key}", get(definitions::read))
        .route("/definitions/{key}/draft", put(definitions::save_draft))
        .route("/definitions/{key}/publish", post(definitions::publish))
        .route(
            "/definitions/{key}/grants",
            get(definitions::grants).put(definitions::set_grants),
        )
        .route(
            "/definitions/{key}/versions/{version}",
            get(definitions::version),
        )
        .route("/instances", post(instances::start).get(instances::list))
        .route("/instances/{id}", get(instances::read))
        .route("/instances/{id}/events", get(instances::events))
        .route("/instances/{id}/{operation}", post(instances::operate))
        .route(
            "/instances/{id}/nodes/{node}/{operation}",
            post(instances::node_operation),
        )
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    Router::new()
        .route("/auth/token", post(auth::token))
        .merge(protected)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .with_state(state)
}
