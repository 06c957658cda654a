//! The decision, said in the front proxy's protocol.
//!
//! Let through: `200`, no body, and in its fields what the front proxy sets upstream —
//! the identity fields ([`identity_fields`], the same list the proxy forwards), the
//! rate-limit fields, and `Cookie` without the key cookies when the request had cookies.
//! Envoy also gets `x-envoy-auth-headers-to-remove` naming the key's header sources; the
//! other front proxies remove those by their configuration (deploy/).
//!
//! Refused: keygate's own refusal — status, JSON body, `WWW-Authenticate`,
//! `Retry-After` — which Caddy, Traefik and Envoy hand to the client as it is. nginx
//! takes only `401` and `403` from `auth_request` (any other status is its own `500`),
//! and never its body: its refusals are `401` or `403` with `x-keygate-status` (the
//! status meant) and `x-keygate-body` (the JSON body), which deploy/nginx's
//! `error_page` locations turn back into keygate's answer.

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Either;

use super::Shape;
use crate::config::KeySource;
use crate::proxy::admission::Admission;
use crate::proxy::forward::identity_fields;
use crate::proxy::key_source::cookie_without_keys;
use crate::proxy::limit_headers;
use crate::proxy::respond::ErrorBody;
use crate::proxy::ProxyBody;

/// nginx: the status keygate meant, on a refusal sent as `403`.
pub static X_KEYGATE_STATUS: HeaderName = HeaderName::from_static("x-keygate-status");
/// nginx: keygate's JSON body of a refusal.
pub static X_KEYGATE_BODY: HeaderName = HeaderName::from_static("x-keygate-body");
/// Envoy HTTP: the request fields Envoy removes before forwarding.
pub static X_ENVOY_AUTH_HEADERS_TO_REMOVE: HeaderName =
    HeaderName::from_static("x-envoy-auth-headers-to-remove");

/// The `200` that lets the request of `admission` through, for a front proxy of `shape`;
/// `headers` are the original request's.
pub fn allowed(shape: Shape, admission: &Admission, headers: &HeaderMap) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(ErrorBody::empty()));
    let fields = response.headers_mut();
    if let Some(key) = admission.caller() {
        let names = &admission.snapshot().identity_headers;
        for (name, value) in identity_fields(names, key, &key.consumer) {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                fields.append(name.clone(), value);
            }
        }
    }
    if let Some(report) = admission.limits() {
        limit_headers::insert(fields, report, admission.route().rate_limit_headers);
    }
    let removed = admission.removed_key_sources();
    let cookie = cookie_without_keys(removed, headers);
    if shape == Shape::EnvoyHttp {
        let mut names = header_sources(removed);
        if cookie.as_ref().is_some_and(HeaderValue::is_empty) {
            names.push("cookie");
        }
        if !names.is_empty() {
            if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
                fields.insert(X_ENVOY_AUTH_HEADERS_TO_REMOVE.clone(), value);
            }
        }
    }
    if let Some(cookie) = cookie.filter(|cookie| !cookie.is_empty() || shape != Shape::EnvoyHttp) {
        fields.insert(COOKIE, cookie);
    }
    response
}

/// The names of the header key sources among `sources`.
pub fn header_sources(sources: &[KeySource]) -> Vec<&str> {
    sources
        .iter()
        .filter_map(|source| match source {
            KeySource::Header { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

/// keygate's refusal `response`, for a front proxy of `shape`.
pub fn denied(shape: Shape, mut response: Response<ProxyBody>) -> Response<ProxyBody> {
    if shape != Shape::Nginx {
        return response;
    }
    let status = response.status();
    let body = match response.body() {
        Either::Right(error) => error.json(),
        Either::Left(_) => None,
    };
    if let Some(body) = body {
        response
            .headers_mut()
            .insert(X_KEYGATE_BODY.clone(), HeaderValue::from_static(body));
    }
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        let mut text = itoa::Buffer::new();
        if let Ok(value) = HeaderValue::from_str(text.format(status.as_u16())) {
            response
                .headers_mut()
                .insert(X_KEYGATE_STATUS.clone(), value);
        }
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
    response
}
