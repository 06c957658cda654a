//! The admin API's errors: `{"error":{"code","message"}}` with the right status. This is
//! the one place where store and validation errors become HTTP statuses.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use keygate_store::StoreError;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::state::sync::SyncError;

/// An admin API failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong token: 401.
    #[error("a valid admin token is required (X-API-KEY or Authorization: Bearer)")]
    Unauthorized,
    /// A sign-in with an unknown account, a wrong password or a bad token: 401, the same
    /// message for each.
    #[error("the account and password, or the token, are not valid")]
    BadCredentials,
    /// The caller may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts: 429, with `Retry-After` in seconds.
    #[error("too many sign-in attempts; try again in {0} seconds")]
    TooManyAttempts(u64),
    /// Unknown entity: 404.
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with what is stored, or still referenced: 409.
    #[error("{0}")]
    Conflict(String),
    /// The path exists, not with this method: 405 (axum adds `Allow`).
    #[error("method {0} is not allowed here; the Allow field lists those that are")]
    MethodNotAllowed(String),
    /// The body or a field is invalid: 422.
    #[error("{0}")]
    Invalid(String),
    /// The body is not JSON at all: 400.
    #[error("{0}")]
    BadRequest(String),
    /// The store cannot be reached: 503. No write happened.
    #[error("{0}")]
    Unavailable(String),
    /// A bug: 500.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Unavailable(_) => ApiError::Unavailable(error.to_string()),
            StoreError::Corrupt(_) => ApiError::Internal(error.to_string()),
        }
    }
}

impl From<SyncError> for ApiError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Store(store) => store.into(),
            SyncError::Ownership(message) => ApiError::Conflict(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = json!({"error": {"code": code, "message": self.to_string()}});
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::TooManyAttempts(seconds) = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

/// A JSON body whose rejections come back in the admin API's error format. The body is
/// read as JSON whatever its `Content-Type` says (as APISIX's and Kong's admin APIs do),
/// so that `curl -d '{…}'`, which sends a form type, works as written: the admin token in
/// a header of its own is what keeps other sites' forms out, not the body's type.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        json_of(&bytes).map(Body)
    }
}

/// A JSON body that may be left out, as [`Body`] otherwise: an empty body (or only white
/// space) is `T::default()` — for calls such as a subscription's transitions, which
/// take a body only now and then.
pub struct OptionalBody<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        json_of(&bytes).map(OptionalBody)
    }
}

/// A body read as JSON: not JSON at all is `400`, JSON of the wrong shape (an unknown or
/// mistyped field) `422`.
fn json_of<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(JsonRejection::JsonDataError(error)) => Err(ApiError::Invalid(error.body_text())),
        Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
    }
}

/// A query string whose rejections come back in the admin API's error format (`422`).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::Invalid(format!(
                "invalid query string: {}",
                rejection.body_text()
            ))),
        }
    }
}
