//! Upstream failures and request limits: 502, 504, 431, slow headers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{closed_port, send_raw, Echo, Gateway};

fn gateway_to(upstream: &str, read_timeout: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream:
      targets: [{upstream}]
      connect_timeout: 1s
      read_timeout: {read_timeout}
    routes:
      - name: all
        paths: ["/*", "/"]
        auth: none
"#
    ))
}

#[test]
fn refused_upstream_is_502() {
    let gateway = gateway_to(&format!("http://{}", closed_port()), "5s");
    let response = gateway.get("/x", &[]);
    assert_eq!(response.status, 502);
    assert_eq!(
        response.message(),
        "Could not connect to the upstream server"
    );
}

#[test]
fn slow_upstream_is_504_after_read_timeout() {
    let echo = Echo::start("slow");
    let gateway = gateway_to(&echo.url(), "300ms");
    let started = Instant::now();
    let response = gateway.get("/x", &[("x-echo-delay-ms", "3000")]);
    assert_eq!(response.status, 504);
    assert_eq!(
        response.message(),
        "The upstream server did not answer in time"
    );
    assert!(started.elapsed() < Duration::from_millis(2500));
    let fast = gateway.get("/x", &[]);
    assert_eq!(fast.status, 200);
}

#[test]
fn oversized_headers_are_431() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "5s");
    let big = "v".repeat(40 * 1024);
    let response = gateway.get("/x", &[("x-big", &big)]);
    assert_eq!(response.status, 431);
    assert_eq!(response.message(), "Request header fields too large");
    // Far over the limit, the connection's buffer refuses the request before parsing ends.
    let huge = "v".repeat(200 * 1024);
    let raw = format!("GET /x HTTP/1.1\r\nHost: x\r\nx-huge: {huge}\r\nConnection: close\r\n\r\n");
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    stream
        .set_read_timeout(Some(crate::support::PATIENCE))
        .unwrap();
    let _ = stream.write_all(raw.as_bytes());
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 431"));
    let under = gateway.get("/x", &[("x-big", &"v".repeat(30 * 1024))]);
    assert_eq!(under.status, 200);
}

#[test]
fn clients_sending_headers_too_slowly_are_cut_off() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "5s");
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    stream
        .set_read_timeout(Some(crate::support::PATIENCE))
        .unwrap();
    stream.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n").unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    let waited = started.elapsed();
    // header_timeout is 1s in test configurations.
    assert!(
        waited >= Duration::from_millis(800),
        "cut off too early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "not cut off: {waited:?}");
    assert!(!String::from_utf8_lossy(&received).contains("200 OK"));
}

#[test]
fn gateway_errors_are_json_everywhere() {
    let echo = Echo::start("e");
    let gateway = gateway_to(&echo.url(), "5s");
    let raw = b"GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let response = send_raw(gateway.address, raw);
    assert_eq!(response.status, 400);
    assert_eq!(response.message(), "Invalid request path");
}

#[test]
fn a_restarted_upstream_is_reached_again_without_errors() {
    // Pooled connections to the old process are closed under keygate's feet; the next
    // requests must neither fail nor wait.
    let echo = Echo::start("first");
    let address = echo.address;
    let gateway = gateway_to(&echo.url(), "5s");
    for _ in 0..5 {
        assert_eq!(gateway.get("/x", &[]).status, 200);
    }
    drop(echo);
    let restarted = crate::support::Process::spawn(&[
        "echo",
        "--listen",
        &address.to_string(),
        "--name",
        "second",
    ]);
    restarted.wait_for_line("echo listening");
    for _ in 0..5 {
        let response = gateway.get("/x", &[]);
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(response.json()["server"], "second");
    }
}
