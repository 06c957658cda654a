//! CORS: a service with `cors:` answers browsers' preflights without a key and marks
//! answers to allowed origins, refusals included; a service without it is untouched.

use crate::support::{request, Echo, Gateway};

const KEY: &str = "cors-test-key-0123456";

fn gateway(echo: &Echo) -> Gateway {
    Gateway::start(&format!(
        "services:\n\
         \x20 - name: web\n    path_prefix: /web\n    upstream: {url}\n\
         \x20   cors:\n      origins: [https://app.example.com, 'https://*.example.org']\n      methods: [GET, POST]\n      expose_headers: [X-Request-Id]\n      credentials: true\n      max_age: 10m\n\
         \x20   routes: [{{name: read, paths: ['/*'], methods: [GET, POST, DELETE]}}]\n\
         \x20 - name: plain\n    path_prefix: /plain\n    upstream: {url}\n    routes: [{{name: all, paths: ['/*']}}]\n\
         consumers:\n  - name: alex\n    keys: [{{key: {KEY}}}]\n",
        url = echo.url()
    ))
}

fn preflight(
    gateway: &Gateway,
    path: &str,
    origin: &str,
    method: &str,
) -> crate::support::HttpResponse {
    request(
        gateway.address,
        "OPTIONS",
        path,
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", method),
            ("Access-Control-Request-Headers", "apikey, content-type"),
        ],
        b"",
    )
}

#[test]
fn a_preflight_is_answered_by_the_gateway_without_a_key() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let answer = preflight(&gateway, "/web/orders", "https://app.example.com", "POST");
    assert_eq!(answer.status, 204, "{answer:?}");
    assert!(
        answer.body.is_empty(),
        "nothing reached the upstream: {answer:?}"
    );
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        answer.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        answer.header("access-control-allow-headers"),
        Some("apikey, content-type")
    );
    assert_eq!(
        answer.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("600"));
    assert!(
        answer
            .header("vary")
            .is_some_and(|v| v.starts_with("Origin")),
        "{answer:?}"
    );
    let wildcard = preflight(&gateway, "/web/orders", "https://shop.example.org", "GET");
    assert_eq!(
        wildcard.header("access-control-allow-origin"),
        Some("https://shop.example.org")
    );

    // Another origin, or a method the policy does not allow: answered, without consent.
    for (origin, method) in [
        ("https://evil.test", "GET"),
        ("https://example.org", "GET"),
        ("https://app.example.com", "DELETE"),
    ] {
        let refused = preflight(&gateway, "/web/orders", origin, method);
        assert_eq!(refused.status, 204, "{origin} {method}");
        assert_eq!(
            refused.header("access-control-allow-origin"),
            None,
            "{origin} {method}"
        );
        assert_eq!(
            refused.header("access-control-allow-methods"),
            None,
            "{origin} {method}"
        );
    }
    // A method no route takes is not a preflight for a route: `OPTIONS` goes on as usual.
    let no_route = preflight(&gateway, "/web/orders", "https://app.example.com", "PUT");
    assert_eq!(no_route.status, 405, "{no_route:?}");
}

#[test]
fn answers_to_allowed_origins_are_marked_refusals_included() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let origin = ("Origin", "https://app.example.com");
    let allowed = gateway.get("/web/orders", &[origin, ("apikey", KEY)]);
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        allowed.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(
        allowed.header("access-control-expose-headers"),
        Some("X-Request-Id")
    );
    assert_eq!(allowed.header("vary"), Some("Origin"));
    // The page's script can read why it was refused.
    let refused = gateway.get("/web/orders", &[origin]);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.message(), "Missing API key found in request");
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // Another origin gets no consent; the call itself goes on as without CORS.
    let other = gateway.get(
        "/web/orders",
        &[("Origin", "https://evil.test"), ("apikey", KEY)],
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.header("access-control-allow-origin"), None);
    // A real OPTIONS request (no Access-Control-Request-Method) is not a preflight.
    let options = request(gateway.address, "OPTIONS", "/web/orders", &[origin], b"");
    assert_eq!(options.status, 405, "{options:?}");
}

#[test]
fn a_service_without_cors_is_untouched() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let answer = preflight(&gateway, "/plain/x", "https://app.example.com", "GET");
    assert_eq!(
        answer.status, 401,
        "a preflight needs a key like any call: {answer:?}"
    );
    assert_eq!(answer.header("access-control-allow-origin"), None);
    let plain = gateway.get(
        "/plain/x",
        &[("Origin", "https://app.example.com"), ("apikey", KEY)],
    );
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("access-control-allow-origin"), None);
    assert_eq!(plain.header("vary"), None);
}
