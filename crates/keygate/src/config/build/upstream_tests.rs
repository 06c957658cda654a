//! `dns:` and the pool limits of `upstream:`: defaults, values, and refusals where written.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

fn only_problem(text: &str) -> Problem {
    let mut all = match Config::parse("t.yaml", text) {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(error) => error.problems().to_vec(),
    };
    assert_eq!(all.len(), 1, "expected one problem, got {all:?}");
    all.remove(0)
}

fn service(upstream: &str) -> String {
    format!(
        "services:\n  - name: s\n    upstream:\n      targets: [http://127.0.0.1:1]\n{upstream}    routes:\n      - name: r\n        paths: [/]\n"
    )
}

#[test]
fn pool_limits_default_to_todays_pool_and_no_limit() {
    let limits = |upstream: &str| {
        let config = Config::parse("t.yaml", &service(upstream)).unwrap();
        config.services[0].upstream.pool.clone()
    };
    let defaults = limits("");
    assert_eq!(defaults, PoolLimits::default());
    assert_eq!(defaults.max_idle, 1024);
    assert_eq!(defaults.idle_timeout, Duration::from_secs(90));
    assert_eq!(defaults.max_connections, None);
    assert_eq!(defaults.queue_timeout, Duration::from_secs(1));
    let set = limits(
        "      keepalive: {max_idle: 8, idle_timeout: 5s}\n      max_connections: 3\n      queue_timeout: 250ms\n",
    );
    assert_eq!(
        set,
        PoolLimits {
            max_idle: 8,
            idle_timeout: Duration::from_secs(5),
            max_connections: Some(3),
            queue_timeout: Duration::from_millis(250),
        }
    );
    assert_eq!(limits("      keepalive: {max_idle: 0}\n").max_idle, 0);
}

#[test]
fn max_connections_zero_is_refused_where_written() {
    let problem = only_problem(&service("      max_connections: 0\n"));
    assert_eq!((problem.line, problem.column), (5, 24), "{problem:?}");
    assert!(
        problem.message.contains("at least 1"),
        "{}",
        problem.message
    );
}

#[test]
fn dns_defaults_and_values() {
    assert_eq!(
        Config::parse("t.yaml", "").unwrap().dns,
        DnsSettings::default()
    );
    let dns = Config::parse(
        "t.yaml",
        "dns:\n  nameservers: [10.0.0.2, \"127.0.0.1:5353\", \"[::1]:53\"]\n  refresh_min: 2s\n  refresh_max: 1m\n",
    )
    .unwrap()
    .dns;
    assert_eq!(
        dns.nameservers,
        [
            "10.0.0.2:53".parse().unwrap(),
            "127.0.0.1:5353".parse().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
    assert_eq!(dns.refresh_min, Duration::from_secs(2));
    assert_eq!(dns.refresh_max, Duration::from_secs(60));
}

#[test]
fn bad_dns_settings_are_refused_where_written() {
    let problem = only_problem("dns:\n  nameservers: [ns.example]\n");
    assert_eq!((problem.line, problem.column), (2, 17), "{problem:?}");
    assert!(
        problem.message.contains("`ns.example`"),
        "{}",
        problem.message
    );
    let problem = only_problem("dns:\n  refresh_min: 10s\n  refresh_max: 5s\n");
    assert_eq!((problem.line, problem.column), (3, 16), "{problem:?}");
    assert!(
        problem.message.contains("shorter than"),
        "{}",
        problem.message
    );
}

fn secure(tls: &str) -> String {
    format!(
        "services:\n  - name: s\n    upstream:\n      targets: [https://127.0.0.1:1, 'https://api.internal']\n{tls}    routes:\n      - name: r\n        paths: [/]\n"
    )
}

#[test]
fn https_targets_get_tls_with_port_443_by_default() {
    let config = Config::parse("t.yaml", &secure("")).unwrap();
    let upstream = &config.services[0].upstream;
    assert_eq!(upstream.targets[1].port(), 443);
    assert_eq!(upstream.targets[1].scheme, http::uri::Scheme::HTTPS);
    let tls = upstream.tls.as_ref().expect("TLS for https:// targets");
    assert_eq!(tls.server_name, None);
    assert_eq!(tls.client.alpn_protocols, [b"http/1.1".to_vec()]);
    let named = Config::parse(
        "t.yaml",
        &secure("      tls: {server_name: orders.internal, verify: false}\n"),
    )
    .unwrap();
    let name = named.services[0].upstream.tls.as_ref().unwrap();
    assert_eq!(
        name.server_name.as_ref().map(|n| n.to_str().into_owned()),
        Some("orders.internal".to_owned())
    );
    // Plain targets have none.
    let plain = Config::parse("t.yaml", &service("")).unwrap();
    assert!(plain.services[0].upstream.tls.is_none());
    assert_eq!(plain.services[0].upstream.targets[0].port(), 1);
}

#[test]
fn upstream_tls_mistakes_are_reported_where_they_are() {
    let problem = only_problem(&secure("      tls: {ca_file: /nonexistent/ca.pem}\n"));
    assert_eq!((problem.line, problem.column), (5, 22), "{problem:?}");
    assert!(
        problem.message.contains("cannot read the CA file"),
        "{problem:?}"
    );

    let problem = only_problem(&secure("      tls: {cert_file: /dev/null}\n"));
    assert!(
        problem.message.contains("`cert_file` needs `key_file`"),
        "{problem:?}"
    );

    let problem = only_problem(&secure("      tls: {server_name: 'not a name'}\n"));
    assert!(
        problem.message.contains("expected a server name"),
        "{problem:?}"
    );

    let problem = only_problem(&service("      tls: {verify: false}\n"));
    assert!(
        problem.message.contains("https:// targets only"),
        "{problem:?}"
    );

    // A file that is there but no CA certificate: refused when read, not on a request.
    let problem = only_problem(&secure("      tls: {ca_file: /dev/null}\n"));
    assert!(problem.message.contains("upstream TLS"), "{problem:?}");
    assert!(
        problem.message.contains("no certificate found"),
        "{problem:?}"
    );

    // Health checks of https:// targets speak TLS with the same settings.
    let checked = Config::parse(
        "t.yaml",
        &secure("      health_check: {path: /health}\n      tls: {verify: true}\n"),
    )
    .unwrap();
    assert!(checked.services[0].upstream.health_check.is_some());

    let problem = only_problem(
        "services:\n  - name: s\n    upstream: ftp://127.0.0.1:1\n    routes:\n      - name: r\n        paths: [/]\n",
    );
    assert!(
        problem.message.contains("http:// or https://"),
        "{problem:?}"
    );
}

#[test]
fn the_upstream_protocol_is_http1_unless_h2_or_h2c_fits_the_targets() {
    use crate::config::UpstreamProtocol;
    let plain = Config::parse("t.yaml", &service("")).unwrap();
    assert_eq!(plain.services[0].upstream.protocol, UpstreamProtocol::Http1);
    let h2c = Config::parse("t.yaml", &service("      protocol: h2c\n")).unwrap();
    assert_eq!(h2c.services[0].upstream.protocol, UpstreamProtocol::H2c);
    let h2 = Config::parse("t.yaml", &secure("      protocol: h2\n")).unwrap();
    let upstream = &h2.services[0].upstream;
    assert_eq!(upstream.protocol, UpstreamProtocol::H2);
    assert_eq!(
        upstream.tls.as_ref().unwrap().client.alpn_protocols,
        [b"h2".to_vec()]
    );

    let problem = only_problem(&service("      protocol: h2\n"));
    assert_eq!((problem.line, problem.column), (5, 17), "{problem:?}");
    assert!(
        problem.message.contains("`h2` needs https:// targets"),
        "{problem:?}"
    );
    let problem = only_problem(&secure("      protocol: h2c\n"));
    assert!(
        problem.message.contains("`h2c` needs http:// targets"),
        "{problem:?}"
    );
    // Health checks speak the targets' protocol.
    let checked = Config::parse(
        "t.yaml",
        &service("      protocol: h2c\n      health_check: {path: /health}\n"),
    )
    .unwrap();
    assert!(checked.services[0].upstream.health_check.is_some());
    let problem = only_problem(&service("      protocol: http3\n"));
    assert!(
        problem.message.contains("expected `http1`, `h2` or `h2c`"),
        "{problem:?}"
    );
}
