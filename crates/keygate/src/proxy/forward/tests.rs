//! Tests of `proxy::forward`: hop-by-hop fields, the fields written in place of the
//! client's, and the identity fields left out.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::FieldPattern;

/// The names `drop_hop_by_hop` leaves of `headers`, in order.
fn names_left_after_drop(mut headers: HeaderMap) -> Vec<String> {
    drop_hop_by_hop(&mut headers);
    headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .collect()
}

#[test]
fn hop_by_hop_and_connection_named_headers_go() {
    let mut headers = HeaderMap::new();
    headers.insert(
        CONNECTION,
        HeaderValue::from_static("keep-alive, x-private"),
    );
    headers.insert("x-private", HeaderValue::from_static("1"));
    headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
    headers.insert(TE, HeaderValue::from_static("trailers"));
    headers.insert("x-kept", HeaderValue::from_static("1"));
    assert_eq!(names_left_after_drop(headers), ["x-kept"]);
}

#[test]
fn every_connection_field_is_read() {
    let mut headers = HeaderMap::new();
    headers.append(CONNECTION, HeaderValue::from_static("x-one"));
    headers.append(CONNECTION, HeaderValue::from_static(" , X-Two ,"));
    headers.insert("x-one", HeaderValue::from_static("1"));
    headers.insert("x-two", HeaderValue::from_static("2"));
    headers.insert("x-kept", HeaderValue::from_static("1"));
    assert_eq!(names_left_after_drop(headers), ["x-kept"]);
}

/// The head written for a request with `headers` rewritten by `fields`.
fn written(headers: &HeaderMap, fields: &ForwardedFields<'_>) -> String {
    let mut out = Vec::new();
    crate::proxy::upstream::request_head::write_head(
        &mut out,
        &http::Method::GET,
        crate::proxy::upstream::RequestPath::whole("/"),
        headers,
        fields,
        crate::proxy::upstream::request_head::BodyFraming::None,
    );
    String::from_utf8(out).unwrap()
}

fn identity_names() -> IdentityHeaders {
    IdentityHeaders {
        consumer: HeaderName::from_static("x-consumer-username"),
        credential: HeaderName::from_static("x-credential-identifier"),
        groups: HeaderName::from_static("x-consumer-groups"),
        client_type: HeaderName::from_static("client-type"),
        consumer_id: Some(HeaderName::from_static("x-consumer-id")),
        custom_id: Some(HeaderName::from_static("x-consumer-custom-id")),
    }
}

#[test]
fn forwarded_for_is_appended_and_host_replaced() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    headers.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
    headers.append("x-forwarded-for", HeaderValue::from_static(" 2.2.2.2 "));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
    headers.insert("x-consumer-username", HeaderValue::from_static("forged"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([127, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(&headers, (&names, &none), None, &client, &target, false);
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:9001\r\naccept: */*\r\n\
         x-forwarded-for: 1.1.1.1, 2.2.2.2, 127.0.0.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn preserve_host_keeps_the_clients_host() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(&headers, (&names, &none), None, &client, &target, true);
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: api.example.com\r\nx-forwarded-for: 10.0.0.1\r\n\
         x-forwarded-proto: http\r\nx-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn a_tls_client_is_forwarded_as_https_whatever_it_sent() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into()).with_tls(TlsFacts {
        client_certificate: false,
    });
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(&headers, (&names, &none), None, &client, &target, true);
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: api.example.com\r\nx-forwarded-for: 10.0.0.1\r\n\
         x-forwarded-proto: https\r\nx-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn a_request_without_host_gets_the_targets_even_when_preserving() {
    let headers = HeaderMap::new();
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    for preserve_host in [true, false] {
        let fields = ForwardedFields::new(
            &headers,
            (&names, &none),
            None,
            &client,
            &target,
            preserve_host,
        );
        assert_eq!(fields.host(), Some(&target));
        assert!(!written(&headers, &fields).contains("x-forwarded-host"));
    }
}

#[test]
fn the_request_id_and_a_generated_traceparent_replace_the_clients_fields() {
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("client sent"));
    headers.insert("x_request_id", HeaderValue::from_static("underscored"));
    headers.insert("traceparent", HeaderValue::from_static("garbage"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let name = Some(HeaderName::from_static("x-request-id"));
    let id = RequestId::taken(&HeaderValue::from_static("gateway-id"));
    let traceparent = TraceParent::generate();
    let mut fields = ForwardedFields::new(&headers, (&names, &none), None, &client, &target, false);
    fields.carry_request_id(&name, &id);
    fields.carry_traceparent(Some(&traceparent));
    let text = written(&headers, &fields);
    assert_eq!(text.matches("x-request-id: ").count(), 1, "{text}");
    assert!(text.contains("x-request-id: gateway-id\r\n"), "{text}");
    assert!(
        !text.contains("underscored") && !text.contains("garbage"),
        "{text}"
    );
    let sent = std::str::from_utf8(traceparent.as_bytes()).unwrap();
    assert!(text.contains(&format!("traceparent: {sent}\r\n")), "{text}");
}

#[test]
fn names_that_read_as_the_gateways_own_with_dashes_for_underscores_are_left_out() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    for name in [
        "x_consumer_username",
        "client_type",
        "x-consumer_groups",
        "x_credential_identifier",
        "x_forwarded_host",
        "x_forwarded_for",
        "x_forwarded-proto",
        "content_length",
        "transfer_encoding",
        "host_",
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static("forged"),
        );
    }
    headers.insert("x_custom", HeaderValue::from_static("1"));
    headers.insert("client_type_2", HeaderValue::from_static("1"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(&headers, (&names, &none), None, &client, &target, false);
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nhost_: forged\r\nx_custom: 1\r\n\
         client_type_2: 1\r\nx-forwarded-for: 10.0.0.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn a_callers_identity_replaces_what_the_client_sent() {
    use crate::key::KeyHash;
    use crate::state::test_records::{consumer, key};
    use crate::state::Directory;

    let directory = Directory::default();
    directory.put_consumer(&consumer("alex", "A"));
    directory.put_key(&key("k1", "alex", "secret-1"));
    let (entry, _) = directory.get(&KeyHash::of(b"secret-1")).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    headers.insert("x-consumer-username", HeaderValue::from_static("mallory"));
    headers.insert("client-type", HeaderValue::from_static("Z"));
    headers.insert("x-consumer-id", HeaderValue::from_static("admin"));
    headers.insert("accept", HeaderValue::from_static("*/*"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let caller = Identity::Key(entry);
    let fields = ForwardedFields::new(
        &headers,
        (&names, &none),
        Some(&caller),
        &client,
        &target,
        false,
    );
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:9001\r\naccept: */*\r\n\
         x-consumer-username: alex\r\nx-credential-identifier: k1\r\nclient-type: A\r\n\
         x-consumer-groups: admin\r\nx-consumer-id: alex\r\nx-forwarded-for: 10.0.0.1\r\n\
         x-forwarded-proto: http\r\nx-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn the_anonymous_consumer_goes_with_no_key_id_and_the_anonymous_field() {
    use crate::state::test_records::consumer;
    use crate::state::Directory;

    let directory = Directory::default();
    directory.put_consumer(&consumer("guest", "public"));
    let guest = Identity::Anonymous(std::sync::Arc::new(directory.consumer("guest").unwrap()));
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    headers.insert("x-anonymous-consumer", HeaderValue::from_static("false"));
    headers.insert("x-credential-identifier", HeaderValue::from_static("k9"));
    let names = identity_names();
    let none = FieldPatterns::default();
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(
        &headers,
        (&names, &none),
        Some(&guest),
        &client,
        &target,
        false,
    );
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:9001\r\n\
         x-consumer-username: guest\r\nclient-type: public\r\n\
         x-consumer-groups: admin\r\nx-consumer-id: guest\r\nx-anonymous-consumer: true\r\n\
         x-forwarded-for: 10.0.0.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: api.example.com\r\n\r\n"
    );
}

#[test]
fn connection_cannot_remove_host() {
    let mut headers = HeaderMap::new();
    headers.insert(CONNECTION, HeaderValue::from_static("Host, x-private"));
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    headers.insert("x-private", HeaderValue::from_static("1"));
    assert_eq!(names_left_after_drop(headers), ["host"]);
}

#[test]
fn identity_families_and_configured_fields_are_left_out() {
    let mut headers = HeaderMap::new();
    headers.insert(HOST, HeaderValue::from_static("api.example.com"));
    for name in [
        "x-consumer-custom-id",
        "x-consumer-id",
        "x-anonymous-consumer",
        "x-credential-username",
        "x-authenticated-groups",
        "miauserid",
        "x-tenant-id",
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static("forged"),
        );
    }
    headers.insert("x-consumer", HeaderValue::from_static("kept"));
    let names = identity_names();
    let strip = FieldPatterns(vec![FieldPattern::parse("x-tenant-*").unwrap()].into());
    let client = ClientAddress::new([10, 0, 0, 1].into());
    let target = HeaderValue::from_static("127.0.0.1:9001");
    let fields = ForwardedFields::new(&headers, (&names, &strip), None, &client, &target, false);
    assert_eq!(
        written(&headers, &fields),
        "GET / HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nx-consumer: kept\r\n\
         x-forwarded-for: 10.0.0.1\r\nx-forwarded-proto: http\r\n\
         x-forwarded-host: api.example.com\r\n\r\n"
    );
}
