//! Key sources, duplicate keys, inactive and expired keys, and the auth modes.

use crate::support::{Echo, Gateway};
use crate::{Example, ALEX, BOB};

#[test]
fn inactive_and_expired_keys_are_invalid() {
    let example = Example::start();
    for key in [
        "carol-inactive-key-01",
        "carol-expired-key-01",
        "never-issued",
    ] {
        let response = example.gateway.get("/orders/1", &[("apikey", key)]);
        assert_eq!(response.status, 401, "{key}");
        assert_eq!(response.message(), "Invalid API key in request");
    }
    crate::support::eventually("the denials are logged", || {
        let log = crate::support::read_file(&example.gateway.access_log);
        log.contains("key_disabled") && log.contains("key_expired") && log.contains("key_not_found")
    });
    let log = crate::support::read_file(&example.gateway.access_log);
    assert!(
        !log.contains("carol-inactive-key-01"),
        "keys never reach the log"
    );
    assert!(log.contains("\"consumer\":\"carol\""), "{log}");
}

#[test]
fn two_different_keys_in_one_source_are_refused() {
    let example = Example::start();
    let gateway = &example.gateway;
    let twice = gateway.get("/orders/1", &[("apikey", ALEX), ("apikey", BOB)]);
    assert_eq!(twice.status, 401);
    assert_eq!(twice.message(), "Duplicate API key found in request");
    let same = gateway.get("/orders/1", &[("apikey", ALEX), ("apikey", ALEX)]);
    assert_eq!(same.status, 200);
    // Different sources: the first in order wins.
    let first_wins = gateway.get("/orders/1", &[("secret", ALEX), ("apikey", BOB)]);
    assert_eq!(
        first_wins.upstream_header("x-consumer-username").as_deref(),
        Some("bob")
    );
}

#[test]
fn the_query_string_is_off_unless_configured() {
    let example = Example::start();
    let response = example
        .gateway
        .get(&format!("/orders/1?apikey={ALEX}"), &[]);
    assert_eq!(response.status, 401);
    assert_eq!(response.message(), "Missing API key found in request");
}

#[test]
fn configured_sources_query_and_bearer() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream: {url}
    key_sources:
      - query: api_key
      - header: Authorization
        scheme: Bearer
    routes:
      - name: all
        paths: ["/*"]
consumers:
  - name: alex
    keys: [{{key: {ALEX}}}]
"#,
        url = echo.url()
    ));
    let query = gateway.get(&format!("/x?a=1&api_key={ALEX}&b=2"), &[]);
    assert_eq!(query.status, 200, "{query:?}");
    assert_eq!(query.json()["query"], "a=1&b=2");

    let bearer = gateway.get("/x", &[("Authorization", &format!("Bearer {ALEX}"))]);
    assert_eq!(bearer.status, 200);
    assert_eq!(bearer.upstream_header("authorization"), None);

    let no_scheme = gateway.get("/x", &[("Authorization", ALEX)]);
    assert_eq!(no_scheme.status, 401);
    assert_eq!(no_scheme.message(), "Missing API key found in request");

    let default_header_ignored = gateway.get("/x", &[("apikey", ALEX)]);
    assert_eq!(default_header_ignored.status, 401);
}

#[test]
fn optional_routes_accept_anonymous_calls_but_never_invalid_keys() {
    let example = Example::start();
    let gateway = &example.gateway;
    let anonymous = gateway.get(
        "/orders/catalog/books",
        &[("X-Consumer-Username", "mallory"), ("client-type", "A")],
    );
    assert_eq!(anonymous.status, 200);
    assert_eq!(anonymous.upstream_header("x-consumer-username"), None);
    assert_eq!(anonymous.upstream_header("client-type"), None);

    let invalid = gateway.get("/orders/catalog/books", &[("apikey", "wrong")]);
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.message(), "Invalid API key in request");

    // forward_key: true keeps the key for the upstream.
    let known = gateway.get("/orders/catalog/books", &[("apikey", ALEX)]);
    assert_eq!(known.status, 200);
    assert_eq!(known.upstream_header("apikey").as_deref(), Some(ALEX));
    assert_eq!(
        known.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
}

#[test]
fn auth_none_ignores_keys() {
    let example = Example::start();
    for headers in [vec![], vec![("apikey", "not-a-key")]] {
        let response = example.gateway.get("/orders/health", &headers);
        assert_eq!(response.status, 200, "{headers:?}");
        assert_eq!(response.upstream_header("x-consumer-username"), None);
    }
}

/// The one custom-key rule (docs/admin-api.md#custom-keys) through the admin API and the
/// CLI: `<`, `{` or a backtick, as Gravitee's own characters, are refused with `422`;
/// keys the rule refuses but a peer accepted (shorter, or with such characters) still
/// come in from a file with `keygate apply`, as their hashes, and work.
#[test]
fn custom_keys_follow_one_rule_and_refused_ones_import_by_hash() {
    use crate::cli::{cli, write};
    use crate::support::TempDir;

    let echo = Echo::start("up");
    let gateway = Gateway::start(&format!(
        "services:\n  - name: api\n    upstream: {}\n    routes:\n      - {{name: all, paths: ['/*']}}\nconsumers:\n  - name: alex\n",
        echo.url()
    ));
    for key in [
        "angle<key12",
        "brace{key}12",
        "back`tick12",
        "caret^key12",
        "short",
    ] {
        let body = serde_json::json!({ "key": key }).to_string();
        let response = gateway.admin("POST", "/v1/consumers/alex/keys", &body);
        assert_eq!(response.status, 422, "{key}: {response:?}");
        cli(
            &gateway,
            &format!("keys create --consumer alex --key {key}"),
        )
        .fails_with("keygate: 422 invalid: a custom key ");
    }
    let accepted = gateway.admin(
        "POST",
        "/v1/consumers/alex/keys",
        r#"{"key":"acme!key*2026"}"#,
    );
    assert_eq!(accepted.status, 201, "{accepted:?}");

    let dir = TempDir::new();
    let file = write(
        &dir,
        "peer.yaml",
        "consumers:\n  - name: peer\n    keys:\n      - {key: k1}\n      - {key: 'angle<key12'}\n",
    );
    cli(&gateway, &format!("apply -f {file}")).ok();
    for key in ["k1", "angle<key12", "acme!key*2026"] {
        let response = gateway.get("/x", &[("apikey", key)]);
        assert_eq!(response.status, 200, "{key}: {response:?}");
    }
    let exported = gateway.admin("GET", "/v1/export", "").json().to_string();
    assert!(!exported.contains("angle<key12"), "no plaintext kept");
}

/// `key_header_names: dash_or_underscore` reads a header source as Kong reads
/// `key_names`: `api_key` finds the key in `api-key` (and in `api_key`, which the
/// gateway keeps with `underscores_in_headers`), and neither spelling reaches the
/// upstream; a service without it reads the name as written.
#[test]
fn dashes_and_underscores_read_alike_where_the_service_says() {
    let echo = Echo::start("up");
    let config = format!(
        "services:
  - name: kong
    path_prefix: /kong
    upstream: {url}
    key_header_names: dash_or_underscore
    key_sources: [{{header: api_key}}]
    routes: [{{name: r, paths: ['/*']}}]
  - name: plain
    path_prefix: /plain
    upstream: {url}
    key_sources: [{{header: api_key}}]
    routes: [{{name: r, paths: ['/*']}}]
consumers:
  - name: alex
    keys: [{{key: {ALEX}}}]
",
        url = echo.url()
    );
    let gateway = Gateway::start_with_proxy_settings(
        &["header_timeout: 1s", "underscores_in_headers: true"],
        &config,
    );
    for name in ["api-key", "api_key", "API-Key"] {
        let response = gateway.get("/kong/x", &[(name, ALEX)]);
        assert_eq!(response.status, 200, "{name}: {response:?}");
        let seen = response.json();
        assert_eq!(seen["headers"]["x-consumer-username"], "alex");
        assert!(
            seen["headers"].get("api-key").is_none() && seen["headers"].get("api_key").is_none(),
            "{name}: {seen}"
        );
    }
    let both = gateway.get(
        "/kong/x",
        &[("api-key", ALEX), ("api_key", "other-key-0123")],
    );
    assert_eq!(both.status, 401, "two spellings, two keys: {both:?}");
    assert_eq!(gateway.get("/plain/x", &[("api-key", ALEX)]).status, 401);
    assert_eq!(gateway.get("/plain/x", &[("api_key", ALEX)]).status, 200);
}
