//! Rate limits over real sockets: a plan's 10/minute admits exactly ten calls and answers
//! the eleventh `429` with its headers; counting by consumer or by key; a route's cost;
//! anonymous callers by address; headers turned off or in their legacy names; several
//! limits at once; a limit that admits again after its window; limits written through the
//! admin API; `/v1/verify`; the access log and metrics naming the limit that refused.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{eventually, read_file, request, Echo, Gateway, HttpResponse};

const ALICE_1: &str = "alice-key-one-0123456789";
const ALICE_2: &str = "alice-key-two-0123456789";
const BOB: &str = "bob-key-limits-0123456789";

/// `weather` (a plan of 10/minute by subscription, and a cheaper plan without limits),
/// `shop` (service limit by consumer, route limits by key, a route of cost 5, one without
/// headers, one with the legacy ones), `open` (anonymous, by client address).
fn config(echo: &Echo) -> String {
    format!(
        r#"
services:
  - name: weather
    path_prefix: /weather
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
    plans:
      - name: premium
        limits: [{{count: 10, per: minute, by: subscription, name: premium-minute}}]
  - name: shop
    path_prefix: /shop
    upstream: {url}
    limits: [{{count: 3, per: minute, by: consumer, name: shop-consumer}}]
    routes:
      - name: bykey
        paths: ["/bykey"]
        limits: [{{count: 2, per: minute, by: key, name: shop-key}}]
      - name: heavy
        paths: ["/heavy"]
        cost: 2
      - name: quiet
        paths: ["/quiet"]
        rate_limit_headers: off
      - name: legacy
        paths: ["/legacy"]
        rate_limit_headers: legacy
      - name: free
        paths: ["/free"]
        cost: 0
  - name: open
    path_prefix: /open
    upstream: {url}
    routes:
      - name: anonymous
        paths: ["/*"]
        auth: optional
        limits:
          - {{count: 2, per: minute, by: client_address, callers: anonymous, name: open-anonymous}}
      - name: second
        paths: ["/second/*"]
        auth: none
        limits: [{{count: 2, per: second, by: "header:x-tenant", name: per-tenant}}]
consumers:
  - name: alice
    keys: [{{key: {ALICE_1}}}, {{key: {ALICE_2}}}]
  - name: bob
    keys: [{{key: {BOB}}}]
"#,
        url = echo.url()
    )
}

fn start() -> (Gateway, Echo) {
    let echo = Echo::start("limits");
    let gateway = Gateway::start(&config(&echo));
    (gateway, echo)
}

/// Whether `field` is `name`'s `RateLimit` with `r` remaining and `t` seconds to go — or
/// one second less, for a machine so slow that a second passed since the count began.
fn ratelimit_is(field: Option<&str>, name: &str, r: u64, t: u64) -> bool {
    (t.saturating_sub(1)..=t).any(|t| field == Some(&*format!(r#""{name}";r={r};t={t}"#)))
}

/// Whether a number of seconds in `field` is `seconds`, or one less (as above).
fn seconds_are(field: Option<&str>, seconds: u64) -> bool {
    field
        .and_then(|text| text.parse::<u64>().ok())
        .is_some_and(|value| value == seconds || value + 1 == seconds)
}

fn call(gateway: &Gateway, path: &str, key: &str) -> HttpResponse {
    gateway.get(path, &[("apikey", key)])
}

/// Statuses of `n` calls.
fn statuses(gateway: &Gateway, path: &str, headers: &[(&str, &str)], n: usize) -> Vec<u16> {
    (0..n).map(|_| gateway.get(path, headers).status).collect()
}

fn subscribe(gateway: &Gateway, consumer: &str, key: &str) -> Value {
    subscribe_to(gateway, "weather", "premium", consumer, key)
}

fn subscribe_to(gateway: &Gateway, service: &str, plan: &str, consumer: &str, key: &str) -> Value {
    let body = format!(
        r#"{{"consumer": "{consumer}", "service": "{service}", "plan": "{plan}", "key": "{key}"}}"#
    );
    let created = gateway.admin("POST", "/v1/subscriptions", &body);
    assert_eq!(created.status, 201, "{created:?}");
    created.json()
}

#[test]
fn a_plan_of_ten_a_minute_admits_ten_then_answers_429_with_its_headers() {
    let (gateway, _echo) = start();
    let key = "premium-subscription-key-01";
    subscribe(&gateway, "alice", key);
    for n in 0..10u64 {
        let answer = call(&gateway, "/weather/now", key);
        assert_eq!(answer.status, 200, "call {n}: {answer:?}");
        assert_eq!(
            answer.header("ratelimit-policy"),
            Some(r#""premium-minute";q=10;w=60"#)
        );
        let remaining = 9 - n;
        assert!(
            ratelimit_is(
                answer.header("ratelimit"),
                "premium-minute",
                remaining,
                (n + 1) * 6
            ),
            "call {n}: {answer:?}"
        );
    }
    let refused = call(&gateway, "/weather/now", key);
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(refused.message(), "API rate limit exceeded");
    assert!(seconds_are(refused.header("retry-after"), 6), "{refused:?}");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""premium-minute";q=10;w=60"#)
    );
    assert!(ratelimit_is(
        refused.header("ratelimit"),
        "premium-minute",
        0,
        60
    ));
    assert_eq!(refused.header("x-ratelimit-limit"), None);
    // Another subscription has its own ten.
    subscribe(&gateway, "bob", "premium-subscription-key-02");
    assert_eq!(
        call(&gateway, "/weather/now", "premium-subscription-key-02").status,
        200
    );
    eventually("the access log names the limit", || {
        read_file(&gateway.access_log)
            .contains(r#""denial":"rate_limited","limit":"premium-minute""#)
    });
    let metrics = request(gateway.admin, "GET", "/metrics", &[], b"");
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(r#"keygate_rate_limited_total{limit="premium-minute"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"keygate_denials_total{reason="rate_limited"} 1"#));
    // `/v1/verify` reports the limit, spent.
    let verdict = gateway.admin("POST", "/v1/verify", &format!(r#"{{"key": "{key}"}}"#));
    let verdict = verdict.json();
    assert_eq!(verdict["code"], "RATE_LIMITED", "{verdict}");
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["limits"][0]["name"], "premium-minute");
    assert_eq!(verdict["limits"][0]["limit"], 10);
    assert_eq!(verdict["limits"][0]["remaining"], 0);
    let other = gateway.admin(
        "POST",
        "/v1/verify",
        r#"{"key": "premium-subscription-key-02"}"#,
    );
    let other = other.json();
    assert_eq!(other["code"], "VALID", "{other}");
    assert_eq!(other["limits"][0]["remaining"], 9);
}

#[test]
fn a_limit_by_consumer_is_shared_by_its_keys_and_one_by_key_is_not() {
    let (gateway, _echo) = start();
    // shop-key: 2 per key; shop-consumer: 3 per consumer, over both routes.
    assert_eq!(
        statuses(&gateway, "/shop/bykey", &[("apikey", ALICE_1)], 3),
        [200, 200, 429]
    );
    let refused = call(&gateway, "/shop/bykey", ALICE_1);
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""shop-key";q=2;w=60"#),
        "the route's own limit refused"
    );
    // The second key has its own two by key, but alice has one left by consumer.
    assert_eq!(
        statuses(&gateway, "/shop/bykey", &[("apikey", ALICE_2)], 2),
        [200, 429]
    );
    let refused = call(&gateway, "/shop/bykey", ALICE_2);
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""shop-consumer";q=3;w=60"#),
        "the consumer's limit refused"
    );
    assert_eq!(call(&gateway, "/shop/legacy", ALICE_2).status, 429);
    // Refused calls took nothing: bob is untouched, and alice's refusals by consumer
    // did not spend her key limit further.
    assert_eq!(
        statuses(&gateway, "/shop/bykey", &[("apikey", BOB)], 3),
        [200, 200, 429]
    );
    assert_eq!(call(&gateway, "/shop/quiet", BOB).status, 200);
    assert_eq!(call(&gateway, "/shop/quiet", BOB).status, 429);
}

#[test]
fn a_route_cost_counts_that_many_and_a_cost_of_zero_nothing() {
    let (gateway, _echo) = start();
    for _ in 0..5 {
        assert_eq!(call(&gateway, "/shop/free", ALICE_1).status, 200);
    }
    let first = call(&gateway, "/shop/heavy", ALICE_1);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit"),
        Some(r#""shop-consumer";r=1;t=40"#)
    );
    let second = call(&gateway, "/shop/heavy", ALICE_1);
    assert_eq!(second.status, 429, "2 + 2 > 3");
    assert!(ratelimit_is(
        second.header("ratelimit"),
        "shop-consumer",
        1,
        40
    ));
    assert_eq!(
        call(&gateway, "/shop/legacy", ALICE_1).status,
        200,
        "1 left"
    );
}

#[test]
fn headers_can_be_off_or_in_their_legacy_names() {
    let (gateway, _echo) = start();
    let quiet = call(&gateway, "/shop/quiet", ALICE_1);
    assert_eq!(quiet.status, 200);
    for name in ["ratelimit", "ratelimit-policy", "x-ratelimit-limit"] {
        assert_eq!(quiet.header(name), None, "{name}");
    }
    let legacy = call(&gateway, "/shop/legacy", ALICE_1);
    assert_eq!(legacy.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(legacy.header("x-ratelimit-remaining"), Some("1"));
    assert!(seconds_are(legacy.header("x-ratelimit-reset"), 40));
    assert_eq!(legacy.header("ratelimit"), None);
    assert_eq!(call(&gateway, "/shop/quiet", ALICE_1).status, 200);
    let refused = call(&gateway, "/shop/quiet", ALICE_1);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.message(), "API rate limit exceeded");
    assert!(
        seconds_are(refused.header("retry-after"), 20),
        "always on a 429: {refused:?}"
    );
    assert_eq!(refused.header("ratelimit"), None);
}

#[test]
fn anonymous_callers_are_counted_by_address_and_keyed_ones_are_not() {
    let (gateway, _echo) = start();
    assert_eq!(statuses(&gateway, "/open/a", &[], 3), [200, 200, 429]);
    // `callers: anonymous`: a key passes by.
    assert_eq!(
        statuses(&gateway, "/open/a", &[("apikey", BOB)], 3),
        [200, 200, 200]
    );
}

#[test]
fn a_limit_admits_again_after_its_window() {
    let (gateway, _echo) = start();
    let tenant_a = [("x-tenant", "a")];
    assert_eq!(
        statuses(&gateway, "/open/second/x", &tenant_a, 3),
        [200, 200, 429]
    );
    // Another header value is another subject.
    assert_eq!(
        statuses(&gateway, "/open/second/x", &[("x-tenant", "b")], 2),
        [200, 200]
    );
    let refused = gateway.get("/open/second/x", &tenant_a);
    assert_eq!(refused.header("retry-after"), Some("1"));
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1100));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        statuses(&gateway, "/open/second/x", &tenant_a, 3),
        [200, 200, 429]
    );
}

#[test]
fn limits_written_through_the_admin_api_apply_and_bad_ones_are_refused_with_their_place() {
    let (gateway, echo) = start();
    let service = format!(
        r#"{{"path_prefix": "/metered", "upstream": "{}", "routes": [{{"name": "all", "paths": ["/*"]}}],
            "limits": [{{"count": 100, "per": "hour", "by": "key"}}],
            "plans": [{{"name": "gold", "limits": [{{"count": 2, "per": "minute", "by": "key", "name": "two"}}]}}]}}"#,
        echo.url()
    );
    let put = gateway.admin("PUT", "/v1/services/metered", &service);
    assert!(put.status == 200 || put.status == 201, "{put:?}");
    let key = "metered-subscription-key-01";
    subscribe_to(&gateway, "metered", "gold", "alice", key);
    let first = gateway.get("/metered/x", &[("apikey", key)]);
    assert_eq!(
        first.header("ratelimit"),
        Some(r#""two";r=1;t=30"#),
        "{first:?}"
    );
    assert_eq!(
        statuses(&gateway, "/metered/x", &[("apikey", key)], 2),
        [200, 429]
    );
    let verdict = gateway.admin(
        "POST",
        "/v1/verify",
        &format!(r#"{{"key": "{key}", "service": "metered"}}"#),
    );
    let verdict = verdict.json();
    assert_eq!(verdict["code"], "RATE_LIMITED", "{verdict}");
    assert_eq!(verdict["limits"][1]["name"], "metered.0", "{verdict}");
    assert_eq!(verdict["limits"][1]["remaining"], 98, "{verdict}");
    // A limit rewritten with another count is a new limit, with its counts afresh.
    let put = gateway.admin(
        "PUT",
        "/v1/services/metered/plans/gold",
        r#"{"limits": [{"count": 3, "per": "minute", "by": "key", "name": "two"}]}"#,
    );
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(
        statuses(&gateway, "/metered/x", &[("apikey", key)], 4),
        [200, 200, 200, 429]
    );
    let bad = gateway.admin(
        "PUT",
        "/v1/services/metered/plans/gold",
        r#"{"limits": [{"count": 2, "per": "fortnight"}]}"#,
    );
    assert_eq!(bad.status, 422, "{bad:?}");
    let message = String::from_utf8_lossy(&bad.body);
    assert!(message.contains("`per` takes second, minute"), "{message}");
    // The CLI writes a plan's limits as COUNT/WINDOW[:BY].
    let put = crate::cli::cli(
        &gateway,
        "plans put metered gold --limit 1/minute:key --limit 100/day",
    );
    assert_eq!(put.code, Some(0), "{}{}", put.stdout, put.stderr);
    assert!(
        put.stdout.contains("1/minute by key, 100/day by consumer"),
        "{}",
        put.stdout
    );
    assert_eq!(
        statuses(&gateway, "/metered/x", &[("apikey", key)], 2),
        [200, 429]
    );
    let bad = crate::cli::cli(&gateway, "plans put metered gold --limit ten/minute");
    assert_ne!(bad.code, Some(0));
    assert!(
        bad.stderr.contains("expected COUNT/WINDOW[:BY]"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_reload_keeps_the_counts_of_limits_it_leaves_as_they_were() {
    let (gateway, echo) = start();
    assert_eq!(
        statuses(&gateway, "/shop/bykey", &[("apikey", ALICE_1)], 3),
        [200, 200, 429]
    );
    let more = config(&echo).replace(
        "      - name: free\n",
        "      - name: added\n        paths: [\"/added\"]\n      - name: free\n",
    );
    gateway.rewrite_config(&more);
    eventually("the new route is served", || {
        call(&gateway, "/shop/added", BOB).status == 200
    });
    assert_eq!(
        call(&gateway, "/shop/bykey", ALICE_1).status,
        429,
        "still spent"
    );
    // The key limit at another count is a new limit; the consumer's stays as it was.
    let changed = more
        .replace("count: 2, per: minute, by: key", "count: 4, per: minute, by: key")
        .replace(
            "      - name: second\n",
            "      - name: probe\n        paths: [\"/probe\"]\n        auth: none\n      - name: second\n",
        );
    gateway.rewrite_config(&changed);
    eventually("the rewritten file is served", || {
        let probe = gateway.get("/open/probe", &[]);
        probe.status == 200 && probe.header("ratelimit-policy").is_none()
    });
    let fresh = call(&gateway, "/shop/bykey", ALICE_1);
    assert_eq!(fresh.status, 200, "{fresh:?}");
    let spent = call(&gateway, "/shop/bykey", ALICE_1);
    assert_eq!(spent.status, 429);
    assert_eq!(
        spent.header("ratelimit-policy"),
        Some(r#""shop-consumer";q=3;w=60"#),
        "the consumer's count survived the reload"
    );
}
