//! The original request a front proxy's check describes, rebuilt as the proxy's phases
//! read a request: method, origin-form target, `Host`, the client's address and scheme,
//! and the client's fields as sent (the check's own fields stay among them, harmless).
//!
//! | shape | method | target | host | client | scheme |
//! |---|---|---|---|---|---|
//! | nginx | `authz.method_header` | `authz.uri_header` | `Host` | last `X-Forwarded-For` | `X-Forwarded-Proto` |
//! | forward auth | `X-Forwarded-Method` | `X-Forwarded-Uri` | `X-Forwarded-Host`, else `Host` | last `X-Forwarded-For` | `X-Forwarded-Proto` |
//! | Envoy HTTP | the check's | the check's, without the prefix | `Host` | last `X-Forwarded-For` | `X-Forwarded-Proto` |
//!
//! The last `X-Forwarded-For` entry is the one the front proxy added; without one, the
//! front proxy's own address stands in. An authz listener must therefore be reachable by
//! the front proxy alone (docs/authz.md).

use std::net::IpAddr;

use bytes::Bytes;
use http::header::HOST;
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use super::Shape;
use crate::config::AuthzSettings;
use crate::proxy::field_lookup::SCANNED;
use crate::proxy::forward::{ClientAddress, TlsFacts};

static X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
static X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Why a check does not describe a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginalError {
    /// A field the shape needs is missing.
    #[error("the check has no `{0}` field")]
    Missing(HeaderName),
    /// The original method is not a method.
    #[error("the original method is not a valid method")]
    Method,
    /// The original target is not an origin-form target (`/path?query`).
    #[error("the original URI is not a path with an optional query")]
    Target,
}

/// The original request, and its client.
#[derive(Debug)]
pub struct Original {
    /// The request head as the proxy's phases read it; its field map is the check's,
    /// taken (and given back by the caller).
    pub parts: Parts,
    /// The original client.
    pub client: ClientAddress,
}

/// The original request described by `check` in `shape`, from the front proxy at
/// `front`. `source` is the check's head as read, of which its target and field values
/// are slices (empty when they are not): the original target shares those bytes. On
/// success the check's field map has moved into the original request.
pub fn read(
    shape: Shape,
    check: &mut Parts,
    source: &Bytes,
    settings: &AuthzSettings,
    front: &ClientAddress,
) -> Result<Original, OriginalError> {
    // The fields that hold the original method and target, in the shapes that have them.
    let in_fields = match shape {
        Shape::Nginx => Some((&settings.method_header, &settings.uri_header)),
        Shape::ForwardAuth => Some((&X_FORWARDED_METHOD, &X_FORWARDED_URI)),
        Shape::EnvoyHttp => None,
        // The gRPC check is no HTTP request (`super::grpc`).
        Shape::EnvoyGrpc => return Err(OriginalError::Target),
    };
    let wanted = Wanted {
        method: in_fields.map(|(method, _)| method),
        target: in_fields.map(|(_, target)| target),
        host: (shape == Shape::ForwardAuth).then_some(&X_FORWARDED_HOST),
    };
    let fields = CheckFields::of(&check.headers, &wanted);
    let (method, uri) = match in_fields {
        Some((method, target)) => (
            method_in(fields.method, method)?,
            target_in(fields.target, target, source)?,
        ),
        None => (
            check.method.clone(),
            without_prefix(&check.uri, &settings.envoy_path_prefix, source)?,
        ),
    };
    let client = client_of(&fields, front);
    let host = fields.host.cloned();
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = method;
    parts.uri = uri;
    parts.version = check.version;
    parts.headers = std::mem::take(&mut check.headers);
    if let Some(host) = host {
        parts.headers.insert(HOST, host);
    }
    Ok(Original { parts, client })
}

/// The names of the fields that say a check's method, target and (forward auth) host,
/// where the check's shape has them.
struct Wanted<'n> {
    method: Option<&'n HeaderName>,
    target: Option<&'n HeaderName>,
    host: Option<&'n HeaderName>,
}

/// What a check's fields say of the original request.
#[derive(Default)]
struct CheckFields<'m> {
    /// The first value of the method field.
    method: Option<&'m HeaderValue>,
    /// The first value of the target field.
    target: Option<&'m HeaderValue>,
    /// The first value of the host field.
    host: Option<&'m HeaderValue>,
    /// The last `X-Forwarded-For`: the front proxy's.
    forwarded_for: Option<&'m HeaderValue>,
    /// The first `X-Forwarded-Proto`.
    forwarded_proto: Option<&'m HeaderValue>,
}

impl<'m> CheckFields<'m> {
    /// The `wanted` fields of `headers`, and the forwarding fields: a check of a few
    /// fields is gone through once, each field's name compared with the five (a hashed
    /// lookup of each would cost more, see `proxy::field_lookup`); a larger one is
    /// asked for each as usual. Either way the answers are `HeaderMap::get`'s (the last
    /// `X-Forwarded-For`: `get_all`'s last).
    fn of(headers: &'m HeaderMap, wanted: &Wanted<'_>) -> CheckFields<'m> {
        if headers.len() > SCANNED {
            return CheckFields {
                method: wanted.method.and_then(|name| headers.get(name)),
                target: wanted.target.and_then(|name| headers.get(name)),
                host: wanted.host.and_then(|name| headers.get(name)),
                forwarded_for: headers.get_all(&X_FORWARDED_FOR).iter().next_back(),
                forwarded_proto: headers.get(&X_FORWARDED_PROTO),
            };
        }
        let mut found = CheckFields::default();
        for (name, value) in headers {
            let first = |slot: &mut Option<&'m HeaderValue>, wanted: Option<&HeaderName>| {
                if slot.is_none() && wanted == Some(name) {
                    *slot = Some(value);
                }
            };
            first(&mut found.method, wanted.method);
            first(&mut found.target, wanted.target);
            first(&mut found.host, wanted.host);
            first(&mut found.forwarded_proto, Some(&X_FORWARDED_PROTO));
            if *name == X_FORWARDED_FOR {
                found.forwarded_for = Some(value);
            }
        }
        found
    }
}

/// The method in `value`, the first value of field `name`.
fn method_in(value: Option<&HeaderValue>, name: &HeaderName) -> Result<Method, OriginalError> {
    let value = value.ok_or_else(|| OriginalError::Missing(name.clone()))?;
    Method::from_bytes(value.as_bytes().trim_ascii()).map_err(|_| OriginalError::Method)
}

/// The origin-form target in `value`, the first value of field `name`.
fn target_in(
    value: Option<&HeaderValue>,
    name: &HeaderName,
    source: &Bytes,
) -> Result<Uri, OriginalError> {
    let value = value.ok_or_else(|| OriginalError::Missing(name.clone()))?;
    origin_form(shared(source, value.as_bytes()))
}

/// `part` as `Bytes`: a slice of `source` when it lies within it (`http` gives no way to
/// share a field value's own bytes with a `Uri`, but the head they were read from can),
/// else a copy.
fn shared(source: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if !part.is_empty() && start < source.len() && end <= source.len() => {
            source.slice(start..end)
        }
        _ => Bytes::copy_from_slice(part),
    }
}

/// `bytes` as an origin-form target: a path starting with `/`, an optional query;
/// no scheme, authority or fragment.
fn origin_form(bytes: Bytes) -> Result<Uri, OriginalError> {
    if !bytes.starts_with(b"/") || bytes.contains(&b'#') {
        return Err(OriginalError::Target);
    }
    let uri = Uri::from_maybe_shared(bytes).map_err(|_| OriginalError::Target)?;
    match (uri.scheme(), uri.authority()) {
        (None, None) => Ok(uri),
        _ => Err(OriginalError::Target),
    }
}

/// Envoy's check target without `prefix` (which [`Shape::of_path`] found in front).
fn without_prefix(uri: &Uri, prefix: &str, source: &Bytes) -> Result<Uri, OriginalError> {
    let whole = uri.path_and_query().map_or("/", |target| target.as_str());
    let rest = whole.get(prefix.len()..).ok_or(OriginalError::Target)?;
    origin_form(shared(source, rest.as_bytes()))
}

/// The original client: the last `X-Forwarded-For` entry (the front proxy's), else the
/// front proxy itself; over TLS when `X-Forwarded-Proto` says `https`.
fn client_of(fields: &CheckFields<'_>, front: &ClientAddress) -> ClientAddress {
    let forwarded = fields
        .forwarded_for
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| parse_ip(last.trim()));
    let https = fields
        .forwarded_proto
        .is_some_and(|proto| proto.as_bytes().trim_ascii().eq_ignore_ascii_case(b"https"));
    ClientAddress {
        ip: forwarded.unwrap_or(front.ip),
        // Never sent anywhere from a check: nothing is forwarded.
        header: HeaderValue::from_static(""),
        tls: https.then_some(TlsFacts {
            client_certificate: false,
        }),
    }
}

/// An address as `X-Forwarded-For` writes it: bare, or IPv6 in brackets.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map_or(text, |(inside, _)| inside);
    bare.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(method: &str, target: &str, fields: &[(&str, &str)]) -> Parts {
        let mut request = http::Request::builder().method(method).uri(target);
        for (name, value) in fields {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    fn front() -> ClientAddress {
        ClientAddress::new([10, 0, 0, 9].into())
    }

    #[test]
    fn nginx_sends_the_method_and_uri_in_fields_and_the_host_as_sent() {
        let mut request = check(
            "GET",
            "/nginx",
            &[
                ("host", "api.example.com"),
                ("x-original-method", "POST"),
                ("x-original-uri", "/v1/orders?id=1"),
                ("x-forwarded-for", "203.0.113.7"),
                ("client-key", "secret"),
            ],
        );
        let settings = AuthzSettings::default();
        let original = read(
            Shape::Nginx,
            &mut request,
            &Bytes::new(),
            &settings,
            &front(),
        )
        .unwrap();
        assert_eq!(original.parts.method, Method::POST);
        assert_eq!(original.parts.uri, "/v1/orders?id=1");
        assert_eq!(original.parts.headers["host"], "api.example.com");
        assert_eq!(original.parts.headers["client-key"], "secret");
        assert_eq!(original.client.ip, IpAddr::from([203, 0, 113, 7]));
        assert_eq!(original.client.tls, None);
        assert!(request.headers.is_empty(), "the fields moved");
    }

    #[test]
    fn repeated_fields_read_the_same_in_small_and_large_checks() {
        // The first method, target, host and proto; the last `X-Forwarded-For`: in a
        // check gone through field by field and in one looked up by hashed names.
        let fields = [
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-uri", "/first"),
            ("x-forwarded-host", "first.example"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-host", "second.example"),
        ];
        let padding: Vec<(String, &str)> =
            (0..SCANNED).map(|n| (format!("x-pad-{n}"), "1")).collect();
        for padded in [false, true] {
            let mut all: Vec<(&str, &str)> = fields.to_vec();
            if padded {
                all.extend(padding.iter().map(|(name, value)| (name.as_str(), *value)));
            }
            let mut request = check("GET", "/forward-auth", &all);
            assert_eq!(request.headers.len() > SCANNED, padded);
            let original = read(
                Shape::ForwardAuth,
                &mut request,
                &Bytes::new(),
                &AuthzSettings::default(),
                &front(),
            )
            .unwrap();
            assert_eq!(original.parts.method, Method::PUT, "{padded}");
            assert_eq!(original.parts.uri, "/first", "{padded}");
            assert_eq!(original.parts.headers["host"], "first.example", "{padded}");
            assert_eq!(
                original.client.ip,
                IpAddr::from([198, 51, 100, 2]),
                "{padded}"
            );
            assert!(original.client.tls.is_some(), "{padded}");
        }
    }

    #[test]
    fn the_nginx_field_names_are_configurable() {
        let mut request = check(
            "GET",
            "/nginx",
            &[
                ("x-method", "DELETE"),
                ("x-uri", "/a"),
                ("x-original-uri", "/b"),
            ],
        );
        let settings = AuthzSettings {
            method_header: HeaderName::from_static("x-method"),
            uri_header: HeaderName::from_static("x-uri"),
            ..AuthzSettings::default()
        };
        let original = read(
            Shape::Nginx,
            &mut request,
            &Bytes::new(),
            &settings,
            &front(),
        )
        .unwrap();
        assert_eq!(original.parts.method, Method::DELETE);
        assert_eq!(original.parts.uri, "/a");
    }

    #[test]
    fn forward_auth_reads_the_x_forwarded_fields() {
        let mut request = check(
            "GET",
            "/forward-auth",
            &[
                ("host", "127.0.0.1:9190"),
                ("x-forwarded-method", "PUT"),
                ("x-forwarded-uri", "/v1/json"),
                ("x-forwarded-host", "api.example.com"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-for", "198.51.100.1, [2001:db8::1]"),
            ],
        );
        let settings = AuthzSettings::default();
        let original = read(
            Shape::ForwardAuth,
            &mut request,
            &Bytes::new(),
            &settings,
            &front(),
        )
        .unwrap();
        assert_eq!(original.parts.method, Method::PUT);
        assert_eq!(original.parts.uri, "/v1/json");
        assert_eq!(original.parts.headers["host"], "api.example.com");
        assert_eq!(original.client.ip, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(original.client.tls.is_some());
    }

    #[test]
    fn envoy_puts_its_prefix_before_the_original_path() {
        let mut request = check(
            "PATCH",
            "/envoy/v1/json?x=1",
            &[("host", "api.example.com")],
        );
        let settings = AuthzSettings::default();
        let original = read(
            Shape::EnvoyHttp,
            &mut request,
            &Bytes::new(),
            &settings,
            &front(),
        )
        .unwrap();
        assert_eq!(original.parts.method, Method::PATCH);
        assert_eq!(original.parts.uri, "/v1/json?x=1");
        assert_eq!(original.client.ip, IpAddr::from([10, 0, 0, 9]));
    }

    #[test]
    fn a_check_without_a_request_in_it_is_refused() {
        let settings = AuthzSettings::default();
        let mut missing = check("GET", "/nginx", &[("x-original-method", "GET")]);
        assert_eq!(
            read(
                Shape::Nginx,
                &mut missing,
                &Bytes::new(),
                &settings,
                &front()
            )
            .unwrap_err(),
            OriginalError::Missing(HeaderName::from_static("x-original-uri"))
        );
        for target in [
            "v1/json",
            "http://evil.example/v1",
            "//evil.example",
            "/a#b",
            "*",
        ] {
            let mut request = check(
                "GET",
                "/forward-auth",
                &[("x-forwarded-method", "GET"), ("x-forwarded-uri", target)],
            );
            let result = read(
                Shape::ForwardAuth,
                &mut request,
                &Bytes::new(),
                &settings,
                &front(),
            );
            assert!(
                matches!(result, Err(OriginalError::Target)) || target == "//evil.example",
                "{target}: {result:?}"
            );
        }
        let mut method = check(
            "GET",
            "/forward-auth",
            &[("x-forwarded-method", "G E T"), ("x-forwarded-uri", "/")],
        );
        assert_eq!(
            read(
                Shape::ForwardAuth,
                &mut method,
                &Bytes::new(),
                &settings,
                &front()
            )
            .unwrap_err(),
            OriginalError::Method
        );
    }

    #[test]
    fn the_original_target_shares_the_head_it_was_read_from() {
        let source =
            Bytes::from_static(b"GET /nginx HTTP/1.1\r\nx-original-uri: /v1/orders?id=1\r\n");
        let at = source.len() - "/v1/orders?id=1\r\n".len();
        let value = source.slice(at..source.len() - 2);
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-original-uri"),
            HeaderValue::from_maybe_shared(value.clone()).unwrap(),
        );
        let name = HeaderName::from_static("x-original-uri");
        let uri = target_in(headers.get(&name), &name, &source).unwrap();
        assert_eq!(uri, "/v1/orders?id=1");
        let path = uri.path_and_query().unwrap().as_str();
        assert_eq!(
            path.as_ptr(),
            value.as_ptr(),
            "a slice of the head, not a copy"
        );
        // Without the head (HTTP/2), or with bytes from elsewhere, the target is copied.
        for other in [Bytes::new(), Bytes::from_static(b"elsewhere")] {
            let copied = target_in(headers.get(&name), &name, &other).unwrap();
            assert_eq!(copied, "/v1/orders?id=1");
            let path = copied.path_and_query().unwrap().as_str();
            assert_ne!(path.as_ptr(), value.as_ptr());
        }
    }

    #[test]
    fn only_what_lies_within_the_head_is_shared() {
        let source = Bytes::from_static(b"0123456789");
        assert_eq!(shared(&source, &source[2..5]), "234");
        assert_eq!(
            shared(&source, &source[2..5]).as_ptr(),
            source[2..].as_ptr()
        );
        assert_eq!(shared(&source, &source[..]).as_ptr(), source.as_ptr());
        let elsewhere = *b"0123456789";
        assert_eq!(shared(&source, &elsewhere[..3]), "012");
        assert_ne!(
            shared(&source, &elsewhere[..3]).as_ptr(),
            elsewhere.as_ptr()
        );
        assert!(shared(&source, &[]).is_empty());
        assert!(shared(&Bytes::new(), b"abc") == "abc");
    }
}
