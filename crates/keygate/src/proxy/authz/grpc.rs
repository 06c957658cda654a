//! Envoy's gRPC `ext_authz`: `envoy.service.auth.v3.Authorization/Check` on
//! `authz.grpc_listen`, served by tonic with the generated Envoy types of `envoy-types`.
//!
//! The `CheckRequest`'s `attributes.request.http` is the original request — method,
//! `path` (with its query), `host`, `scheme`, the client's fields — and
//! `attributes.source.address` the client; it goes through the same phases as every
//! check ([`Gateway::check_as`]). Allowed: `OK` with an `OkHttpResponse` whose `headers`
//! set the identity fields (over the client's), whose `headers_to_remove` and
//! `query_parameters_to_remove` take the key out, and whose `response_headers_to_add`
//! carry the rate-limit fields. Refused: the gRPC code of the refusal with a
//! `DeniedHttpResponse` of keygate's own — status, fields (`WWW-Authenticate`,
//! `Retry-After`, …) and JSON body — which Envoy sends to the client.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use envoy_types::ext_authz::v3::pb::{
    Address, Authorization, CheckRequest, CheckResponse, DeniedHttpResponse, HeaderAppendAction,
    HeaderValue, HeaderValueOption, HttpResponse, HttpStatus, OkHttpResponse,
};
use envoy_types::pb::google::rpc;
use http::header::{CONTENT_TYPE, COOKIE, HOST};
use http::request::Parts;
use http::{HeaderMap, HeaderName, Method, Response, StatusCode, Uri};
use http_body_util::Either;

use super::answer::{client_identity_fields, header_sources};
use super::Shape;
use crate::access_record::Mode;
use crate::config::KeySource;
use crate::proxy::admission::{Admission, Checked, Checking};
use crate::proxy::forward::{identity_fields, ClientAddress, TlsFacts};
use crate::proxy::handler::Gateway;
use crate::proxy::key_source::{self, cookie_without_keys};
use crate::proxy::limit_headers;
use crate::proxy::respond::ErrorBody;
use crate::proxy::ProxyBody;

/// The `Authorization` service, answering with the authz twin of the proxy's gateway.
pub struct Checks {
    gateway: Arc<Gateway>,
}

impl Checks {
    /// The service answering with `gateway` (an authz twin: [`Gateway::authz_twin`]).
    pub fn new(gateway: Arc<Gateway>) -> Checks {
        Checks { gateway }
    }
}

#[tonic::async_trait]
impl Authorization for Checks {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let front = request.remote_addr();
        let answer = answer(&self.gateway, &request.into_inner(), front).await;
        Ok(tonic::Response::new(answer))
    }
}

/// gRPC status codes of `google.rpc.Code` that the answers use.
mod code {
    pub const OK: i32 = 0;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The answer to `check` from Envoy at `front`.
pub async fn answer(
    gateway: &Gateway,
    check: &CheckRequest,
    front: Option<SocketAddr>,
) -> CheckResponse {
    let Some((mut parts, client)) = original(check, front) else {
        return refusal(
            code::INVALID_ARGUMENT,
            StatusCode::BAD_REQUEST,
            Vec::new(),
            r#"{"message":"The check does not describe a valid request"}"#,
        );
    };
    let checked = match gateway.check_as(&mut parts, &client, Mode::Authz(Shape::EnvoyGrpc)) {
        Checking::Decided(checked) => checked,
        // Exact rate limits across nodes: the one wait.
        Checking::Limiting(admission) => gateway.settle(admission, &parts).await,
        // Not reached: bodies are read for keys on the proxy's listeners only; a check
        // has none.
        Checking::ReadingBody(wait) => {
            let mut none = http_body_util::Empty::<bytes::Bytes>::new();
            gateway
                .check_body(wait, &mut parts, &client, &mut none)
                .await
                .0
        }
    };
    match checked {
        Checked::Answered(response, _) => denied(response),
        Checked::Admitted(mut admission) => {
            let answer = allowed(&admission, &parts.headers, parts.uri.query());
            let mut response = Response::new(Either::Right(ErrorBody::empty()));
            *response.status_mut() = StatusCode::OK;
            gateway.finish_check(&mut admission, &response);
            answer
        }
    }
}

/// The original request in `check`, and its client; `None` when it holds no valid one.
fn original(check: &CheckRequest, front: Option<SocketAddr>) -> Option<(Parts, ClientAddress)> {
    let attributes = check.attributes.as_ref()?;
    let http = attributes.request.as_ref()?.http.as_ref()?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = Method::from_bytes(http.method.as_bytes()).ok()?;
    if !http.path.starts_with('/') || http.path.contains('#') {
        return None;
    }
    parts.uri = Uri::try_from(http.path.as_str()).ok()?;
    let mut headers = HeaderMap::with_capacity(http.headers.len() + 1);
    let raw = http.header_map.iter().flat_map(|map| &map.headers);
    let fields = http
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .chain(raw.map(|field| {
            let value = match field.raw_value.is_empty() {
                true => field.value.as_bytes(),
                false => &field.raw_value[..],
            };
            (field.key.as_str(), value)
        }));
    for (name, value) in fields {
        // Pseudo-fields (`:authority`, `:path`) are in the request's own attributes.
        if name.starts_with(':') {
            continue;
        }
        // A field keygate cannot read refuses the check, as keygate's own parser refuses
        // such a head: dropped, it would be decided without, and Envoy would still
        // forward it (an identity field with a control byte would not be named for
        // removal).
        let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
        headers.append(name, http::HeaderValue::from_bytes(value).ok()?);
    }
    if !http.host.is_empty() {
        headers.insert(HOST, http::HeaderValue::from_str(&http.host).ok()?);
    }
    parts.headers = headers;
    let source = attributes
        .source
        .as_ref()
        .and_then(|peer| peer.address.as_ref())
        .and_then(|address| address.address.as_ref())
        .and_then(|address| match address {
            Address::SocketAddress(socket) => socket.address.parse::<IpAddr>().ok(),
            _ => None,
        });
    let ip = source.or(front.map(|front| front.ip()))?;
    let client = ClientAddress {
        ip,
        header: http::HeaderValue::from_static(""),
        tls: (http.scheme == "https").then_some(TlsFacts {
            client_certificate: false,
        }),
    };
    Some((parts, client))
}

/// A field Envoy sets upstream, over the client's.
fn field(name: &str, value: &[u8]) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: name.to_owned(),
            value: String::from_utf8_lossy(value).into_owned(),
            ..HeaderValue::default()
        }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

/// The query parameters Envoy removes for the key sources `removed` in `query`: each
/// source's name, and every other spelling of it in the query that keygate reads as that
/// name (`api%6Bey` for `apikey`), as Envoy compares names without decoding them.
fn query_key_names(removed: &[KeySource], query: Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for source in removed {
        let KeySource::Query { name } = source else {
            continue;
        };
        let spellings = query
            .into_iter()
            .flat_map(key_source::query_pairs)
            .map(|(param, _)| param)
            .filter(|param| key_source::is_param(param, name));
        for spelling in std::iter::once(name.as_str()).chain(spellings) {
            if !names.iter().any(|known| known == spelling) {
                names.push(spelling.to_owned());
            }
        }
    }
    names
}

/// `OK`, with what Envoy changes on the request of `admission` (whose fields are
/// `headers`, whose query is `query`) before forwarding it.
fn allowed(admission: &Admission, headers: &HeaderMap, query: Option<&str>) -> CheckResponse {
    let mut ok = OkHttpResponse::default();
    if let Some(caller) = admission.caller() {
        let names = &admission.snapshot().identity_headers;
        identity_fields(names, caller, |name, value| {
            ok.headers.push(field(name.as_str(), value));
        });
    }
    let removed = admission.removed_key_sources();
    ok.headers_to_remove = header_sources(removed)
        .into_iter()
        .chain(client_identity_fields(admission, headers))
        .map(str::to_owned)
        .collect();
    match cookie_without_keys(removed, headers) {
        Some(cookie) if cookie.is_empty() => ok.headers_to_remove.push(COOKIE.as_str().to_owned()),
        Some(cookie) => ok.headers.push(field(COOKIE.as_str(), cookie.as_bytes())),
        None => {}
    }
    ok.query_parameters_to_remove = query_key_names(removed, query);
    if let Some(report) = admission.limits() {
        let mut limits = HeaderMap::new();
        limit_headers::insert(&mut limits, report, admission.route().rate_limit_headers);
        ok.response_headers_to_add = limits
            .iter()
            .map(|(name, value)| field(name.as_str(), value.as_bytes()))
            .collect();
    }
    CheckResponse {
        status: Some(rpc::Status {
            code: code::OK,
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::OkResponse(ok)),
        ..CheckResponse::default()
    }
}

/// keygate's refusal `response`, as a gRPC code and the HTTP answer Envoy sends.
fn denied(response: Response<ProxyBody>) -> CheckResponse {
    let status = response.status();
    let (fields, body) = match response.body() {
        Either::Right(error) => (error.fields(), error.json().unwrap_or("")),
        Either::Left(_) => (Vec::new(), ""),
    };
    let grpc = match status {
        StatusCode::UNAUTHORIZED => code::UNAUTHENTICATED,
        StatusCode::FORBIDDEN => code::PERMISSION_DENIED,
        StatusCode::TOO_MANY_REQUESTS => code::RESOURCE_EXHAUSTED,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => code::NOT_FOUND,
        _ => code::INVALID_ARGUMENT,
    };
    refusal(grpc, status, fields, body)
}

/// A refusal with gRPC code `grpc`, and HTTP `status`, `fields` and JSON `body` for the
/// client.
fn refusal(
    grpc: i32,
    status: StatusCode,
    fields: Vec<(String, Vec<u8>)>,
    body: &str,
) -> CheckResponse {
    let mut headers: Vec<HeaderValueOption> = fields
        .iter()
        .map(|(name, value)| field(name, value))
        .collect();
    if !fields.iter().any(|(name, _)| name == CONTENT_TYPE.as_str()) {
        headers.push(field(CONTENT_TYPE.as_str(), b"application/json"));
    }
    let message = body
        .strip_prefix(r#"{"message":""#)
        .and_then(|rest| rest.strip_suffix(r#""}"#))
        .unwrap_or(body);
    CheckResponse {
        status: Some(rpc::Status {
            code: grpc,
            message: message.to_owned(),
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(status.as_u16()),
            }),
            headers,
            body: body.to_owned(),
        })),
        ..CheckResponse::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_key_is_removed_under_every_spelling_keygate_reads() {
        let removed = [
            KeySource::Query {
                name: "apikey".into(),
            },
            KeySource::Header {
                name: HeaderName::from_static("client-key"),
                scheme: None,
                separators_alike: false,
            },
        ];
        let query = Some("api%6Bey=k1&page=2&apikey=k2&api%6bey=k3&api+key=x&apikeys=y");
        assert_eq!(
            query_key_names(&removed, query),
            ["apikey", "api%6Bey", "api%6bey"]
        );
        assert_eq!(query_key_names(&removed, None), ["apikey"]);
        assert!(query_key_names(&removed[1..], query).is_empty());
    }
}
