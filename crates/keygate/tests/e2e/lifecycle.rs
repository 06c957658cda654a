//! Hot reload (file change, SIGHUP, broken file), graceful shutdown, `keygate validate`.

use std::process::Command;
use std::time::Duration;

use crate::support::{eventually, request, Echo, Gateway, TempDir};

fn config(echo: &Echo, extra_consumer: &str) -> String {
    format!(
        r#"
services:
  - name: s
    upstream: {url}
    routes:
      - name: all
        paths: ["/*"]
consumers:
  - name: first
    keys: [{{key: first-key-123}}]
{extra_consumer}
"#,
        url = echo.url()
    )
}

#[test]
fn reload_on_file_change_and_broken_file_keeps_the_old_config() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&config(&echo, ""));
    assert_eq!(
        gateway.get("/a", &[("apikey", "second-key-456")]).status,
        401
    );

    gateway.rewrite_config(&config(
        &echo,
        "  - name: second\n    keys: [{key: second-key-456}]",
    ));
    eventually("the new key works", || {
        gateway.get("/a", &[("apikey", "second-key-456")]).status == 200
    });

    gateway.rewrite_config(&config(
        &echo,
        "  - name: third\n    keys: [{key: third-key-789}]\n    colour: blue",
    ));
    let line = gateway.process.wait_for_line("not reloaded");
    assert!(line.contains("configuration not reloaded"), "{line}");
    let text = gateway.process.stderr_text();
    assert!(
        text.contains("keygate.yaml:"),
        "the error names the file: {text}"
    );
    assert!(text.contains("colour"), "{text}");
    assert_eq!(
        gateway.get("/a", &[("apikey", "second-key-456")]).status,
        200
    );
    assert_eq!(
        gateway.get("/a", &[("apikey", "third-key-789")]).status,
        401
    );
}

#[test]
fn reload_on_sighup() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&config(&echo, ""));
    // Same size and second: only SIGHUP can be relied on to notice. Rewrite, then signal.
    gateway.rewrite_config(&config(
        &echo,
        "  - name: sighup\n    keys: [{key: sighup-key-1}]",
    ));
    gateway.process.signal("HUP");
    eventually("the key added before SIGHUP works", || {
        gateway.get("/a", &[("apikey", "sighup-key-1")]).status == 200
    });
    gateway.process.wait_for_line("configuration reloaded");
}

#[test]
fn shutdown_lets_requests_in_flight_finish() {
    let echo = Echo::start("e");
    let mut gateway = Gateway::start(&config(&echo, ""));
    let address = gateway.address;
    let in_flight = std::thread::spawn(move || {
        request(
            address,
            "GET",
            "/slow",
            &[("apikey", "first-key-123"), ("x-echo-delay-ms", "1500")],
            b"",
        )
    });
    std::thread::sleep(Duration::from_millis(400));
    gateway.process.signal("TERM");
    gateway.process.wait_for_line("shutting down");
    // Each worker closes its own listener; the first to log may be ahead of the others.
    eventually("no new connections are taken after SIGTERM", || {
        std::net::TcpStream::connect(address).is_err()
    });
    let response = in_flight.join().unwrap();
    assert_eq!(response.status, 200, "the request in flight finished");
    let status = gateway.process.wait_exit();
    assert!(status.success(), "{status:?}");
}

#[test]
fn validate_reports_positions_and_exit_codes() {
    let dir = TempDir::new();
    let good = dir.0.join("good.yaml");
    std::fs::write(&good, include_str!("../../../../examples/keygate.yaml")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let bad = dir.0.join("bad.yaml");
    std::fs::write(&bad, "services:\n  - name: s\n    upstream: ftp://x\n    routes:\n      - name: r\n        paths: [/]\n        auth: sometimes\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    let shown = bad.display().to_string();
    assert!(
        errors.contains(&format!(
            "{shown}:3:15: an upstream URL starts with http:// or https://"
        )),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            "{shown}:7:15: expected `required`, `optional` or `none`"
        )),
        "{errors}"
    );
}

#[test]
fn requests_in_flight_finish_on_the_config_they_started_with() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&config(&echo, ""));
    let address = gateway.address;
    let in_flight = std::thread::spawn(move || {
        request(
            address,
            "GET",
            "/slow",
            &[("apikey", "first-key-123"), ("x-echo-delay-ms", "2000")],
            b"",
        )
    });
    std::thread::sleep(Duration::from_millis(300));
    // The new file has no route and no consumer at all.
    gateway.rewrite_config("services: []\n");
    gateway.process.signal("HUP");
    eventually("the new configuration applies", || {
        gateway.get("/a", &[]).status == 404
    });
    let response = in_flight.join().unwrap();
    assert_eq!(
        response.status, 200,
        "the request kept its snapshot: {response:?}"
    );
    assert_eq!(
        response.upstream_header("x-consumer-username").as_deref(),
        Some("first")
    );
}
