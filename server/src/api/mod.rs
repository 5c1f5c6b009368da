//! The native REST API, `/api/v1`. Every route but `POST /auth/token` is behind the access-token
//! check, and an unknown path under `/api/v1` is behind it too: nothing answers an anonymous
//! caller but 401. Authorisation is then checked on the object in each handler.

pub mod auth;
pub mod body;
mod definitions;
mod entities;
pub mod error;
mod groups;
mod instances;
mod limit;
pub mod packages;
mod tasks;
mod tenants;
mod triggers;
mod users;
pub mod workers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{middleware, Json, Router};
use engine::runtime::Runtime;
use engine::service::{
    AccessService, DefinitionService, EntityService, InstanceService, TaskService,
};
use engine::store::Store;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use error::ApiError;
pub use limit::RateLimiter;

/// What the API's handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub runtime: Runtime,
    pub definitions: DefinitionService,
    pub access: AccessService,
    pub tasks: TaskService,
    pub instances: InstanceService,
    pub entities: EntityService,
    pub limiter: limit::RateLimiter,
    /// The largest package file accepted (`BATON_PACKAGE_MAX_MB`).
    pub package_max_bytes: usize,
}

/// The document's frame; the paths come from the handlers' `#[utoipa::path]`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Baton API", version = "1",
         description = "Baton's native REST API. Sign in with `POST /api/v1/auth/token`, then send `Authorization: Bearer <access_token>`. Errors are `{code, message, field?}`; lists are paged with `limit` and `offset` and carry `total`."),
    servers((url = "/api/v1")),
    components(schemas(error::ApiError)),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "signing in"),
         (name = "definitions", description = "workflow definitions, drafts and versions"),
         (name = "instances", description = "running workflows"),
         (name = "people", description = "users, for administrators"),
         (name = "tasks", description = "the approval inbox, and finishing callbacks"),
         (name = "robots", description = "queues, robots, deployments and jobs; the worker protocol robots use"),
         (name = "tenants", description = "companies and their department trees"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of every route, as `/api/v1/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, public) = public_routes().split_for_parts();
    let (_, protected) = protected_routes().split_for_parts();
    let mut doc = public;
    doc.merge(protected);
    doc
}

fn public_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(auth::token))
        .routes(routes!(tasks::finish_callback))
        .routes(routes!(triggers::hook))
        // Robots sign in with their own tokens (see `workers::Worker`).
        .routes(routes!(workers::heartbeat))
        .routes(routes!(workers::claim))
        .routes(routes!(packages::download))
        .routes(routes!(workers::report))
}

fn protected_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(definitions::create, definitions::list))
        .routes(routes!(definitions::validate))
        .routes(routes!(definitions::read))
        .routes(routes!(definitions::draft, definitions::save_draft))
        .routes(routes!(definitions::publish))
        .routes(routes!(definitions::grants, definitions::set_grants))
        .routes(routes!(definitions::set_department))
        .routes(routes!(definitions::version))
        .routes(routes!(entities::preview))
        .routes(routes!(entities::root_entities))
        .routes(routes!(entities::list_types, entities::put_type))
        .routes(routes!(entities::read_type, entities::delete_type))
        .routes(routes!(entities::list_records, entities::import_records))
        .routes(routes!(entities::read_record, entities::delete_record))
        .routes(routes!(triggers::list))
        .routes(routes!(triggers::issue_token))
        .routes(routes!(instances::start, instances::list))
        .routes(routes!(instances::read))
        .routes(routes!(instances::events))
        .routes(routes!(instances::operate))
        .routes(routes!(instances::node_operation))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::set_disabled))
        .routes(routes!(users::update))
        .routes(routes!(groups::create, groups::list))
        .routes(routes!(groups::read, groups::update, groups::delete))
        .routes(routes!(workers::create_queue, workers::queues))
        .routes(routes!(workers::create_robot, workers::robots))
        .routes(routes!(workers::create_deployment, workers::deployments))
        .routes(routes!(workers::execute))
        .routes(routes!(packages::upload, packages::packages))
        .routes(routes!(
            packages::package,
            packages::change,
            packages::delete
        ))
        .routes(routes!(packages::robots, packages::bind_robots))
        .routes(routes!(packages::unbind_robot))
        .routes(routes!(packages::upgrade_deployments))
        .routes(routes!(workers::jobs))
        .routes(routes!(tenants::create_company, tenants::list_companies))
        .routes(routes!(
            tenants::department_tree,
            tenants::create_department
        ))
        .routes(routes!(tenants::add_member, tenants::remove_member))
        .routes(routes!(tasks::inbox))
        .routes(routes!(tasks::read))
        .routes(routes!(tasks::claim))
        .routes(routes!(tasks::unclaim))
        .routes(routes!(tasks::complete))
}

/// `GET /api/docs`: a browsable page of the OpenAPI document, self-contained (works offline).
pub async fn docs() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("docs.html"))
}

/// `/api/v1`'s routes, to be nested there. The OpenAPI document and the token endpoint are
/// public; everything else is behind the access-token check, unknown paths included.
pub fn router(state: ApiState) -> Router {
    let document = Arc::new(openapi());
    let (public, _) = public_routes().split_for_parts();
    let (protected, _) = protected_routes().split_for_parts();
    let protected = protected
        .fallback(|| async { ApiError::not_found("route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { Json((*document).clone()) }
            }),
        )
        .merge(public)
        .merge(protected)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .with_state(state)
}
