//! What reaches the upstream: identity headers, hop-by-hop headers, X-Forwarded-*, bodies.

use crate::support::{request, Echo, Gateway};
use crate::{Example, ALEX, BOB};

#[test]
fn identity_headers_cannot_be_spoofed() {
    let example = Example::start();
    let response = example.gateway.get(
        "/orders/1",
        &[
            ("apikey", ALEX),
            ("X-Consumer-Username", "bob"),
            ("X-Consumer-Groups", "admin"),
            ("X-Credential-Identifier", "forged"),
            ("client-type", "B"),
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
    assert_eq!(
        response.upstream_header("client-type").as_deref(),
        Some("A")
    );
    assert_eq!(
        response.upstream_header("x-consumer-groups"),
        None,
        "alex has no groups"
    );
    let id = response.upstream_header("x-credential-identifier").unwrap();
    assert_ne!(id, "forged");
    assert_eq!(id.len(), 16);
}

#[test]
fn hop_by_hop_headers_are_dropped_and_forwarded_headers_added() {
    let example = Example::start();
    let response = example.gateway.get(
        "/orders/1",
        &[
            ("apikey", BOB),
            ("Host", "api.example.com"),
            ("Connection", "close, x-secret-hop"),
            ("X-Secret-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("X-Forwarded-For", "203.0.113.9"),
            ("X-Forwarded-Proto", "https"),
            ("X-Other", "kept"),
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.upstream_header("x-secret-hop"), None);
    assert_eq!(response.upstream_header("keep-alive"), None);
    assert_eq!(response.upstream_header("x-other").as_deref(), Some("kept"));
    assert_eq!(
        response.upstream_header("x-forwarded-for").as_deref(),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(
        response.upstream_header("x-forwarded-proto").as_deref(),
        Some("http")
    );
    assert_eq!(
        response.upstream_header("x-forwarded-host").as_deref(),
        Some("api.example.com")
    );
    let host = response.upstream_header("host").unwrap();
    let targets = [
        example.first.address.to_string(),
        example.second.address.to_string(),
    ];
    assert!(
        targets.contains(&host),
        "the target's host is sent, got {host}"
    );
}

#[test]
fn request_bodies_are_streamed_to_the_upstream() {
    let example = Example::start();
    let body = vec![b'x'; 3 * 1024 * 1024];
    let response = request(
        example.gateway.address,
        "PUT",
        "/orders/9",
        &[("apikey", BOB)],
        &body,
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["body_length"], 3 * 1024 * 1024);

    let chunked = b"PUT /orders/9 HTTP/1.1\r\nHost: x\r\napikey: bob-key-0123456789abcdef\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    let response = crate::support::send_raw(example.gateway.address, chunked);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["body_length"], 11);
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    use std::io::{Read, Write};
    let example = Example::start();
    let mut stream = std::net::TcpStream::connect(example.gateway.address).unwrap();
    stream
        .set_read_timeout(Some(crate::support::PATIENCE))
        .unwrap();
    let one = b"GET /orders/health HTTP/1.1\r\nHost: x\r\n\r\n";
    let last = b"GET /orders/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    stream.write_all(one).unwrap();
    stream.write_all(one).unwrap();
    stream.write_all(last).unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
}

/// Client fields of the peers' identity families (Kong's and APISIX's `X-Consumer-*`,
/// `X-Credential-*`, `X-Anonymous-*`, `X-Authenticated-*`; Mia-Platform's) and those of
/// `proxy.strip_request_headers` never reach the upstream — in any case, with `_` for
/// `-` (kept here by `underscores_in_headers`), with or without a key, on `auth: none`
/// routes too — while fields merely like them do.
#[test]
fn identity_families_and_configured_fields_never_reach_the_upstream() {
    let echo = Echo::start("up");
    let config = format!(
        "services:
  - name: s
    upstream: {}
    key_sources: [{{query: apikey}}]
    routes:
      - {{name: open, paths: ['/open/*'], auth: none}}
      - {{name: keyed, paths: ['/keyed/*']}}
consumers:
  - name: alex
    keys: [{{key: {ALEX}}}]
",
        echo.url()
    );
    let gateway = Gateway::start_with_proxy_settings(
        &[
            "header_timeout: 1s",
            "underscores_in_headers: true",
            "strip_request_headers: [X-Internal-User, x-tenant-*]",
        ],
        &config,
    );
    let forged = [
        ("X-Consumer-ID", "forged"),
        ("X-Consumer-Custom-ID", "forged"),
        ("x-consumer-username", "forged"),
        ("X_Consumer_Groups", "forged"),
        ("X-Anonymous-Consumer", "true"),
        ("X-Anonymous-Groups", "forged"),
        ("X-Credential-Username", "forged"),
        ("X-Credential-Identifier", "forged"),
        ("X-Authenticated-Userid", "forged"),
        ("X-Authenticated-Groups", "forged"),
        ("client-type", "forged"),
        ("miauserid", "forged"),
        ("isbackoffice", "true"),
        ("X-Internal-User", "forged"),
        ("X_Tenant_Id", "forged"),
        ("X-Consumer", "kept"),
        ("X-Tenant", "kept"),
        ("X-Consumers-Note", "kept"),
    ];
    let keyed = format!("/keyed/x?api%6B%65%79={ALEX}&page=2");
    for path in ["/open/x", keyed.as_str()] {
        let response = gateway.get(path, &forged);
        assert_eq!(response.status, 200, "{path}: {response:?}");
        let seen = response.json();
        for (name, value) in seen["headers"].as_object().unwrap() {
            assert_ne!(
                value, "forged",
                "{path}: {name} reached the upstream: {seen}"
            );
            assert_ne!(value, "true", "{path}: {name} reached the upstream: {seen}");
        }
        for kept in ["x-consumer", "x-tenant", "x-consumers-note"] {
            assert_eq!(seen["headers"][kept], "kept", "{path}: {seen}");
        }
        let anonymous = path.starts_with("/open");
        assert_eq!(seen["headers"]["x-consumer-username"].is_null(), anonymous);
        assert_eq!(seen["headers"]["client-type"].is_null(), anonymous);
    }
    let keyed = gateway.get(&keyed, &forged).json();
    assert_eq!(keyed["query"], "page=2", "the encoded key name is stripped");
    assert_eq!(keyed["headers"]["x-consumer-username"], "alex");
    assert_eq!(keyed["headers"]["client-type"], "alex");
}

/// Kong's `X-Consumer-ID` (the consumer's `metadata.id`, else its name) and
/// `X-Consumer-Custom-ID` (its `metadata.custom_id`) go upstream in place of the client's;
/// `off` sends neither.
#[test]
fn consumer_ids_go_upstream_as_kong_sends_them() {
    let echo = Echo::start("api");
    let entities = format!(
        "services:\n  - name: api\n    upstream: {}\n    routes: [{{name: all, paths: ['/*']}}]\n\
         consumers:\n\
         \x20 - name: kong-user\n    metadata: {{id: 4e3ad2e4-0bc4-4638-8e34-c84a417ba39b, custom_id: crm-42}}\n    keys: [{{key: kong-user-key-01234}}]\n\
         \x20 - name: plain-user\n    keys: [{{key: plain-user-key-0123}}]\n",
        echo.url()
    );
    let gateway = Gateway::start(&entities);
    let forged = [
        ("X-Consumer-ID", "forged"),
        ("X-Consumer-Custom-ID", "forged"),
    ];
    let kong = gateway.get(
        "/x",
        &[forged[0], forged[1], ("apikey", "kong-user-key-01234")],
    );
    assert_eq!(kong.status, 200, "{kong:?}");
    assert_eq!(
        kong.upstream_header("x-consumer-id").as_deref(),
        Some("4e3ad2e4-0bc4-4638-8e34-c84a417ba39b")
    );
    assert_eq!(
        kong.upstream_header("x-consumer-custom-id").as_deref(),
        Some("crm-42")
    );
    let plain = gateway.get(
        "/x",
        &[forged[0], forged[1], ("apikey", "plain-user-key-0123")],
    );
    assert_eq!(
        plain.upstream_header("x-consumer-id").as_deref(),
        Some("plain-user")
    );
    assert_eq!(plain.upstream_header("x-consumer-custom-id"), None);

    let off = Gateway::start(&format!(
        "defaults:\n  identity_headers: {{consumer_id: 'off', custom_id: 'off'}}\n{entities}"
    ));
    let quiet = off.get(
        "/x",
        &[forged[0], forged[1], ("apikey", "kong-user-key-01234")],
    );
    assert_eq!(quiet.status, 200);
    assert_eq!(
        quiet.upstream_header("x-consumer-id"),
        None,
        "off, and the client's removed"
    );
    assert_eq!(quiet.upstream_header("x-consumer-custom-id"), None);
}
