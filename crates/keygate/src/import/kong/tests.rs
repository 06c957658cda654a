//! The Kong mapping, item by item, on the decK fixture and small files.

use serde_json::json;

use crate::import::document::{KeySource, Upstream};
use crate::import::report::Outcome;
use crate::import::{import as import_text, Options, Peer};

const FIXTURE: &str = include_str!("../../../tests/import/kong.yaml");

fn imported(file: serde_json::Value) -> crate::import::Imported {
    super::import(&file, Options::default()).expect("imports")
}

#[test]
fn the_fixture_imports_and_validates() {
    let (imported, yaml) = import_text(Peer::Kong, FIXTURE, Options::default()).expect("valid");
    let names: Vec<&str> = imported
        .document
        .services
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["orders", "orders-orders-admin", "status"]);
    let orders = &imported.document.services[0];
    assert_eq!(orders.path_prefix.as_deref(), Some("/orders"));
    assert!(matches!(&orders.upstream, Upstream::Url(u) if u == "http://orders.internal:8080/api"));
    let read = &orders.routes[0];
    assert_eq!(read.methods, ["GET"]);
    assert_eq!(read.forward_key, Some(false));
    assert_eq!(
        read.key_sources,
        [
            KeySource::Header("apikey".into()),
            KeySource::Query("apikey".into())
        ]
    );
    assert_eq!(read.allow.as_deref(), Some("['gold', 'silver'] in groups"));
    // The route's own acl replaces the service's.
    let admin = &imported.document.services[1].routes[0];
    assert_eq!(admin.allow.as_deref(), Some("!(groups['silver'])"));
    assert_eq!(admin.limits.len(), 2);
    let status = &imported.document.services[2];
    assert_eq!(status.strip_prefix, Some(false));
    assert_eq!(status.routes[0].auth, Some("none"));
    // No key in the output, only hashes; the short key too.
    for key in ["alice-secret-key-0001", "bob-secret-key-0002", "short"] {
        assert!(!yaml.contains(key), "{key} in\n{yaml}");
    }
    assert_eq!(imported.report.keys_hashed, 3);
    let carol = &imported.document.consumers[2];
    assert_eq!(carol.name, "carol-the-intern");
    assert_eq!(carol.groups, ["bronze"]);
    let alice = &imported.document.consumers[0];
    assert_eq!(alice.metadata["custom_id"], "cust-001");
    assert_eq!(
        alice.keys[0].id.as_deref(),
        Some("6b3b6f0c-4a4e-4bbf-9a2b-0e1b9c6f7d10")
    );
    let text = imported.report.render();
    for left_out in ["plugin cors", "path ~/status/v[0-9]+$", "connect_timeout"] {
        assert!(text.contains(left_out), "{left_out} not reported:\n{text}");
    }
}

#[test]
fn plaintext_is_kept_only_when_asked_and_custom() {
    let options = Options {
        keep_plaintext: true,
    };
    let (imported, yaml) = import_text(Peer::Kong, FIXTURE, options).expect("valid");
    assert!(yaml.contains("key: alice-secret-key-0001"), "{yaml}");
    assert!(!yaml.contains("short"), "{yaml}");
    assert_eq!(
        (imported.report.keys_plaintext, imported.report.keys_hashed),
        (2, 1)
    );
}

#[test]
fn key_auth_options_map_or_are_reported() {
    let file = json!({
        "_format_version": "3.0",
        "services": [{"name": "s", "url": "https://api.example:8443", "routes": [{
            "name": "r", "hosts": ["api.example.com"], "paths": ["/"],
            "plugins": [{"name": "key-auth", "config": {
                "key_names": ["api_key", "x-key"], "key_in_query": false,
                "key_in_body": true, "anonymous": "guest"}}]}]}]
    });
    let imported = imported(file);
    let service = &imported.document.services[0];
    assert_eq!(service.hosts, ["api.example.com"]);
    assert_eq!(service.path_prefix, None);
    let route = &service.routes[0];
    assert_eq!(
        route.key_sources,
        [
            KeySource::Header("api_key".into()),
            KeySource::Header("x-key".into()),
            KeySource::Body("api_key".into()),
            KeySource::Body("x-key".into())
        ]
    );
    // Kong's default hide_credentials is false: the key goes upstream.
    assert_eq!(route.forward_key, Some(true));
    let text = imported.report.render();
    assert!(
        text.contains("mapped    route s/r: key-auth key_in_body: a `body` key source per name"),
        "{text}"
    );
    assert!(
        text.contains("changed   route s/r: key-auth key_in_body: keygate reads every name's header and query before any body field"),
        "{text}"
    );
    assert!(
        text.contains("left out  route s/r: key-auth anonymous consumer guest"),
        "no consumer guest in the file: {text}"
    );
    assert!(text.contains("underscores_in_headers"), "{text}");
}

#[test]
fn rate_limits_count_as_kong_says() {
    let limit_by = |by: serde_json::Value| {
        let file = json!({"_format_version": "3.0", "services": [{"name": "s", "url": "http://u",
            "routes": [{"name": "r", "paths": ["/a"], "plugins": [
                {"name": "key-auth"},
                {"name": "rate-limiting", "config": {"second": 5, "year": 9, "limit_by": by,
                    "header_name": "x-tenant"}}]}]}]});
        let imported = imported(file);
        let limits = imported.document.services[0].routes[0].limits.clone();
        (limits, imported.report.render())
    };
    let (limits, text) = limit_by(json!("ip"));
    assert_eq!((limits[0].count, limits[0].per), (5, "second"));
    assert_eq!(limits[0].by.as_deref(), Some("client_address"));
    assert!(text.contains("rate-limiting year"), "{text}");
    assert_eq!(
        limit_by(json!("credential")).0[0].by.as_deref(),
        Some("key")
    );
    assert_eq!(
        limit_by(json!("header")).0[0].by.as_deref(),
        Some("header:x-tenant")
    );
    let (limits, text) = limit_by(json!("path"));
    assert!(limits.is_empty());
    assert!(text.contains("limit_by path"), "{text}");
}

#[test]
fn upstreams_become_weighted_targets() {
    let file = json!({"_format_version": "3.0",
        "upstreams": [{"name": "pool", "targets": [
            {"target": "10.0.0.1:9000", "weight": 100},
            {"target": "10.0.0.2", "weight": 50},
            {"target": "10.0.0.3:9000", "weight": 0}]}],
        "services": [{"name": "s", "host": "pool", "path": "/v2", "routes": [{"name": "r"}]}]});
    let imported = imported(file);
    let Upstream::Targets { targets } = &imported.document.services[0].upstream else {
        panic!("targets expected");
    };
    let urls: Vec<(&str, u32)> = targets.iter().map(|t| (t.url.as_str(), t.weight)).collect();
    assert_eq!(
        urls,
        [
            ("http://10.0.0.1:9000/v2", 100),
            ("http://10.0.0.2:8000/v2", 50)
        ]
    );
}

#[test]
fn top_level_credentials_find_their_consumer() {
    let file = json!({"_format_version": "3.0",
        "consumers": [{"username": "dave", "id": "c-1"}],
        "keyauth_credentials": [{"consumer": "c-1", "key": "dave-key-123456"},
                                {"consumer": "nobody", "key": "lost-key-123456"}],
        "acls": [{"consumer": {"username": "dave"}, "group": "ops"}]});
    let imported = imported(file);
    let dave = &imported.document.consumers[0];
    assert_eq!(dave.keys.len(), 1);
    assert_eq!(dave.groups, ["ops"]);
    assert_eq!(imported.report.count(Outcome::LeftOut), 1);
}

#[test]
fn a_file_without_format_version_is_refused() {
    let error = super::import(&json!({"services": []}), Options::default()).expect_err("refused");
    assert!(error.to_string().contains("_format_version"), "{error}");
}

#[test]
fn the_cors_plugin_becomes_the_services_policy() {
    let file = json!({
        "_format_version": "3.0",
        "services": [{"name": "web", "url": "http://127.0.0.1:9001", "routes": [
            {"name": "a", "paths": ["/a"], "plugins": [{"name": "cors", "config": {
                "origins": ["https://app.example.com", "https://.*\\.example\\.org", "https://(x|y)\\.test"],
                "methods": ["GET", "POST"], "headers": ["apikey"], "exposed_headers": ["X-Request-Id"],
                "credentials": true, "max_age": 600, "preflight_continue": false}}]},
            {"name": "b", "paths": ["/b"], "plugins": [{"name": "cors", "config": {"credentials": true}}]}]}]
    });
    let (imported, yaml) =
        import_text(Peer::Kong, &file.to_string(), Options::default()).expect("valid");
    let first = imported.document.services[0].cors.as_ref().expect("cors");
    assert_eq!(
        first.origins,
        ["https://app.example.com", "https://*.example.org"]
    );
    assert_eq!(first.methods, ["GET", "POST"]);
    assert_eq!(first.headers, ["apikey"]);
    assert_eq!(first.expose_headers, ["X-Request-Id"]);
    assert!(first.credentials);
    assert_eq!(first.max_age.as_deref(), Some("600s"));
    // Route b is a service of its own: any origin, and so no credentials.
    let second = imported.document.services[1].cors.as_ref().expect("cors");
    assert_eq!(second.origins, ["*"]);
    assert!(!second.credentials);
    let text = imported.report.render();
    assert!(
        text.contains("left out  route web/a: cors origin https://(x|y)"),
        "{text}"
    );
    assert!(
        text.contains("changed   route web/b: cors credentials"),
        "{text}"
    );
    assert!(yaml.contains("cors:"), "{yaml}");
}

#[test]
fn the_anonymous_consumer_is_found_by_id_or_username() {
    let key_auth =
        |anonymous: &str| json!([{"name": "key-auth", "config": {"anonymous": anonymous}}]);
    let file = json!({
        "_format_version": "3.0",
        "consumers": [
            {"username": "guest", "id": "7b5c2a9e-0000-4000-8000-000000000001"},
            {"username": "other"}],
        "services": [{"name": "s", "url": "http://u", "routes": [
            {"name": "by-id", "paths": ["/a"],
             "plugins": key_auth("7b5c2a9e-0000-4000-8000-000000000001")},
            {"name": "by-name", "paths": ["/a"], "plugins": key_auth("guest")},
            {"name": "another", "paths": ["/a"], "plugins": key_auth("other")},
            {"name": "keyed", "paths": ["/a"], "plugins": [{"name": "key-auth"}]}]}]
    });
    let (imported, yaml) =
        import_text(Peer::Kong, &file.to_string(), Options::default()).expect("valid");
    let service = &imported.document.services[0];
    assert_eq!(service.anonymous_consumer.as_deref(), Some("guest"));
    assert_eq!(service.anonymous_on_invalid_key, Some(true));
    let auth: Vec<Option<&str>> = service.routes.iter().map(|r| r.auth).collect();
    assert_eq!(auth, [Some("optional"), Some("optional"), None, None]);
    assert!(yaml.contains("anonymous_consumer: guest"), "{yaml}");
    let text = imported.report.render();
    assert!(
        text.contains("mapped    route s/by-id: key-auth anonymous consumer 7b5c2a9e"),
        "{text}"
    );
    assert!(
        text.contains("left out  route s/another: key-auth anonymous consumer other"),
        "one anonymous consumer per service: {text}"
    );
    assert!(text.contains("anonymous_on_invalid_key: true"), "{text}");
}
