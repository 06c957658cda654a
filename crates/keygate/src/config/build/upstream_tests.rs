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
