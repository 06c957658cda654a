//! Active health checks end to end: a target whose health path starts failing, or whose
//! process stops, is taken out within `interval` × `unhealthy_after` and gets no traffic;
//! it comes back after `healthy_after` good checks. The admin API, `/metrics`, the CLI
//! and (opted in) `/readyz` say so, and a write of another service keeps the verdicts.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::cli;
use crate::support::{eventually, Echo, Gateway, Process};

/// An upstream whose `/health` answers 200 or, once told to fail, 500; every other path
/// answers 200 with its name. Counts the requests that are not health checks.
struct Switchable {
    address: SocketAddr,
    failing: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    checks: Arc<AtomicUsize>,
}

impl Switchable {
    fn start(name: &'static str) -> Switchable {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let failing = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let checks = Arc::new(AtomicUsize::new(0));
        let (fail, counted, checked) = (failing.clone(), requests.clone(), checks.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (fail, counted, checked) = (fail.clone(), counted.clone(), checked.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                    }
                    let answer = if head.starts_with(b"GET /health ") {
                        checked.fetch_add(1, Ordering::SeqCst);
                        if fail.load(Ordering::SeqCst) {
                            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                        } else {
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                                .to_owned()
                        }
                    } else {
                        counted.fetch_add(1, Ordering::SeqCst);
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
                            name.len()
                        )
                    };
                    let _ = stream.write_all(answer.as_bytes());
                });
            }
        });
        Switchable {
            address,
            failing,
            requests,
            checks,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

/// Checked every 100 ms: out after 2 failures, back after 2 good checks. Passive health
/// is off (`max_fails: 0`), so that only the checks decide.
const CHECK: &str = "      max_fails: 0\n      health_check: {path: /health, interval: 100ms, timeout: 500ms, healthy_after: 2, unhealthy_after: 2, timeouts_after: 2}";

/// A service `name` on `targets` with [`CHECK`], open to anyone under `prefix`.
fn service(name: &str, prefix: &str, targets: &[String]) -> String {
    format!(
        "  - name: {name}\n    path_prefix: {prefix}\n    upstream:\n      targets: [{}]\n{CHECK}\n    routes:\n      - name: all\n        paths: [\"/*\"]\n        auth: none\n",
        targets.join(", ")
    )
}

/// `GET /v1/services/{name}/health`.
fn health(gateway: &Gateway, name: &str) -> Value {
    let answer = gateway.admin("GET", &format!("/v1/services/{name}/health"), "");
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// The target of `health` whose address is `address`.
fn target(health: &Value, address: SocketAddr) -> Value {
    health["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["address"] == address.to_string())
        .unwrap_or_else(|| panic!("no target {address} in {health}"))
        .clone()
}

/// The value of the metric line that starts with `prefix` on `/metrics`.
fn metric(gateway: &Gateway, prefix: &str) -> Option<f64> {
    let answer = gateway.admin("GET", "/metrics", "");
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .map(|value| value.trim().parse().unwrap())
}

fn healthy_gauge(gateway: &Gateway, service: &str, address: SocketAddr) -> Option<f64> {
    metric(
        gateway,
        &format!("keygate_upstream_target_healthy{{service=\"{service}\",target=\"{address}\"}} "),
    )
}

/// Waits until `address` of `service` is in `state`; returns how long that took.
fn until_state(gateway: &Gateway, service: &str, address: SocketAddr, state: &str) -> Duration {
    let started = Instant::now();
    eventually(&format!("{address} is {state}"), || {
        target(&health(gateway, service), address)["state"] == state
    });
    started.elapsed()
}

#[test]
fn a_target_whose_checks_fail_is_taken_out_and_brought_back() {
    let first = Switchable::start("first");
    let second = Switchable::start("second");
    let gateway = Gateway::start(&format!(
        "services:\n{}",
        service("s", "/s", &[first.url(), second.url()])
    ));
    eventually("both targets are checked", || {
        first.checks() >= 2 && second.checks() >= 2
    });
    for _ in 0..4 {
        assert_eq!(gateway.get("/s/x", &[]).status, 200);
    }
    assert!(first.requests() >= 1 && second.requests() >= 1);
    assert_eq!(healthy_gauge(&gateway, "s", first.address), Some(1.0));

    first.fail(true);
    let taken_out = until_state(&gateway, "s", first.address, "down");
    // 2 checks 100 ms apart, and the admin API polled every 50 ms: well under 2 s even on
    // a loaded machine.
    assert!(taken_out < Duration::from_secs(2), "{taken_out:?}");
    let shown = target(&health(&gateway, "s"), first.address);
    assert_eq!(shown["source"], "active", "{shown}");
    assert_eq!(shown["active"]["last_check"]["result"], "unhealthy_status");
    assert_eq!(shown["active"]["last_check"]["status"], 500);
    assert!(shown["active"]["consecutive_failures"].as_u64().unwrap() >= 2);
    assert_eq!(shown["passive"]["state"], "up");
    assert_eq!(health(&gateway, "s")["healthy_targets"], 1);

    let before = first.requests();
    for _ in 0..20 {
        let answer = gateway.get("/s/x", &[]);
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, b"second");
    }
    assert_eq!(first.requests(), before, "a target down gets no traffic");
    assert_eq!(healthy_gauge(&gateway, "s", first.address), Some(0.0));
    let failed_checks = metric(
        &gateway,
        &format!(
            "keygate_upstream_health_checks_total{{service=\"s\",target=\"{}\",result=\"unhealthy_status\"}} ",
            first.address
        ),
    );
    assert!(failed_checks.unwrap() >= 2.0, "{failed_checks:?}");
    let listed = cli(&gateway, "services health s").ok();
    let row = listed
        .stdout
        .lines()
        .find(|line| line.contains(&first.address.to_string()))
        .unwrap();
    assert!(row.contains(" down ") && row.contains(" active "), "{row}");
    let listed = cli(&gateway, "services list").ok();
    assert!(listed.stdout.contains("1/2 (checked)"), "{}", listed.stdout);

    // A write of another service replaces the snapshot: the verdict and its checker stay.
    let checks_before = target(&health(&gateway, "s"), first.address)["active"]["checks"]
        .as_u64()
        .unwrap();
    let other = format!(
        r#"{{"path_prefix": "/other", "upstream": "{}", "routes": [{{"name": "all", "paths": ["/*"], "auth": "none"}}]}}"#,
        second.url()
    );
    assert_eq!(
        gateway.admin("PUT", "/v1/services/other", &other).status,
        201
    );
    let kept = target(&health(&gateway, "s"), first.address);
    assert_eq!(kept["state"], "down", "{kept}");
    assert!(kept["active"]["checks"].as_u64().unwrap() >= checks_before);
    assert_eq!(gateway.get("/s/x", &[]).body, b"second");

    first.fail(false);
    until_state(&gateway, "s", first.address, "up");
    assert_eq!(healthy_gauge(&gateway, "s", first.address), Some(1.0));
    let before = first.requests();
    for _ in 0..4 {
        assert_eq!(gateway.get("/s/x", &[]).status, 200);
    }
    assert!(first.requests() > before, "back in the rotation");
}

/// An echo upstream on a given address (one a test kept free, to bring a target back).
fn echo_on(address: SocketAddr, name: &str) -> Process {
    let process = Process::spawn(&["echo", "--listen", &address.to_string(), "--name", name]);
    process.listening_address("echo");
    process
}

#[test]
fn a_stopped_target_is_taken_out_and_readyz_can_require_a_healthy_one() {
    let lone = Echo::start("lone");
    let address = lone.address;
    let spare = Echo::start("spare");
    let gateway = Gateway::start_with_admin_settings(
        &["readyz_requires_healthy_targets: true"],
        &format!(
            "services:\n{}{}",
            service("one", "/one", &[lone.url()]),
            service("two", "/two", &[spare.url()])
        ),
    );
    assert_eq!(gateway.admin("GET", "/readyz", "").status, 200);
    drop(lone);
    until_state(&gateway, "one", address, "down");
    let shown = target(&health(&gateway, "one"), address);
    assert_eq!(
        shown["active"]["last_check"]["result"], "connect_failure",
        "{shown}"
    );
    let ready = gateway.admin("GET", "/readyz", "");
    assert_eq!(ready.status, 503);
    let body = ready.json();
    assert_eq!(
        body["services_without_healthy_targets"],
        serde_json::json!(["one"])
    );
    assert!(body["message"].as_str().unwrap().contains("one"), "{body}");
    // Every target down: the lone one is still tried (and fails), never refused unasked.
    assert_eq!(gateway.get("/one/x", &[]).status, 502);
    assert_eq!(gateway.get("/two/x", &[]).status, 200);

    let _back = echo_on(address, "lone");
    until_state(&gateway, "one", address, "up");
    assert_eq!(gateway.admin("GET", "/readyz", "").status, 200);
    assert_eq!(gateway.get("/one/x", &[]).status, 200);
}

#[test]
fn readyz_ignores_target_health_unless_asked() {
    let gone = crate::support::closed_port();
    let gateway = Gateway::start(&format!(
        "services:\n{}",
        service("s", "/s", &[format!("http://{gone}")])
    ));
    until_state(&gateway, "s", gone, "down");
    assert_eq!(gateway.admin("GET", "/readyz", "").status, 200);
    let unknown = gateway.admin("GET", "/v1/services/nope/health", "");
    assert_eq!(unknown.status, 404);
}

#[test]
fn a_reload_keeps_the_verdicts_of_unchanged_targets_and_stops_the_checks_that_go() {
    let gone = crate::support::closed_port();
    let echo = Echo::start("e");
    let checked = service("s", "/s", &[format!("http://{gone}")]);
    let gateway = Gateway::start(&format!("services:\n{checked}"));
    until_state(&gateway, "s", gone, "down");
    let checks = |gateway: &Gateway| {
        target(&health(gateway, "s"), gone)["active"]["checks"]
            .as_u64()
            .unwrap()
    };
    let before = checks(&gateway);

    // Another service joins: `s` keeps its checker, its verdict and its count.
    gateway.rewrite_config(&format!(
        "services:\n{checked}{}",
        service("t", "/t", &[echo.url()])
    ));
    eventually("the reload is applied", || {
        gateway.get("/t/x", &[]).status == 200
    });
    let kept = target(&health(&gateway, "s"), gone);
    assert_eq!(kept["state"], "down", "{kept}");
    assert!(checks(&gateway) >= before, "the count went on");

    // `s` drops its health check: its checker stops, and its series leave `/metrics`.
    gateway.rewrite_config(&format!(
        "services:\n  - name: s\n    path_prefix: /s\n    upstream: http://{gone}\n    routes: [{{name: all, paths: [\"/*\"], auth: none}}]\n{}",
        service("t", "/t", &[echo.url()])
    ));
    eventually("the check of s is gone", || {
        health(&gateway, "s")["health_check"] == false
    });
    let shown = target(&health(&gateway, "s"), gone);
    assert!(shown["active"].is_null(), "{shown}");
    eventually("the series of s leave /metrics", || {
        healthy_gauge(&gateway, "s", gone).is_none()
    });
    assert_eq!(healthy_gauge(&gateway, "t", echo.address), Some(1.0));

    // A service written through the admin API takes a health check too.
    let written = format!(
        r#"{{"path_prefix": "/u", "upstream": {{"targets": ["http://{gone}"], "health_check": {{"path": "/health", "interval": "100ms", "unhealthy_after": 1, "statuses": [200, "204-299"]}}}}, "routes": [{{"name": "all", "paths": ["/*"], "auth": "none"}}]}}"#
    );
    let put = gateway.admin("PUT", "/v1/services/u", &written);
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    until_state(&gateway, "u", gone, "down");
    let refused = gateway.admin(
        "PUT",
        "/v1/services/v",
        r#"{"upstream": {"targets": ["http://127.0.0.1:1"], "health_check": {"path": "health"}}, "routes": []}"#,
    );
    assert_eq!(refused.status, 422);
    let message = refused.json()["error"]["message"].to_string();
    assert!(
        message.contains("expected a path such as /health"),
        "{message}"
    );
}
