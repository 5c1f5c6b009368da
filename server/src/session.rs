//! Browser sessions: `POST /auth/login` and `POST /auth/logout` (plain forms, so signing in works
//! before the wasm loads), the session cookie (HttpOnly, SameSite=Strict, Secure behind TLS), and
//! the gate in front of every page and server function: pages send anonymous visitors to
//! `/login`, server functions answer 401, and state-changing requests from another site are
//! refused (`Origin` / `Sec-Fetch-Site`).

use axum::extract::{Request, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::api::auth::ClientAddr;
use crate::api::error::ApiError;
use crate::startup::AppState;

pub const SESSION_COOKIE: &str = "baton_session";

/// The session token in the request's cookies.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE && !value.is_empty() && value.len() <= 256)
                .then(|| value.to_string())
        })
}

/// Served over TLS (as a proxy in front of Baton reports it).
fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn cookie(headers: &HeaderMap, value: &str, max_age: u64) -> HeaderValue {
    let secure = if secure(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("baton_session=; Path=/; Max-Age=0"))
}

/// Only paths on this site: `/…`, never `//host` or `/\\host`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_string())]).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    match state
        .api
        .access
        .session_login(&form.username, &form.password, &address)
        .await
    {
        Ok((token, _)) => {
            let mut response = see_other(&next);
            let max_age = engine::service::REFRESH_TTL.as_secs();
            response
                .headers_mut()
                .insert(SET_COOKIE, cookie(&headers, &token, max_age));
            response
        }
        Err(err) => {
            let reason = match err {
                engine::service::AccessError::Throttled { .. } => "throttled",
                engine::service::AccessError::Store(ref store) => {
                    tracing::warn!(error = %store, "sign-in failed on the store");
                    "unavailable"
                }
                _ => "credentials",
            };
            let next: String = form_urlencoded(&next);
            see_other(&format!("/login?error={reason}&next={next}"))
        }
    }
}

fn form_urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = session_token(&headers) {
        if let Ok(Some(caller)) = state.api.access.authenticate_session(&token).await {
            if let Err(err) = state.api.access.logout(&caller).await {
                tracing::warn!(error = %err, "sign-out could not revoke the session");
            }
        }
    }
    let mut response = see_other("/login");
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie(&headers, "", 0));
    response
}

/// Paths anyone may fetch: health, sign-in, the built assets, the REST API (which checks its
/// own tokens) and its documentation.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/login" | "/auth/login" | "/favicon.svg" | "/api/docs"
    ) || path.starts_with("/pkg/")
        || is_api(path)
}

/// The REST surfaces (the native API and the compatibility surfaces) answer for themselves:
/// bearer tokens, and their own refusals instead of the sign-in page.
fn is_api(path: &str) -> bool {
    [
        "/api/",
        "/platform/",
        "/activiti/",
        "/flow/",
        "/2/flow/",
        "/openapi/",
        "/connect/",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

/// A state-changing request made by another site's page: refused.
fn cross_site(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    match (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// In front of every route but the REST API: refuses cross-site state changes, and requires a
/// signed-in session for everything not public (the caller goes into the request for pages and
/// server functions to read).
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    // The REST API's bearer tokens are not sent by browsers on their own, so only requests
    // carrying the session cookie can be forged from another site.
    let by_cookie = !is_api(&path) || session_token(request.headers()).is_some();
    if by_cookie && cross_site(&request) {
        return ApiError::forbidden("cross-site requests may not change anything").into_response();
    }
    let caller = match session_token(request.headers()) {
        Some(token) => state
            .api
            .access
            .authenticate_session(&token)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
        return next.run(request).await;
    }
    if is_public(&path) {
        return next.run(request).await;
    }
    if path.starts_with("/rpc/") || *request.method() != Method::GET {
        return ApiError::unauthorized().into_response();
    }
    let wanted = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    see_other(&format!("/login?next={}", form_urlencoded(&wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/instances?x=1")), "/instances?x=1");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
