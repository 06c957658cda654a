//! Exact mode across nodes (`cluster.rate_limits.mode: exact`, docs/limits.md "Exact
//! mode"): three nodes on one PostgreSQL store and one Redis, one client per node calling
//! as fast as it can, admit exactly the limit between them — where the synchronised mode
//! admits up to its bound above it; with their Redis killed they fall back to their share
//! (`on_redis_down: local`), logged and counted, and once it is back they count exactly
//! again by themselves.
//!
//! Needs `KEYGATE_TEST_DATABASE_URL` and `KEYGATE_TEST_REDIS_URL` when built (else these
//! tests are ignored). The outage test kills a `redis-server` of its own.

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::cluster::{database_url, unique, TestSchema};
use crate::limits_cluster::{metric, redis_server, redis_url, Load};
use crate::support::{eventually, request, Echo, Gateway};

/// The shared limit: COUNT an hour by tenant, so that a few seconds of load can only take
/// the burst: exactly COUNT across the nodes.
const COUNT: u64 = 30;
const NODES: usize = 3;

fn config(echo: &Echo, redis: &str, prefix: &str) -> String {
    format!(
        "cluster:\n  rate_limits:\n    redis: \"{redis}\"\n    mode: exact\n    key_prefix: \"{prefix}\"\n\
         services:\n  - name: s\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/x\"]\n        auth: none\n        limits: [{{count: {COUNT}, per: hour, by: \"header:x-tenant\", name: exact}}]\n      - name: free\n        paths: [\"/free\"]\n        auth: none\n",
        echo.url()
    )
}

fn nodes_on(schema: &TestSchema, echo: &Echo, redis: &str, prefix: &str) -> Vec<Gateway> {
    let nodes: Vec<Gateway> = (0..NODES)
        .map(|_| Gateway::start_on_store(&schema.url, &config(echo, redis, prefix)))
        .collect();
    for node in &nodes {
        eventually("every node counts in Redis", || {
            metric(node, "keygate_limit_sync_fallback") == 0.0
                && metric(node, "keygate_limit_sync_nodes") == NODES as f64
        });
    }
    nodes
}

/// Admitted calls of one client per node, each making at most `calls` calls with `tenant`.
fn admitted(nodes: &[Gateway], tenant: &'static str, calls: u64) -> (u64, Vec<u64>) {
    let load = Load::new();
    let stop = load.clone();
    let threads = load.start(nodes, tenant, Duration::from_secs(10));
    // Bounded in count as well as in time: stop once every node made `calls`.
    eventually("every node answered its calls", || {
        (0..NODES).all(|i| {
            load.admitted[i].load(Ordering::Relaxed) + load.refused[i].load(Ordering::Relaxed)
                >= calls
        })
    });
    stop.stop.store(true, Ordering::Relaxed);
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(load.other.load(Ordering::Relaxed), 0, "no error answers");
    let each = load
        .admitted
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    (load.admitted(), each)
}

#[test]
#[cfg_attr(
    any(not(keygate_test_database), not(keygate_test_redis)),
    ignore = "needs KEYGATE_TEST_DATABASE_URL and KEYGATE_TEST_REDIS_URL"
)]
fn three_nodes_in_exact_mode_admit_exactly_the_limit_between_them() {
    let schema = TestSchema::new(&database_url(), "exact_limit");
    let echo = Echo::start("e");
    let prefix = format!("{}:", unique("exact"));
    let nodes = nodes_on(&schema, &echo, &redis_url(), &prefix);
    let (total, each) = admitted(&nodes, "acme", 200);
    eprintln!("exact mode, {COUNT}/hour on {NODES} nodes: {total} admitted ({each:?})");
    assert_eq!(total, COUNT, "exactly the limit across the nodes: {each:?}");
    // A refusal from Redis carries the limit's fields, and the access log names it.
    let refused = request(nodes[0].address, "GET", "/x", &[("x-tenant", "acme")], b"");
    assert_eq!(refused.status, 429);
    assert_eq!(refused.message(), "API rate limit exceeded");
    assert_eq!(
        refused.header("ratelimit-policy"),
        Some(r#""exact";q=30;w=3600"#)
    );
    // 3600 s / 30: the next call is due 120 s after the last one let through, a second
    // less when a second has passed since (a loaded machine).
    assert!(
        matches!(refused.header("retry-after"), Some("119" | "120")),
        "{refused:?}"
    );
    let admitted = request(nodes[1].address, "GET", "/x", &[("x-tenant", "other")], b"");
    assert_eq!(admitted.status, 200, "another tenant counts apart");
    assert_eq!(
        admitted.header("ratelimit"),
        Some(r#""exact";r=29;t=120"#),
        "{admitted:?}"
    );
    // A route without limits never waits for Redis, and nothing failed.
    assert_eq!(
        request(nodes[2].address, "GET", "/free", &[], b"").status,
        200
    );
    for node in &nodes {
        assert_eq!(metric(node, "keygate_limit_sync_failures_total"), 0.0);
    }
}

#[test]
#[cfg_attr(
    any(not(keygate_test_database), not(keygate_test_redis)),
    ignore = "needs KEYGATE_TEST_DATABASE_URL and KEYGATE_TEST_REDIS_URL"
)]
fn exact_mode_falls_back_to_each_nodes_share_while_redis_is_down_and_recovers() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = redis_server(port);
    let schema = TestSchema::new(&database_url(), "exact_down");
    let echo = Echo::start("e");
    let url = format!("redis://127.0.0.1:{port}");
    let nodes = nodes_on(&schema, &echo, &url, "kg:");
    let (total, _) = admitted(&nodes, "before", 60);
    assert_eq!(total, COUNT, "exact before the outage");

    redis.kill().unwrap();
    redis.wait().unwrap();
    // Each node now counts COUNT / NODES alone; calls keep being answered.
    let (total, each) = admitted(&nodes, "during", 40);
    eprintln!("exact mode with Redis down: {total} admitted ({each:?})");
    let share = COUNT / NODES as u64;
    assert!(
        each.iter().all(|&n| n == share),
        "each node admits its share, {share}: {each:?}"
    );
    for node in &nodes {
        assert_eq!(metric(node, "keygate_limit_sync_fallback"), 1.0);
        assert!(metric(node, "keygate_limit_sync_failures_total") >= 1.0);
    }

    // Redis comes back empty: the nodes find it by themselves and count exactly again.
    let mut redis = redis_server(port);
    for node in &nodes {
        eventually("every node counts in Redis again", || {
            metric(node, "keygate_limit_sync_fallback") == 0.0
        });
    }
    let (total, each) = admitted(&nodes, "after", 60);
    assert_eq!(total, COUNT, "exact after the outage: {each:?}");
    for node in &nodes {
        let log = node.process.stderr_text();
        assert!(
            log.contains("rate limits: a Redis call failed") || log.contains("Redis unreachable"),
            "the fallback is logged: {log}"
        );
    }
    let _ = redis.kill();
    let _ = redis.wait();
}
