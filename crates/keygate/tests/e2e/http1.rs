//! keygate's own HTTP/1.1 server side, as clients see it: pipelining, HTTP/1.0,
//! `Expect: 100-continue`, unread bodies, framing refused, HEAD, idle and shutdown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{parse_response, send_raw, Echo, Gateway, HttpResponse, PATIENCE};
use crate::{example_config, Example, BOB};

pub(crate) fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads one response from a connection that stays open: the head, then the body as its
/// `Content-Length` says (the responses here are never chunked).
pub(crate) fn read_one(stream: &mut TcpStream) -> (HttpResponse, Vec<u8>) {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).unwrap();
        assert_eq!(
            read,
            1,
            "closed after {:?}",
            String::from_utf8_lossy(&received)
        );
        received.push(byte[0]);
    }
    let head = parse_response(&received);
    let length: usize = head
        .header("content-length")
        .map_or(0, |value| value.parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    received.extend_from_slice(&body);
    (parse_response(&received), received)
}

/// Whether the server closes the connection (read gives end of stream) within `PATIENCE`.
pub(crate) fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let example = Example::start();
    let key = format!("apikey: {BOB}\r\n");
    let raw = format!(
        "GET /orders/1 HTTP/1.1\r\nHost: x\r\n{key}\r\nGET /orders/2 HTTP/1.1\r\nHost: x\r\n{key}\r\nGET /orders/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    let mut stream = connect(example.gateway.address);
    stream.write_all(raw.as_bytes()).unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    let first = text.find(r#""path":"/1""#).unwrap();
    let second = text.find(r#""path":"/2""#).unwrap();
    let third = text.find(r#""path":"/health""#).unwrap();
    assert!(first < second && second < third, "{text}");
}

#[test]
fn http_1_0_clients_are_answered_and_kept_alive_only_when_they_ask() {
    let example = Example::start();
    let response = send_raw(
        example.gateway.address,
        b"GET /orders/health HTTP/1.0\r\n\r\n",
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["path"], "/health");

    let mut stream = connect(example.gateway.address);
    let ask = b"GET /orders/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    stream.write_all(ask).unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("keep-alive"));
    stream.write_all(ask).unwrap();
    assert_eq!(read_one(&mut stream).0.status, 200);
}

#[test]
fn expect_continue_is_answered_when_the_body_is_forwarded() {
    let example = Example::start();
    let mut stream = connect(example.gateway.address);
    let head = format!(
        "PUT /orders/9 HTTP/1.1\r\nHost: x\r\napikey: {BOB}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["body_length"], 5);
}

#[test]
fn a_refused_request_gets_no_continue_and_its_body_is_never_asked_for() {
    let example = Example::start();
    let mut stream = connect(example.gateway.address);
    let head =
        "PUT /orders/9 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    let (response, raw) = read_one(&mut stream);
    assert_eq!(response.status, 401, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(response.header("connection"), Some("close"));
    assert!(closed_by_server(&mut stream));
}

#[test]
fn an_unread_body_is_dropped_and_the_connection_goes_on() {
    let example = Example::start();
    let mut stream = connect(example.gateway.address);
    let body = "x".repeat(100_000);
    let refused = format!(
        "PUT /orders/9 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(refused.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(response.status, 401);
    assert_eq!(response.header("connection"), None);
    let chunked = "PUT /orders/9 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    stream.write_all(chunked.as_bytes()).unwrap();
    assert_eq!(read_one(&mut stream).0.status, 401);
    let next = format!(
        "PUT /orders/9 HTTP/1.1\r\nHost: x\r\napikey: {BOB}\r\nContent-Length: 2\r\n\r\nok"
    );
    stream.write_all(next.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["body_length"], 2);
}

#[test]
fn ambiguous_or_unknown_framing_and_broken_heads_are_refused_in_json() {
    let example = Example::start();
    let address = example.gateway.address;
    let cases: [(&[u8], u16, &str); 7] = [
        (
            b"POST /orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            "Malformed request",
        ),
        (
            b"POST /orders/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400,
            "Malformed request",
        ),
        (
            b"POST /orders/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "Unsupported transfer coding",
        ),
        (b"HELLO\r\n\r\n", 400, "Malformed request"),
        (b"GET /orders/health HTTP/1.1\r\n\r\n", 400, "Malformed request"),
        (
            b"GET /orders/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
            "Malformed request",
        ),
        (
            b"POST /orders/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
            "Unsupported transfer coding",
        ),
    ];
    for (raw, status, message) in cases {
        let response = send_raw(address, raw);
        assert_eq!(response.status, status, "{}", String::from_utf8_lossy(raw));
        assert_eq!(response.message(), message);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert!(response
            .header("date")
            .is_some_and(|date| date.ends_with(" GMT")));
    }
}

#[test]
fn head_requests_get_the_fields_without_a_body() {
    let example = Example::start();
    let mut stream = connect(example.gateway.address);
    stream
        .write_all(b"HEAD /orders/health HTTP/1.1\r\nHost: x\r\n\r\nGET /orders/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    let second = text.find("HTTP/1.1 200 OK").and_then(|first| {
        text[first + 1..]
            .find("HTTP/1.1 200 OK")
            .map(|at| at + first + 1)
    });
    let second = second.unwrap_or_else(|| panic!("two responses expected: {text}"));
    assert!(
        text[..second].ends_with("\r\n\r\n"),
        "HEAD answered with a body: {text}"
    );
    assert!(text[..second]
        .to_ascii_lowercase()
        .contains("content-length: "));
}

#[test]
fn idle_connections_close_after_the_header_timeout() {
    let example = Example::start();
    let mut stream = connect(example.gateway.address);
    stream
        .write_all(b"GET /orders/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut stream).0.status, 200);
    let idle = Instant::now();
    assert!(closed_by_server(&mut stream));
    let waited = idle.elapsed();
    // header_timeout is 1 s in test configurations.
    assert!(
        waited >= Duration::from_millis(800),
        "closed after {waited:?}"
    );
}

#[test]
fn shutdown_closes_idle_connections_at_once() {
    let first = Echo::start("first");
    let second = Echo::start("second");
    let mut gateway = Gateway::start_with_proxy_settings(
        &["header_timeout: 60s"],
        &example_config(&first, &second),
    );
    let mut stream = connect(gateway.address);
    stream
        .write_all(b"GET /orders/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut stream).0.status, 200);
    let stopping = Instant::now();
    gateway.process.signal("TERM");
    assert!(closed_by_server(&mut stream));
    let status = gateway.process.wait_exit();
    assert!(status.success(), "{status:?}");
    // Far below the 60 s an idle connection may otherwise wait for its next head.
    assert!(stopping.elapsed() < Duration::from_secs(10));
}

/// An upstream that answers every request on its connections with `response`.
fn scripted_upstream(response: &'static [u8]) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut received = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(read) = stream.read(&mut buffer) {
                    if read == 0 {
                        return;
                    }
                    received.extend_from_slice(&buffer[..read]);
                    while let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                        received.drain(..end + 4);
                        if stream.write_all(response).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    address
}

#[test]
fn a_body_of_unknown_length_is_chunked_for_1_1_and_until_close_for_1_0() {
    let upstream = scripted_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    let gateway = Gateway::start(&format!(
        "services:\n  - name: s\n    upstream: http://{upstream}\n    routes:\n      - name: all\n        paths: [\"/*\", \"/\"]\n        auth: none\n"
    ));
    let mut stream = connect(gateway.address);
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    assert_eq!(
        text.matches("transfer-encoding: chunked").count(),
        2,
        "{text}"
    );
    let first = text.find("\r\n\r\n").unwrap() + 4;
    assert!(
        text[first..].starts_with("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nHTTP/1.1 200"),
        "{text}"
    );

    let response = send_raw(gateway.address, b"GET /c HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.body, b"hello world");
}

/// A gateway in front of a scripted upstream answering `response`, with `settings` in its
/// `proxy` section.
fn gateway_before(response: &'static [u8], settings: &[&str]) -> Gateway {
    let upstream = scripted_upstream(response);
    Gateway::start_with_proxy_settings(
        settings,
        &format!(
            "services:\n  - name: s\n    upstream: http://{upstream}\n    routes:\n      - name: all\n        paths: [\"/*\", \"/\"]\n        auth: none\n"
        ),
    )
}

/// A response with an 8 MiB body, far more than the sockets on both sides buffer.
fn large_response() -> &'static [u8] {
    let body = vec![b'x'; 8 * 1024 * 1024];
    let mut response =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    response.extend_from_slice(&body);
    Box::leak(response.into_boxed_slice())
}

#[test]
fn a_closing_answer_arrives_whole_though_the_client_sent_more() {
    let gateway = gateway_before(large_response(), &["header_timeout: 1s"]);
    let mut stream = connect(gateway.address);
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // While the answer is still being written, the client sends more (a request it
    // should not have sent): closing on those unread bytes would reset the connection.
    std::thread::sleep(Duration::from_millis(300));
    stream
        .write_all(b"GET /more HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut received = Vec::new();
    stream.read_to_end(&mut received).unwrap();
    let response = parse_response(&received);
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), 8 * 1024 * 1024);
}

#[test]
fn a_client_that_stops_reading_is_disconnected_after_the_send_timeout() {
    let gateway = gateway_before(
        large_response(),
        &["header_timeout: 1s", "send_timeout: 1s"],
    );
    let mut stream = connect(gateway.address);
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Read nothing for well over the send timeout, then everything that is left.
    std::thread::sleep(Duration::from_millis(2500));
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    assert!(
        received.len() < 8 * 1024 * 1024,
        "the whole body arrived: {} bytes",
        received.len()
    );
}
