//! Tests of configuration checking: the example file, defaults, and positioned errors.

#![allow(clippy::unwrap_used)]

use super::*;
use std::time::SystemTime;

use crate::config::{ConfigError, Http2Settings, Listener};
use crate::key::KeyHash;

const EXAMPLE: &str = include_str!("../../../../../examples/keygate.yaml");

fn problems(text: &str) -> Vec<Problem> {
    match Config::parse("test.yaml", text) {
        Ok(_) => panic!("expected the configuration to be refused"),
        Err(error) => error.problems().to_vec(),
    }
}

fn only_problem(text: &str) -> Problem {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "expected one problem, got {all:?}");
    all.remove(0)
}

#[test]
fn the_example_config_loads_as_written() {
    let config = Config::parse("keygate.yaml", EXAMPLE).unwrap();
    let plain = Listener {
        address: "127.0.0.1:8080".parse().unwrap(),
        tls: false,
    };
    assert_eq!(config.proxy.listen, [plain]);
    assert_eq!(config.proxy.tls, None);
    assert_eq!(config.services.len(), 3);
    let weather = &config.services[2];
    let plans: Vec<(&str, bool, bool)> = weather
        .plans
        .iter()
        .map(|p| (&*p.name, p.forward_key, p.auto_approve))
        .collect();
    assert_eq!(
        plans,
        [("premium", true, true), ("standard", false, false)],
        "plans keep their order and defaults"
    );
    assert!(weather.plans[0].selection_rule.is_some());
    assert!(weather.plans[1].selection_rule.is_none());
    let api7 = &config.services[0];
    assert_eq!(&*api7.name, "key-auth-app");
    assert_eq!(api7.hosts, ["auth.httpbin.org"]);
    assert_eq!(api7.path_prefix, "/v1");
    assert!(api7.strip_prefix);
    assert!(!api7.preserve_host);
    assert_eq!(
        &*api7.routes[0].key_sources,
        [KeySource::Header {
            name: HeaderName::from_static("authorization"),
            scheme: None,
            separators_alike: false,
        }]
    );
    let orders = &config.services[1];
    assert_eq!(orders.upstream.targets.len(), 2);
    assert_eq!(orders.upstream.connect_timeout, Duration::from_secs(2));
    assert_eq!(orders.upstream.read_timeout, Duration::from_secs(30));
    assert_eq!(orders.upstream.send_timeout, Duration::from_secs(30));
    assert_eq!(&*orders.routes[0].key_sources, default_key_sources());
    assert_eq!(orders.routes[2].auth, AuthMode::None);
    assert_eq!(orders.routes[3].auth, AuthMode::Optional);
    assert!(orders.routes[3].forward_key);
    assert_eq!(orders.routes[1].methods, [Method::GET, Method::PUT]);

    let [alex, bob, carol] = &config.consumers[..] else {
        panic!("three consumers expected");
    };
    assert_eq!(alex.client_type, "A");
    assert_eq!(alex.keys[0].hash, KeyHash::of(b"ec8e8fa78d4e271b368d"));
    assert_eq!(alex.keys[0].prefix.as_deref(), Some("ec8e8"));
    assert_eq!(bob.groups, ["admin"]);
    assert_eq!(bob.keys[0].hash, KeyHash::of(b"bob-key-0123456789abcdef"));
    assert!(!carol.keys[0].active);
    assert!(carol.keys[1].expires_at.unwrap() < SystemTime::now());
}

#[test]
fn defaults_apply_when_fields_are_absent() {
    let config = Config::parse(
        "t.yaml",
        "services:\n  - name: s\n    upstream: http://127.0.0.1:1\n    routes:\n      - name: r\n        paths: [/]\nconsumers:\n  - name: solo\n    keys: [{key: abcdefgh}]\n",
    )
    .unwrap();
    assert_eq!(config.proxy.max_header_bytes, 32 * 1024);
    assert!(!config.proxy.underscores_in_headers);
    assert_eq!(config.proxy.header_timeout, Duration::from_secs(30));
    assert_eq!(config.proxy.send_timeout, Duration::from_secs(60));
    assert_eq!(
        config.services[0].upstream.connect_timeout,
        Duration::from_secs(5)
    );
    assert_eq!(config.services[0].routes[0].auth, AuthMode::Required);
    assert!(!config.services[0].routes[0].forward_key);
    assert_eq!(config.consumers[0].client_type, "solo");
    assert!(config.consumers[0].keys[0].active);
    assert_eq!(config.identity_headers.client_type.as_str(), "client-type");
}

#[test]
fn the_partial_head_budget_is_read_and_checked() {
    let config = Config::parse("t.yaml", "").unwrap();
    assert_eq!(config.proxy.max_partial_head_bytes, 32 * 1024 * 1024);
    let config = Config::parse("t.yaml", "proxy:\n  max_partial_head_bytes: 65536\n").unwrap();
    assert_eq!(config.proxy.max_partial_head_bytes, 65536);
    let problem = only_problem("proxy:\n  max_partial_head_bytes: 4294967297\n");
    assert_eq!((problem.line, problem.column), (2, 27), "{problem:?}");
    assert!(problem.message.contains("between 0 and 4294967296"));
}

#[test]
fn http2_settings_are_read_and_checked() {
    let config = Config::parse("t.yaml", "").unwrap();
    assert_eq!(config.proxy.http2, Http2Settings::default());
    assert!(config.proxy.http2.enabled);
    assert!(!config.proxy.http2.h2c);
    let text = "proxy:\n  http2: {enabled: false, h2c: true, max_concurrent_streams: 16, header_table_size: 0}\n";
    let config = Config::parse("t.yaml", text).unwrap();
    assert!(!config.proxy.http2.enabled);
    assert!(config.proxy.http2.h2c);
    assert_eq!(config.proxy.http2.max_concurrent_streams, 16);
    assert_eq!(config.proxy.http2.header_table_size, 0);
    let problem = only_problem("proxy:\n  http2:\n    initial_window_size: 1000\n");
    assert_eq!((problem.line, problem.column), (3, 26), "{problem:?}");
    assert!(problem.message.contains("between 65535 and 2147483647"));
    let problem = only_problem("proxy:\n  http2: {max_concurrent_streams: 0}\n");
    assert!(
        problem.message.contains("max_concurrent_streams"),
        "{problem:?}"
    );
}

#[test]
fn an_empty_file_is_a_gateway_with_nothing_configured() {
    let config = Config::parse("t.yaml", "").unwrap();
    assert!(config.services.is_empty());
}

#[test]
fn unknown_fields_are_named_with_their_position() {
    let problem = only_problem("proxy:\n  listen: 127.0.0.1:1\n  lisen: x\n");
    assert_eq!((problem.line, problem.column), (3, 3), "{problem:?}");
    assert!(problem.message.contains("lisen"), "{}", problem.message);
}

#[test]
fn semantic_errors_point_at_the_value() {
    let text = "services:\n  - name: s\n    upstream: ftp://example.com\n    routes:\n      - name: r\n        paths: [json]\n        auth: maybe\n";
    let all = problems(text);
    let positions: Vec<_> = all.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(positions, [(3, 15), (6, 17), (7, 15)], "{all:?}");
    assert!(all[0].message.contains("http://"));
    assert!(all[1].message.contains("start with `/`"));
    assert!(all[2].message.contains("`required`, `optional` or `none`"));
}

#[test]
fn prefixes_and_route_paths_must_be_in_normal_form() {
    let text = "services:\n  - name: s\n    path_prefix: /v1//x\n    upstream: http://127.0.0.1:9\n    routes:\n      - name: r\n        paths: [/%72eport]\n";
    let all = problems(text);
    let positions: Vec<_> = all.iter().map(|p| (p.line, p.column)).collect();
    assert_eq!(positions, [(3, 18), (7, 17)], "{all:?}");
    assert!(all[0].message.contains("write `/v1/x`"), "{all:?}");
    assert!(all[1].message.contains("write `/report`"), "{all:?}");
}

#[test]
fn keys_are_checked() {
    let text = "consumers:\n  - name: a\n    keys:\n      - key: same-key-1\n      - key_hash: sha256:xyz\n      - {}\n      - key: x\n        expires_at: tomorrow\n  - name: b\n    keys:\n      - key: same-key-1\n";
    let all = problems(text);
    let messages: Vec<_> = all.iter().map(|p| (p.line, p.message.as_str())).collect();
    assert_eq!(all.len(), 4, "{messages:?}");
    assert!(messages[0].1.contains("64 hex digits"));
    assert!(messages[1].1.contains("exactly one of `key` or `key_hash`"));
    assert!(messages[2].1.contains("RFC 3339"));
    assert_eq!(messages[3].0, 11);
    assert!(messages[3].1.contains("already given"));
}

#[test]
fn file_keys_keep_the_looser_rule_but_no_kg_key_that_could_never_pass() {
    // Short keys and characters the API's custom-key rule refuses stay allowed in the
    // file (keys brought from another gateway), and so does a generated key.
    let generated = crate::key::generate().unwrap();
    let text = format!(
        "consumers:\n  - name: a\n    keys:\n      - key: x\n      - key: a/b@c\n      - key: {generated}\n"
    );
    Config::parse("test.yaml", &text).unwrap();
    let refused = only_problem(
        "consumers:\n  - name: a\n    keys:\n      - key: kg_looks-generated-but-is-not\n",
    );
    assert_eq!((refused.line, refused.column), (4, 14), "{refused:?}");
    assert!(refused.message.contains("checksum"), "{refused:?}");
}

#[test]
fn duplicate_names_are_refused() {
    let text = "services:\n  - {name: s, upstream: 'http://127.0.0.1:1'}\n  - {name: s, upstream: 'http://127.0.0.1:1'}\nconsumers:\n  - name: c\n  - name: c\n  - name: 'bad name'\n";
    let all = problems(text);
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all[0].message.contains("service `s` is defined twice"));
    assert!(all[1].message.contains("consumer `c` is defined twice"));
    assert!(all[2].message.contains("letters, digits"));
}

#[test]
fn identity_headers_are_neither_reserved_nor_repeated() {
    let text = "defaults:\n  identity_headers:\n    consumer: Host\n    credential: x-who\n    groups: X-Who\n    client_type: content-length\n";
    let all = problems(text);
    let found: Vec<_> = all
        .iter()
        .map(|p| (p.line, p.column, p.message.as_str()))
        .collect();
    assert_eq!(all.len(), 3, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (3, 15));
    assert!(found[0].2.contains("`Host` cannot carry an identity"));
    assert_eq!(found[1].0, 5);
    assert!(found[1]
        .2
        .contains("`X-Who` already carries another identity field"));
    assert_eq!(found[2].0, 6);
    assert!(found[2].2.contains("cannot carry an identity"));
}

#[test]
fn identity_headers_have_no_underscores() {
    let problem = only_problem("defaults:\n  identity_headers:\n    consumer: x_user\n");
    assert_eq!((problem.line, problem.column), (3, 15), "{problem:?}");
    assert!(
        problem
            .message
            .contains("`x_user` cannot carry an identity"),
        "{}",
        problem.message
    );
}

#[test]
fn underscores_in_headers_is_read() {
    let config = Config::parse("t.yaml", "proxy:\n  underscores_in_headers: true\n").unwrap();
    assert!(config.proxy.underscores_in_headers);
}

#[test]
fn request_ids_traceparent_and_metrics_auth_are_read_and_checked() {
    let config = Config::parse("t.yaml", "").unwrap();
    assert_eq!(
        config
            .proxy
            .request_id_header
            .as_ref()
            .map(HeaderName::as_str),
        Some("x-request-id")
    );
    assert!(!config.proxy.generate_traceparent);
    assert!(!config.admin.metrics_auth);
    let config = Config::parse(
        "t.yaml",
        "proxy:\n  request_id_header: X-Correlation-Id\n  traceparent: generate\nadmin:\n  metrics_auth: true\n",
    )
    .unwrap();
    assert_eq!(
        config
            .proxy
            .request_id_header
            .as_ref()
            .map(HeaderName::as_str),
        Some("x-correlation-id")
    );
    assert!(config.proxy.generate_traceparent);
    assert!(config.admin.metrics_auth);
    let config = Config::parse("t.yaml", "proxy:\n  request_id_header: \"off\"\n").unwrap();
    assert_eq!(config.proxy.request_id_header, None);
    let problem = only_problem("proxy:\n  request_id_header: Host\n");
    assert_eq!((problem.line, problem.column), (2, 22), "{problem:?}");
    assert!(problem.message.contains("reserved"), "{problem:?}");
    let problem = only_problem("proxy:\n  traceparent: sometimes\n");
    assert!(
        problem.message.contains("`pass` or `generate`"),
        "{problem:?}"
    );
}

#[test]
fn key_sources_need_exactly_one_kind() {
    let text = "defaults:\n  key_sources:\n    - header: x\n      cookie: y\n    - cookie: y\n      scheme: Bearer\n    - query: 'a=b'\n";
    let all = problems(text);
    assert_eq!(all.len(), 3, "{all:?}");
    assert_eq!(all[0].line, 3);
    assert!(all[1].message.contains("`scheme` goes with `header`"));
    assert!(all[2].message.contains("without ="));
}

#[test]
fn rendered_errors_name_the_file() {
    let error = Config::parse("conf/k.yaml", "proxy:\n  listen: nowhere\n").unwrap_err();
    assert!(matches!(error, ConfigError::Invalid { .. }));
    let text = error.to_string();
    assert!(
        text.starts_with("conf/k.yaml:2:11: expected an address"),
        "{text}"
    );
    assert!(text.contains("^"), "{text}");
}

#[test]
fn yaml_syntax_errors_have_a_position() {
    let problem = only_problem("services:\n  - name: [unclosed\n");
    assert!(problem.line >= 2, "{problem:?}");
}

#[test]
fn shape_errors_say_what_was_expected_where_it_is() {
    let route =
        "services:\n  - name: s\n    upstream: http://127.0.0.1:1\n    routes:\n      - name: r\n";
    let scalar_for_list = only_problem(&format!("{route}        paths: /\n"));
    assert_eq!(
        (scalar_for_list.line, scalar_for_list.column),
        (6, 16),
        "{scalar_for_list:?}"
    );
    assert_eq!(
        scalar_for_list.message,
        "expected a list here: `[a, b]`, or one `- item` per line below"
    );
    let indented = only_problem(&format!("{route}        paths: [/]\n       auth: none\n"));
    assert_eq!(
        indented.line, 7,
        "the line where the fault is: {indented:?}"
    );
    assert!(
        indented
            .message
            .starts_with("this line is indented differently"),
        "{indented:?}"
    );
    let outdented = only_problem("proxy:\n  listen: 127.0.0.1:8080\n header_timeout: 1s\n");
    assert_eq!(outdented.line, 3, "{outdented:?}");
    assert!(
        outdented
            .message
            .starts_with("this line is indented differently"),
        "{outdented:?}"
    );
}

#[test]
fn expression_errors_point_inside_the_yaml_string() {
    let route = |allow: &str| {
        format!("services:\n  - name: s\n    upstream: http://127.0.0.1:1\n    routes:\n      - name: r\n        paths: [/]\n        allow: {allow}\n")
    };
    // Plain scalar: column of the fault in the file.
    let plain = only_problem(&route("clienType == 'A'"));
    assert_eq!((plain.line, plain.column), (7, 16), "{plain:?}");
    assert!(
        plain.message.contains("did you mean `clientType`"),
        "{plain:?}"
    );
    // Double-quoted: one more for the quote.
    let quoted = only_problem(&route("\"clientType === 'A' ||\""));
    assert_eq!((quoted.line, quoted.column), (7, 38), "{quoted:?}");
    // Block scalar: the line below, after the indentation.
    let block = only_problem(&route(
        "|\n          clientType === 'A'\n            && grups.admin",
    ));
    assert_eq!((block.line, block.column), (9, 16), "{block:?}");
}

#[test]
fn valid_expressions_compile_into_the_route() {
    let config = Config::parse("keygate.yaml", EXAMPLE).unwrap();
    let report = &config.services[1].routes[4];
    assert_eq!(&*report.name, "admin-report");
    let allow = report.allow.as_ref().unwrap();
    assert_eq!(allow.source(), "clientType === 'A' || clientType === 'B'");
}

#[test]
fn the_directory_cache_sits_beside_a_sqlite_file_unless_told_otherwise() {
    let cache = |text: &str| Config::parse("t.yaml", text).unwrap().cache_file;
    assert_eq!(cache(""), Some(PathBuf::from("keygate.db.cache")));
    assert_eq!(
        cache("store: sqlite:///var/lib/keygate/k.db\n"),
        Some(PathBuf::from("/var/lib/keygate/k.db.cache"))
    );
    assert_eq!(cache("store: \"sqlite::memory:\"\n"), None);
    assert_eq!(cache("store: postgres://u@127.0.0.1/db\n"), None);
    assert_eq!(
        cache("store: postgres://u@127.0.0.1/db\ncache_file: /tmp/k.cache\n"),
        Some(PathBuf::from("/tmp/k.cache"))
    );
    assert_eq!(cache("cache_file: \"off\"\n"), None);
    assert_eq!(cache("cache_file: off\n"), None);
    let problem = only_problem("cache_file: \"\"\n");
    assert_eq!((problem.line, problem.column), (1, 13));
    assert!(problem.message.contains("`off`"), "{}", problem.message);
}

#[test]
fn failover_fields_are_read_with_nginx_like_defaults() {
    let service = |upstream: &str| {
        let text = format!(
            "services:\n  - name: s\n    upstream:\n      targets: [http://127.0.0.1:1, http://127.0.0.1:2]\n{upstream}    routes:\n      - name: r\n        paths: [/]\n"
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        config.services[0].upstream.failover.clone()
    };
    assert_eq!(service(""), Failover::default());
    let defaults = Failover::default();
    assert_eq!(defaults.retries, None, "one per other target");
    assert_eq!(defaults.retry_on, RetryOn::CONNECT.with(RetryOn::RESET));
    assert_eq!(defaults.max_fails, 1);
    assert_eq!(defaults.fail_timeout, Duration::from_secs(10));
    let set = service(
        "      retries: 3\n      retry_on: [connect, timeout, 503]\n      retry_timeout: 2s\n      max_fails: 0\n      fail_timeout: 500ms\n",
    );
    assert_eq!(set.retries, Some(3));
    let expected = RetryOn::CONNECT
        .with(RetryOn::TIMEOUT)
        .with(RetryOn::STATUS_503);
    assert_eq!(set.retry_on, expected);
    assert!(!set.retry_on.has(RetryOn::RESET));
    assert!(set.retry_on.has_status(503) && !set.retry_on.has_status(502));
    assert_eq!(set.retry_timeout, Duration::from_secs(2));
    assert_eq!(set.max_fails, 0);
    assert_eq!(set.fail_timeout, Duration::from_millis(500));
    assert_eq!(service("      retry_on: []\n").retry_on, RetryOn::NONE);
}

#[test]
fn unknown_retry_conditions_are_refused_where_written() {
    let problem = only_problem(
        "services:\n  - name: s\n    upstream:\n      targets: [http://127.0.0.1:1]\n      retry_on: [connect, 500]\n    routes:\n      - name: r\n        paths: [/]\n",
    );
    assert_eq!((problem.line, problem.column), (5, 27), "{problem:?}");
    assert!(
        problem.message.contains("found `500`"),
        "{}",
        problem.message
    );
}

/// A file that exists, for `tls` sections: the checker only opens it.
fn some_file() -> String {
    let path = std::env::temp_dir().join("keygate-config-test.pem");
    std::fs::write(&path, "not read by the checker").unwrap();
    path.display().to_string()
}

#[test]
fn listen_takes_a_list_of_plain_and_tls_listeners() {
    let file = some_file();
    let text = format!(
        "proxy:\n  listen:\n    - 127.0.0.1:8080\n    - {{address: '[::1]:8443', tls: true}}\n  tls:\n    certificates:\n      - {{cert_file: {file}, key_file: {file}}}\n      - {{cert_file: {file}, key_file: {file}, hosts: [API.example.com, '*.example.org']}}\n    min_version: '1.3'\n"
    );
    let config = Config::parse("k.yaml", &text).unwrap();
    let listeners: Vec<(String, bool)> = config
        .proxy
        .listen
        .iter()
        .map(|l| (l.address.to_string(), l.tls))
        .collect();
    assert_eq!(
        listeners,
        [
            ("127.0.0.1:8080".to_owned(), false),
            ("[::1]:8443".to_owned(), true)
        ]
    );
    let tls = config.proxy.tls.unwrap();
    assert_eq!(tls.min_version, super::super::TlsVersion::V1_3);
    assert!(tls.session_tickets);
    assert_eq!(tls.certificates[0].hosts, Vec::<String>::new());
    assert_eq!(
        tls.certificates[1].hosts,
        ["api.example.com", "*.example.org"]
    );
}

#[test]
fn tls_mistakes_are_reported_where_they_are() {
    let file = some_file();
    let no_certificates = "proxy:\n  listen:\n    - {address: 127.0.0.1:8443, tls: true}\n";
    let problem = only_problem(no_certificates);
    assert_eq!((problem.line, problem.column), (3, 5), "{problem:?}");
    assert!(
        problem.message.contains("`proxy.tls` must name"),
        "{problem:?}"
    );

    let unused = format!(
        "proxy:\n  listen: 127.0.0.1:8080\n  tls:\n    certificates: [{{cert_file: {file}, key_file: {file}}}]\n"
    );
    assert!(only_problem(&unused).message.contains("no listener"));

    let missing = "proxy:\n  listen: [{address: 127.0.0.1:8443, tls: true}]\n  tls:\n    certificates:\n      - {cert_file: /nonexistent/cert.pem, key_file: /nonexistent/key.pem}\n";
    let all = problems(missing);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0]
        .message
        .contains("cannot read the certificate file `/nonexistent/cert.pem`"));
    assert_eq!(all[0].line, 5);

    let two_defaults = format!(
        "admin:\n  tls:\n    certificates:\n      - {{cert_file: {file}, key_file: {file}}}\n      - {{cert_file: {file}, key_file: {file}}}\n"
    );
    let problem = only_problem(&two_defaults);
    assert_eq!(problem.line, 5);
    assert!(
        problem.message.contains("only one certificate"),
        "{problem:?}"
    );

    let bad = format!(
        "admin:\n  tls:\n    certificates: [{{cert_file: {file}, key_file: {file}, hosts: ['a.*.com']}}]\n    min_version: '1.1'\n"
    );
    let all = problems(&bad);
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].message.contains("expected a server name"), "{all:?}");
    assert!(
        all[1].message.contains("expected `\"1.2\"` or `\"1.3\"`"),
        "{all:?}"
    );

    let twice = "proxy:\n  listen: [127.0.0.1:8080, 127.0.0.1:8080]\n";
    assert!(only_problem(twice).message.contains("listed twice"));
}

#[test]
fn https_redirect_is_off_by_default() {
    let config = Config::parse("keygate.yaml", EXAMPLE).unwrap();
    assert!(config
        .services
        .iter()
        .all(|service| !service.https_redirect));
}

#[test]
fn limits_are_read_with_their_defaults_and_route_limits_come_before_the_services() {
    let config = Config::parse(
        "keygate.yaml",
        r#"
services:
  - name: weather
    upstream: http://127.0.0.1:9002
    limits: [{count: 100, per: hour}]
    routes:
      - name: all
        paths: ["/*"]
        cost: 3
        rate_limit_headers: legacy
        limits: [{count: 10, per: minute, by: "header:x-tenant", callers: keyed, name: tenant}]
    plans:
      - name: premium
        limits: [{count: 5, per: second, by: subscription}]
"#,
    )
    .unwrap();
    let weather = &config.services[0];
    let route = &weather.routes[0];
    let limits: Vec<(&str, u64, u64)> = route
        .limits
        .iter()
        .map(|l| (&*l.name, l.count, l.per.seconds()))
        .collect();
    assert_eq!(limits, [("tenant", 10, 60), ("weather.0", 100, 3600)]);
    assert_eq!(
        route.limits[0].by,
        crate::limits::LimitBy::Header(HeaderName::from_static("x-tenant"))
    );
    assert_eq!(route.limits[0].callers, crate::limits::Callers::Keyed);
    assert_eq!(route.limits[1].by, crate::limits::LimitBy::Consumer);
    assert_eq!(route.cost, 3);
    assert_eq!(route.rate_limit_headers, crate::limits::HeaderMode::Legacy);
    let plan = &weather.plans[0].limits[0];
    assert_eq!(&*plan.name, "weather.plan.premium.0");
    assert_eq!(plan.by, crate::limits::LimitBy::Subscription);
    assert_ne!(plan.id, route.limits[1].id);
}

#[test]
fn bad_limits_are_refused_at_their_place() {
    let base = "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    routes: [{name: r, paths: [\"/\"]}]\n";
    for (limit, at, message) in [
        (
            "{count: 0, per: minute}",
            "0,",
            "`count` is a whole number from 1",
        ),
        (
            "{count: 5, per: week}",
            "week",
            "`per` takes second, minute",
        ),
        (
            "{count: 5, per: day, by: ip}",
            "ip",
            "`by` takes key, consumer",
        ),
        (
            "{count: 5, per: day, callers: some}",
            "some",
            "`callers` takes all",
        ),
        (
            "{count: 5, per: day, name: \"a b\"}",
            "\"a b",
            "a limit name uses",
        ),
        (
            "{count: 5, per: hour, kind: quota}",
            "hour",
            "a quota's `per` is day or month",
        ),
        (
            "{count: 5, per: day, kind: bucket}",
            "bucket",
            "`kind` takes rate or quota",
        ),
    ] {
        let line = format!("    limits: [{limit}]");
        let column = line.find(at).unwrap() + 1;
        let text = format!("{base}{line}\n");
        let problem = only_problem(&text);
        assert_eq!(
            (problem.line, problem.column),
            (5, column),
            "{limit}: {problem:?}"
        );
        assert!(problem.message.contains(message), "{limit}: {problem:?}");
    }
    let text = format!("{base}    limits: [{{count: -1, per: day}}]\n");
    assert_eq!(only_problem(&text).line, 5);
    let text = base.replace("paths: [\"/\"]", "paths: [\"/\"], rate_limit_headers: loud");
    assert!(only_problem(&text)
        .message
        .contains("`rate_limit_headers` takes ietf"));
}
