//! The upstream acts on exactly the request keygate authorised: the path is normalised
//! before routing and `allow` (and forwarded so), ambiguous paths are refused, and a path
//! whose most specific route refuses the method is answered `405`, never passed to a
//! broader route.

use crate::support::{read_file, request, Echo, Gateway, HttpResponse};

const ALEX: &str = "alex-key-0123456789";
const CAROL: &str = "carol-key-0123456789";

fn config(echo: &Echo) -> String {
    let url = echo.url();
    format!(
        r#"
services:
  - name: files
    path_prefix: /files
    upstream: {url}
    routes:
      - name: public
        paths: ["/public/*"]
        auth: none
      - name: private
        paths: ["/private/*"]
  - name: orders
    path_prefix: /orders
    upstream: {url}
    routes:
      - name: report
        paths: [/report]
        methods: [GET]
        allow: "clientType === 'A'"
      - name: one
        paths: ["/{{id}}"]
  - name: admin
    path_prefix: /api/v2
    upstream: {url}
    routes:
      - name: admin
        paths: [/admin]
        methods: [GET]
  - name: api
    path_prefix: /api
    upstream: {url}
    routes:
      - name: open
        paths: ["/*"]
        auth: none
consumers:
  - name: alex
    client_type: A
    keys:
      - key: {ALEX}
  - name: carol
    client_type: C
    keys:
      - key: {CAROL}
"#
    )
}

fn start() -> (Gateway, Echo) {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&config(&echo));
    (gateway, echo)
}

/// The path the echo upstream saw.
fn upstream_path(response: &HttpResponse) -> String {
    assert_eq!(response.status, 200, "{response:?}");
    response.json()["path"].as_str().expect("path").to_owned()
}

#[test]
fn an_encoded_slash_never_reaches_a_keyless_route() {
    let (gateway, _echo) = start();
    let response = gateway.get("/files/public/..%2fprivate/secret.txt", &[]);
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.message(), "Invalid request path");
    crate::support::eventually("the refusal is logged as bad_path", || {
        read_file(&gateway.access_log).contains("\"denial\":\"bad_path\"")
    });
}

#[test]
fn dot_segments_are_removed_and_the_result_is_routed() {
    let (gateway, _echo) = start();
    // `/files/private/…` needs a key: the public route's `auth: none` does not apply.
    let response = gateway.get("/files/public/../private/secret.txt", &[]);
    assert_eq!(response.status, 401, "{response:?}");
    assert_eq!(response.message(), "Missing API key found in request");
    let response = gateway.get("/files/public/./../private/secret.txt", &[("apikey", ALEX)]);
    assert_eq!(upstream_path(&response), "/private/secret.txt");
}

#[test]
fn an_encoded_name_is_routed_and_authorised_as_the_name() {
    let (gateway, _echo) = start();
    let carol = gateway.get("/orders/%72eport", &[("apikey", CAROL)]);
    assert_eq!(carol.status, 403, "{carol:?}");
    assert_eq!(carol.message(), "You cannot consume this service");
    let alex = gateway.get("/orders/%72eport", &[("apikey", ALEX)]);
    assert_eq!(upstream_path(&alex), "/report");
    // The escapes that stay go on in uppercase; the query is left as it is.
    let escaped = gateway.get("/orders/a%2db%c3%a9?q=%2e%2E&x", &[("apikey", ALEX)]);
    assert_eq!(upstream_path(&escaped), "/a-b%C3%A9");
    assert_eq!(escaped.json()["query"], "q=%2e%2E&x");
    // The access log shows the path that was routed.
    crate::support::eventually("the normalised path is logged", || {
        read_file(&gateway.access_log).contains("\"path\":\"/orders/report\"")
    });
}

#[test]
fn paths_that_cannot_be_made_unambiguous_are_refused() {
    let (gateway, _echo) = start();
    for path in [
        "/files/public/..;x/private/secret.txt",
        "/files/public/..;/private/secret.txt",
        "/files/public/.;x/a",
        "/files/public/%2e%2e;x/private/secret.txt",
        "/files/public/..%5cprivate/secret.txt",
        "/files/public/..%5Cprivate/secret.txt",
        "/files/public/..\\private/secret.txt",
        "/files/public/a%00.txt",
        "/files/public/%zz",
        "/files/public/a%",
        "/files/public/a%4",
        "/files/public/a%2Fb",
        "/files/../../files/public/a",
        "/..",
    ] {
        let response = gateway.get(path, &[]);
        assert_eq!(response.status, 400, "{path}: {response:?}");
        assert_eq!(response.message(), "Invalid request path", "{path}");
    }
}

#[test]
fn repeated_slashes_are_merged_before_routing() {
    let (gateway, _echo) = start();
    let response = gateway.get("//orders//42", &[("apikey", CAROL)]);
    assert_eq!(upstream_path(&response), "/42");
}

#[test]
fn a_method_the_specific_route_refuses_is_405_not_a_broader_route() {
    let (gateway, _echo) = start();
    // Answered by the gateway itself (an echo answer would be a `200`): not forwarded.
    let response = request(
        gateway.address,
        "POST",
        "/orders/report",
        &[("apikey", CAROL)],
        b"{}",
    );
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow"), Some("GET"));
    assert_eq!(response.message(), "Method not allowed");
    // Nor does a service with a shorter prefix catch what a longer one's route matched.
    let response = request(gateway.address, "POST", "/api/v2/admin", &[], b"");
    assert_eq!(response.status, 405, "{response:?}");
    assert_eq!(response.header("allow"), Some("GET"));
    // Paths no route of the longer prefix has still go on to the shorter one.
    let response = request(gateway.address, "POST", "/api/v2/other", &[], b"");
    assert_eq!(upstream_path(&response), "/v2/other");
}

#[test]
fn expr_eval_sees_the_path_the_gateway_would() {
    let eval = |path: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_keygate"))
            .args(["expr", "eval", "request.path === '/orders/report'"])
            .args(["--path", path])
            .output()
            .expect("run keygate expr eval")
    };
    let output = eval("//orders/./%72eport");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "true");
    let output = eval("/orders/..%2freport");
    assert!(!output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("`%2F`"));
}
