//! Authorization-service mode: keygate answers another proxy's question "may this request
//! go on?" instead of forwarding the request itself (docs/authz.md).
//!
//! A check arrives on an `authz.listen` listener, served by the proxy's own HTTP/1
//! server, and its path says which front proxy sent it ([`Shape`]): `/nginx` (nginx
//! `auth_request`), `/forward-auth` (Caddy `forward_auth`, Traefik `ForwardAuth`), and
//! `authz.envoy_path_prefix` (`/envoy`) followed by the original path (Envoy's HTTP
//! `ext_authz`); Envoy's gRPC `Check` has a listener of its own ([`grpc`]). Then:
//!
//! 1. [`original::read`] rebuilds the original request from the check: method, URI,
//!    host, client address and scheme, and the client's headers as sent;
//! 2. [`Gateway::check_as`] runs on it — the proxy's phases 1–5 (route, authenticate,
//!    plan, authorize, limits), the one decision code, logged and counted with the mode;
//! 3. [`answer`] says it in the front proxy's protocol: `200` with the identity fields to
//!    set upstream and what to remove, or the refusal with keygate's JSON body.
//!
//! Nothing here waits, and nothing is forwarded.

pub mod answer;
pub mod grpc;
pub mod original;

use bytes::Bytes;
use http::request::Parts;
use http::{Response, StatusCode};
use http_body_util::Either;

use super::admission::{Admission, Checked, Checking};
use super::forward::ClientAddress;
use super::handler::Gateway;
use super::respond::ErrorBody;
use super::ProxyBody;
use crate::access_record::Mode;

/// Which front proxy's protocol a check speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// nginx `auth_request`: the original method and URI in configured fields.
    Nginx = 0,
    /// Caddy `forward_auth`, Traefik `ForwardAuth`: `X-Forwarded-Method`, `-Uri`,
    /// `-Host`, `-Proto`, `-For`.
    ForwardAuth = 1,
    /// Envoy `ext_authz` over HTTP: the original request, its path behind a prefix.
    EnvoyHttp = 2,
    /// Envoy `ext_authz` over gRPC: `envoy.service.auth.v3.Authorization/Check`.
    EnvoyGrpc = 3,
}

impl Shape {
    /// Every shape, in the order of their numbers.
    pub const ALL: [Shape; 4] = [
        Shape::Nginx,
        Shape::ForwardAuth,
        Shape::EnvoyHttp,
        Shape::EnvoyGrpc,
    ];

    /// The shape's name in the access log and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Nginx => "nginx",
            Shape::ForwardAuth => "forward_auth",
            Shape::EnvoyHttp => "envoy_http",
            Shape::EnvoyGrpc => "envoy_grpc",
        }
    }

    /// The shape of an HTTP check to `path` on an authz listener; `None` for a path that
    /// is no check.
    pub fn of_path(path: &str, envoy_prefix: &str) -> Option<Shape> {
        match path {
            NGINX_PATH => Some(Shape::Nginx),
            FORWARD_AUTH_PATH => Some(Shape::ForwardAuth),
            path if path
                .strip_prefix(envoy_prefix)
                .is_some_and(|rest| rest.starts_with('/')) =>
            {
                Some(Shape::EnvoyHttp)
            }
            _ => None,
        }
    }
}

/// Where nginx's `auth_request` location sends its checks.
pub const NGINX_PATH: &str = "/nginx";

/// Where Caddy's `forward_auth` and Traefik's `ForwardAuth` send their checks.
pub const FORWARD_AUTH_PATH: &str = "/forward-auth";

/// Answers the check `request` (from a front proxy at `client`) at once: the original
/// request it describes is decided by the proxy's own phases, and the decision said in
/// the front proxy's protocol — `Checked::Answered`, never `Admitted`. In exact mode
/// across nodes a check that rate limits apply to comes back `Checking::Limiting`; the
/// connection awaits [`Gateway::settle`], which answers it in the same protocol
/// ([`answer_to`]). The request's field map is lent to the original request and given
/// back, so that the connection keeps it (and `settle` reads the same fields). `source`:
/// the check's head as read (`Gateway::check`), which the original target shares.
pub fn check(
    gateway: &Gateway,
    request: &mut Parts,
    source: &Bytes,
    client: &ClientAddress,
) -> Checking {
    let snapshot = gateway.state().load();
    let settings = &snapshot.config.authz;
    let Some(shape) = Shape::of_path(request.uri.path(), &settings.envoy_path_prefix) else {
        return Checking::Decided(Checked::Answered(not_a_check(), None));
    };
    let mut original = match original::read(shape, request, source, settings, client) {
        Ok(original) => original,
        Err(error) => {
            tracing::debug!(%error, check = shape.as_str(), "check refused");
            return Checking::Decided(Checked::Answered(bad_check(), None));
        }
    };
    drop(snapshot);
    // Answered where it is decided, in the front proxy's protocol (`Gateway::check_as`):
    // the decision is not moved here to be reshaped.
    let checking = gateway.check_as(&mut original.parts, &original.client, Mode::Authz(shape));
    request.headers = std::mem::take(&mut original.parts.headers);
    checking
}

/// The decision `checked` on a check of `shape`, said in the front proxy's HTTP protocol
/// (`headers`: the original request's fields): a request let through answered with what
/// goes upstream ([`answer_allowed`]), and logged. A refusal is already said so: the
/// gateway reshapes it as it refuses.
pub(crate) fn answer_to(
    gateway: &Gateway,
    shape: Shape,
    checked: Checked,
    headers: &http::HeaderMap,
) -> Checked {
    match checked {
        answered @ Checked::Answered(..) => answered,
        Checked::Admitted(mut admission) => answer_allowed(gateway, shape, &mut admission, headers),
    }
}

/// The answer to a check of `shape` that let `admission` through (`headers`: the
/// original request's fields), counted and logged. The admission is lent, not moved
/// (hundreds of bytes): its holder drops it.
pub(crate) fn answer_allowed(
    gateway: &Gateway,
    shape: Shape,
    admission: &mut Admission,
    headers: &http::HeaderMap,
) -> Checked {
    let id = admission.request_id_field();
    let response = answer::allowed(shape, admission, headers);
    gateway.finish_check(admission, &response);
    Checked::Answered(response, id)
}

/// A JSON answer of keygate's own with `status` and `body`.
fn own_answer(status: StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(Either::Right(ErrorBody::static_json(body)));
    *response.status_mut() = status;
    response
}

/// The answer to a request on an authz listener at a path that is no check.
fn not_a_check() -> Response<ProxyBody> {
    own_answer(
        StatusCode::NOT_FOUND,
        r#"{"message":"No authorization check at this path"}"#,
    )
}

/// The answer to a check that does not describe a request (a field missing or invalid).
fn bad_check() -> Response<ProxyBody> {
    own_answer(
        StatusCode::BAD_REQUEST,
        r#"{"message":"The check does not describe a valid request"}"#,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_says_which_front_proxy_asks() {
        assert_eq!(Shape::of_path("/nginx", "/envoy"), Some(Shape::Nginx));
        assert_eq!(
            Shape::of_path("/forward-auth", "/envoy"),
            Some(Shape::ForwardAuth)
        );
        assert_eq!(
            Shape::of_path("/envoy/v1/json", "/envoy"),
            Some(Shape::EnvoyHttp)
        );
        assert_eq!(Shape::of_path("/envoy/", "/envoy"), Some(Shape::EnvoyHttp));
        for other in [
            "/",
            "/envoy",
            "/envoyx/a",
            "/nginx/",
            "/forward-auth/x",
            "/v1/json",
        ] {
            assert_eq!(Shape::of_path(other, "/envoy"), None, "{other}");
        }
    }
}
