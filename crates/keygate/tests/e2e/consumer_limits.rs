//! Limits of a consumer, shared by all its keys: written in the file, through the admin
//! API and with `keygate consumers create|update --limit`; two keys of one consumer share
//! the count exactly and another consumer keeps its own; the `429` carries the limit's
//! headers and message, and the access log and `/v1/verify` name it; `keygate export`
//! then `keygate apply` carries them.

use crate::support::{eventually, read_file, Echo, Gateway, TempDir};

const ALICE_1: &str = "alice-consumer-limit-key-1";
const ALICE_2: &str = "alice-consumer-limit-key-2";
const BOB: &str = "bob-consumer-limit-key-0001";

/// `api` without limits of its own; `alice` has 5/minute shared by her two keys.
fn config(echo: &Echo) -> String {
    format!(
        r#"
services:
  - name: api
    path_prefix: /api
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
consumers:
  - name: alice
    limits: [{{count: 5, per: minute, name: alice-minute}}]
    keys: [{{key: {ALICE_1}}}, {{key: {ALICE_2}}}]
  - name: bob
    limits: [{{count: 5, per: minute}}]
    keys: [{{key: {BOB}}}]
"#,
        url = echo.url()
    )
}

fn status(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/api/x", &[("apikey", key)]).status
}

#[test]
fn two_keys_of_a_consumer_share_its_limit_and_another_consumer_keeps_its_own() {
    let echo = Echo::start("consumer-limits");
    let gateway = Gateway::start(&config(&echo));
    // Alternating keys: five calls in all pass, whichever key makes them.
    let statuses: Vec<u16> = (0..8)
        .map(|n| status(&gateway, if n % 2 == 0 { ALICE_1 } else { ALICE_2 }))
        .collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    let admitted = gateway.get("/api/x", &[("apikey", BOB)]);
    assert_eq!(admitted.status, 200, "bob counts apart: {admitted:?}");
    assert_eq!(
        admitted.header("ratelimit-policy"),
        Some(r#""consumer.0";q=5;w=60"#),
        "a consumer's limit is named by its place by default"
    );
    let refused = gateway.get("/api/x", &[("apikey", ALICE_2)]);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.message(), "API rate limit exceeded");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""alice-minute";q=5;w=60"#)
    );
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    eventually("the access log names the limit", || {
        read_file(&gateway.access_log).contains(r#""denial":"rate_limited","limit":"alice-minute""#)
    });
    let verdict = gateway.admin("POST", "/v1/verify", &format!(r#"{{"key": "{ALICE_1}"}}"#));
    let verdict = verdict.json();
    assert_eq!(verdict["code"], "RATE_LIMITED", "{verdict}");
    assert_eq!(verdict["limits"][0]["name"], "alice-minute");
    assert_eq!(verdict["limits"][0]["remaining"], 0);
}

#[test]
fn consumer_limits_are_written_through_the_api_and_the_cli_and_bad_ones_refused() {
    let echo = Echo::start("consumer-limits-api");
    let gateway = Gateway::start(&config(&echo));
    let created = gateway.admin(
        "POST",
        "/v1/consumers",
        r#"{"name": "carol", "limits": [{"count": 2, "per": "minute"}]}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json()["limits"][0]["count"], 2);
    for n in 1..=2 {
        let key = format!("carol-consumer-limit-key-{n}");
        let made = gateway.admin(
            "POST",
            "/v1/consumers/carol/keys",
            &format!(r#"{{"key": "{key}"}}"#),
        );
        assert_eq!(made.status, 201, "{made:?}");
    }
    let carol = |n: usize| format!("carol-consumer-limit-key-{n}");
    // The first call that passes takes one of the two; the other key takes the second.
    eventually("carol's keys are known", || {
        status(&gateway, &carol(1)) != 401
    });
    let statuses: Vec<u16> = (0..3)
        .map(|n| status(&gateway, &carol(2 - n % 2)))
        .collect();
    assert_eq!(statuses, [200, 429, 429]);
    // Bad limits: 422 with what is wrong.
    let bad = gateway.admin(
        "PATCH",
        "/v1/consumers/carol",
        r#"{"limits": [{"count": 1, "per": "minute", "by": "header:x-a"}]}"#,
    );
    assert_eq!(bad.status, 422, "{bad:?}");
    assert!(
        bad.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("counts by consumer, key or subscription")),
        "{bad:?}"
    );
    // The CLI: a new limit replaces the old one (a new limit counts afresh)…
    let updated = crate::cli::cli(&gateway, "consumers update carol --limit 3/minute:key");
    assert_eq!(updated.code, Some(0), "{}", updated.stderr);
    assert!(updated.stdout.contains("3/minute"), "{}", updated.stdout);
    eventually("the new limit counts by key", || {
        let first: Vec<u16> = (0..4).map(|_| status(&gateway, &carol(1))).collect();
        first == [200, 200, 200, 429]
    });
    assert_eq!(
        status(&gateway, &carol(2)),
        200,
        "by key: the other key has its own"
    );
    // … and --no-limits removes it.
    let removed = crate::cli::cli(&gateway, "consumers update carol --no-limits");
    assert_eq!(removed.code, Some(0), "{}", removed.stderr);
    eventually("no limit is left", || {
        (0..5).all(|_| status(&gateway, &carol(1)) == 200)
    });
    let made = crate::cli::cli(
        &gateway,
        "consumers create dave --limit 10/second --quota 100/day",
    );
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    let dave = gateway.admin("GET", "/v1/consumers/dave", "").json();
    assert_eq!(dave["limits"][0]["count"], 10);
    assert_eq!(dave["limits"][1]["kind"], "quota");
}

#[test]
fn a_bad_consumer_limit_in_the_file_is_refused_at_its_place() {
    let dir = TempDir::new();
    let file = dir.0.join("keygate.yaml");
    std::fs::write(
        &file,
        "consumers:\n  - name: erin\n    limits: [{count: 0, per: minute}]\n",
    )
    .unwrap();
    let checked = std::process::Command::new(env!("CARGO_BIN_EXE_keygate"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "{stderr}");
    assert!(
        stderr.contains(":2:") && stderr.contains("the consumer's limits: limits[0]: `count`"),
        "{stderr}"
    );
}

#[test]
fn keygate_export_then_apply_carries_a_consumers_limits() {
    let echo = Echo::start("consumer-limits-carry");
    let text = config(&echo);
    let source = Gateway::start(&text);
    let created = crate::cli::cli(&source, "consumers create frank --limit 4/minute");
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
    let frank = target.admin("GET", "/v1/consumers/frank", "").json();
    assert_eq!(frank["limits"][0]["count"], 4, "{frank}");
    let again = crate::cli::cli(&target, &format!("apply -f {}", file.display()));
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains(", 0 updated,"), "{}", again.stdout);
}
