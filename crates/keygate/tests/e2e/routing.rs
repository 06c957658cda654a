//! Host, path and method routing; prefixes, parameters, stripping, round-robin.

use crate::support::{Echo, Gateway};
use crate::{Example, ALEX, BOB};

#[test]
fn unmatched_host_path_or_method() {
    let example = Example::start();
    let gateway = &example.gateway;
    let wrong_host = gateway.get(
        "/v1/json",
        &[("Host", "other.example"), ("Authorization", ALEX)],
    );
    assert_eq!(wrong_host.status, 404);
    assert_eq!(wrong_host.message(), "No route matched the request");
    assert_eq!(gateway.get("/nowhere", &[]).status, 404);
    assert_eq!(gateway.get("/orders/1/2", &[("apikey", BOB)]).status, 404);

    let wrong_method = crate::support::request(
        gateway.address,
        "DELETE",
        "/orders/1",
        &[("apikey", BOB)],
        b"",
    );
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.message(), "Method not allowed");
    assert_eq!(wrong_method.header("allow"), Some("GET, PUT"));
}

#[test]
fn prefixes_are_stripped_and_parameters_match_one_segment() {
    let example = Example::start();
    let gateway = &example.gateway;
    let root = gateway.get("/orders", &[("apikey", BOB)]);
    assert_eq!(root.status, 200);
    assert_eq!(root.json()["path"], "/");
    let one = gateway.get("/orders/42?expand=items", &[("apikey", BOB)]);
    assert_eq!(one.json()["path"], "/42");
    assert_eq!(one.json()["query"], "expand=items");
    let deep = gateway.get("/orders/catalog/a/b", &[]);
    assert_eq!(deep.json()["path"], "/catalog/a/b");
    let exact_wins = gateway.get("/orders/health", &[]);
    assert_eq!(
        exact_wins.status, 200,
        "health is auth: none, not the /{{id}} route"
    );
}

#[test]
fn round_robin_over_targets() {
    let example = Example::start();
    let servers: Vec<String> = (0..4)
        .map(|_| {
            let response = example.gateway.get("/orders/health", &[]);
            response.json()["server"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(servers[0], servers[2]);
    assert_eq!(servers[1], servers[3]);
    assert_ne!(servers[0], servers[1]);
    let mut names = [example.first.name.as_str(), example.second.name.as_str()];
    names.sort_unstable();
    let mut seen = [servers[0].as_str(), servers[1].as_str()];
    seen.sort_unstable();
    assert_eq!(seen, names);
}

#[test]
fn strip_prefix_false_preserve_host_and_base_path() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: kept
    hosts: ["*.example.com"]
    path_prefix: /api
    strip_prefix: false
    preserve_host: true
    upstream: {url}/base
    routes:
      - name: users
        paths: ["/users/{{id}}/orders"]
        methods: [get]
        auth: none
"#,
        url = echo.url()
    ));
    let response = gateway.get("/api/users/7/orders", &[("Host", "shop.example.com")]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["path"], "/base/api/users/7/orders");
    assert_eq!(
        response.upstream_header("host").as_deref(),
        Some("shop.example.com")
    );
    let apex = gateway.get("/api/users/7/orders", &[("Host", "example.com")]);
    assert_eq!(apex.status, 404);
}

#[test]
fn dot_segments_are_removed_before_routing() {
    let example = Example::start();
    // Out of the service: routed as `/admin`, which nothing serves.
    for path in ["/orders/../admin", "/orders/%2e%2e/admin"] {
        let response = example.gateway.get(path, &[("apikey", BOB)]);
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.message(), "No route matched the request");
    }
    let response = example.gateway.get("/orders/./1", &[("apikey", BOB)]);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["path"], "/1");
    // Above the root: refused.
    let response = example
        .gateway
        .get("/orders/../../admin", &[("apikey", BOB)]);
    assert_eq!(response.status, 400);
    assert_eq!(response.message(), "Invalid request path");
}

/// Path joining through real sockets, as nginx's `proxy_pass` with a URI: a request for
/// the bare prefix reaches the target's base path as written (`/test` → `/team`, not
/// `/team/`), a trailing `/` stays, the rest follows the base with one `/` between; with
/// `strip_prefix: false` the whole path follows. Every combination is in the unit table
/// of `proxy::forward_path`; these are one of each through a real gateway and upstream.
#[test]
fn the_bare_prefix_reaches_the_base_path_as_written() {
    let echo = Echo::start("up");
    let url = echo.url();
    let config = format!(
        "services:
  - {{name: team, path_prefix: /test, upstream: '{url}/team', routes: [{{name: r, paths: ['/*'], auth: none}}]}}
  - {{name: slash, path_prefix: /slash/, upstream: '{url}/team/', routes: [{{name: r, paths: ['/*'], auth: none}}]}}
  - {{name: root, path_prefix: /root, upstream: '{url}/', routes: [{{name: r, paths: ['/*'], auth: none}}]}}
  - {{name: kept, path_prefix: /kept, strip_prefix: false, upstream: '{url}/team', routes: [{{name: r, paths: ['/*'], auth: none}}]}}
"
    );
    let gateway = Gateway::start(&config);
    for (sent, expected) in [
        ("/test", "/team"),
        ("/test?q=1", "/team"),
        ("/test/", "/team/"),
        ("/test/x", "/team/x"),
        ("/test/x/", "/team/x/"),
        ("/slash", "/team/"),
        ("/slash/", "/team/"),
        ("/slash/x", "/team/x"),
        ("/root", "/"),
        ("/root/x", "/x"),
        ("/kept", "/team/kept"),
        ("/kept/x/", "/team/kept/x/"),
    ] {
        let response = gateway.get(sent, &[]);
        assert_eq!(response.status, 200, "{sent}: {response:?}");
        let seen = response.json();
        assert_eq!(seen["path"], expected, "{sent}: {seen}");
    }
    let query = gateway.get("/test?q=1", &[]).json();
    assert_eq!(query["query"], "q=1", "{query}");
}
