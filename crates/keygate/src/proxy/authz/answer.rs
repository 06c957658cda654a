//! The decision, said in the front proxy's protocol.
//!
//! Let through: `200`, no body, and in its fields what the front proxy sets upstream —
//! the identity fields ([`identity_fields`], the same list the proxy forwards), the
//! rate-limit fields, and `Cookie` without the key cookies when the request had cookies.
//! Envoy also gets `x-envoy-auth-headers-to-remove` naming the key's header sources and
//! the identity fields the client sent that the answer does not set
//! ([`client_identity_fields`]: what the proxy leaves out); the other front proxies
//! remove those by their configuration (deploy/, docs/authz.md).
//!
//! Refused: keygate's own refusal — status, JSON body, `WWW-Authenticate`,
//! `Retry-After` — which Caddy, Traefik and Envoy hand to the client as it is. nginx
//! takes only `401` and `403` from `auth_request` (any other status is its own `500`),
//! and never its body: its refusals are `401` or `403` with `x-keygate-status` (the
//! status meant) and `x-keygate-body` (the JSON body), which deploy/nginx's
//! `error_page` locations turn back into keygate's answer.
//!
//! These fields are not put in the answer's field map: they ride with its body (the
//! caller, nginx's form and the rarer [`AnswerFields`] in [`ErrorBody`]) and are written
//! straight into the connection's write buffer with the rest of the head, as the proxy
//! writes the identity fields into the head it sends upstream. An answer thus costs no
//! field map and no field value, and the usual ones (an identity, a refusal) no
//! allocation either.

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::Either;

use super::Shape;
use crate::config::field_patterns::same_dashed;
use crate::config::KeySource;
use crate::limits::HeaderMode;
use crate::proxy::admission::{Admission, Identity};
use crate::proxy::forward::identity_fields;
use crate::proxy::identity_fields::is_identity_field;
use crate::proxy::key_source::cookie_without_keys;
use crate::proxy::limit_check::LimitReport;
use crate::proxy::limit_headers;
use crate::proxy::respond::ErrorBody;
use crate::proxy::ProxyBody;
use crate::state::Snapshot;

/// nginx: the status keygate meant, on a refusal sent as `403`.
pub static X_KEYGATE_STATUS: HeaderName = HeaderName::from_static("x-keygate-status");
/// nginx: keygate's JSON body of a refusal.
pub static X_KEYGATE_BODY: HeaderName = HeaderName::from_static("x-keygate-body");
/// Envoy HTTP: the request fields Envoy removes before forwarding.
pub static X_ENVOY_AUTH_HEADERS_TO_REMOVE: HeaderName =
    HeaderName::from_static("x-envoy-auth-headers-to-remove");

/// The fields of an allowing answer beyond the caller's identity fields, written into
/// its head by [`AnswerFields::append`] (through [`ErrorBody::append_fields`]): nothing
/// is copied until then, and then only into the write buffer. Most answers have none
/// of these, and then no `AnswerFields` is kept.
#[derive(Debug, Default)]
pub struct AnswerFields {
    /// The limit closest to refusing, and the route's choice of fields for it.
    limits: Option<(LimitReport, HeaderMode)>,
    /// `Cookie` without the key cookies.
    cookie: Option<HeaderValue>,
    /// Envoy HTTP: the request fields to remove (`x-envoy-auth-headers-to-remove`).
    envoy_removes: Option<HeaderValue>,
}

impl AnswerFields {
    /// Whether there is no field to write.
    fn is_empty(&self) -> bool {
        self.limits.is_none() && self.cookie.is_none() && self.envoy_removes.is_none()
    }

    /// Appends the fields, one `name: value\r\n` each.
    pub fn append(&self, out: &mut Vec<u8>) {
        if let Some((report, mode)) = &self.limits {
            limit_headers::append(out, report, *mode);
        }
        if let Some(names) = &self.envoy_removes {
            append_field(
                out,
                X_ENVOY_AUTH_HEADERS_TO_REMOVE.as_str().as_bytes(),
                names.as_bytes(),
            );
        }
        if let Some(cookie) = &self.cookie {
            append_field(out, COOKIE.as_str().as_bytes(), cookie.as_bytes());
        }
    }
}

/// Appends the identity fields of `caller` under the names of `snapshot` (the one the
/// request was checked against): the first fields of an allowing answer.
pub fn append_identity(out: &mut Vec<u8>, snapshot: &Snapshot, caller: &Identity) {
    identity_fields(&snapshot.identity_headers, caller, |name, value| {
        append_field(out, name.as_str().as_bytes(), value);
    });
}

/// Appends nginx's form of a refusal: `x-keygate-status` with the status `meant` when
/// nginx is sent another, and `x-keygate-body` with keygate's JSON body `json`, when
/// the refusal has one.
pub fn append_nginx_refusal(out: &mut Vec<u8>, meant: Option<StatusCode>, json: Option<&str>) {
    if let Some(status) = meant {
        append_field(
            out,
            X_KEYGATE_STATUS.as_str().as_bytes(),
            status.as_str().as_bytes(),
        );
    }
    if let Some(json) = json {
        append_field(out, X_KEYGATE_BODY.as_str().as_bytes(), json.as_bytes());
    }
}

/// Appends `name: value\r\n`.
fn append_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The `200` that lets the request of `admission` through, for a front proxy of `shape`;
/// `headers` are the original request's.
pub fn allowed(shape: Shape, admission: &Admission, headers: &HeaderMap) -> Response<ProxyBody> {
    let mut fields = AnswerFields {
        limits: admission
            .limits()
            .map(|report| (report.clone(), admission.route().rate_limit_headers)),
        ..AnswerFields::default()
    };
    let removed = admission.removed_key_sources();
    let cookie = cookie_without_keys(removed, headers);
    if shape == Shape::EnvoyHttp {
        let mut names = header_sources(removed);
        if cookie.as_ref().is_some_and(HeaderValue::is_empty) {
            names.push("cookie");
        }
        names.extend(client_identity_fields(admission, headers));
        if !names.is_empty() {
            fields.envoy_removes = HeaderValue::from_str(&names.join(", ")).ok();
        }
    }
    fields.cookie = cookie.filter(|cookie| !cookie.is_empty() || shape != Shape::EnvoyHttp);
    let caller = admission
        .caller()
        .map(|caller| (admission.snapshot_shared(), caller.clone()));
    let fields = (!fields.is_empty()).then_some(fields);
    Response::new(Either::Right(ErrorBody::check_answer(caller, fields)))
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

/// The names of the fields in `headers` (the original request's) that the proxy would
/// leave out as client-sent identity fields — the built-in families, Mia-Platform's
/// names, `proxy.strip_request_headers`, and the four identity header names under any
/// spelling — except those the answer to `admission` sets (which replace the client's):
/// for Envoy to remove before it forwards the request.
pub fn client_identity_fields<'a, 'h>(
    admission: &'a Admission,
    headers: &'h HeaderMap,
) -> impl Iterator<Item = &'h str> + use<'a, 'h> {
    let snapshot = admission.snapshot();
    let names = &snapshot.identity_headers;
    let own = [
        &names.consumer,
        &names.credential,
        &names.groups,
        &names.client_type,
    ];
    let configured = &snapshot.config.proxy.strip_request_headers;
    let caller = admission.caller();
    headers.keys().filter_map(move |name| {
        let bytes = name.as_str().as_bytes();
        let identity = is_identity_field(bytes, configured)
            || own
                .iter()
                .copied()
                .chain(names.consumer_id.as_ref())
                .chain(names.custom_id.as_ref())
                .any(|own| same_dashed(bytes, own.as_str().as_bytes()));
        let mut set = false;
        if let Some(caller) = caller {
            identity_fields(names, caller, |field, _| set |= field == name);
        }
        (identity && !set).then_some(name.as_str())
    })
}

/// keygate's refusal `response`, reshaped in place for a front proxy of `shape`.
pub fn deny(shape: Shape, response: &mut Response<ProxyBody>) {
    if shape != Shape::Nginx {
        return;
    }
    let status = response.status();
    let meant =
        (status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN).then_some(status);
    if let Either::Right(error) = response.body_mut() {
        error.refuse_for_nginx(meant);
    }
    if meant.is_some() {
        *response.status_mut() = StatusCode::FORBIDDEN;
    }
}
