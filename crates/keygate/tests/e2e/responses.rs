//! `responses:`: the challenge, the wording and response templates, per service over
//! `defaults.responses`.

use crate::support::{Echo, Gateway};

const KEY: &str = "responses-key-0123456";

fn gateway(echo: &Echo) -> Gateway {
    Gateway::start(&format!(
        "defaults:\n  responses:\n    www_authenticate: 'apikey realm=\"shop\"'\n\
         services:\n\
         \x20 - name: plain\n    path_prefix: /plain\n    upstream: {url}\n    routes: [{{name: all, paths: ['/*']}}]\n\
         \x20 - name: apisix\n    path_prefix: /apisix\n    upstream: {url}\n    routes: [{{name: all, paths: ['/*']}}]\n\
         \x20   responses: {{wording: apisix, www_authenticate: 'off'}}\n\
         \x20 - name: templated\n    path_prefix: /t\n    upstream: {url}\n\
         \x20   routes:\n      - {{name: all, paths: ['/*'], allow: \"request.method == 'GET'\", methods: [GET, POST], limits: [{{count: 1, per: minute, by: key}}]}}\n\
         \x20   responses:\n      templates:\n\
         \x20       API_KEY_INVALID: {{status: 401, body: '<h1>Who are you?</h1>', content_type: text/html, headers: {{X-Reason: invalid-key}}}}\n\
         \x20       ACCESS_DENIED: {{status: 404, body: '{{\"error\":\"not here\"}}'}}\n\
         \x20       RATE_LIMIT_TOO_MANY_REQUESTS: {{status: 429, body: slow down, content_type: text/plain}}\n\
         consumers:\n  - name: alex\n    keys: [{{key: {KEY}}}]\n",
        url = echo.url()
    ))
}

#[test]
fn the_challenge_and_the_wording_follow_the_service() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let defaults = gateway.get("/plain/x", &[]);
    assert_eq!(defaults.status, 401);
    assert_eq!(
        defaults.header("www-authenticate"),
        Some("apikey realm=\"shop\"")
    );
    assert_eq!(defaults.message(), "Missing API key found in request");
    let apisix = gateway.get("/apisix/x", &[]);
    assert_eq!(apisix.status, 401);
    assert_eq!(apisix.header("www-authenticate"), None, "off");
    assert_eq!(apisix.message(), "Missing API key in request");
    let invalid = gateway.get("/apisix/x", &[("apikey", "unknown-key-0123456")]);
    assert_eq!(invalid.message(), "Invalid API key in request");
}

#[test]
fn templates_replace_the_refusals_they_name() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let invalid = gateway.get("/t/x", &[("apikey", "unknown-key-0123456")]);
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.header("content-type"), Some("text/html"));
    assert_eq!(invalid.header("x-reason"), Some("invalid-key"));
    assert_eq!(
        invalid.header("www-authenticate"),
        Some("apikey realm=\"shop\"")
    );
    assert_eq!(invalid.body, b"<h1>Who are you?</h1>");
    // A refusal without a template keeps keygate's answer.
    let missing = gateway.get("/t/x", &[]);
    assert_eq!(missing.message(), "Missing API key found in request");

    let denied = crate::support::request(gateway.address, "POST", "/t/x", &[("apikey", KEY)], b"");
    assert_eq!(denied.status, 404, "{denied:?}");
    assert_eq!(denied.header("content-type"), Some("application/json"));
    assert_eq!(denied.json()["error"], "not here");

    assert_eq!(gateway.get("/t/x", &[("apikey", KEY)]).status, 200);
    let limited = gateway.get("/t/x", &[("apikey", KEY)]);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body, b"slow down");
    assert!(limited.header("retry-after").is_some(), "{limited:?}");
    // The access log keeps the refusal's reason whatever the client was told.
    crate::support::eventually("the denials are logged", || {
        let log = crate::support::read_file(&gateway.access_log);
        log.contains("\"denial\":\"key_not_found\"") && log.contains("rate_limited")
    });
}
