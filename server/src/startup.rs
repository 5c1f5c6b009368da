//! Start-up: connect the store (applying migrations), build the router, bind the listener.
//! [`Application::build`] binds first and reports its address, so tests can use port 0.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;

use app::api::ssr::AppContext;
use app::{shell, App};
use axum::extract::FromRef;
use axum::http::{HeaderName, Request};
use axum::Router;
use engine::id::IdGenerator;
use engine::runtime::{Runtime, RuntimeConfig};
use engine::service::{
    AccessService, DefinitionService, EntityService, InstanceService, TaskService,
};
use engine::store::{self, Store, StoreError};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{file_and_error_handler_with_context, generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::api::ApiState;
use crate::config::Config;
use crate::health;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub leptos_options: LeptosOptions,
    pub api: ApiState,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("DATABASE_URL ({url}): {source}{}", cause(.source))]
    Database {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot create the first administrator: {source}")]
    Admin {
        #[source]
        source: engine::service::AccessError,
    },
    #[error("BATON_ADDR ({addr}): cannot listen: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The driver's reason, on the same line, without the SQL or the password.
fn cause(err: &StoreError) -> String {
    std::error::Error::source(err)
        .map(|s| format!(": {}", s.to_string().lines().next().unwrap_or_default()))
        .unwrap_or_default()
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    store: Arc<dyn Store>,
    runtime: Runtime,
    generated_admin_password: Option<String>,
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartError> {
        let store =
            store::connect(&config.database)
                .await
                .map_err(|source| StartError::Database {
                    url: store::redact(&config.database_url),
                    source,
                })?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        let local = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        let leptos_options = LeptosOptions::builder()
            .output_name("baton")
            .site_root(config.site_root.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .site_addr(local)
            .build();
        let ids = IdGenerator::new(config.node_id);
        let runtime = Runtime::new(
            store.clone(),
            ids.clone(),
            format!(
                "baton-{}-{}-{}",
                config.node_id,
                std::process::id(),
                local.port()
            ),
            RuntimeConfig {
                http_allow: config.http_allow.clone(),
                lease: config.lease,
                public_url: Some(
                    config
                        .public_url
                        .clone()
                        .unwrap_or_else(|| format!("http://{local}")),
                ),
                hook_formats: vec![("rill", crate::compat::rill::hook_body)],
                ..RuntimeConfig::default()
            },
        );
        let access = AccessService::new(store.clone(), ids.clone());
        let generated_admin_password = access
            .ensure_admin(config.admin_password.as_deref())
            .await
            .map_err(|source| StartError::Admin { source })?;
        let definitions = DefinitionService::new(store.clone(), ids);
        let entities = EntityService::new(store.clone(), definitions.clone());
        if config.demo {
            load_demo_data(&entities, &definitions).await;
        }
        let api = ApiState {
            store: store.clone(),
            runtime: runtime.clone(),
            definitions: definitions.clone(),
            entities,
            access,
            tasks: TaskService::new(runtime.clone()),
            instances: InstanceService::new(runtime.clone()),
            limiter: crate::api::RateLimiter::new(config.rate_limit),
            package_max_bytes: config.package_max_bytes,
        };
        let router = router(AppState {
            store: store.clone(),
            leptos_options,
            api,
        });
        Ok(Self {
            listener,
            router,
            store,
            runtime,
            generated_admin_password,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // Checked in `build`; a bound listener keeps its address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn runtime(&self) -> Runtime {
        self.runtime.clone()
    }

    /// The password generated for `admin` on this first start (no `BATON_ADMIN_PASSWORD`), to
    /// be shown once.
    pub fn generated_admin_password(&self) -> Option<&str> {
        self.generated_admin_password.as_deref()
    }

    /// Serves HTTP and runs the scheduler side by side until `shutdown` completes; then finishes
    /// in-flight requests and the steps in hand, and closes the pool.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            // An error means the sender is gone, which also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let runtime = self.runtime.clone();
        let scheduler = tokio::spawn({
            let stopped = wait(stopped.clone());
            async move { runtime.run_until(stopped).await }
        });
        let server = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(wait(stopped))
        .into_future();
        tokio::pin!(server);
        let result = tokio::select! {
            result = &mut server => result,
            () = shutdown => {
                let _ = stop.send(true);
                server.await
            }
        };
        // However the server ended, the scheduler ends with it.
        let _ = stop.send(true);
        if let Err(err) = scheduler.await {
            tracing::error!(error = %err, "the scheduler stopped abnormally");
        }
        self.store.close().await;
        result
    }
}

/// Every route of the server. Testable without a socket.
pub fn router(state: AppState) -> Router {
    let context = AppContext {
        store: state.store.clone(),
        tasks: state.api.tasks.clone(),
        instances: state.api.instances.clone(),
        definitions: state.api.definitions.clone(),
        entities: state.api.entities.clone(),
    };
    let provide = move || provide_context(context.clone());
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(App);

    Router::new()
        .merge(health::router())
        .route("/api/docs", axum::routing::get(crate::api::docs))
        .route("/auth/login", axum::routing::post(crate::session::login))
        .route("/auth/logout", axum::routing::post(crate::session::logout))
        .nest_service("/api/v1", crate::api::router(state.api.clone()))
        .nest_service("/platform/v1", crate::compat::wecube::router(state.api.clone()))
        .nest_service("/activiti", crate::compat::activiti::router(state.api.clone()))
        .merge(crate::compat::node_inst::router(state.api.clone()))
        .nest_service("/flow", crate::compat::rill::router(state.api.clone()))
        .nest_service("/2/flow", crate::compat::rill::router(state.api.clone()))
        .merge(crate::compat::encoo::token_router(state.api.clone()))
        .nest_service("/openapi", crate::compat::encoo::router(state.api.clone()))
        .leptos_routes_with_context(&state, routes, provide.clone(), move || {
            shell(leptos_options.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(provide, shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::session::gate,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

/// Loads the demo catalog and workflows into an empty database; a failure is logged and the
/// server starts anyway (two processes starting together may both try; the second finds the
/// workflows there).
async fn load_demo_data(entities: &EntityService, definitions: &DefinitionService) {
    let admin = engine::people::User {
        id: engine::id::Id(0),
        username: "admin".into(),
        display_name: "Administrator".into(),
        roles: vec![engine::people::Role::Admin],
        groups: Vec::new(),
        disabled: false,
        created_at: String::new(),
    };
    match engine::service::load_demo(entities, definitions, &admin).await {
        Ok(true) => {
            tracing::info!("loaded the demo catalog and workflows (BATON_DEMO=false skips this)")
        }
        Ok(false) => {}
        Err(err) => tracing::warn!(error = %err, "the demo data was not loaded"),
    }
}
