//! Compatibility surfaces: other orchestrators' APIs served over Baton's services, so their
//! clients can point at Baton. One module per surface; each translates, none runs a second
//! engine or repeats a rule. What they share: signing the caller in (the native API's bearer
//! tokens, or the browser session) and the reason a refusal gives.

pub mod activiti;
pub mod encoo;
pub mod node_inst;
pub mod rill;
pub mod wecube;

use std::marker::PhantomData;

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use engine::id::Id;
use engine::service::Caller;
use serde_json::Value;

use crate::api::error::ApiError;
use crate::api::ApiState;

/// Finds the request's caller (a browser session the gate already found, or a bearer token)
/// and puts it in the request's extensions; otherwise the refusal, for the surface to shape.
pub async fn sign_in(api: &ApiState, request: &mut Request) -> Result<(), (StatusCode, String)> {
    if request.extensions().get::<Caller>().is_some() {
        return Ok(());
    }
    let caller = match crate::api::auth::bearer_token(request.headers()) {
        Some(token) => api.access.authenticate(&token).await.ok().flatten(),
        None => None,
    };
    let Some(caller) = caller else {
        return Err((
            StatusCode::UNAUTHORIZED,
            "sign in first: send Authorization: Bearer <access token>".into(),
        ));
    };
    api.limiter
        .check(&format!("user:{}", caller.user.id))
        .map_err(refusal)?;
    request.extensions_mut().insert(caller);
    Ok(())
}

/// A native API error as a status and one sentence naming the field at fault.
pub fn refusal(err: impl Into<ApiError>) -> (StatusCode, String) {
    let api: ApiError = err.into();
    let message = match &api.field {
        Some(field) if !api.message.contains(field.as_str()) => {
            format!("{field}: {}", api.message)
        }
        _ => api.message.clone(),
    };
    (api.status, message)
}

/// How a surface words a refusal: its error body for a status and one sentence.
pub trait Shape: Send + 'static {
    fn body(status: StatusCode, message: &str) -> Value;
}

/// A refusal in surface `S`'s shape. Every native error converts into one, keeping its status
/// and naming the field at fault (see [`refusal`]).
pub struct Refusal<S: Shape>(pub StatusCode, pub String, PhantomData<S>);

impl<S: Shape> Refusal<S> {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into(), PhantomData)
    }

    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// The answer for a path the surface does not have.
    pub async fn no_route(uri: Uri) -> Self {
        Self::not_found(format!("no route {}", uri.path()))
    }
}

impl<S: Shape, E: Into<ApiError>> From<E> for Refusal<S> {
    fn from(err: E) -> Self {
        let (status, message) = refusal(err);
        Self::new(status, message)
    }
}

impl<S: Shape> IntoResponse for Refusal<S> {
    fn into_response(self) -> Response {
        (self.0, Json(S::body(self.0, &self.1))).into_response()
    }
}

/// An id from a request (Baton's snowflake ids, as text); anything else is `missing` (404), as
/// an id that names nothing is.
pub fn parse_id<S: Shape>(text: &str, missing: impl FnOnce() -> String) -> Result<Id, Refusal<S>> {
    text.parse::<i64>()
        .map(Id)
        .map_err(|_| Refusal::not_found(missing()))
}

/// A surface's routes behind sign-in (refused in the surface's shape) and the body limit.
/// Route layers only: a surface that shares a prefix with others (node_inst under `/api`)
/// must not answer for paths that are not its own.
pub fn guard<S: Shape>(routes: Router<ApiState>, state: ApiState) -> Router<ApiState> {
    routes
        .route_layer(middleware::from_fn_with_state(state, authenticate::<S>))
        .route_layer(axum::extract::DefaultBodyLimit::max(
            crate::api::body::MAX_BODY,
        ))
}

async fn authenticate<S: Shape>(
    State(api): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    match sign_in(&api, &mut request).await {
        Ok(()) => next.run(request).await,
        Err((status, why)) => Refusal::<S>::new(status, why).into_response(),
    }
}
