//! The README walkthrough: the API7 key-auth tutorial and the Mia-Platform calls.

use crate::{Example, ALEX, BOB};

#[test]
fn api7_tutorial() {
    let example = Example::start();
    let gateway = &example.gateway;
    let host = ("Host", "auth.httpbin.org");

    let missing = gateway.get("/v1/json", &[host]);
    assert_eq!(missing.status, 401);
    assert_eq!(missing.message(), "Missing API key found in request");
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Key realm=\"keygate\"")
    );

    let ok = gateway.get("/v1/json", &[host, ("Authorization", ALEX)]);
    assert_eq!(ok.status, 200, "{ok:?}");
    let echoed = ok.json();
    assert_eq!(echoed["path"], "/json");
    assert_eq!(echoed["method"], "GET");
    assert_eq!(
        ok.upstream_header("authorization"),
        None,
        "the key is stripped"
    );
    assert_eq!(
        ok.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
    assert_eq!(ok.upstream_header("client-type").as_deref(), Some("A"));

    let bad = gateway.get("/v1/json", &[host, ("Authorization", "bad-api-key")]);
    assert_eq!(bad.status, 401);
    assert_eq!(bad.message(), "Invalid API key in request");
}

#[test]
fn mia_platform_key_locations() {
    let example = Example::start();
    let gateway = &example.gateway;
    for header in ["client-key", "secret", "apikey"] {
        let response = gateway.get("/orders/7", &[(header, BOB)]);
        assert_eq!(response.status, 200, "{header}: {response:?}");
        assert_eq!(
            response.upstream_header(header),
            None,
            "{header} is stripped"
        );
        assert_eq!(
            response.upstream_header("x-consumer-username").as_deref(),
            Some("bob")
        );
        assert_eq!(
            response.upstream_header("x-consumer-groups").as_deref(),
            Some("admin")
        );
    }
    let cookie = gateway.get(
        "/orders/7",
        &[(
            "Cookie",
            &format!("theme=dark; mia_client_key={ALEX}; lang=en"),
        )],
    );
    assert_eq!(cookie.status, 200, "{cookie:?}");
    assert_eq!(
        cookie.upstream_header("cookie").as_deref(),
        Some("theme=dark; lang=en")
    );
    assert_eq!(cookie.upstream_header("client-type").as_deref(), Some("A"));
}
