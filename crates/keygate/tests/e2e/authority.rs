//! The upstream acts on exactly the request keygate decided on: an absolute target's
//! authority is the one host routed, authorised and forwarded; invalid hosts, lower-case
//! methods and field names with `_` (which CGI-style upstreams read as `-`) never pass.

use crate::support::{send_raw, Echo, Gateway, HttpResponse};
use crate::{example_config, Example, ALEX, BOB};

/// Two services told apart by host: `public.example` open to all, `private.example` for
/// keys only, each with its own echo upstream.
struct TwoHosts {
    gateway: Gateway,
    public: Echo,
    /// Kept running for the gateway; its answers name it.
    _private: Echo,
}

impl TwoHosts {
    fn start(preserve_host: bool) -> TwoHosts {
        let public = Echo::start("public");
        let private = Echo::start("private");
        let gateway = Gateway::start(&format!(
            "services:
  - name: public
    hosts: [public.example]
    upstream: {}
    preserve_host: {preserve_host}
    routes:
      - {{name: all, paths: [\"/*\", \"/\"], auth: none}}
  - name: private
    hosts: [private.example]
    upstream: {}
    preserve_host: {preserve_host}
    routes:
      - {{name: all, paths: [\"/*\", \"/\"]}}
consumers:
  - name: alex
    client_type: A
    keys: [{{key: {ALEX}}}]
",
            public.url(),
            private.url()
        ));
        TwoHosts {
            gateway,
            public,
            _private: private,
        }
    }

    /// Sends `request_line` with `fields` (each `name: value`) on a new connection.
    fn send(&self, request_line: &str, fields: &[&str]) -> HttpResponse {
        raw_request(&self.gateway, request_line, fields)
    }
}

/// Sends `request_line` with `fields` (each `name: value`) and `Connection: close`.
fn raw_request(gateway: &Gateway, request_line: &str, fields: &[&str]) -> HttpResponse {
    let mut text = format!("{request_line}\r\n");
    for field in fields {
        text.push_str(field);
        text.push_str("\r\n");
    }
    text.push_str("Connection: close\r\n\r\n");
    send_raw(gateway.address, text.as_bytes())
}

/// Which echo answered.
fn server(response: &HttpResponse) -> String {
    response.json()["server"].as_str().unwrap().to_owned()
}

#[test]
fn an_absolute_target_is_routed_and_forwarded_on_its_own_authority() {
    let two = TwoHosts::start(true);
    let response = two.send(
        "GET http://public.example/data?x=1 HTTP/1.1",
        &["Host: private.example"],
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(server(&response), "public");
    assert_eq!(response.json()["path"], "/data");
    assert_eq!(
        response.upstream_header("host").as_deref(),
        Some("public.example")
    );
    assert_eq!(
        response.upstream_header("x-forwarded-host").as_deref(),
        Some("public.example")
    );

    // Authorised on the target's authority too: the private service wants a key…
    let response = two.send(
        "GET http://private.example/data HTTP/1.1",
        &["Host: public.example"],
    );
    assert_eq!(response.status, 401, "{response:?}");
    // …and with one, it is the private service that gets the call, under its own host.
    let response = two.send(
        "GET http://private.example:80/data HTTP/1.1",
        &["Host: public.example", &format!("apikey: {ALEX}")],
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(server(&response), "private");
    assert_eq!(
        response.upstream_header("host").as_deref(),
        Some("private.example:80")
    );
    assert_eq!(
        response.upstream_header("x-forwarded-host").as_deref(),
        Some("private.example:80")
    );
}

#[test]
fn without_preserve_host_an_absolute_targets_authority_is_the_forwarded_host() {
    let two = TwoHosts::start(false);
    let response = two.send(
        "GET http://public.example/data HTTP/1.1",
        &["Host: private.example"],
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(server(&response), "public");
    assert_eq!(
        response.upstream_header("host"),
        Some(two.public.address.to_string())
    );
    assert_eq!(
        response.upstream_header("x-forwarded-host").as_deref(),
        Some("public.example")
    );
    // An HTTP/1.0 request may name its host in the target only.
    let response = two.send("GET http://public.example/data HTTP/1.0", &[]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.upstream_header("x-forwarded-host").as_deref(),
        Some("public.example")
    );
}

#[test]
fn targets_with_user_information_or_no_path_to_route_are_refused() {
    let two = TwoHosts::start(true);
    for (request_line, host) in [
        ("GET http://u:p@public.example/ HTTP/1.1", "public.example"),
        (
            "GET http://public.example@private.example/ HTTP/1.1",
            "public.example",
        ),
        ("GET ftp://public.example/ HTTP/1.1", "public.example"),
        ("OPTIONS * HTTP/1.1", "public.example"),
        ("CONNECT public.example:443 HTTP/1.1", "public.example:443"),
    ] {
        let response = two.send(request_line, &[&format!("Host: {host}")]);
        assert_eq!(response.status, 400, "{request_line}: {response:?}");
        assert_eq!(response.message(), "Malformed request", "{request_line}");
    }
}

#[test]
fn invalid_host_values_are_refused() {
    let two = TwoHosts::start(true);
    for host in [
        "",
        "a b",
        "x/../y",
        "public.example:1@private.example",
        "public..example",
        "public.example.",
        "public.example:65536",
    ] {
        let response = two.send("GET /data HTTP/1.1", &[&format!("Host: {host}")]);
        assert_eq!(response.status, 400, "Host: {host:?}: {response:?}");
        assert_eq!(response.message(), "Malformed request", "Host: {host:?}");
    }
    // Valid ones still pass, with or without a port, in any case.
    for host in ["public.example", "PUBLIC.example:8080"] {
        let response = two.send("GET /data HTTP/1.1", &[&format!("Host: {host}")]);
        assert_eq!(response.status, 200, "Host: {host:?}: {response:?}");
        assert_eq!(server(&response), "public");
    }
    // HTTP/1.0 without any Host stays accepted (no service serves no host here).
    let response = two.send("GET /data HTTP/1.0", &[]);
    assert_eq!(response.status, 404, "{response:?}");
}

#[test]
fn a_lower_case_method_is_refused() {
    let example = Example::start();
    for method in ["get", "Get", "pOST"] {
        let response = raw_request(
            &example.gateway,
            &format!("{method} /orders/health HTTP/1.1"),
            &["Host: localhost"],
        );
        assert_eq!(response.status, 400, "{method}: {response:?}");
        assert_eq!(response.message(), "Malformed request");
    }
    let response = raw_request(
        &example.gateway,
        "GET /orders/health HTTP/1.1",
        &["Host: localhost"],
    );
    assert_eq!(response.status, 200);
}

/// Fields whose names read, to a CGI-style upstream, as the gateway's own.
const LOOKALIKES: [&str; 4] = [
    "X_Consumer_Username: alex",
    "Client_Type: A",
    "x_forwarded_host: private.example",
    "X_Consumer_Groups: admin",
];

/// The lookalikes never reach the upstream, on a call with a key and an anonymous one.
fn lookalikes_never_reach_the_upstream(gateway: &Gateway) {
    let with_key = format!("apikey: {BOB}");
    for (path, key) in [
        ("/orders/1", Some(with_key.as_str())),
        ("/orders/catalog/books", None),
    ] {
        let mut fields = vec!["Host: localhost", "x_custom: 1"];
        fields.extend(LOOKALIKES);
        fields.extend(key);
        let response = raw_request(gateway, &format!("GET {path} HTTP/1.1"), &fields);
        assert_eq!(response.status, 200, "{path}: {response:?}");
        for name in [
            "x_consumer_username",
            "client_type",
            "x_forwarded_host",
            "x_consumer_groups",
        ] {
            assert_eq!(response.upstream_header(name), None, "{path}: {name}");
        }
        let (consumer, client_type) = if key.is_some() {
            (Some("bob"), Some("B"))
        } else {
            (None, None)
        };
        assert_eq!(
            response.upstream_header("x-consumer-username").as_deref(),
            consumer
        );
        assert_eq!(
            response.upstream_header("client-type").as_deref(),
            client_type
        );
        assert_eq!(
            response.upstream_header("x-forwarded-host").as_deref(),
            Some("localhost")
        );
    }
}

#[test]
fn field_names_with_underscores_are_dropped_by_default() {
    let example = Example::start();
    lookalikes_never_reach_the_upstream(&example.gateway);
    let response = raw_request(
        &example.gateway,
        "GET /orders/health HTTP/1.1",
        &["Host: localhost", "x_custom: 1", "X-Custom: 2"],
    );
    assert_eq!(response.upstream_header("x_custom"), None);
    assert_eq!(response.upstream_header("x-custom").as_deref(), Some("2"));
}

#[test]
fn with_underscores_kept_the_gateways_own_names_still_never_pass() {
    let (first, second) = (Echo::start("first"), Echo::start("second"));
    let gateway = Gateway::start_with_proxy_settings(
        &["underscores_in_headers: true"],
        &example_config(&first, &second),
    );
    lookalikes_never_reach_the_upstream(&gateway);
    let response = raw_request(
        &gateway,
        "GET /orders/health HTTP/1.1",
        &["Host: localhost", "x_custom: 1"],
    );
    assert_eq!(response.upstream_header("x_custom").as_deref(), Some("1"));
}
