//! The one place where a [`ProxyError`] becomes an HTTP response: status, JSON body with a
//! `message`, and the headers the status calls for (`WWW-Authenticate`, `Allow`).

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};

use super::error::ProxyError;
use super::ProxyBody;

/// The response for an error. `challenge` is the `WWW-Authenticate` value sent with `401`.
pub fn error_response(error: &ProxyError, challenge: &HeaderValue) -> Response<ProxyBody> {
    let (status, body): (StatusCode, &'static str) = match error {
        ProxyError::NoRoute => (
            StatusCode::NOT_FOUND,
            r#"{"message":"No route matched the request"}"#,
        ),
        ProxyError::MethodNotAllowed { .. } => (
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"message":"Method not allowed"}"#,
        ),
        ProxyError::BadPath => (
            StatusCode::BAD_REQUEST,
            r#"{"message":"Invalid request path"}"#,
        ),
        ProxyError::MalformedRequest => (
            StatusCode::BAD_REQUEST,
            r#"{"message":"Malformed request"}"#,
        ),
        ProxyError::UnsupportedTransferCoding => (
            StatusCode::NOT_IMPLEMENTED,
            r#"{"message":"Unsupported transfer coding"}"#,
        ),
        ProxyError::HeadersTooLarge => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            r#"{"message":"Request header fields too large"}"#,
        ),
        ProxyError::MissingKey | ProxyError::Forbidden { anonymous: true } => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Missing API key found in request"}"#,
        ),
        ProxyError::DuplicateKey => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Duplicate API key found in request"}"#,
        ),
        ProxyError::InvalidKey(_) => (
            StatusCode::UNAUTHORIZED,
            r#"{"message":"Invalid API key in request"}"#,
        ),
        ProxyError::Forbidden { anonymous: false } | ProxyError::NotSubscribed(_) => (
            StatusCode::FORBIDDEN,
            r#"{"message":"You cannot consume this service"}"#,
        ),
        ProxyError::UpstreamConnect => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"Could not connect to the upstream server"}"#,
        ),
        ProxyError::UpstreamTimeout => (
            StatusCode::GATEWAY_TIMEOUT,
            r#"{"message":"The upstream server did not answer in time"}"#,
        ),
        ProxyError::UpstreamBroken => (
            StatusCode::BAD_GATEWAY,
            r#"{"message":"An invalid response was received from the upstream server"}"#,
        ),
    };
    let mut response = Response::new(Either::Right(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))));
    *response.status_mut() = status;
    // Sized for the two fields at most: one allocation each for the index and entries,
    // none to grow.
    *response.headers_mut() = HeaderMap::with_capacity(2);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    match error {
        ProxyError::MissingKey
        | ProxyError::DuplicateKey
        | ProxyError::InvalidKey(_)
        | ProxyError::Forbidden { anonymous: true } => {
            headers.insert(WWW_AUTHENTICATE, challenge.clone());
        }
        ProxyError::MethodNotAllowed { allow } => {
            headers.insert(ALLOW, allow.clone());
        }
        _ => {}
    }
    response
}
