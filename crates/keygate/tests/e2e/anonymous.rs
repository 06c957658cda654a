//! The anonymous consumer (docs/config.md, "Anonymous consumer"): on a service's
//! `auth: optional` routes a call without a key goes on as the service's
//! `anonymous_consumer` — its identity fields and `X-Anonymous-Consumer: true` upstream,
//! its `allow` facts, limits, plans and usage — while a call with a valid key is its own
//! consumer's as before; an invalid key is `401` unless `anonymous_on_invalid_key`; a
//! consumer that does not exist is an error at its position in the file, and `500` for
//! a service written through the admin API. The authz mode's answers are in
//! tests/e2e/authz/.

use serde_json::Value;

use crate::cli::{run_with, write};
use crate::support::{eventually, read_file, Echo, Gateway, HttpResponse, TempDir};

const ALEX: &str = "anon-alex-key-0123456789";
const DISABLED: &str = "anon-disabled-key-0123456";

fn config(echo: &Echo) -> String {
    format!(
        r#"
usage:
  flush_interval: 200ms
services:
  - name: shop
    upstream: {url}
    anonymous_consumer: guest
    routes:
      - {{name: public, paths: [/public], auth: optional}}
      - {{name: members, paths: [/members], auth: optional, allow: "groups.members"}}
      - {{name: guests, paths: [/guests], auth: optional, allow: "consumer === 'guest' && key.id === null"}}
      - {{name: keyed, paths: [/keyed]}}
      - {{name: open, paths: [/open], auth: none}}
  - name: lenient
    path_prefix: /lenient
    upstream: {url}
    anonymous_consumer: guest
    anonymous_on_invalid_key: true
    routes:
      - {{name: all, paths: ["/*"], auth: optional}}
  - name: catalog
    path_prefix: /catalog
    upstream: {url}
    anonymous_consumer: guest
    plans:
      - {{name: free, limits: [{{count: 2, per: minute, name: free-plan}}]}}
    routes:
      - {{name: all, paths: ["/*"], auth: optional}}
  - name: premium
    path_prefix: /premium
    upstream: {url}
    anonymous_consumer: guest
    plans: [{{name: paid}}]
    routes:
      - {{name: all, paths: ["/*"], auth: optional}}
consumers:
  - name: guest
    client_type: visitor
    groups: [public]
    metadata: {{custom_id: anon-1}}
  - name: alex
    client_type: A
    groups: [members]
    keys:
      - {{key: {ALEX}, id: alex-key}}
      - {{key: {DISABLED}, id: off-key, active: false}}
subscriptions:
  - {{id: guest-free, consumer: guest, service: catalog, plan: free, key_mode: shared}}
"#,
        url = echo.url()
    )
}

/// Client fields that would pass for another caller, were they forwarded.
const SPOOFED: [(&str, &str); 4] = [
    ("X-Anonymous-Consumer", "false"),
    ("X-Credential-Identifier", "alex-key"),
    ("X-Consumer-Username", "alex"),
    ("client-type", "A"),
];

/// The upstream saw `guest`, anonymously.
fn assert_guest(answer: &HttpResponse) {
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = |name: &str| answer.upstream_header(name);
    assert_eq!(seen("x-consumer-username").as_deref(), Some("guest"));
    assert_eq!(seen("client-type").as_deref(), Some("visitor"));
    assert_eq!(seen("x-consumer-groups").as_deref(), Some("public"));
    assert_eq!(seen("x-consumer-id").as_deref(), Some("guest"));
    assert_eq!(seen("x-consumer-custom-id").as_deref(), Some("anon-1"));
    assert_eq!(seen("x-anonymous-consumer").as_deref(), Some("true"));
    assert_eq!(seen("x-credential-identifier"), None, "no key, no key id");
}

/// The upstream saw alex, by his key.
fn assert_alex(answer: &HttpResponse) {
    assert_eq!(answer.status, 200, "{answer:?}");
    let seen = |name: &str| answer.upstream_header(name);
    assert_eq!(seen("x-consumer-username").as_deref(), Some("alex"));
    assert_eq!(seen("x-credential-identifier").as_deref(), Some("alex-key"));
    assert_eq!(seen("x-anonymous-consumer"), None, "{answer:?}");
    assert_eq!(seen("apikey"), None, "the key is removed");
}

/// The access log's lines, once `count` are written.
fn log_lines(gateway: &Gateway, count: usize) -> Vec<Value> {
    let mut lines = Vec::new();
    eventually("the calls are logged", || {
        lines = read_file(&gateway.access_log)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect();
        lines.len() >= count
    });
    lines
}

#[test]
fn a_call_without_a_key_goes_on_as_the_anonymous_consumer() {
    let echo = Echo::start("anonymous");
    let gateway = Gateway::start(&config(&echo));
    assert_guest(&gateway.get("/public", &SPOOFED));
    let mut keyed = SPOOFED.to_vec();
    keyed[0] = ("X-Anonymous-Consumer", "true");
    keyed.push(("apikey", ALEX));
    assert_alex(&gateway.get("/public", &keyed));

    // `auth: required` still needs a key; `auth: none` names no consumer.
    let keyed_route = gateway.get("/keyed", &[]);
    assert_eq!(keyed_route.status, 401, "{keyed_route:?}");
    assert_eq!(keyed_route.message(), "Missing API key found in request");
    let open = gateway.get("/open", &SPOOFED);
    assert_eq!(open.status, 200, "{open:?}");
    assert_eq!(open.upstream_header("x-consumer-username"), None);
    assert_eq!(open.upstream_header("x-anonymous-consumer"), None);

    let lines = log_lines(&gateway, 4);
    assert_eq!(lines[0]["consumer"], "guest", "{lines:?}");
    assert_eq!(lines[0]["client_type"], "visitor", "{lines:?}");
    assert_eq!(lines[0]["anonymous"], true, "{lines:?}");
    assert_eq!(lines[0]["key_id"], Value::Null, "{lines:?}");
    assert_eq!(lines[1]["consumer"], "alex", "{lines:?}");
    assert_eq!(lines[1].get("anonymous"), None, "{lines:?}");

    // Usage is counted under the consumer, with no key.
    eventually("the anonymous consumer's usage is read back", || {
        let usage = gateway.admin("GET", "/v1/usage?service=shop&granularity=day", "");
        usage.json()["data"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|bucket| {
                bucket["consumer"] == "guest" && bucket["key_id"] == "" && bucket["allowed"] == 1
            })
    });
}

#[test]
fn allow_expressions_see_the_anonymous_consumer() {
    let echo = Echo::start("anonymous-allow");
    let gateway = Gateway::start(&config(&echo));
    let members = gateway.get("/members", &[]);
    assert_eq!(members.status, 403, "{members:?}");
    assert_eq!(members.message(), "You cannot consume this service");
    assert_eq!(members.header("www-authenticate"), None);
    assert_alex(&gateway.get("/members", &[("apikey", ALEX)]));
    assert_guest(&gateway.get("/guests", &[]));
    let alex = gateway.get("/guests", &[("apikey", ALEX)]);
    assert_eq!(alex.status, 403, "{alex:?}");
}

#[test]
fn an_invalid_key_is_refused_unless_the_service_falls_back() {
    let echo = Echo::start("anonymous-invalid");
    let gateway = Gateway::start(&config(&echo));
    for key in ["anon-nobody-key-0123456", DISABLED] {
        let refused = gateway.get("/public", &[("apikey", key)]);
        assert_eq!(refused.status, 401, "{refused:?}");
        assert_eq!(refused.message(), "Invalid API key in request");
        let fallen_back = gateway.get("/lenient/x", &[("apikey", key)]);
        assert_guest(&fallen_back);
        assert_eq!(fallen_back.upstream_header("apikey"), None);
    }
    assert_alex(&gateway.get("/lenient/x", &[("apikey", ALEX)]));
    let two_keys = gateway.get(
        "/lenient/x",
        &[("apikey", ALEX), ("apikey", "anon-nobody-key-0123456")],
    );
    assert_eq!(two_keys.status, 401, "{two_keys:?}");
    assert_eq!(two_keys.message(), "Duplicate API key found in request");
}

#[test]
fn limits_and_plans_apply_to_the_anonymous_consumer() {
    let echo = Echo::start("anonymous-limits");
    let mut text = config(&echo);
    text = text.replace(
        "    metadata: {custom_id: anon-1}\n",
        "    metadata: {custom_id: anon-1}\n    limits: [{count: 3, per: minute, name: guest-minute}]\n",
    );
    let gateway = Gateway::start(&text);
    // The plan's subscription lets it through, its limit counts it (2 a minute).
    for _ in 0..2 {
        assert_guest(&gateway.get("/catalog/books", &[]));
    }
    let plan = gateway.get("/catalog/books", &[]);
    assert_eq!(plan.status, 429, "{plan:?}");
    assert_eq!(plan.message(), "API rate limit exceeded");
    assert!(plan.header("retry-after").is_some(), "{plan:?}");
    // Without a subscription to the premium plan: not subscribed.
    let premium = gateway.get("/premium/x", &[]);
    assert_eq!(premium.status, 403, "{premium:?}");
    // The consumer's own limit (3 a minute) counted the catalog's two calls let through:
    // the next call passes, the one after is refused; alex is not counted with it.
    assert_guest(&gateway.get("/public", &[]));
    let refused = gateway.get("/public", &[]);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert!(
        refused
            .header("ratelimit-policy")
            .is_some_and(|policy| policy.contains("guest-minute")),
        "{refused:?}"
    );
    assert_alex(&gateway.get("/public", &[("apikey", ALEX)]));
}

#[test]
fn a_missing_anonymous_consumer_is_refused_where_it_is_named() {
    // In the file: an error at its position.
    let dir = TempDir::new();
    let path = write(
        &dir,
        "keygate.yaml",
        "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    anonymous_consumer: gueST\n    routes: [{name: r, paths: [/], auth: optional}]\nconsumers:\n  - name: guest\n",
    );
    run_with(&["validate", &path], &[])
        .fails_with("keygate.yaml:4:25: consumer `gueST` is not in this file's `consumers`");

    // Through the admin API: any name; none of that name yet is 500, logged once.
    let echo = Echo::start("anonymous-missing");
    let gateway = Gateway::start(&config(&echo));
    let service = format!(
        r#"{{"upstream": "{}", "path_prefix": "/late", "anonymous_consumer": "latecomer",
            "routes": [{{"name": "all", "paths": ["/*"], "auth": "optional"}}]}}"#,
        echo.url()
    );
    let put = gateway.admin("PUT", "/v1/services/late", &service);
    assert!(put.status < 300, "{put:?}");
    for _ in 0..3 {
        let missing = gateway.get("/late/x", &[]);
        assert_eq!(missing.status, 500, "{missing:?}");
        assert_eq!(
            missing.message(),
            "The service's anonymous consumer does not exist"
        );
    }
    assert_alex(&gateway.get("/late/x", &[("apikey", ALEX)]));
    let warnings = gateway
        .process
        .stderr_text()
        .matches("anonymous consumer does not exist")
        .count();
    assert_eq!(warnings, 1, "{}", gateway.process.stderr_text());
    let lines = log_lines(&gateway, 4);
    assert_eq!(
        lines[0]["denial"], "anonymous_consumer_missing",
        "{lines:?}"
    );

    // Once it exists, calls without a key go on as it.
    let created = gateway.admin("PUT", "/v1/consumers/latecomer", r#"{"groups": ["late"]}"#);
    assert!(created.status < 300, "{created:?}");
    let late = gateway.get("/late/x", &[]);
    assert_eq!(late.status, 200, "{late:?}");
    assert_eq!(
        late.upstream_header("x-consumer-username").as_deref(),
        Some("latecomer")
    );
    assert_eq!(
        late.upstream_header("x-consumer-groups").as_deref(),
        Some("late")
    );
    assert_eq!(
        late.upstream_header("x-anonymous-consumer").as_deref(),
        Some("true")
    );
}

/// Imports `text` as `peer`'s file and starts a gateway on what was written.
fn imported_gateway(peer: &str, text: &str) -> Gateway {
    let dir = TempDir::new();
    let file = write(&dir, "peer-file", text);
    let out = dir.0.join("imported.yaml");
    let run = run_with(
        &["import", peer, &file, "--out", out.to_str().unwrap()],
        &[],
    )
    .ok();
    assert!(run.stderr.contains("anonymous"), "{}", run.stderr);
    Gateway::start(&std::fs::read_to_string(&out).expect("written"))
}

#[test]
fn imported_anonymous_consumers_answer_as_the_peers_did() {
    let echo = Echo::start("imported");
    let kong = format!(
        r#"_format_version: "3.0"
services:
  - name: books
    url: http://{address}
    routes:
      - name: browse
        paths: [/books]
        plugins:
          - name: key-auth
            config: {{anonymous: 0b3f3c43-1e5a-4d9b-a3c6-8f2b1c7e9d01, hide_credentials: true}}
consumers:
  - username: anonymous_users
    id: 0b3f3c43-1e5a-4d9b-a3c6-8f2b1c7e9d01
  - username: alice
    keyauth_credentials: [{{key: alice-secret-key-0001}}]
"#,
        address = echo.address
    );
    let gateway = imported_gateway("kong", &kong);
    // Kong: no key, or an invalid one, goes on as the anonymous consumer, with its id.
    for key in [None, Some("not-a-key-0123456")] {
        let headers: Vec<(&str, &str)> = key.map(|key| ("apikey", key)).into_iter().collect();
        let answer = gateway.get("/books/1", &headers);
        assert_eq!(answer.status, 200, "{answer:?}");
        let seen = |name: &str| answer.upstream_header(name);
        assert_eq!(
            seen("x-consumer-username").as_deref(),
            Some("anonymous_users")
        );
        assert_eq!(
            seen("x-consumer-id").as_deref(),
            Some("0b3f3c43-1e5a-4d9b-a3c6-8f2b1c7e9d01")
        );
        assert_eq!(seen("x-anonymous-consumer").as_deref(), Some("true"));
        assert_eq!(seen("apikey"), None, "hide_credentials");
    }
    let alice = gateway.get("/books/1", &[("apikey", "alice-secret-key-0001")]);
    assert_eq!(alice.status, 200, "{alice:?}");
    assert_eq!(
        alice.upstream_header("x-consumer-username").as_deref(),
        Some("alice")
    );
    assert_eq!(alice.upstream_header("x-anonymous-consumer"), None);

    let apisix = format!(
        r#"routes:
  - id: 1
    uri: /books/*
    upstream: {{type: roundrobin, nodes: {{"{address}": 1}}}}
    plugins:
      key-auth: {{anonymous_consumer: anonymous}}
consumers:
  - username: anonymous
  - username: jack
    plugins:
      key-auth: {{key: jack-key-123456}}
#END
"#,
        address = echo.address
    );
    let gateway = imported_gateway("apisix", &apisix);
    for key in [None, Some("not-a-key-0123456")] {
        let headers: Vec<(&str, &str)> = key.map(|key| ("apikey", key)).into_iter().collect();
        let answer = gateway.get("/books/1", &headers);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(
            answer.upstream_header("x-consumer-username").as_deref(),
            Some("anonymous")
        );
    }
    let jack = gateway.get("/books/1", &[("apikey", "jack-key-123456")]);
    assert_eq!(
        jack.upstream_header("x-consumer-username").as_deref(),
        Some("jack")
    );
}
