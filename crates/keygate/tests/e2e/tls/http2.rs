//! HTTP/2 on the TLS listener through real sockets, with `curl --http2` against a test
//! CA made at test time: every phase answers as over HTTP/1.1 (key found and stripped,
//! identity headers, the same 401/403/404/429 bodies), streams are multiplexed on one
//! connection, and the access log names the protocol; HTTP/2 turned off, and h2c with
//! prior knowledge on a plain listener turned on.

use std::time::{Duration, Instant};

use super::tools::{certificate_entry, config, Ca, Curl};
use crate::support::{eventually, read_file, Echo, Gateway, TempDir};

pub(super) const ALEX: &str = "h2-alex-key-0123456789";
const CAROL: &str = "h2-carol-key-0123456789";

/// A service `shop` on `echo`: any path with a key, `/report` for client type A only,
/// `/limited` twice a minute per key.
pub(super) fn services(echo: &Echo) -> String {
    format!(
        "services:
  - name: shop
    path_prefix: /shop
    upstream: {url}
    routes:
      - {{name: all, paths: ['/*']}}
      - {{name: report, paths: ['/report'], allow: \"clientType === 'A'\"}}
      - {{name: limited, paths: ['/limited'], limits: [{{count: 2, per: minute, by: key, name: shop-key}}]}}
consumers:
  - name: alex
    client_type: A
    keys: [{{key: {ALEX}}}]
  - name: carol
    client_type: C
    keys: [{{key: {CAROL}}}]
",
        url = echo.url()
    )
}

/// A gateway with a plain and a TLS listener, `proxy_settings` added to its `proxy`
/// section (a `header_timeout` there replaces the 30 s one); the echo upstream; and the
/// CA file.
pub(super) fn start(proxy_settings: &str) -> (Gateway, Echo, std::path::PathBuf) {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "site", "site", &["localhost"]);
    let echo = Echo::start("echo");
    let tls = format!("    certificates:\n{}", certificate_entry(&cert, &key, ""));
    let timeout = match proxy_settings.contains("header_timeout") {
        true => "",
        false => "  header_timeout: 30s\n",
    };
    let text = config(&dir.0, &tls, &services(&echo)).replace(
        "  header_timeout: 30s\n",
        &format!("{timeout}{proxy_settings}"),
    );
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let ca = gateway.config_path.with_file_name("ca.pem");
    (gateway, echo, ca)
}

/// `curl` over `version` (`--http2` or `--http1.1`) to `https://localhost:PORT/PATH`,
/// trusting `ca`; prints the HTTP version and the status last.
fn curl_version(
    version: &str,
    ca: &std::path::Path,
    gateway: &Gateway,
    path: &str,
    extra: &[&str],
) -> Curl {
    let port = gateway.process.listening_address("proxy tls").port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    let output = std::process::Command::new("curl")
        .args([version, "--silent", "--show-error", "--max-time", "10"])
        .args(["--cacert", ca.to_str().unwrap(), "--resolve", &resolve])
        .args(["--write-out", "\n%{http_version} %{http_code}"])
        .args(extra)
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("curl runs");
    Curl {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The body, HTTP version and status of an answer from [`curl_version`].
fn answer(curl: &Curl) -> (String, String, u16) {
    assert_eq!(curl.code, Some(0), "curl failed: {}", curl.stderr);
    let (body, last) = curl.stdout.rsplit_once('\n').unwrap();
    let (version, status) = last.split_once(' ').unwrap();
    (body.to_owned(), version.to_owned(), status.parse().unwrap())
}

fn h2(ca: &std::path::Path, gateway: &Gateway, path: &str, extra: &[&str]) -> (String, u16) {
    let (body, version, status) = answer(&curl_version("--http2", ca, gateway, path, extra));
    assert_eq!(version, "2", "{path}: not answered over HTTP/2");
    (body, status)
}

#[test]
fn every_phase_answers_over_http2_as_over_http1() {
    let (gateway, _echo, ca) = start("");
    let key = format!("apikey: {ALEX}");

    // A valid key: forwarded with the identity headers, the key left out.
    let (body, status) = h2(&ca, &gateway, "/shop/orders/1?x=1", &["-H", &key]);
    assert_eq!(status, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["path"], "/orders/1");
    assert_eq!(seen["headers"]["x-consumer-username"], "alex", "{seen}");
    assert_eq!(seen["headers"]["client-type"], "A", "{seen}");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https", "{seen}");
    assert!(
        seen["headers"]["x-credential-identifier"].is_string(),
        "{seen}"
    );
    assert!(seen["headers"].get("apikey").is_none(), "{seen}");
    // The one authority, `:authority`, is the host the upstream is told of.
    let port = gateway.process.listening_address("proxy tls").port();
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        format!("localhost:{port}"),
        "{seen}"
    );

    // A key in a cookie sent as crumbs (curl sends one field; the gateway joins any).
    let cookie = format!("Cookie: a=1; mia_client_key={ALEX}");
    let (_, status) = h2(&ca, &gateway, "/shop/orders/2", &["-H", &cookie]);
    assert_eq!(status, 200);

    // Refusals: the same status and the same JSON body as over HTTP/1.1.
    let carol = format!("apikey: {CAROL}");
    for (path, header, expected) in [
        ("/shop/orders/1", "x-none: 1", 401),
        ("/shop/orders/1", "apikey: no-such-key-0123456789", 401),
        ("/shop/report", carol.as_str(), 403),
        ("/elsewhere", key.as_str(), 404),
    ] {
        let (body2, status2) = h2(&ca, &gateway, path, &["-H", header]);
        let (body1, version1, status1) = answer(&curl_version(
            "--http1.1",
            &ca,
            &gateway,
            path,
            &["-H", header],
        ));
        assert_eq!(version1, "1.1");
        assert_eq!((status2, status1), (expected, expected), "{path} {header}");
        assert_eq!(body2, body1, "{path} {header}");
        let message: serde_json::Value = serde_json::from_str(&body2).unwrap();
        assert!(message["message"].is_string(), "{body2}");
    }
    let (_, status) = h2(&ca, &gateway, "/shop/report", &["-H", &key]);
    assert_eq!(status, 200);

    // A rate limit: two calls, then 429 with its headers.
    for _ in 0..2 {
        assert_eq!(h2(&ca, &gateway, "/shop/limited", &["-H", &key]).1, 200);
    }
    let limited = curl_version(
        "--http2",
        &ca,
        &gateway,
        "/shop/limited",
        &["-H", &key, "-i"],
    );
    let (head_and_body, version, status) = answer(&limited);
    assert_eq!((version.as_str(), status), ("2", 429), "{head_and_body}");
    assert!(head_and_body.contains("retry-after: "), "{head_and_body}");

    // A request body goes upstream whole, framed for HTTP/1.1.
    let (body, status) = h2(
        &ca,
        &gateway,
        "/shop/upload",
        &["-H", &key, "--data-binary", "0123456789"],
    );
    assert_eq!(status, 200);
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["body_length"], 10, "{seen}");

    // A 3 MB body, past the stream's 1 MiB window, and an answer of several DATA
    // frames (the echo repeats a 20 kB field).
    let file = gateway.config_path.with_file_name("body.bin");
    std::fs::write(&file, vec![b'k'; 3_000_000]).unwrap();
    let upload = format!("@{}", file.display());
    let big_field = format!("x-big: {}", "b".repeat(20_000));
    let (body, status) = h2(
        &ca,
        &gateway,
        "/shop/upload",
        &["-H", &key, "-H", &big_field, "--data-binary", &upload],
    );
    assert_eq!(status, 200);
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["body_length"], 3_000_000);
    assert_eq!(seen["headers"]["x-big"].as_str().unwrap().len(), 20_000);

    eventually("the access log names HTTP/2", || {
        read_file(&gateway.access_log).contains("\"protocol\":\"HTTP/2.0\"")
    });
}

/// Over HTTP/2 as over HTTP/1.1, the peers' identity families and the fields of
/// `proxy.strip_request_headers` never reach the upstream; the gateway's own identity
/// fields and a field merely like the families' do.
#[test]
fn identity_families_are_left_out_over_http2() {
    let (gateway, _echo, ca) = start("  strip_request_headers: [x-internal-*]\n");
    let key = format!("apikey: {ALEX}");
    let mut extra = vec!["-H".to_owned(), key];
    for field in [
        "X-Consumer-ID: forged",
        "X-Consumer-Custom-ID: forged",
        "X-Anonymous-Consumer: true",
        "X-Credential-Username: forged",
        "X-Authenticated-Groups: forged",
        "miausergroups: forged",
        "X-Internal-Role: forged",
        "X-Consumer: kept",
    ] {
        extra.push("-H".to_owned());
        extra.push(field.to_owned());
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (body, status) = h2(&ca, &gateway, "/shop/orders/1", &extra);
    assert_eq!(status, 200, "{body}");
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    for (name, value) in seen["headers"].as_object().unwrap() {
        assert!(
            value != "forged" && value != "true",
            "{name} reached the upstream: {seen}"
        );
    }
    assert_eq!(seen["headers"]["x-consumer"], "kept", "{seen}");
    assert_eq!(seen["headers"]["x-consumer-username"], "alex", "{seen}");
}

#[test]
fn streams_are_multiplexed_on_one_connection() {
    let (gateway, _echo, ca) = start("");
    let port = gateway.process.listening_address("proxy tls").port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let key = format!("apikey: {ALEX}");
    let urls: Vec<String> = (0..10)
        .map(|i| format!("https://localhost:{port}/shop/slow/{i}"))
        .collect();
    let started = Instant::now();
    let output = std::process::Command::new("curl")
        .args(["--http2", "--parallel", "--parallel-max", "10", "--silent"])
        .args(["--show-error", "--max-time", "20"])
        .args(["--cacert", ca.to_str().unwrap(), "--resolve", &resolve])
        .args(["-H", &key, "-H", "x-echo-delay-ms: 1000"])
        .args([
            "--write-out",
            "%{http_version} %{http_code} %{num_connects}\n",
        ])
        .args(urls.iter().flat_map(|url| ["--output", "/dev/null", url]))
        .output()
        .expect("curl runs");
    let elapsed = started.elapsed();
    let printed = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines.len(),
        10,
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut connects = 0;
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(&fields[..2], ["2", "200"], "{printed}");
        connects += fields[2].parse::<u32>().unwrap();
    }
    assert_eq!(connects, 1, "one connection carries all ten: {printed}");
    // Ten answers of a second each, one after the other, would take ten seconds.
    assert!(
        elapsed < Duration::from_secs(5),
        "{elapsed:?}: not concurrent"
    );
}

#[test]
fn http2_can_be_turned_off() {
    let (gateway, _echo, ca) = start("  http2: {enabled: false}\n");
    let key = format!("apikey: {ALEX}");
    let (_, version, status) = answer(&curl_version(
        "--http2",
        &ca,
        &gateway,
        "/shop/x",
        &["-H", &key],
    ));
    assert_eq!((version.as_str(), status), ("1.1", 200));
}

/// `curl VERSION_FLAG http://ADDRESS/shop/x` with the test key: what it printed last
/// (`HTTP-VERSION STATUS`), or its error.
fn plain_curl(flag: &str, gateway: &Gateway) -> String {
    let url = format!("http://{}/shop/x", gateway.address);
    let key = format!("apikey: {ALEX}");
    let output = std::process::Command::new("curl")
        .args([
            flag,
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "-H",
            &key,
        ])
        .args([
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_version} %{http_code}",
        ])
        .arg(&url)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("curl runs");
    match output.status.success() {
        true => String::from_utf8_lossy(&output.stdout).into_owned(),
        false => String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn plain_listeners_serve_h2c_with_prior_knowledge_only_when_asked() {
    let (gateway, _echo, _ca) = start("  http2: {h2c: true}\n");
    assert_eq!(plain_curl("--http2-prior-knowledge", &gateway), "2 200");
    assert_eq!(plain_curl("--http1.1", &gateway), "1.1 200");
    let (gateway, _echo, _ca) = start("");
    assert_ne!(plain_curl("--http2-prior-knowledge", &gateway), "2 200");
    assert_eq!(plain_curl("--http1.1", &gateway), "1.1 200");
}

#[test]
fn a_stream_in_flight_is_answered_when_the_gateway_shuts_down() {
    let (mut gateway, _echo, ca) = start("");
    let port = gateway.process.listening_address("proxy tls").port();
    let resolve = format!("localhost:{port}:127.0.0.1");
    let key = format!("apikey: {ALEX}");
    let slow = std::thread::spawn(move || {
        std::process::Command::new("curl")
            .args(["--http2", "--silent", "--show-error", "--max-time", "10"])
            .args(["--cacert", ca.to_str().unwrap(), "--resolve", &resolve])
            .args(["-H", &key, "-H", "x-echo-delay-ms: 1500"])
            .args([
                "--output",
                "/dev/null",
                "--write-out",
                "%{http_version} %{http_code}",
            ])
            .arg(format!("https://localhost:{port}/shop/slow"))
            .output()
            .expect("curl runs")
    });
    // The request is on its way to the echo when the gateway is told to stop.
    std::thread::sleep(Duration::from_millis(700));
    gateway.process.signal("TERM");
    let output = slow.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "2 200",
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(gateway.process.wait_exit().success());
}

#[test]
fn a_client_that_expects_100_continue_gets_it_once_let_through() {
    let (gateway, _echo, ca) = start("");
    let key = format!("apikey: {ALEX}");
    let started = Instant::now();
    // Without the `100 Continue`, curl would wait its five seconds before sending.
    let (body, status) = h2(
        &ca,
        &gateway,
        "/shop/upload",
        &[
            "-H",
            &key,
            "-H",
            "Expect: 100-continue",
            "--expect100-timeout",
            "5",
            "--data-binary",
            "0123456789",
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let seen: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(seen["body_length"], 10, "{seen}");
    assert!(seen["headers"].get("expect").is_none(), "{seen}");
}
