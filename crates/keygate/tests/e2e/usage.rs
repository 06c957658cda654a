//! Usage counts end to end: calls through the gateway — let through, and refused for
//! several reasons — are counted per key and consumer, flushed to the store, and read
//! back through `GET /v1/usage` and `keygate usage`; on PostgreSQL, two nodes' counts of
//! the same hour add up.

use serde_json::Value;

use crate::cli::cli;
use crate::cluster::{database_url, TestSchema};
use crate::support::{eventually, Echo, Gateway};

const ALICE: &str = "usage-alice-key-0123456789";
const BOB: &str = "usage-bob-key-0123456789";

fn config(echo: &Echo) -> String {
    format!(
        r#"
usage:
  flush_interval: 200ms
services:
  - name: counted
    path_prefix: /counted
    upstream: {url}
    routes:
      - name: all
        paths: ["/*"]
        allow: "clientType === 'A'"
consumers:
  - name: alice
    client_type: A
    keys: [{{key: {ALICE}, id: alice-key}}]
  - name: bob
    client_type: B
    keys: [{{key: {BOB}, id: bob-key}}]
"#,
        url = echo.url()
    )
}

/// Sends 3 allowed calls, 2 forbidden, 1 without a key and 1 with an unknown key.
fn send_calls(gateway: &Gateway) {
    for _ in 0..3 {
        assert_eq!(gateway.get("/counted/x", &[("apikey", ALICE)]).status, 200);
    }
    for _ in 0..2 {
        assert_eq!(gateway.get("/counted/x", &[("apikey", BOB)]).status, 403);
    }
    assert_eq!(gateway.get("/counted/x", &[]).status, 401);
    let unknown = [("apikey", "usage-nobody-key-0123456789")];
    assert_eq!(gateway.get("/counted/x", &unknown).status, 401);
}

/// The day's buckets of `counted`, per key, summed over the day's hours.
fn usage(gateway: &Gateway) -> Value {
    let answer = gateway.admin("GET", "/v1/usage?service=counted&granularity=day", "");
    assert_eq!(answer.status, 200, "{}", answer.message());
    answer.json()
}

/// The count of `outcome` for `key` (empty: calls without a known key) in `usage`.
fn count(usage: &Value, key: &str, outcome: &str) -> i64 {
    let buckets = usage["data"].as_array().into_iter().flatten();
    buckets
        .filter(|bucket| bucket["key_id"] == key)
        .map(|bucket| match outcome {
            "allowed" => bucket["allowed"].as_i64().unwrap_or(0),
            reason => bucket["refused"][reason].as_i64().unwrap_or(0),
        })
        .sum()
}

/// Whether `usage` shows `times` rounds of [`send_calls`].
fn shows(usage: &Value, times: i64) -> bool {
    count(usage, "alice-key", "allowed") == 3 * times
        && count(usage, "bob-key", "forbidden") == 2 * times
        && count(usage, "", "missing_key") == times
        && count(usage, "", "key_not_found") == times
}

#[test]
fn calls_are_counted_per_key_and_read_back_after_a_flush() {
    let echo = Echo::start("usage");
    let gateway = Gateway::start(&config(&echo));
    send_calls(&gateway);
    eventually("the flushed counts are read back", || {
        shows(&usage(&gateway), 1)
    });
    let read = usage(&gateway);
    let alice = read["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|bucket| bucket["key_id"] == "alice-key")
        .unwrap();
    assert_eq!(alice["consumer"], "alice");
    assert_eq!(alice["service"], "counted");
    assert_eq!(alice["requests"], 3);

    // The command line reads the same, per consumer.
    let run = cli(
        &gateway,
        "usage --by-consumer --day --consumer bob --output json",
    )
    .ok();
    let data = run.json()["data"].clone();
    assert_eq!(data.as_array().map(Vec::len), Some(1), "{data}");
    assert_eq!(data[0]["consumer"], "bob");
    assert_eq!(data[0]["refused"]["forbidden"], 2);
    let table = cli(&gateway, "usage --consumer alice").ok();
    assert!(table.stdout.contains("alice-key"), "{}", table.stdout);
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn two_nodes_add_their_counts_on_postgres() {
    let schema = TestSchema::new(&database_url(), "usage");
    let echo = Echo::start("usage-cluster");
    let text = config(&echo);
    let nodes: Vec<Gateway> = (0..2)
        .map(|_| Gateway::start_on_store(&schema.url, &text))
        .collect();
    for node in &nodes {
        send_calls(node);
    }
    eventually("both nodes' counts are summed", || {
        shows(&usage(&nodes[0]), 2)
    });
    assert!(shows(&usage(&nodes[1]), 2), "{}", usage(&nodes[1]));
}
