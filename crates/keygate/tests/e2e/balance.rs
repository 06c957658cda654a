//! How a service spreads requests over its targets (`balance:`): weights, least
//! outstanding requests against a slow target, and consistent hashing that keeps a
//! consumer on one target.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::{request, Echo, Gateway};

/// A gateway whose one service `s` has the `upstream:` lines `upstream` (at the
/// indentation of `targets`), a route without keys at `/open/*` and one with at `/*`, and
/// the `consumers:` section `consumers`.
fn gateway(upstream: &str, consumers: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream:
      connect_timeout: 1s
{upstream}
    routes:
      - name: open
        paths: ["/open/*"]
        auth: none
      - name: keyed
        paths: ["/*"]
{consumers}
"#
    ))
}

/// An upstream that answers every request `{"server":"<name>"}` after `delay`, keeping
/// connections open, and counts the requests it answered.
struct Slow {
    address: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl Slow {
    fn start(name: &'static str, delay: Duration) -> Slow {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let body = format!("{{\"server\":\"{name}\"}}");
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let mut received = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        // The gateway sends bodiless GETs: each request is its head.
                        while let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                            received.drain(..end + 4);
                            std::thread::sleep(delay);
                            counted.fetch_add(1, Ordering::SeqCst);
                            if stream.write_all(answer.as_bytes()).is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(read) => received.extend_from_slice(&buffer[..read]),
                        }
                    }
                });
            }
        });
        Slow { address, requests }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Sends `rounds` requests to `path` from each of `clients` threads at once, each thread
/// waiting for its answer before the next; every answer must be `200`.
fn load(gateway: &Gateway, clients: usize, rounds: usize, path: &str) {
    let address = gateway.address;
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let path = path.to_owned();
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    assert_eq!(request(address, "GET", &path, &[], b"").status, 200);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// How many of the answers to `requests` calls came from each server.
fn servers(count: usize, mut call: impl FnMut() -> serde_json::Value) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for _ in 0..count {
        let server = call()["server"].as_str().unwrap().to_owned();
        *seen.entry(server).or_insert(0) += 1;
    }
    seen
}

#[test]
fn weights_share_the_requests_out_in_proportion() {
    let heavy = Echo::start("heavy");
    let light = Echo::start("light");
    let gateway = gateway(
        &format!(
            "      targets:\n        - {{url: {}, weight: 3}}\n        - {}",
            heavy.url(),
            light.url()
        ),
        "",
    );
    let seen = servers(40, || gateway.get("/open/x", &[]).json());
    assert_eq!(seen["heavy"], 30, "{seen:?}");
    assert_eq!(seen["light"], 10, "{seen:?}");
}

#[test]
fn least_outstanding_sends_less_to_a_slow_target() {
    let delay = Duration::from_millis(150);
    let share_of_slow = |balance: &str| {
        let fast = Echo::start("fast");
        let slow = Slow::start("slow", delay);
        let gateway = gateway(
            &format!(
                "      targets: [{}, {}]\n      read_timeout: 10s\n{balance}",
                fast.url(),
                slow.url()
            ),
            "",
        );
        load(&gateway, 8, 12, "/open/x");
        slow.requests() as f64 / 96.0
    };
    let least = share_of_slow("      balance: least_outstanding");
    let round_robin = share_of_slow("");
    assert!(
        round_robin > 0.4,
        "round-robin gives the slow target its half: {round_robin}"
    );
    assert!(
        least < 0.25,
        "least outstanding gives the slow target less: {least} (round-robin {round_robin})"
    );
}

#[test]
fn hashing_keeps_each_consumer_on_one_target() {
    let echoes = [Echo::start("a"), Echo::start("b"), Echo::start("c")];
    let urls: Vec<String> = echoes.iter().map(Echo::url).collect();
    let names: Vec<String> = (0..12).map(|n| format!("consumer-{n}")).collect();
    let consumers: String = names
        .iter()
        .map(|name| format!("  - name: {name}\n    keys:\n      - key: {name}-key-0123456789\n"))
        .collect();
    let gateway = gateway(
        &format!("      targets: [{}]\n      balance: hash", urls.join(", ")),
        &format!("consumers:\n{consumers}"),
    );
    let mut used = BTreeMap::new();
    for name in &names {
        let key = format!("{name}-key-0123456789");
        let seen = servers(8, || gateway.get("/x", &[("apikey", &key)]).json());
        assert_eq!(seen.len(), 1, "{name} went to {seen:?}");
        let server = seen.keys().next().unwrap().clone();
        *used.entry(server).or_insert(0) += 1;
    }
    assert!(used.len() >= 2, "12 consumers all on one target: {used:?}");
    // Calls without a consumer go round-robin.
    let anonymous = servers(6, || gateway.get("/open/x", &[]).json());
    assert_eq!(anonymous.len(), 3, "{anonymous:?}");
}

#[test]
fn hashing_on_a_header_keeps_its_value_on_one_target_and_moves_when_that_target_stops() {
    let mut echoes: Vec<Option<Echo>> = ["a", "b", "c"]
        .into_iter()
        .map(|name| Some(Echo::start(name)))
        .collect();
    let urls: Vec<String> = echoes.iter().flatten().map(Echo::url).collect();
    let gateway = gateway(
        &format!(
            "      targets: [{}]\n      balance: hash\n      hash_on: header\n      hash_on_header: X-Tenant",
            urls.join(", ")
        ),
        "",
    );
    let tenant = |value: &str| {
        let seen = servers(6, || gateway.get("/open/x", &[("x-tenant", value)]).json());
        assert_eq!(seen.len(), 1, "{value} went to {seen:?}");
        seen.into_keys().next().unwrap()
    };
    let before: Vec<String> = (0..9).map(|n| tenant(&format!("t{n}"))).collect();
    // Stop the target of the first tenant: it moves, the others on live targets stay.
    let stopped = before[0].clone();
    let index = ["a", "b", "c"].iter().position(|n| *n == stopped).unwrap();
    echoes[index] = None;
    for (n, was) in before.iter().enumerate() {
        let now = tenant(&format!("t{n}"));
        if *was == stopped {
            assert_ne!(now, stopped, "t{n}");
        } else {
            assert_eq!(now, *was, "t{n} stayed");
        }
    }
}

#[test]
fn a_service_written_through_the_admin_api_takes_weights_and_a_policy() {
    let heavy = Echo::start("heavy");
    let light = Echo::start("light");
    let gateway = gateway("      targets: [http://127.0.0.1:1]", "");
    let body = format!(
        r#"{{"name":"w","path_prefix":"/w","upstream":{{"targets":[{{"url":"{}","weight":2}},"{}"],"balance":"least_outstanding","slow_start":"10s"}},"routes":[{{"name":"r","paths":["/*"],"auth":"none"}}]}}"#,
        heavy.url(),
        light.url()
    );
    let created = gateway.admin("PUT", "/v1/services/w", &body);
    assert_eq!(created.status, 201, "{created:?}");
    // One request at a time: nothing is outstanding, so the targets, equally loaded, take
    // turns by weight.
    let seen = servers(9, || gateway.get("/w/x", &[]).json());
    assert_eq!((seen["heavy"], seen["light"]), (6, 3), "{seen:?}");

    let zero = body.replace(r#""weight":2"#, r#""weight":0"#);
    let refused = gateway.admin("PUT", "/v1/services/w", &zero);
    assert_eq!(refused.status, 422, "{refused:?}");
    let message = String::from_utf8_lossy(&refused.body).into_owned();
    assert!(
        message.contains("a weight is between 1 and 256"),
        "{message}"
    );
}
