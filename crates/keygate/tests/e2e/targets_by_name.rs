//! Upstream targets by host name: a name stands for one target per address it resolves
//! to, re-resolved as the TTL says (between `dns.refresh_min` and `dns.refresh_max`), and
//! a failed resolution keeps the last good addresses. The names are answered by a small
//! DNS server on loopback that the test controls; every address is in 127.0.0.0/8.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{eventually, read_file, Gateway, Process};

/// What the test DNS server answers for a name.
#[derive(Debug, Clone)]
enum Answer {
    /// These IPv4 addresses, with this TTL in seconds.
    Addresses(Vec<Ipv4Addr>, u32),
    /// `SERVFAIL`.
    Failure,
}

/// A DNS server on 127.0.0.1 answering `A` queries from a table the test changes, and
/// counting the `A` queries of each name. Other query types get an empty answer.
struct TestDns {
    address: SocketAddr,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    queries: Arc<Mutex<HashMap<String, usize>>>,
}

impl TestDns {
    fn start() -> TestDns {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let queries: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (table, counts) = (answers.clone(), queries.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            while let Ok((length, from)) = socket.recv_from(&mut buffer) {
                if let Some(response) = respond(&buffer[..length], &table, &counts) {
                    let _ = socket.send_to(&response, from);
                }
            }
        });
        TestDns {
            address,
            answers,
            queries,
        }
    }

    fn set(&self, name: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(name.to_owned(), answer);
    }

    fn queries(&self, name: &str) -> usize {
        self.queries.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// The response to one query: its id and question, the table's answer for an `A` query.
fn respond(
    query: &[u8],
    table: &Mutex<HashMap<String, Answer>>,
    counts: &Mutex<HashMap<String, usize>>,
) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let length = usize::from(*query.get(at)?);
        at += 1;
        if length == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + length)?).to_lowercase());
        at += length;
    }
    let question_end = at + 4;
    let question = query.get(12..question_end)?;
    let query_type = u16::from_be_bytes([query[at], query[at + 1]]);
    let name = labels.join(".");
    let answer = match query_type {
        1 => {
            *counts.lock().unwrap().entry(name.clone()).or_default() += 1;
            table.lock().unwrap().get(&name).cloned()
        }
        _ => Some(Answer::Addresses(Vec::new(), 60)),
    };
    let (rcode, addresses, ttl) = match answer {
        Some(Answer::Addresses(addresses, ttl)) => (0u8, addresses, ttl),
        Some(Answer::Failure) => (2, Vec::new(), 0),
        None => (3, Vec::new(), 0),
    };
    let mut response = Vec::new();
    response.extend_from_slice(&query[..2]);
    response.extend_from_slice(&[0x81, 0x80 | rcode]);
    response.extend_from_slice(&1u16.to_be_bytes());
    response.extend_from_slice(&u16::try_from(addresses.len()).unwrap().to_be_bytes());
    response.extend_from_slice(&[0, 0, 0, 0]);
    response.extend_from_slice(question);
    for address in addresses {
        response.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        response.extend_from_slice(&ttl.to_be_bytes());
        response.extend_from_slice(&[0, 4]);
        response.extend_from_slice(&address.octets());
    }
    Some(response)
}

/// Two echo upstreams on one port, at 127.0.0.1 and 127.0.0.2.
fn two_echoes() -> (u16, Process, Process) {
    for _ in 0..20 {
        let first = Process::spawn(&["echo", "--listen", "127.0.0.1:0", "--name", "one"]);
        let port = first.listening_address("echo").port();
        // The same port on 127.0.0.2 is free unless another test just took it.
        if std::net::TcpListener::bind(("127.0.0.2", port)).is_err() {
            continue;
        }
        let second = Process::spawn(&[
            "echo",
            "--listen",
            &format!("127.0.0.2:{port}"),
            "--name",
            "two",
        ]);
        second.listening_address("echo");
        return (port, first, second);
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

/// A gateway whose service `s` has the target `http://{name}:{port}`, names asked of `dns`.
fn gateway(dns: &TestDns, name: &str, port: u16, refresh: (&str, &str)) -> Gateway {
    Gateway::start(&format!(
        r#"
dns:
  nameservers: ["{}"]
  refresh_min: {}
  refresh_max: {}
services:
  - name: s
    upstream:
      targets: ["http://{name}:{port}"]
      connect_timeout: 2s
    routes:
      - name: all
        paths: ["/*", "/"]
        auth: none
"#,
        dns.address, refresh.0, refresh.1
    ))
}

/// The server names that answered `count` requests to `gateway`, each checked for a
/// `200` and the configured name in `Host`.
fn servers(gateway: &Gateway, count: usize, host: &str) -> Vec<String> {
    (0..count)
        .map(|_| {
            let response = gateway.get("/", &[]);
            assert_eq!(response.status, 200, "{:?}", response);
            let echoed = response.json();
            assert_eq!(echoed["headers"]["host"], host, "the Host is the name");
            echoed["server"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn a_name_with_two_addresses_gets_requests_on_both() {
    let dns = TestDns::start();
    dns.set(
        "orders.test",
        Answer::Addresses(
            vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2)],
            60,
        ),
    );
    let (port, _one, _two) = two_echoes();
    let gateway = gateway(&dns, "orders.test", port, ("1s", "300s"));
    let seen: HashSet<String> = servers(&gateway, 8, &format!("orders.test:{port}"))
        .into_iter()
        .collect();
    assert_eq!(seen, HashSet::from(["one".to_owned(), "two".to_owned()]));
}

#[test]
fn a_changed_answer_is_picked_up_and_a_failed_one_keeps_the_last() {
    let dns = TestDns::start();
    let name = "moving.test";
    dns.set(
        name,
        Answer::Addresses(vec![Ipv4Addr::new(127, 0, 0, 1)], 1),
    );
    let (port, _one, _two) = two_echoes();
    let gateway = gateway(&dns, name, port, ("100ms", "300s"));
    let host = format!("{name}:{port}");
    assert!(servers(&gateway, 4, &host).iter().all(|s| s == "one"));

    dns.set(
        name,
        Answer::Addresses(vec![Ipv4Addr::new(127, 0, 0, 2)], 1),
    );
    eventually("the new address takes the requests", || {
        servers(&gateway, 2, &host).iter().all(|s| s == "two")
    });

    dns.set(name, Answer::Failure);
    let asked = dns.queries(name);
    eventually("the name is asked again", || dns.queries(name) > asked + 1);
    assert!(servers(&gateway, 4, &host).iter().all(|s| s == "two"));
    eventually("the failure is logged", || {
        gateway
            .process
            .stderr_text()
            .contains("resolving an upstream host name failed")
    });
}

#[test]
fn the_ttl_says_when_a_name_is_asked_again_within_the_floor_and_ceiling() {
    let dns = TestDns::start();
    // Asked again after its 1 s TTL; after the 3600 s one only at the 2 s ceiling; the
    // 0 s one no sooner than the 500 ms floor.
    dns.set(
        "short.test",
        Answer::Addresses(vec![Ipv4Addr::LOCALHOST], 1),
    );
    dns.set(
        "long.test",
        Answer::Addresses(vec![Ipv4Addr::LOCALHOST], 3600),
    );
    dns.set("zero.test", Answer::Addresses(vec![Ipv4Addr::LOCALHOST], 0));
    let gateway = Gateway::start(&format!(
        r#"
dns:
  nameservers: ["{}"]
  refresh_min: 500ms
  refresh_max: 2s
services:
  - name: short
    path_prefix: /short
    upstream: http://short.test:9
    routes: [{{name: all, paths: ["/*"], auth: none}}]
  - name: long
    path_prefix: /long
    upstream: http://long.test:9
    routes: [{{name: all, paths: ["/*"], auth: none}}]
  - name: zero
    path_prefix: /zero
    upstream: http://zero.test:9
    routes: [{{name: all, paths: ["/*"], auth: none}}]
"#,
        dns.address
    ));
    eventually("each name is asked at start", || {
        ["short.test", "long.test", "zero.test"]
            .iter()
            .all(|name| dns.queries(name) >= 1)
    });
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(3300));
    let elapsed = started.elapsed().as_secs_f64();
    let (short, long, zero) = (
        dns.queries("short.test"),
        dns.queries("long.test"),
        dns.queries("zero.test"),
    );
    // Upper bounds take the time slept plus the first query's lead into account.
    assert!(
        (3..=5).contains(&short),
        "short.test asked {short} times in {elapsed:.1}s"
    );
    assert!(
        (2..=3).contains(&long),
        "long.test asked {long} times in {elapsed:.1}s"
    );
    assert!(
        (6..=9).contains(&zero),
        "zero.test asked {zero} times in {elapsed:.1}s"
    );
    drop(gateway);
}

#[test]
fn a_name_without_an_answer_is_a_502_until_it_resolves() {
    let dns = TestDns::start();
    let name = "late.test";
    dns.set(name, Answer::Failure);
    let (port, _one, _two) = two_echoes();
    let gateway = gateway(&dns, name, port, ("100ms", "200ms"));
    let response = gateway.get("/", &[]);
    assert_eq!(response.status, 502);
    assert_eq!(
        response.message(),
        "The upstream server's host name could not be resolved"
    );
    eventually("the denial is logged", || {
        read_file(&gateway.access_log).contains("upstream_unresolved")
    });
    dns.set(
        name,
        Answer::Addresses(vec![Ipv4Addr::new(127, 0, 0, 2)], 60),
    );
    eventually("the name resolves", || gateway.get("/", &[]).status == 200);
    assert_eq!(
        servers(&gateway, 2, &format!("{name}:{port}")),
        ["two", "two"]
    );
}
