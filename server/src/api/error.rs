//! Errors as every API route answers them: `{code, message, field?}` with a stable snake_case
//! code and the matching status. Store and driver details stay in the logs.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use engine::definition::Issue;
use engine::runtime::{InputError, RuntimeError};
use engine::service::{AccessError, InstanceError, ServiceError, TaskError};
use engine::store::StoreError;
use serde::Serialize;

/// Every error: a stable snake_case `code`, a `message` for people, the `field` at fault when
/// there is one, and `issues` when there are several problems.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    #[schema(ignore)]
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, where there are several (definition issues, input errors).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub issues: Option<serde_json::Value>,
    #[serde(skip)]
    #[schema(ignore)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            issues: None,
            retry_after: None,
        }
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message).field(field)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "sign in: send `Authorization: Bearer <access token>`",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{} not found", what.into()),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on the server; the request id names it in the logs",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            StoreError::Stale => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the instance changed meanwhile; try again",
            ),
            StoreError::Unavailable(_) => {
                tracing::warn!(error = %err, source = ?std::error::Error::source(&err), "database unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database cannot be reached; try again shortly",
                )
            }
            other => {
                tracing::error!(error = %other, source = ?std::error::Error::source(&other), "store error");
                ApiError::internal()
            }
        }
    }
}

/// Definition issues as the API lists them.
pub fn invalid_definition(issues: &[Issue]) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_definition",
        format!("the definition has {} issue(s)", issues.len()),
    );
    error.field = issues
        .first()
        .and_then(|i| i.field.clone().or_else(|| i.node.clone()));
    error.issues = serde_json::to_value(issues).ok();
    error
}

impl From<InstanceError> for ApiError {
    fn from(err: InstanceError) -> Self {
        match err {
            InstanceError::NotFound => ApiError::not_found("instance"),
            InstanceError::Forbidden(_) => ApiError::forbidden(err.to_string()),
            InstanceError::Store(err) => err.into(),
        }
    }
}

impl From<TaskError> for ApiError {
    fn from(err: TaskError) -> Self {
        match err {
            TaskError::NotFound => ApiError::not_found("task"),
            TaskError::Forbidden => ApiError::forbidden(err.to_string()),
            TaskError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "conflict", why),
            TaskError::Invalid(ref errors) => {
                let mut error = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_submission",
                    err.to_string(),
                );
                error.field = errors.first().map(|e| e.field.clone());
                error.issues = serde_json::to_value(errors).ok();
                error
            }
            TaskError::Store(err) => err.into(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Invalid(issues) => invalid_definition(&issues),
            ServiceError::Forbidden(message) => ApiError::forbidden(message),
            ServiceError::Store(store) => store.into(),
        }
    }
}

impl From<RuntimeError> for ApiError {
    fn from(err: RuntimeError) -> Self {
        match err {
            RuntimeError::NoSuchVersion { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", err.to_string())
                    .field("definition_key")
            }
            RuntimeError::Archived(_) => {
                ApiError::new(StatusCode::CONFLICT, "archived", err.to_string())
                    .field("definition_key")
            }
            RuntimeError::InvalidInput(ref errors) => {
                let mut api = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    err.to_string(),
                );
                api.field = errors.first().map(|e: &InputError| e.field.clone());
                api.issues = serde_json::to_value(errors).ok();
                api
            }
            RuntimeError::InputTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", err.to_string())
                    .field("input")
            }
            RuntimeError::Store(store) => store.into(),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::InvalidCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_grant", err.to_string())
            }
            AccessError::InvalidRefresh => {
                ApiError::new(StatusCode::UNAUTHORIZED, "invalid_grant", err.to_string())
                    .field("refresh_token")
            }
            AccessError::Throttled { retry_after } => {
                let mut api =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", err.to_string());
                api.retry_after = Some(retry_after.as_secs().max(1));
                api
            }
            AccessError::BadValue { field, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", err.to_string())
                    .field(field)
            }
            AccessError::Store(store) => store.into(),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
