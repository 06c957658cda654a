//! Several gateways on one PostgreSQL store: a key created on one node works on the
//! others, a revocation on one is a 401 on all, connections killed under traffic fail no
//! request, and a database outage leaves the nodes serving from memory.
//!
//! Needs `KEYGATE_TEST_DATABASE_URL` (such as `postgres://postgres@127.0.0.1:5432/test`);
//! without it (at build time) these tests are ignored; with it, a database that cannot be
//! reached fails them. Each test uses a schema (or,
//! for the outage, a database) of its own and drops it at the end.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{eventually, Echo, Gateway};

const DATABASE_VARIABLE: &str = "KEYGATE_TEST_DATABASE_URL";

/// The test database's URL. The tests that call this are ignored unless the variable was
/// set when they were built (see the crate's build.rs); run without it (`--ignored`), or
/// with a database that cannot be reached, they fail rather than pass untested.
pub(crate) fn database_url() -> String {
    match std::env::var(DATABASE_VARIABLE) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{DATABASE_VARIABLE} is not set: it names the PostgreSQL database to test against"
        ),
    }
}

/// A unique name for this test's schema or database.
fn unique(label: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "kg_e2e_{label}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with one more query parameter.
fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// A schema of its own in the test database, dropped on drop. Its gateways connect as
/// `application_name = <schema>`, so a test can find (and kill) their connections.
pub(crate) struct TestSchema {
    admin: postgres::Client,
    name: String,
    /// The store URL of the gateways.
    pub(crate) url: String,
}

impl TestSchema {
    pub(crate) fn new(base: &str, label: &str) -> TestSchema {
        let name = unique(label);
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        let url = with_param(
            &with_param(base, &format!("options=-c%20search_path%3D{name}")),
            &format!("application_name={name}"),
        );
        TestSchema { admin, name, url }
    }

    /// Terminates every connection of this schema's gateways; returns how many.
    fn terminate_backends(&mut self) -> i64 {
        self.admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&self.name],
            )
            .unwrap()
            .get(0)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

/// One service that forwards everything to `echo`.
fn config(echo: &Echo, extra: &str) -> String {
    format!(
        "services:\n  - name: s\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/*\"]\n{extra}",
        echo.url()
    )
}

/// Creates a consumer and a key through `gateway`'s admin API; returns (id, key).
fn create_key(gateway: &Gateway, consumer: &str, body: &str) -> (String, String) {
    let put = gateway.admin("PUT", &format!("/v1/consumers/{consumer}"), "{}");
    assert!(put.status == 200 || put.status == 201, "{put:?}");
    let created = gateway.admin("POST", &format!("/v1/consumers/{consumer}/keys"), body);
    assert_eq!(created.status, 201, "{created:?}");
    let json = created.json();
    (
        json["id"].as_str().unwrap().to_owned(),
        json["key"].as_str().unwrap().to_owned(),
    )
}

fn status(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/x", &[("apikey", key)]).status
}

fn readyz(gateway: &Gateway) -> serde_json::Value {
    let response = gateway.admin("GET", "/readyz", "");
    assert_eq!(response.status, 200, "{response:?}");
    response.json()
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn keys_created_and_revoked_on_one_node_act_on_every_node() {
    let base = database_url();
    let schema = TestSchema::new(&base, "propagate");
    let echo = Echo::start("e");
    let nodes: Vec<Gateway> = (0..3)
        .map(|_| Gateway::start_on_store(&schema.url, &config(&echo, "")))
        .collect();
    for node in &nodes {
        let ready = readyz(node);
        assert_eq!(ready["store"]["backend"], "postgres", "{ready}");
    }

    let (id, key) = create_key(&nodes[0], "alice", "{}");
    assert_eq!(status(&nodes[0], &key), 200, "live on its node at once");
    for node in &nodes[1..] {
        eventually("the new key works on every node", || {
            status(node, &key) == 200
        });
    }

    let revoked = nodes[1].admin("POST", &format!("/v1/keys/{id}/revoke"), "");
    assert_eq!(revoked.status, 200, "{revoked:?}");
    for node in &nodes {
        eventually("the revoked key is refused on every node", || {
            status(node, &key) == 401
        });
    }
    for node in &nodes {
        eventually("every node listens", || {
            readyz(node)["store"]["listening"] == true
        });
    }
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn nodes_reach_the_store_over_verified_tls() {
    let base = database_url();
    let mut schema = TestSchema::new(&base, "tls");
    // The test server's certificate is self-signed: it is its own root.
    let row = schema
        .admin
        .query_one(
            "SELECT current_setting('ssl'), current_setting('ssl_cert_file')",
            &[],
        )
        .unwrap();
    let (ssl, certificate): (String, String) = (row.get(0), row.get(1));
    assert_eq!(ssl, "on", "the test server must have TLS on (ssl = on)");
    let url = with_param(
        &schema.url,
        &format!("sslmode=verify-ca&sslrootcert={certificate}"),
    );
    let echo = Echo::start("e");
    let nodes: Vec<Gateway> = (0..2)
        .map(|_| Gateway::start_on_store(&url, &config(&echo, "")))
        .collect();
    let (_, key) = create_key(&nodes[0], "alice", "{}");
    eventually("a key made on one node works on the other", || {
        status(&nodes[1], &key) == 200
    });
    eventually("every node listens", || {
        nodes
            .iter()
            .all(|node| readyz(node)["store"]["listening"] == true)
    });
    // Every connection of the nodes (pooled and listening) is encrypted.
    let name = schema.name.clone();
    let row = schema
        .admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.application_name = $1",
            &[&name],
        )
        .unwrap();
    let (connections, encrypted): (i64, i64) = (row.get(0), row.get(1));
    assert!(
        connections >= 4,
        "two pooled and two listening at least: {connections}"
    );
    assert_eq!(encrypted, connections);
    drop(nodes);
    schema.terminate_backends();
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn killed_database_connections_fail_no_request() {
    let base = database_url();
    let mut schema = TestSchema::new(&base, "terminate");
    let echo = Echo::start("e");
    let nodes: Vec<Gateway> = (0..3)
        .map(|_| Gateway::start_on_store(&schema.url, &config(&echo, "")))
        .collect();
    let (id, key) = create_key(&nodes[0], "alice", "{}");
    for node in &nodes {
        eventually("the key works everywhere", || status(node, &key) == 200);
    }

    // Steady traffic with the known key on every node while every backend is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let traffic: Vec<_> = nodes
        .iter()
        .map(|node| {
            let (address, key) = (node.address, key.clone());
            let (stop, failures, sent) = (stop.clone(), failures.clone(), sent.clone());
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(20);
                for _ in 0..20_000 {
                    if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    let response =
                        crate::support::request(address, "GET", "/x", &[("apikey", &key)], b"");
                    sent.fetch_add(1, Ordering::Relaxed);
                    if response.status != 200 {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut killed = 0;
    for _ in 0..3 {
        killed += schema.terminate_backends();
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    for thread in traffic {
        thread.join().unwrap();
    }
    assert!(
        killed >= 3,
        "at least each node's listening connection: {killed}"
    );
    assert!(sent.load(Ordering::Relaxed) > 30, "traffic ran");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "no request failed");

    // Right after recovery, a revocation is honoured everywhere.
    let revoked = nodes[0].admin("POST", &format!("/v1/keys/{id}/revoke"), "");
    assert_eq!(revoked.status, 200, "{revoked:?}");
    for node in &nodes {
        eventually("the revocation reaches every node", || {
            status(node, &key) == 401
        });
    }
}

/// A database of its own, whose connections can be refused; dropped on drop.
struct TestDatabase {
    admin: postgres::Client,
    name: String,
    url: String,
}

impl TestDatabase {
    fn new(base: &str) -> TestDatabase {
        let name = unique("outage");
        let mut admin = postgres::Client::connect(base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        // The same server and user, another database.
        let (prefix, _) = base.split_once('?').unwrap_or((base, ""));
        let server = prefix.rsplit_once('/').map_or(prefix, |(server, _)| server);
        TestDatabase {
            admin,
            url: format!("{server}/{name}"),
            name,
        }
    }

    /// Refuses new connections and ends the open ones: the database is away.
    fn go_away(&mut self) {
        let name = &self.name;
        self.admin
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            .unwrap();
        self.admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                &[name],
            )
            .unwrap();
    }

    fn come_back(&mut self) {
        self.admin
            .batch_execute(&format!(
                "ALTER DATABASE {} ALLOW_CONNECTIONS true",
                self.name
            ))
            .unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = self.admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn nodes_serve_from_memory_while_the_database_is_away() {
    let base = database_url();
    let mut database = TestDatabase::new(&base);
    let echo = Echo::start("e");
    let settings = config(&echo, "cluster:\n  reconcile_interval: 1s\n");
    let nodes: Vec<Gateway> = (0..2)
        .map(|_| Gateway::start_on_store(&database.url, &settings))
        .collect();
    let (used_id, used) = create_key(&nodes[0], "alice", "{}");
    let (revoked_id, revoked) = create_key(&nodes[0], "alice", "{}");
    assert_eq!(
        nodes[0]
            .admin("POST", &format!("/v1/keys/{revoked_id}/revoke"), "")
            .status,
        200
    );
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, expiring) = create_key(&nodes[0], "alice", &format!(r#"{{"expires_at":"{soon}"}}"#));
    for node in &nodes {
        eventually("the keys reach every node", || {
            status(node, &used) == 200
                && status(node, &expiring) == 200
                && status(node, &revoked) == 401
        });
    }

    database.go_away();
    for node in &nodes {
        eventually("the node notices", || {
            readyz(node)["store"]["listening"] == false
        });
    }
    for node in &nodes {
        assert_eq!(status(node, &used), 200, "known keys keep working");
        assert_eq!(status(node, &revoked), 401, "revoked keys stay revoked");
        let refused = node.admin("POST", "/v1/consumers/alice/keys", "{}");
        assert_eq!(refused.status, 503, "{refused:?}");
        assert_eq!(
            refused.json()["error"]["code"],
            "unavailable",
            "{refused:?}"
        );
    }
    eventually(
        "the expiring key expires on every node, from memory",
        || nodes.iter().all(|node| status(node, &expiring) == 401),
    );
    let ready = readyz(&nodes[1]);
    let age = ready["store"]["seconds_since_sync"].as_f64().unwrap();
    assert!(age >= 1.0, "{ready}");
    let metrics = nodes[1].admin("GET", "/metrics", "");
    let text = String::from_utf8_lossy(&metrics.body);
    let gauge = text
        .lines()
        .find(|line| line.starts_with("keygate_store_sync_age_seconds "))
        .unwrap_or_else(|| panic!("{text}"));
    let value: f64 = gauge.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(value >= 1.0, "{gauge}");

    database.come_back();
    for node in &nodes {
        eventually("the node resyncs by itself", || {
            let ready = readyz(node);
            ready["store"]["listening"] == true
                && ready["store"]["seconds_since_sync"].as_f64().unwrap() < 1.5
        });
    }
    let after = nodes[0].admin("POST", &format!("/v1/keys/{used_id}/revoke"), "");
    assert_eq!(after.status, 200, "{after:?}");
    for node in &nodes {
        eventually("the revocation after recovery reaches every node", || {
            status(node, &used) == 401
        });
    }
    drop(nodes);
}

/// Percentile `p` (0–100) of sorted samples, nearest rank.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// Measurement, run on demand: 3 nodes on one schema, 100 revocations on node 1, and for
/// each the time from node 1's admin response to the first 401 on each node. Set
/// `KEYGATE_BENCH_BIN` to measure another build (such as `target/release/keygate`).
///
/// `cargo test -p keygate --test e2e -- --ignored --nocapture propagation_latency`
#[test]
#[ignore = "measurement: run on demand"]
fn propagation_latency() {
    let base = database_url();
    let binary = std::env::var("KEYGATE_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_keygate").to_owned());
    let binary = std::path::Path::new(&binary);
    let schema = TestSchema::new(&base, "latency");
    let echo = Echo::start("e");
    let nodes: Vec<Gateway> = (0..3)
        .map(|_| Gateway::start_binary_on_store(binary, &schema.url, &config(&echo, "")))
        .collect();
    let revocations = 100;
    let keys: Vec<(String, String)> = (0..revocations)
        .map(|_| create_key(&nodes[0], "alice", "{}"))
        .collect();
    for node in &nodes {
        eventually("every key works on every node", || {
            keys.iter().all(|(_, key)| status(node, key) == 200)
        });
    }

    let mut by_node: Vec<Vec<Duration>> = vec![Vec::new(); nodes.len()];
    for (id, key) in &keys {
        let revoked = nodes[0].admin("POST", &format!("/v1/keys/{id}/revoke"), "");
        let answered = Instant::now();
        assert_eq!(revoked.status, 200, "{revoked:?}");
        let seen: Vec<Duration> = std::thread::scope(|scope| {
            let pollers: Vec<_> = nodes
                .iter()
                .map(|node| {
                    scope.spawn(move || {
                        let deadline = answered + Duration::from_secs(5);
                        loop {
                            if status(node, key) == 401 {
                                return answered.elapsed();
                            }
                            assert!(Instant::now() < deadline, "no 401 within 5 s");
                        }
                    })
                })
                .collect();
            pollers.into_iter().map(|p| p.join().unwrap()).collect()
        });
        for (samples, latency) in by_node.iter_mut().zip(seen) {
            samples.push(latency);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let report = |name: &str, samples: &mut Vec<Duration>| {
        samples.sort();
        eprintln!(
            "{name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
            samples.len(),
            percentile(samples, 50).as_secs_f64() * 1e3,
            percentile(samples, 99).as_secs_f64() * 1e3,
            samples[samples.len() - 1].as_secs_f64() * 1e3
        );
    };
    let mut all = Vec::new();
    for (n, samples) in by_node.iter_mut().enumerate() {
        report(&format!("node {}", n + 1), samples);
        all.extend(samples.iter().copied());
    }
    report("all nodes", &mut all);
    let mut others: Vec<Duration> = by_node[1..].iter().flatten().copied().collect();
    report("nodes 2 and 3", &mut others);
}
