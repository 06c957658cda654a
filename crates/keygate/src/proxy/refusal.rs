//! A refusal answered as its service's `responses:` say (else `defaults.responses`): the
//! `WWW-Authenticate` challenge or none, keygate's wording or APISIX's, and — on the proxy
//! listener — a template replacing the status, body and fields. A gRPC call gets gRPC's
//! form whatever the templates say (its clients read `grpc-status`, not a body).

use http::{HeaderMap, HeaderValue, Response};
use http_body_util::Either;

use super::error::ProxyError;
use super::grpc_status;
use super::limit_check::Refused;
use super::respond::{error_response, into_grpc};
use super::ProxyBody;
use crate::config::{RefusalKey, Responses, Wording};

/// APISIX 3.10's words for a request without a key.
const APISIX_MISSING_KEY: &str = r#"{"message":"Missing API key in request"}"#;

/// The answer to `error` for a request with `headers`; `templates` is false where the
/// answer goes to a front proxy (authz mode), which has its own way to word refusals.
pub fn refusal_response(
    headers: &HeaderMap,
    error: &ProxyError,
    responses: &Responses,
    templates: bool,
) -> Response<ProxyBody> {
    let no_challenge = HeaderValue::from_static("");
    let challenge = responses.challenge.as_ref().unwrap_or(&no_challenge);
    let mut response = error_response(error, challenge);
    let key = key_of(error);
    if responses.wording == Wording::Apisix && key == Some(RefusalKey::ApiKeyMissing) {
        if let Either::Right(body) = response.body_mut() {
            body.reword(APISIX_MISSING_KEY);
        }
    }
    if grpc_status::is_grpc_request(headers) {
        return into_grpc(response, error);
    }
    let template = key
        .filter(|_| templates)
        .and_then(|key| responses.template(key));
    if let Some(template) = template {
        let status = template.status;
        if let Either::Right(body) = response.body_mut() {
            body.use_template(template.clone(), status);
        }
        *response.status_mut() = status;
    }
    response
}

/// The template key of a refusal; `None` for the answers templates do not replace
/// (routing, framing, upstream failures).
fn key_of(error: &ProxyError) -> Option<RefusalKey> {
    Some(match error {
        ProxyError::MissingKey | ProxyError::Forbidden { anonymous: true } => {
            RefusalKey::ApiKeyMissing
        }
        ProxyError::InvalidKey(_) => RefusalKey::ApiKeyInvalid,
        ProxyError::DuplicateKey => RefusalKey::ApiKeyDuplicate,
        ProxyError::Forbidden { anonymous: false } => RefusalKey::AccessDenied,
        ProxyError::NotSubscribed(_) => RefusalKey::NotSubscribed,
        ProxyError::RateLimited(refusal) => match refusal.kind {
            Refused::Rate => RefusalKey::RateLimited,
            Refused::Quota => RefusalKey::QuotaExceeded,
            Refused::Credits => RefusalKey::CreditsExhausted,
        },
        _ => return None,
    })
}
