//! Quotas and credits on two nodes sharing one PostgreSQL store: each node's counts add
//! up in the store, each reads the other's at its flush, and the over-admission of a
//! shared quota under load stays within the bound docs/limits.md states (measured here).
//! Gated like the other PostgreSQL tests (`KEYGATE_TEST_DATABASE_URL` at build time).

use std::time::{Duration, Instant};

use crate::cluster::{database_url, TestSchema};
use crate::support::{eventually, Echo, Gateway};

const KEY: &str = "cluster-quota-key-0123456789";
const OTHER: &str = "cluster-other-key-0123456789";

fn config(echo: &Echo, count: u64) -> String {
    config_flushing(echo, count, "1s")
}

fn config_flushing(echo: &Echo, count: u64, flush: &str) -> String {
    format!(
        r#"
quotas:
  flush_interval: {flush}
services:
  - name: metered
    path_prefix: /metered
    upstream: {url}
    limits: [{{count: {count}, per: month, by: key, kind: quota, name: monthly}}]
    routes: [{{name: all, paths: ["/*"]}}]
consumers:
  - name: alice
    keys: [{{key: {KEY}}}, {{key: {OTHER}}}]
"#,
        url = echo.url()
    )
}

fn left(gateway: &Gateway, key: &str) -> u64 {
    let verdict = gateway.admin(
        "POST",
        "/v1/verify",
        &format!(r#"{{"key": "{key}", "service": "metered"}}"#),
    );
    verdict.json()["limits"][0]["remaining"]
        .as_u64()
        .expect("remaining")
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn two_nodes_share_a_quota_within_the_documented_bound() {
    let base = database_url();
    let schema = TestSchema::new(&base, "quota");
    let echo = Echo::start("quota-cluster");
    let quota = 1000;
    let interval = Duration::from_millis(200);
    let text = config_flushing(&echo, quota, "200ms");
    let nodes: Vec<Gateway> = (0..2)
        .map(|_| Gateway::start_on_store(&schema.url, &text))
        .collect();

    // Counts on one node reach the other at the flushes.
    for _ in 0..30 {
        assert_eq!(nodes[0].get("/metered/x", &[("apikey", OTHER)]).status, 200);
    }
    eventually("node 1 sees node 0's 30 calls", || {
        left(&nodes[1], OTHER) == quota - 30
    });

    // Both nodes under load on one key until both refuse: what each admitted, and how
    // fast (admitted calls per second until its last admission).
    let started = Instant::now();
    let per_node: Vec<(u64, Duration)> = std::thread::scope(|scope| {
        let loads: Vec<_> = nodes
            .iter()
            .map(|node| {
                scope.spawn(move || {
                    let (mut admitted, mut last) = (0u64, Duration::ZERO);
                    let mut refused_since: Option<Instant> = None;
                    while started.elapsed() < Duration::from_secs(10) {
                        match node.get("/metered/x", &[("apikey", KEY)]).status {
                            200 => {
                                admitted += 1;
                                last = started.elapsed();
                                refused_since = None;
                            }
                            429 => {
                                // Refused for 1 s in a row: both nodes read the total.
                                let since = *refused_since.get_or_insert_with(Instant::now);
                                if since.elapsed() > Duration::from_secs(1) {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            other => panic!("status {other}"),
                        }
                    }
                    (admitted, last)
                })
            })
            .collect();
        loads.into_iter().map(|l| l.join().unwrap()).collect()
    });
    let admitted: u64 = per_node.iter().map(|(n, _)| n).sum();
    let rates: Vec<f64> = per_node
        .iter()
        .map(|(n, last)| *n as f64 / last.as_secs_f64().max(0.001))
        .collect();
    // docs/limits.md: Q + what each other node admits in two flush intervals (it learns
    // the total at its next flush, the others' counts arrive at theirs), at most N × Q.
    let others = |me: usize| -> f64 {
        (0..rates.len())
            .filter(|other| *other != me)
            .map(|other| rates[other])
            .sum()
    };
    let worst = (0..rates.len()).map(others).fold(0.0, f64::max);
    let bound = (quota as f64 + worst * 2.0 * interval.as_secs_f64()).min(2.0 * quota as f64);
    eprintln!(
        "quota cluster: 2 nodes, flush 200 ms, quota {quota}: admitted {admitted} (over by \
         {}), node rates {:.0} and {:.0} admitted calls/s, documented bound {bound:.0}",
        admitted.saturating_sub(quota),
        rates[0],
        rates[1]
    );
    assert!(admitted >= quota, "the quota admits its count: {admitted}");
    assert!(
        admitted as f64 <= bound * 1.1 + 5.0,
        "admitted {admitted} over the bound {bound:.0}"
    );
    // Every admitted call reached the store: both nodes read 0 left, and a restarted
    // node refuses at once.
    eventually("both nodes read the total", || {
        nodes.iter().all(|node| left(node, KEY) == 0)
    });
    let restarted = Gateway::start_on_store(&schema.url, &text);
    assert_eq!(restarted.get("/metered/x", &[("apikey", KEY)]).status, 429);
    assert_eq!(left(&restarted, OTHER), quota - 30);
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn credits_set_on_one_node_are_counted_on_both() {
    let base = database_url();
    let schema = TestSchema::new(&base, "credits");
    let echo = Echo::start("credits-cluster");
    let text = config(&echo, 1000);
    let nodes: Vec<Gateway> = (0..2)
        .map(|_| Gateway::start_on_store(&schema.url, &text))
        .collect();
    let created = nodes[0].admin(
        "POST",
        "/v1/consumers/alice/keys",
        r#"{"key": "cluster-credited-key-01", "credits": 20}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    eventually("node 1 has the key", || {
        nodes[1]
            .get("/metered/x", &[("apikey", "cluster-credited-key-01")])
            .status
            == 200
    });
    // 9 more on node 1 (10 in all there), then 10 on node 0 after node 0 read them.
    for _ in 0..9 {
        assert_eq!(
            nodes[1]
                .get("/metered/x", &[("apikey", "cluster-credited-key-01")])
                .status,
            200
        );
    }
    std::thread::sleep(Duration::from_millis(2500));
    let statuses: Vec<u16> = (0..11)
        .map(|_| {
            nodes[0]
                .get("/metered/x", &[("apikey", "cluster-credited-key-01")])
                .status
        })
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses[10], 429);
}
