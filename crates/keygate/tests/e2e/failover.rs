//! A service with a failing target: requests go on to another target (retries), the
//! failing one is skipped for its cool-down (passive health), and comes back after it.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{closed_port, eventually, read_file, request, Echo, Gateway, Process};

/// A gateway whose one service `s` has `targets` and the extra `upstream:` fields `extra`
/// (YAML lines at the indentation of `targets`).
fn gateway(targets: &[String], extra: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream:
      targets: [{}]
      connect_timeout: 1s
{extra}
    routes:
      - name: all
        paths: ["/*", "/"]
        auth: none
"#,
        targets.join(", ")
    ))
}

/// An upstream that reads each request head and closes the connection without answering:
/// the request reached it, and it failed. Counts the requests it read.
struct Closer {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl Closer {
    fn start() -> Closer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                if !head.is_empty() {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                // Dropping the stream closes it: no answer.
            }
        });
        Closer { address, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// An echo upstream on a given address (one a test kept free, to bring a target back).
fn echo_on(address: SocketAddr, name: &str) -> Process {
    let process = Process::spawn(&["echo", "--listen", &address.to_string(), "--name", name]);
    process.listening_address("echo");
    process
}

/// The `tries` of the access records, in order, once `count` have been written.
fn tries_logged(gateway: &Gateway, count: usize) -> Vec<u64> {
    let lines = || {
        read_file(&gateway.access_log)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .collect::<Vec<_>>()
    };
    eventually("the access records are written", || lines().len() >= count);
    lines()
        .iter()
        .map(|record| record["tries"].as_u64().unwrap())
        .collect()
}

/// The value of the retry counter on `/metrics`.
fn retries_counted(gateway: &Gateway) -> u64 {
    let metrics = gateway.admin("GET", "/metrics", "");
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("keygate_upstream_retries_total "))
        .unwrap_or_else(|| panic!("no retry counter in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_stopped_target_costs_no_client_errors_and_is_tried_once() {
    let live = Echo::start("live");
    let stopped = Echo::start("stopped");
    let gateway = gateway(&[stopped.url(), live.url()], "");
    // Both take requests, and keep connections open in the pools.
    for _ in 0..4 {
        assert_eq!(gateway.get("/x", &[]).status, 200);
    }
    drop(stopped);
    for round in 0..20 {
        let got = gateway.get("/x", &[]);
        assert_eq!(got.status, 200, "GET {round}");
        assert_eq!(got.json()["server"], "live");
        let posted = request(gateway.address, "POST", "/x", &[], b"a body");
        assert_eq!(posted.status, 200, "POST {round}");
        assert_eq!(posted.json()["body_length"], 6);
    }
    let tries = tries_logged(&gateway, 44);
    assert_eq!(
        tries.iter().sum::<u64>(),
        45,
        "the stopped target is tried once, then skipped for fail_timeout: {tries:?}"
    );
    assert_eq!(
        tries[4], 2,
        "the first request after the stop went on to the live target"
    );
    assert_eq!(retries_counted(&gateway), 1);
}

#[test]
fn a_target_that_comes_back_gets_requests_after_its_cool_down() {
    let live = Echo::start("live");
    let down = closed_port();
    let gateway = gateway(
        &[format!("http://{down}"), live.url()],
        "      fail_timeout: 2s",
    );
    let failed = Instant::now();
    assert_eq!(gateway.get("/x", &[]).status, 200);
    let _back = echo_on(down, "back");
    // Within the cool-down the target is skipped though it is back.
    while failed.elapsed() < Duration::from_millis(1500) {
        let got = gateway.get("/x", &[]);
        assert_eq!(got.status, 200);
        if failed.elapsed() < Duration::from_millis(1500) {
            assert_eq!(got.json()["server"], "live", "skipped while cooling down");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eventually("the target that came back answers again", || {
        gateway.get("/x", &[]).json()["server"] == "back"
    });
    assert!(failed.elapsed() >= Duration::from_secs(2));
    let servers: Vec<_> = (0..4)
        .map(|_| gateway.get("/x", &[]).json()["server"].clone())
        .collect();
    assert!(
        servers.contains(&"back".into()) && servers.contains(&"live".into()),
        "both targets take turns again: {servers:?}"
    );
}

#[test]
fn a_post_that_reached_a_failing_upstream_is_not_retried_a_get_is() {
    let closer = Closer::start();
    let live = Echo::start("live");
    // max_fails 0: the closer is never skipped, so every other request reaches it.
    let gateway = gateway(&[closer.url(), live.url()], "      max_fails: 0");
    let mut posts: Vec<u16> = (0..2)
        .map(|_| request(gateway.address, "POST", "/x", &[], b"once").status)
        .collect();
    posts.sort_unstable();
    assert_eq!(posts, [200, 502], "the POST that reached the closer failed");
    assert_eq!(closer.requests(), 1, "and was not sent to it twice");
    for _ in 0..2 {
        let got = gateway.get("/x", &[]);
        assert_eq!(got.status, 200, "a GET goes on to the other target");
        assert_eq!(got.json()["server"], "live");
    }
    assert_eq!(closer.requests(), 2);
    let mut tries = tries_logged(&gateway, 4);
    tries.sort_unstable();
    assert_eq!(tries, [1, 1, 1, 2]);
    assert_eq!(retries_counted(&gateway), 1);
}

#[test]
fn retries_are_bounded() {
    let closers = [Closer::start(), Closer::start(), Closer::start()];
    let urls: Vec<_> = closers.iter().map(Closer::url).collect();
    let gateway = gateway(&urls, "      retries: 1\n      max_fails: 0");
    let got = gateway.get("/x", &[]);
    assert_eq!(got.status, 502);
    let reached: usize = closers.iter().map(Closer::requests).sum();
    assert_eq!(reached, 2, "one try and one retry");
    assert_eq!(tries_logged(&gateway, 1), [2]);
}

#[test]
fn when_every_target_is_down_they_are_tried_anyway() {
    let (first, second) = (closed_port(), closed_port());
    let gateway = gateway(&[format!("http://{first}"), format!("http://{second}")], "");
    let refused = gateway.get("/x", &[]);
    assert_eq!(refused.status, 502);
    assert_eq!(
        refused.message(),
        "Could not connect to the upstream server"
    );
    // Both are cooling down now (10 s); one comes back and is used at once.
    let _back = echo_on(second, "back");
    let got = gateway.get("/x", &[]);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["server"], "back");
    assert_eq!(tries_logged(&gateway, 2)[0], 2, "both were tried at first");
}
