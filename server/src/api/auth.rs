//! Signing in: `POST /auth/token` (password and refresh_token grants, JSON or form-encoded),
//! `POST /auth/logout`, `GET /me`, `POST /me/password`, and the check every other route is behind.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use engine::people::User;
use engine::service::Caller;
use serde::Deserialize;
use serde_json::json;

use super::body::{content_type, parse_json, read_body, ApiJson};
use super::error::{ApiError, ApiResult};
use super::ApiState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
}

/// The token request, as JSON or as an OAuth2 form (`application/x-www-form-urlencoded`).
pub struct TokenBody(pub TokenRequest);

impl<S: Send + Sync> FromRequest<S> for TokenBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = content_type(&request).contains("x-www-form-urlencoded");
        let bytes = read_body(request, state).await?;
        if form {
            serde_urlencoded::from_bytes(&bytes)
                .map(TokenBody)
                .map_err(|e| ApiError::bad_request("body", e.to_string()))
        } else {
            parse_json(&bytes).map(TokenBody)
        }
    }
}

/// The caller's network address, for throttling sign-ins.
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

/// Sign in (password grant) or exchange a refresh token (single use: a reused one ends its
/// whole family). JSON or `application/x-www-form-urlencoded`.
#[utoipa::path(post, path = "/auth/token", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "`access_token`, `token_type` Bearer, `expires_in`, `refresh_token`", body = Object),
        (status = 400, description = "a field is missing or the grant type unknown", body = ApiError),
        (status = 401, description = "`invalid_grant`: wrong credentials or refresh token", body = ApiError),
        (status = 429, description = "`throttled`: too many failed sign-ins; see Retry-After", body = ApiError)))]
pub async fn token(
    State(api): State<ApiState>,
    ClientAddr(address): ClientAddr,
    TokenBody(request): TokenBody,
) -> ApiResult<Response> {
    let pair = grant(&api, &address, request).await?;
    // Tokens are not to be cached anywhere on the way.
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(pair),
    )
        .into_response())
}

/// The grant a token request asks for, from `address` (rate-limited per address; failed
/// sign-ins throttled): what the native token endpoint and the Encoo surface's both answer.
pub async fn grant(
    api: &ApiState,
    address: &str,
    request: TokenRequest,
) -> ApiResult<engine::service::TokenPair> {
    api.limiter.check(&format!("addr:{address}"))?;
    let required = |value: Option<String>, field: &'static str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_request(field, format!("`{field}` is required")))
    };
    Ok(match request.grant_type.as_str() {
        "password" => {
            let username = required(request.username, "username")?;
            let password = required(request.password, "password")?;
            api.access
                .password_grant(&username, &password, address)
                .await?
        }
        "refresh_token" => {
            let refresh = required(request.refresh_token, "refresh_token")?;
            api.access.refresh_grant(&refresh).await?
        }
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type `{other}`: use `password` or `refresh_token`"),
            )
            .field("grant_type"))
        }
    })
}

/// End the sign-in the caller's token belongs to (every token of its family).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "signed out"), (status = 401, body = ApiError)))]
pub async fn logout(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<StatusCode> {
    api.access.logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller: username, roles, groups.
#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ApiError)))]
pub async fn me(Extension(caller): Extension<Caller>) -> Json<User> {
    Json(caller.user)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Change the caller's password; every token of the user ends at once.
#[utoipa::path(post, path = "/me/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses((status = 200, body = Object), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn change_password(
    State(api): State<ApiState>,
    Extension(caller): Extension<Caller>,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<Json<serde_json::Value>> {
    api.access
        .change_password(&caller.user, &change.current_password, &change.new_password)
        .await
        .map_err(|e| match e {
            engine::service::AccessError::BadValue {
                field: "password",
                message,
            } => ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", message)
                .field("new_password"),
            other => other.into(),
        })?;
    Ok(Json(
        json!({"message": "password changed; every session and token was ended"}),
    ))
}

/// The access token of an `Authorization: Bearer …` header, if one of a sane length is there.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .map(str::to_string)
}

/// In front of every route but the token endpoint: a valid access token (or a browser session
/// cookie, checked by `session::gate`), or 401.
pub async fn require_caller(
    State(api): State<ApiState>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = bearer_token(request.headers());
    let Some(token) = token else {
        // A browser session, already checked by the session gate in front of everything.
        if let Some(caller) = request.extensions().get::<Caller>() {
            if let Err(limited) = api.limiter.check(&format!("user:{}", caller.user.id)) {
                return limited.into_response();
            }
            return next.run(request).await;
        }
        return ApiError::unauthorized().into_response();
    };
    match api.access.authenticate(&token).await {
        Ok(Some(caller)) => {
            if let Err(limited) = api.limiter.check(&format!("user:{}", caller.user.id)) {
                return limited.into_response();
            }
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Ok(None) => ApiError::unauthorized().into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}
