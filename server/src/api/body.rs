//! Reading requests: JSON bodies whose errors name the field at fault, definition documents in
//! JSON or YAML, and paging parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;

/// Largest request body the API reads.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// A JSON body. A body that is not JSON, too large, or of the wrong shape is a 4xx naming the
/// field (`input.size: invalid type: string "x", expected u32`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&request);
        if !content_type.is_empty() && !content_type.contains("json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send JSON (`Content-Type: application/json`), not `{content_type}`"),
            ));
        }
        let bytes = read_body(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let body = if bytes.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        bytes
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = if path == "." { String::new() } else { path };
        let message = if field.is_empty() {
            format!("the body is not the expected JSON: {inner}")
        } else {
            format!("{field}: {inner}")
        };
        let error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        if field.is_empty() {
            match missing_field(&inner.to_string()) {
                Some(name) => error.field(name),
                None => error,
            }
        } else {
            error.field(field)
        }
    })
}

/// serde says "missing field `name`"; the field is `name`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

pub async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body is larger than {MAX_BODY} bytes"),
                )
            } else {
                ApiError::bad_request("body", rejection.body_text())
            }
        })
}

pub fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A definition document: JSON, or YAML with `Content-Type: application/yaml`.
pub struct Document(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for Document {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = content_type(&request);
        let yaml = content_type.contains("yaml");
        if !yaml && !content_type.is_empty() && !content_type.contains("json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("send the definition as application/json or application/yaml, not `{content_type}`"),
            ));
        }
        let bytes = read_body(request, state).await?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::bad_request("body", "the body is not UTF-8 text"))?;
        let format = if yaml {
            engine::definition::Format::Yaml
        } else {
            engine::definition::Format::Json
        };
        engine::definition::Definition::document(text, format)
            .map(Document)
            .map_err(|issues| super::error::invalid_definition(&issues))
    }
}

/// `limit` (1–200, default 50) and `offset` (default 0).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub limit: i64,
    pub offset: i64,
}

impl Paging {
    /// A page as every list answers: `{items, total, limit, offset}`.
    pub fn answer<T: serde::Serialize>(
        self,
        page: engine::store::Page<T>,
    ) -> axum::Json<serde_json::Value> {
        axum::Json(serde_json::json!({
            "items": page.items, "total": page.total, "limit": self.limit, "offset": self.offset
        }))
    }
}

#[derive(Deserialize)]
struct RawPaging {
    limit: Option<String>,
    offset: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawPaging>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("query", e.body_text()))?;
        let number = |name: &'static str, value: Option<String>, default: i64, max: i64| match value
        {
            None => Ok(default),
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        name,
                        format!("`{name}` is a whole number from 0 to {max}"),
                    )
                }),
        };
        let limit = number("limit", raw.limit, 50, 200)?.max(1);
        let offset = number("offset", raw.offset, 0, i64::from(i32::MAX))?;
        Ok(Paging { limit, offset })
    }
}
