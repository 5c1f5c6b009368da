//! `GET /healthz`: 200 when the database answers within a second, 503 otherwise. Unauthenticated
//! by design (load balancers and orchestrators call it); it reveals only the backend name.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let backend = state.store.backend().as_str();
    match tokio::time::timeout(Duration::from_secs(1), state.store.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": backend})),
        ),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, source = ?std::error::Error::source(&err), "health check: database error");
            unavailable(backend)
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer within 1s");
            unavailable(backend)
        }
    }
}

fn unavailable(backend: &str) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unavailable", "database": backend})),
    )
}
