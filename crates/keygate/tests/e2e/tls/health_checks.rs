//! Active health checks of `https://` and h2c targets through real sockets: a second
//! keygate is the upstream (a TLS listener with a certificate from the test CA, and a
//! plain one with h2c), and its access log shows each check arrive in its target's
//! protocol — HTTP/1.1 over TLS, HTTP/2 over TLS (ALPN `h2`), HTTP/2 with prior
//! knowledge. A check whose path the upstream does not have, and one of a target whose
//! certificate is not trusted, take their targets out.

use serde_json::Value;

use super::tools::{certificate_entry, config, Ca};
use crate::support::{eventually, read_file, Echo, Gateway, TempDir};

/// A checked service on `target` (`protocol` and `tls` lines under `upstream`), its
/// check asking for `path`.
fn service(name: &str, target: &str, more: &str, path: &str) -> String {
    format!(
        "  - name: {name}
    path_prefix: /{name}
    upstream:
      targets: [{target}]
{more}      health_check: {{path: {path}, interval: 100ms, unhealthy_after: 1, healthy_after: 1}}
    routes: [{{name: all, paths: ['/*'], auth: none}}]
"
    )
}

/// The health of the one target of `service` on `gateway`.
fn target_health(gateway: &Gateway, service: &str) -> Value {
    let answer = gateway.admin("GET", &format!("/v1/services/{service}/health"), "");
    assert_eq!(answer.status, 200);
    answer.json()["targets"][0].clone()
}

#[test]
fn https_and_h2c_targets_are_checked_in_their_own_protocol() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "up", "up", &["127.0.0.1"]);
    let echo = Echo::start("echo");
    let tls = format!("    certificates:\n{}", certificate_entry(&cert, &key, ""));
    let upstream_services = format!(
        "services:
  - name: echo
    upstream: {url}
    routes:
      - {{name: health, paths: ['/health/*'], auth: none}}
",
        url = echo.url()
    );
    let upstream_dir = TempDir::new();
    let text = config(&upstream_dir.0, &tls, &upstream_services).replace(
        "  header_timeout: 30s\n",
        "  header_timeout: 30s\n  http2: {h2c: true}\n",
    );
    let upstream = Gateway::start_with_text(upstream_dir, &text, "admin");
    let secure = upstream.process.listening_address("proxy tls");
    let plain = upstream.address;

    let trusted = format!("      tls: {{ca_file: {}}}\n", ca.path.display());
    let h2 = format!("      protocol: h2\n{trusted}");
    let https = format!("https://{secure}");
    let h2c = format!("http://{plain}");
    let services = [
        service("tls1", &https, &trusted, "/health/tls1"),
        service("tls2", &https, &h2, "/health/tls2"),
        service("clear2", &h2c, "      protocol: h2c\n", "/health/clear2"),
        service("missing", &h2c, "      protocol: h2c\n", "/nothing"),
        // The system's roots do not hold the test CA.
        service("untrusted", &https, "", "/health/untrusted"),
    ];
    let gateway = Gateway::start(&format!("services:\n{}", services.concat()));

    for (name, state, status) in [
        ("tls1", "up", Some(200)),
        ("tls2", "up", Some(200)),
        ("clear2", "up", Some(200)),
        ("missing", "down", Some(404)),
        ("untrusted", "down", None),
    ] {
        eventually(&format!("{name} is checked {state}"), || {
            let health = target_health(&gateway, name);
            health["active"]["last_check"].is_object() && health["state"] == state
        });
        let health = target_health(&gateway, name);
        assert_eq!(
            health["active"]["last_check"]["status"].as_u64(),
            status,
            "{name}: {health}"
        );
    }
    let address = target_health(&gateway, "tls1")["address"].clone();
    assert_eq!(address, secure.to_string());

    // Each check came in its target's protocol.
    eventually("the upstream logged the checks", || {
        let log = read_file(&upstream.access_log);
        ["tls1", "tls2", "clear2"]
            .iter()
            .all(|name| log.contains(&format!("/health/{name}")))
    });
    let log = read_file(&upstream.access_log);
    for (name, protocol) in [
        ("tls1", "HTTP/1.1"),
        ("tls2", "HTTP/2.0"),
        ("clear2", "HTTP/2.0"),
    ] {
        let line = log
            .lines()
            .find(|line| line.contains(&format!("\"/health/{name}\"")))
            .unwrap_or_else(|| panic!("no check of {name} in {log}"));
        assert!(
            line.contains(&format!("\"protocol\":\"{protocol}\"")),
            "{name}: {line}"
        );
    }
}
