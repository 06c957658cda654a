//! The upstream acts on exactly the request keygate authorised: no key left in a second
//! source, silence timed rather than whole exchanges, one `Content-Length`, no `Expect`,
//! a client's broken body answered as the client's error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{eventually, parse_response, request, send_raw, Echo, Gateway, PATIENCE};
use crate::ALEX;

/// A gateway to `upstream` whose routes read keys from a header, a second header, a
/// cookie and the query; `read_timeout` of 1 s or less keeps the timing tests short.
fn gateway_to(upstream: &str, read_timeout: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream:
      targets: [{upstream}]
      connect_timeout: 1s
      read_timeout: {read_timeout}
      send_timeout: {read_timeout}
    key_sources:
      - header: apikey
      - header: x-other-key
      - cookie: mia_client_key
      - query: apikey
    routes:
      - name: strip
        paths: ["/strip"]
      - name: keep
        paths: ["/keep"]
        forward_key: true
      - name: optional
        paths: ["/optional"]
        auth: optional
      - name: open
        paths: ["/*", "/"]
        auth: none
consumers:
  - name: alex
    client_type: A
    keys:
      - key: {ALEX}
"#
    ))
}

/// The key in every source of the route, and a cookie and a parameter that are not keys.
fn with_key_everywhere(key: &str) -> Vec<(String, String)> {
    vec![
        ("apikey".into(), key.into()),
        ("x-other-key".into(), key.into()),
        ("Cookie".into(), format!("theme=dark; mia_client_key={key}")),
    ]
}

fn get(gateway: &Gateway, path: &str, headers: &[(String, String)]) -> Value {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let response = gateway.get(path, &headers);
    assert_eq!(response.status, 200, "{path}: {response:?}");
    response.json()
}

#[test]
fn no_key_source_reaches_the_upstream_unless_the_key_is_forwarded() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    let headers = with_key_everywhere(ALEX);
    let seen = get(&gateway, &format!("/strip?apikey={ALEX}&page=2"), &headers);
    assert_eq!(seen["headers"]["apikey"], Value::Null, "{seen}");
    assert_eq!(seen["headers"]["x-other-key"], Value::Null, "{seen}");
    assert_eq!(seen["headers"]["cookie"], "theme=dark", "{seen}");
    assert_eq!(seen["query"], "page=2", "{seen}");

    let seen = get(&gateway, &format!("/keep?apikey={ALEX}&page=2"), &headers);
    assert_eq!(seen["headers"]["apikey"], ALEX, "{seen}");
    assert_eq!(seen["headers"]["x-other-key"], ALEX, "{seen}");
    assert_eq!(
        seen["headers"]["cookie"],
        format!("theme=dark; mia_client_key={ALEX}")
    );
    assert_eq!(seen["query"], format!("apikey={ALEX}&page=2"));
}

#[test]
fn anonymous_and_unauthenticated_calls_lose_the_key_sources_too() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    // Empty values hold no key: the optional route takes the call as anonymous, and
    // every source still goes — a parameter under its name percent-encoded too.
    let empty = vec![
        ("apikey".to_owned(), String::new()),
        (
            "Cookie".to_owned(),
            "mia_client_key=; theme=dark".to_owned(),
        ),
    ];
    let seen = get(&gateway, "/optional?api%6Bey=&page=2&apikey=", &empty);
    assert_eq!(seen["headers"]["apikey"], Value::Null, "{seen}");
    assert_eq!(seen["headers"]["cookie"], "theme=dark", "{seen}");
    assert_eq!(seen["query"], "page=2", "{seen}");
    // A name written percent-encoded is the name (Kong's reading): a key presented
    // under it must be valid, as under any spelling.
    let refused = gateway.get("/optional?api%6Bey=k&page=2", &[]);
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.message(), "Invalid API key in request");
    // `auth: none`: keys are not looked at, and still not passed on.
    let seen = get(&gateway, "/open?apikey=k&page=2", &with_key_everywhere("k"));
    assert_eq!(seen["headers"]["apikey"], Value::Null, "{seen}");
    assert_eq!(seen["headers"]["x-other-key"], Value::Null, "{seen}");
    assert_eq!(seen["headers"]["cookie"], "theme=dark", "{seen}");
    assert_eq!(seen["query"], "page=2", "{seen}");
}

/// A one-connection upstream on loopback that reads a request head, writes `answer`,
/// then holds the connection silent for `hold`.
fn silent_upstream(answer: &'static [u8], hold: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
        let _ = stream.write_all(answer);
        thread::sleep(hold);
    });
    address
}

#[test]
fn a_body_that_stalls_ends_the_client_connection_after_read_timeout() {
    let upstream = silent_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        Duration::from_secs(10),
    );
    let gateway = gateway_to(&format!("http://{upstream}"), "500ms");
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "held for {waited:?}");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("0123456789"), "{text}");
}

#[test]
fn an_upstream_that_never_answers_is_504_after_read_timeout() {
    let upstream = silent_upstream(b"", Duration::from_secs(10));
    let gateway = gateway_to(&format!("http://{upstream}"), "500ms");
    let started = Instant::now();
    let response = gateway.get("/x", &[]);
    assert_eq!(response.status, 504);
    assert_eq!(
        response.message(),
        "The upstream server did not answer in time"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn a_slow_steady_upload_outlasting_read_timeout_completes() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let pieces = 10;
    let piece = [b'x'; 100];
    let head = format!(
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        pieces * piece.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    for _ in 0..pieces {
        thread::sleep(Duration::from_millis(300));
        stream.write_all(&piece).unwrap();
    }
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(3));
    let response = parse_response(&received);
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["body_length"], pieces * piece.len());
}

/// A one-connection upstream on loopback that answers with the request head it read,
/// as it read it (an HTTP library would merge repeated fields before anyone saw them).
fn recording_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        while received.len() < head_end + length {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
            head.len()
        );
        let _ = stream.write_all(answer.as_bytes());
    });
    address
}

#[test]
fn two_equal_content_lengths_go_upstream_as_one() {
    let upstream = recording_upstream();
    let gateway = gateway_to(&format!("http://{upstream}"), "1s");
    let response = send_raw(
        gateway.address,
        b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!(response.status, 200, "{response:?}");
    let seen = String::from_utf8_lossy(&response.body).to_ascii_lowercase();
    assert_eq!(seen.matches("content-length:").count(), 1, "{seen}");
    assert!(seen.contains("content-length: 5\r\n"), "{seen}");
}

#[test]
fn expect_is_answered_by_keygate_and_not_passed_on() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    let response = request(
        gateway.address,
        "POST",
        "/x",
        &[("Expect", "100-continue")],
        b"hello",
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.upstream_header("expect"), None);
    assert_eq!(response.json()["body_length"], 5);
}

#[test]
fn chunk_sizes_may_have_leading_zeros() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    let response = send_raw(
        gateway.address,
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0000000000000005\r\nhello\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["body_length"], 5);
}

#[test]
fn a_malformed_chunked_body_is_the_clients_400() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "1s");
    let response = send_raw(
        gateway.address,
        b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.message(), "Malformed request body");
    let mut logged = Value::Null;
    eventually("the refusal is logged", || {
        let text = std::fs::read_to_string(&gateway.access_log).unwrap_or_default();
        logged = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|record| record["path"] == "/x")
            .unwrap_or(Value::Null);
        !logged.is_null()
    });
    assert_eq!(logged["status"], 400, "{logged}");
    assert_eq!(logged["denial"], "bad_request_body", "{logged}");
}
