//! The APISIX mapping on the standalone fixture, the Admin API dump fixture and small
//! files.

use serde_json::json;

use crate::import::document::{KeySource, Upstream};
use crate::import::{import as import_text, Options, Peer};

const STANDALONE: &str = include_str!("../../../tests/import/apisix.yaml");
const ADMIN_DUMP: &str = include_str!("../../../tests/import/apisix-admin.json");

#[test]
fn the_standalone_file_imports_and_validates() {
    let (imported, yaml) =
        import_text(Peer::Apisix, STANDALONE, Options::default()).expect("valid");
    let services = &imported.document.services;
    assert_eq!(services.len(), 3);
    let list = &services[0];
    assert_eq!(list.routes[0].paths, ["/orders", "/orders/*"]);
    assert_eq!(list.preserve_host, None, "pass_host: node");
    assert_eq!(
        list.routes[0].allow.as_deref(),
        Some("['gold', 'silver'] in groups")
    );
    // The service's key-auth reaches the route.
    assert_eq!(list.routes[0].forward_key, Some(false));
    let admin = &services[1].routes[0];
    assert_eq!(admin.allow.as_deref(), Some("!(groups['silver'])"));
    assert_eq!(
        (admin.limits[0].count, admin.limits[0].per),
        (100, "minute")
    );
    assert_eq!(admin.limits[0].by.as_deref(), Some("consumer"));
    let health = &services[2];
    assert_eq!(health.routes[0].auth, Some("none"));
    assert_eq!(
        health.preserve_host,
        Some(true),
        "pass_host: pass, the default"
    );
    let bob = &imported.document.consumers[1];
    assert_eq!(bob.groups, ["silver"]);
    assert_eq!(bob.keys[0].id.as_deref(), Some("primary"));
    assert_eq!(imported.report.keys_hashed, 3);
    for key in ["alice-secret-key-0001", "bob-secret-key-0002", "short"] {
        assert!(!yaml.contains(key), "{key} in\n{yaml}");
    }
    let text = imported.report.render();
    assert!(text.contains("plugin prometheus"), "{text}");
    assert!(text.contains("consumer group gold: plugins"), "{text}");
}

#[test]
fn the_admin_api_dump_imports_with_credentials() {
    let (imported, _) = import_text(Peer::Apisix, ADMIN_DUMP, Options::default()).expect("valid");
    let orders = &imported.document.services[0];
    let Upstream::Targets { targets } = &orders.upstream else {
        panic!("two nodes are two targets");
    };
    assert_eq!(targets[1].weight, 2);
    assert_eq!(
        orders.routes[0].key_sources,
        [
            KeySource::Header("x-api-key".into()),
            KeySource::Query("api_key".into())
        ]
    );
    assert_eq!(orders.routes[0].forward_key, Some(true));
    let keys: Vec<Option<&str>> = imported
        .document
        .consumers
        .iter()
        .map(|c| c.keys[0].id.as_deref())
        .collect();
    assert_eq!(keys, [Some("a1"), Some("b1")]);
}

#[test]
fn one_list_response_and_named_lists_are_read_too() {
    let file = json!({"routes": {"list": [{"key": "/apisix/routes/1",
        "value": {"id": "1", "uri": "/x", "upstream": {"nodes": {"127.0.0.1:1980": 1}},
                  "plugins": {"consumer-restriction": {"whitelist": ["jack"]}, "key-auth": {}}}}]},
        "consumers": [{"username": "jack", "plugins": {"key-auth": {"key": "jack-key-123456"}}}]});
    let imported = super::import(&file, Options::default()).expect("imports");
    let route = &imported.document.services[0].routes[0];
    assert_eq!(route.allow.as_deref(), Some("consumer in ['jack']"));
    assert_eq!(imported.document.consumers[0].keys.len(), 1);
}

#[test]
fn a_file_of_something_else_is_refused() {
    let error = super::import(&json!({"apis": []}), Options::default()).expect_err("refused");
    assert!(error.to_string().contains("apisix.yaml"), "{error}");
}

#[test]
fn the_cors_plugin_becomes_the_services_policy() {
    let file = json!({"routes": {"list": [{"key": "/apisix/routes/1",
        "value": {"id": "1", "uri": "/x", "upstream": {"nodes": {"127.0.0.1:1980": 1}},
                  "plugins": {"key-auth": {}, "cors": {
                      "allow_origins": "https://app.example.com,https://admin.example.com",
                      "allow_methods": "GET,POST", "allow_headers": "*",
                      "allow_credential": true, "max_age": 3600}}}}]}});
    let (imported, yaml) =
        import_text(Peer::Apisix, &file.to_string(), Options::default()).expect("valid");
    let cors = imported.document.services[0].cors.as_ref().expect("cors");
    assert_eq!(
        cors.origins,
        ["https://app.example.com", "https://admin.example.com"]
    );
    assert_eq!(cors.methods, ["GET", "POST"]);
    assert!(
        cors.headers.is_empty(),
        "`*`: the fields a preflight asks for"
    );
    assert!(cors.credentials);
    assert_eq!(cors.max_age.as_deref(), Some("3600s"));
    assert!(yaml.contains("cors:"), "{yaml}");
    // The defaults: any origin, APISIX's 5 seconds.
    let file = json!({"routes": {"list": [{"key": "/apisix/routes/2",
        "value": {"id": "2", "uri": "/y", "upstream": {"nodes": {"127.0.0.1:1980": 1}},
                  "plugins": {"cors": {}}}}]}});
    let imported = super::import(&file, Options::default()).expect("imports");
    let cors = imported.document.services[0].cors.as_ref().expect("cors");
    assert_eq!(cors.origins, ["*"]);
    assert_eq!(cors.max_age.as_deref(), Some("5s"));
}

#[test]
fn the_anonymous_consumer_maps_to_the_services() {
    let route = |id: &str, anonymous: &str| {
        json!({"id": id, "uri": "/x", "upstream": {"nodes": {"127.0.0.1:1980": 1}},
               "plugins": {"key-auth": {"anonymous_consumer": anonymous}}})
    };
    let file = json!({
        "routes": [route("1", "anonymous"), route("2", "nobody")],
        "consumers": [
            {"username": "anonymous", "plugins": {"limit-count": {"count": 1, "time_window": 60}}},
            {"username": "jack", "plugins": {"key-auth": {"key": "jack-key-123456"}}}]
    });
    let text = serde_json::to_string(&file).expect("JSON");
    let (imported, yaml) = import_text(Peer::Apisix, &text, Options::default()).expect("valid");
    let [served, unknown] = &imported.document.services[..] else {
        panic!("two services");
    };
    assert_eq!(served.anonymous_consumer.as_deref(), Some("anonymous"));
    assert_eq!(served.anonymous_on_invalid_key, Some(true));
    assert_eq!(served.routes[0].auth, Some("optional"));
    assert_eq!(unknown.anonymous_consumer, None);
    assert_eq!(unknown.routes[0].auth, None, "a key is required");
    assert!(yaml.contains("anonymous_consumer: anonymous"), "{yaml}");
    let report = imported.report.render();
    assert!(
        report.contains("left out  route 2: key-auth anonymous consumer nobody: the consumer is not in the file"),
        "{report}"
    );
    assert!(report.contains("Invalid user authorization"), "{report}");
    assert!(
        report.contains("left out  consumer anonymous: plugin limit-count"),
        "{report}"
    );
}
