//! Quotas and credits over real sockets: a quota of N a day admits exactly N and answers
//! the next `429` "API quota exceeded"; its count survives a restart and a `kill -9`
//! (losing at most what the last flush interval counted, measured here); credits run out
//! at exactly N under concurrent calls, never below zero, and start afresh when set
//! again (the daily and monthly refill is tested with a given clock in
//! `limits::credits`); limits and credits on a key through the admin API, the file,
//! export and apply; `allow` expressions reading `credits` and `quota.remaining`.

use std::time::{Duration, Instant};

use crate::support::{Echo, Gateway, TempDir};

const ALICE: &str = "alice-quota-key-0123456789";
const BOB: &str = "bob-quota-key-0123456789";

/// `metered`: a daily quota of `count` by key; `quotas.flush_interval` as given.
fn config(echo: &Echo, count: u64, flush: &str) -> String {
    format!(
        r#"
quotas:
  flush_interval: {flush}
services:
  - name: metered
    path_prefix: /metered
    upstream: {url}
    limits: [{{count: {count}, per: day, by: key, kind: quota, name: daily}}]
    routes: [{{name: all, paths: ["/*"]}}]
  - name: free
    path_prefix: /free
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
  - name: gated
    path_prefix: /gated
    upstream: {url}
    limits: [{{count: 2, per: day, by: key, kind: quota, name: gated-daily}}]
    routes:
      - {{name: credited, paths: ["/credited"], cost: 0, allow: "consumer === 'alice' && credits > 0"}}
      - {{name: quota, paths: ["/quota"], allow: "quota.remaining >= 1"}}
consumers:
  - name: alice
    keys: [{{key: {ALICE}}}]
  - name: bob
    keys: [{{key: {BOB}}}]
"#,
        url = echo.url()
    )
}

fn call(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/metered/x", &[("apikey", key)]).status
}

/// The quota `daily` left for `key`, as `/v1/verify` reports it.
fn quota_left(gateway: &Gateway, key: &str) -> u64 {
    let verdict = gateway.admin(
        "POST",
        "/v1/verify",
        &format!(r#"{{"key": "{key}", "service": "metered"}}"#),
    );
    let verdict = verdict.json();
    let limits = verdict["limits"].as_array().expect("limits").clone();
    let daily = limits
        .iter()
        .find(|l| l["name"] == "daily")
        .unwrap_or_else(|| panic!("no quota in {verdict}"));
    daily["remaining"].as_u64().expect("remaining")
}

#[test]
fn a_daily_quota_admits_exactly_n_then_429_and_survives_a_restart() {
    let echo = Echo::start("quota");
    let dir = TempDir::new();
    let path = dir.0.clone();
    let text = config(&echo, 5, "1s");
    let mut gateway = Gateway::start_in(dir, &text);
    let statuses: Vec<u16> = (0..6).map(|_| call(&gateway, ALICE)).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let refused = gateway.get("/metered/x", &[("apikey", ALICE)]);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.message(), "API quota exceeded");
    let policy = refused.header("ratelimit-policy").expect("policy");
    assert!(policy.starts_with(r#""daily";q=5;w=86400"#), "{policy}");
    let retry: u64 = refused
        .header("retry-after")
        .expect("retry")
        .parse()
        .unwrap();
    assert!(
        (1..=86_400).contains(&retry),
        "until the UTC day ends: {retry}"
    );
    // Another key has its own count.
    assert_eq!(call(&gateway, BOB), 200);
    let verdict = gateway.admin(
        "POST",
        "/v1/verify",
        &format!(r#"{{"key": "{ALICE}", "service": "metered"}}"#),
    );
    assert_eq!(verdict.json()["code"], "USAGE_EXCEEDED", "{verdict:?}");

    // A graceful stop flushes: the next start refuses at once.
    gateway.process.signal("TERM");
    gateway.process.wait_exit();
    std::mem::forget(gateway.take_dir());
    let restarted = Gateway::start_in(TempDir(path), &text);
    assert_eq!(
        call(&restarted, ALICE),
        429,
        "the count survived the restart"
    );
    assert_eq!(quota_left(&restarted, BOB), 4);
}

#[test]
fn a_kill_9_loses_at_most_the_last_flush_interval() {
    let echo = Echo::start("quota-kill");
    let dir = TempDir::new();
    let path = dir.0.clone();
    let quota = 100_000;
    let text = config(&echo, quota, "1s");
    let mut gateway = Gateway::start_in(dir, &text);
    // Calls for 3.5 s, noting when each was answered; then kill -9 at once.
    let started = Instant::now();
    let mut answered = Vec::new();
    while started.elapsed() < Duration::from_millis(3500) {
        assert_eq!(call(&gateway, ALICE), 200);
        answered.push(started.elapsed());
    }
    gateway.process.signal("KILL");
    let killed = started.elapsed();
    gateway.process.wait_exit();
    std::mem::forget(gateway.take_dir());
    let restarted = Gateway::start_in(TempDir(path), &text);
    let sent = answered.len() as u64;
    let stored = quota - quota_left(&restarted, ALICE);
    let lost = sent - stored;
    // What the last flush interval (1 s) and a flush under way (its write) may hold.
    let window = Duration::from_millis(1000 + 250);
    let recent = answered
        .iter()
        .filter(|at| killed.saturating_sub(**at) <= window)
        .count() as u64;
    eprintln!(
        "quota kill -9: sent {sent} admitted calls in {:.1} s, stored {stored}, lost {lost} \
         ({:.0} ms of calls at this rate); calls in the last 1.25 s: {recent}",
        killed.as_secs_f64(),
        lost as f64 * killed.as_secs_f64() * 1000.0 / sent as f64
    );
    assert!(stored <= sent, "never more than was counted");
    assert!(
        lost <= recent,
        "lost {lost} > the {recent} calls of the last flush interval"
    );
}

/// Creates a key of alice's through the admin API with the extra JSON fields `extra`.
fn api_key(gateway: &Gateway, key: &str, extra: &str) -> String {
    let created = gateway.admin(
        "POST",
        "/v1/consumers/alice/keys",
        &format!(r#"{{"key": "{key}"{extra}}}"#),
    );
    assert_eq!(created.status, 201, "{created:?}");
    created.json()["id"].as_str().expect("id").to_owned()
}

fn credits_left(gateway: &Gateway, key: &str) -> (String, u64) {
    let verdict = gateway.admin("POST", "/v1/verify", &format!(r#"{{"key": "{key}"}}"#));
    let verdict = verdict.json();
    let limits = verdict["limits"].as_array().expect("limits").clone();
    let credits = limits
        .iter()
        .find(|l| l["kind"] == "credits")
        .unwrap_or_else(|| panic!("no credits in {verdict}"));
    (
        verdict["code"].as_str().unwrap_or_default().to_owned(),
        credits["remaining"].as_u64().expect("remaining"),
    )
}

#[test]
fn credits_run_out_at_exactly_n_under_concurrent_calls_and_survive_a_restart() {
    let echo = Echo::start("credits");
    let dir = TempDir::new();
    let path = dir.0.clone();
    let text = config(&echo, 5, "1s");
    let mut gateway = Gateway::start_in(dir, &text);
    let key = "credited-key-0123456789";
    let id = api_key(
        &gateway,
        key,
        r#", "credits": 50, "refill": {"amount": 100, "per": "month"}"#,
    );
    let shown = gateway.admin("GET", &format!("/v1/keys/{id}"), "");
    assert_eq!(shown.json()["credits"]["amount"], 50, "{shown:?}");
    assert_eq!(shown.json()["credits"]["refill"]["per"], "month");
    // 8 clients × 20 calls at once for 50 credits: exactly 50 pass.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|_| {
                let gateway = &gateway;
                scope.spawn(move || {
                    (0..20)
                        .map(|_| gateway.get("/free/x", &[("apikey", key)]).status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        clients
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 50);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 110);
    let refused = gateway.get("/free/x", &[("apikey", key)]);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.message(), "API credits exhausted");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        credits_left(&gateway, key),
        ("USAGE_EXCEEDED".to_owned(), 0)
    );

    // Setting credits again refills them by hand: a new count, whole.
    let patched = gateway.admin("PATCH", &format!("/v1/keys/{id}"), r#"{"credits": 3}"#);
    assert_eq!(patched.status, 200, "{patched:?}");
    let statuses: Vec<u16> = (0..4)
        .map(|_| gateway.get("/free/x", &[("apikey", key)]).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429]);

    // A restart (after a graceful stop) keeps what was used.
    gateway.process.signal("TERM");
    gateway.process.wait_exit();
    std::mem::forget(gateway.take_dir());
    let restarted = Gateway::start_in(TempDir(path), &text);
    assert_eq!(restarted.get("/free/x", &[("apikey", key)]).status, 429);
    assert_eq!(
        credits_left(&restarted, key),
        ("USAGE_EXCEEDED".to_owned(), 0)
    );
    // Removing the credits lets the key call without a count.
    let patched = restarted.admin("PATCH", &format!("/v1/keys/{id}"), r#"{"credits": null}"#);
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(restarted.get("/free/x", &[("apikey", key)]).status, 200);
}

#[test]
fn a_key_and_its_own_limits_through_the_admin_api() {
    let echo = Echo::start("key-limits");
    let gateway = Gateway::start(&config(&echo, 5, "1s"));
    let key = "limited-key-0123456789";
    let id = api_key(
        &gateway,
        key,
        r#", "limits": [{"count": 2, "per": "minute", "name": "key-minute"}]"#,
    );
    let statuses: Vec<u16> = (0..3)
        .map(|_| gateway.get("/free/x", &[("apikey", key)]).status)
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    let refused = gateway.get("/free/x", &[("apikey", key)]);
    assert_eq!(refused.message(), "API rate limit exceeded");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""key-minute";q=2;w=60"#)
    );
    // A quota on the key instead, through PATCH.
    let patched = gateway.admin(
        "PATCH",
        &format!("/v1/keys/{id}"),
        r#"{"limits": [{"count": 1, "per": "day", "kind": "quota", "name": "key-daily"}]}"#,
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    let statuses: Vec<u16> = (0..2)
        .map(|_| gateway.get("/free/x", &[("apikey", key)]).status)
        .collect();
    assert_eq!(statuses, [200, 429]);
    assert_eq!(
        gateway.get("/free/x", &[("apikey", key)]).message(),
        "API quota exceeded"
    );
    // Bad limits are refused with a message.
    let bad = gateway.admin(
        "PATCH",
        &format!("/v1/keys/{id}"),
        r#"{"limits": [{"count": 1, "per": "hour", "kind": "quota"}]}"#,
    );
    assert_eq!(bad.status, 422, "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.body).contains("day or month"),
        "{bad:?}"
    );
    let bad = gateway.admin(
        "PATCH",
        &format!("/v1/keys/{id}"),
        r#"{"refill": {"amount": 5, "per": "day"}}"#,
    );
    assert_eq!(bad.status, 422, "{bad:?}");
}

#[test]
fn a_file_key_with_credits_and_a_quota_counts_across_restarts_and_exports_them() {
    let echo = Echo::start("file-credits");
    let dir = TempDir::new();
    let path = dir.0.clone();
    let text = format!(
        r#"
services:
  - name: free
    path_prefix: /free
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
consumers:
  - name: carol
    keys:
      - key: carol-file-credits-key-01
        credits: 2
        refill: {{amount: 2, per: month}}
      - key: carol-file-quota-key-01
        limits: [{{count: 1, per: day, kind: quota, name: carol-daily}}]
"#,
        url = echo.url()
    );
    let mut gateway = Gateway::start_in(dir, &text);
    let calls = |gateway: &Gateway, key: &str, n: usize| -> Vec<u16> {
        (0..n)
            .map(|_| gateway.get("/free/x", &[("apikey", key)]).status)
            .collect()
    };
    assert_eq!(
        calls(&gateway, "carol-file-credits-key-01", 3),
        [200, 200, 429]
    );
    assert_eq!(calls(&gateway, "carol-file-quota-key-01", 2), [200, 429]);
    let export = gateway.admin("GET", "/v1/export", "");
    let exported = export.json();
    let keys = &exported["consumers"][0]["keys"];
    assert_eq!(keys[0]["credits"], 2, "{exported}");
    assert_eq!(keys[0]["refill"]["per"], "month", "{exported}");
    assert_eq!(keys[1]["limits"][0]["name"], "carol-daily", "{exported}");
    gateway.process.signal("TERM");
    gateway.process.wait_exit();
    std::mem::forget(gateway.take_dir());
    let restarted = Gateway::start_in(TempDir(path), &text);
    assert_eq!(calls(&restarted, "carol-file-credits-key-01", 1), [429]);
    assert_eq!(calls(&restarted, "carol-file-quota-key-01", 1), [429]);
}

#[test]
fn allow_expressions_read_credits_and_quota_remaining_before_the_call() {
    let echo = Echo::start("usage-facts");
    let gateway = Gateway::start(&config(&echo, 5, "1s"));
    // Without credits, `credits > 0` is false: 403.
    assert_eq!(
        gateway.get("/gated/credited", &[("apikey", ALICE)]).status,
        403
    );
    let key = "expression-credits-key-01";
    let id = api_key(&gateway, key, r#", "credits": 1"#);
    // A route of cost 0 lets `allow` see the credits without taking any.
    assert_eq!(
        gateway.get("/gated/credited", &[("apikey", key)]).status,
        200
    );
    assert_eq!(gateway.get("/free/x", &[("apikey", key)]).status, 200);
    assert_eq!(
        gateway.get("/gated/credited", &[("apikey", key)]).status,
        403
    );
    let patched = gateway.admin("PATCH", &format!("/v1/keys/{id}"), r#"{"credits": 2}"#);
    assert_eq!(patched.status, 200);
    assert_eq!(
        gateway.get("/gated/credited", &[("apikey", key)]).status,
        200
    );
    // `quota.remaining` is what is left before the call: 2, 1, then 0 (403, not 429).
    let statuses: Vec<u16> = (0..3)
        .map(|_| gateway.get("/gated/quota", &[("apikey", BOB)]).status)
        .collect();
    assert_eq!(statuses, [200, 200, 403]);
}

#[test]
fn keygate_export_then_apply_carries_a_keys_credits_and_limits() {
    let echo = Echo::start("carry");
    let text = config(&echo, 5, "1s");
    let source = Gateway::start(&text);
    let created = crate::cli::cli(
        &source,
        "keys create --consumer alice --key carried-credits-key-01 --credits 7 --refill 7/day --limit 3/minute",
    );
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let export = source.admin("GET", "/v1/export", "");
    assert_eq!(export.status, 200);
    let dir = TempDir::new();
    let file = dir.0.join("export.yaml");
    std::fs::write(&file, &export.body).unwrap();
    let target = Gateway::start(&text);
    let applied = crate::cli::cli(&target, &format!("apply -f {}", file.display()));
    assert_eq!(
        applied.code,
        Some(0),
        "{}{}",
        applied.stdout,
        applied.stderr
    );
    let keys = target.admin("GET", "/v1/keys?consumer=alice", "").json();
    let carried = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["credits"]["amount"] == 7)
        .unwrap_or_else(|| panic!("no key with credits in {keys}"))
        .clone();
    assert_eq!(carried["credits"]["refill"]["amount"], 7);
    assert_eq!(carried["limits"][0]["count"], 3);
    // Applied again: nothing to change (credits are not set anew).
    let again = crate::cli::cli(&target, &format!("apply -f {}", file.display()));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(!again.stdout.contains("update key"), "{}", again.stdout);
    assert!(again.stdout.contains(", 0 updated,"), "{}", again.stdout);
}
