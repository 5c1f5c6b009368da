//! Compatibility surfaces: other orchestrators' APIs served over Baton's services, so their
//! clients can point at Baton. One module per surface; each translates, none runs a second
//! engine or repeats a rule. What they share: signing the caller in (the native API's bearer
//! tokens, or the browser session) and the reason a refusal gives.

pub mod activiti;
pub mod wecube;

use axum::extract::Request;
use axum::http::StatusCode;
use engine::service::Caller;

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
