//! The Gravitee mapping on the v2 and v4 export fixtures.

use serde_json::json;

use crate::import::document::Upstream;
use crate::import::{import as import_text, Options, Peer};

const V2: &str = include_str!("../../../tests/import/gravitee-v2.json");
const V4: &str = include_str!("../../../tests/import/gravitee-v4.json");

#[test]
fn v2_plans_subscriptions_and_keys() {
    let (imported, yaml) = import_text(Peer::Gravitee, V2, Options::default()).expect("valid");
    let service = &imported.document.services[0];
    assert_eq!(service.path_prefix.as_deref(), Some("/weather"));
    let plans: Vec<&str> = service.plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(plans, ["Premium", "Standard", "Partners"]);
    assert_eq!(service.plans[0].forward_key, Some(true));
    assert_eq!(
        service.plans[0].selection_rule.as_deref(),
        Some("request.headers['x-plan'] === 'premium'")
    );
    assert_eq!(service.plans[1].auto_approve, Some(false));
    // A rule without a keygate form closes the plan rather than opening it.
    assert_eq!(service.plans[2].selection_rule.as_deref(), Some("false"));
    let statuses: Vec<&str> = imported
        .document
        .subscriptions
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, ["accepted", "accepted", "paused"]);
    let alice = &imported.document.consumers[0];
    assert_eq!(alice.name, "Alice-mobile");
    assert_eq!(alice.keys.len(), 1, "the revoked key is left out");
    assert_eq!(
        alice.keys[0].expires_at.as_deref(),
        Some("2100-01-01T00:00:00Z")
    );
    assert!(!yaml.contains("alice-secret-key-0001"), "{yaml}");
    let text = imported.report.render();
    assert!(text.contains("security KEY_LESS"), "{text}");
    assert!(text.contains("plan Standard: flows"), "{text}");
}

#[test]
fn v4_export_reads_listeners_and_endpoint_groups() {
    let (imported, _) = import_text(Peer::Gravitee, V4, Options::default()).expect("valid");
    let service = &imported.document.services[0];
    assert_eq!(service.path_prefix.as_deref(), Some("/weather"));
    let Upstream::Targets { targets } = &service.upstream else {
        panic!("two endpoints are two targets");
    };
    assert_eq!(targets[1].url, "http://weather-b.internal:8080/v1");
    assert_eq!(targets[1].weight, 3);
    assert_eq!(service.plans.len(), 2, "the JWT plan is left out");
    assert_eq!(imported.document.subscriptions[0].plan, "Premium");
    assert_eq!(imported.report.keys_hashed, 3);
}

#[test]
fn other_json_is_refused() {
    let error = super::import(&json!({"name": "x"}), Options::default()).expect_err("refused");
    assert!(error.to_string().contains("Gravitee"), "{error}");
}

#[test]
fn response_templates_become_the_services() {
    let mut file: serde_json::Value = serde_json::from_str(V4).expect("fixture");
    file["api"]["responseTemplates"] = json!({
        "API_KEY_MISSING": {"*/*": {"status": 401, "body": "{\"error\":\"no key\"}",
                                    "headers": {"Content-Type": "application/json", "X-Why": "missing"}},
                            "text/html": {"status": 401, "body": "<p>no key</p>"}},
        "API_KEY_INVALID": {"application/json": {"status": 403, "body": "{\"error\":\"{#context.attributes['k']}\"}"}},
        "GATEWAY_PLAN_UNRESOLVABLE": {"*/*": {"status": 401}},
        "REQUEST_TIMEOUT": {"*/*": {"status": 504}}
    });
    let (imported, yaml) =
        import_text(Peer::Gravitee, &file.to_string(), Options::default()).expect("valid");
    let templates = &imported.document.services[0]
        .responses
        .as_ref()
        .expect("responses")
        .templates;
    let keys: Vec<&str> = templates.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["API_KEY_INVALID", "API_KEY_MISSING", "NOT_SUBSCRIBED"]
    );
    let missing = &templates["API_KEY_MISSING"];
    assert_eq!(missing.status, 401);
    assert_eq!(missing.content_type.as_deref(), Some("application/json"));
    assert_eq!(missing.headers["X-Why"], "missing");
    assert_eq!(templates["NOT_SUBSCRIBED"].status, 401);
    let text = imported.report.render();
    assert!(
        text.contains("left out  API Weather: response template REQUEST_TIMEOUT"),
        "{text}"
    );
    assert!(text.contains("whatever the Accept"), "{text}");
    assert!(text.contains("expressions are sent as written"), "{text}");
    assert!(yaml.contains("API_KEY_MISSING"), "{yaml}");
}

#[test]
fn a_rejections_reason_is_kept_other_messages_left_out() {
    let mut file: serde_json::Value = serde_json::from_str(V2).expect("fixture");
    let subscriptions = file["subscriptions"].as_array_mut().expect("a list");
    subscriptions[0]["reason"] = json!("Welcome aboard");
    subscriptions.push(
        json!({"id": "sub-dave", "plan": "8c1d3f2a-0000-4000-8000-000000000002",
        "application": {"id": "app-4", "name": "dave"}, "status": "REJECTED",
        "publisherMessage": "Standard is for partners under contract."}),
    );
    subscriptions.push(
        json!({"id": "sub-erin", "plan": "8c1d3f2a-0000-4000-8000-000000000002",
        "application": {"id": "app-5", "name": "erin"}, "status": "REJECTED",
        "reason": "x".repeat(501)}),
    );
    let (imported, yaml) =
        import_text(Peer::Gravitee, &file.to_string(), Options::default()).expect("valid");
    let reasons: Vec<Option<&str>> = imported
        .document
        .subscriptions
        .iter()
        .map(|s| s.reason.as_deref())
        .collect();
    assert_eq!(
        reasons,
        [
            None,
            None,
            None,
            Some("Standard is for partners under contract."),
            None
        ]
    );
    assert!(
        yaml.contains("reason: Standard is for partners under contract."),
        "{yaml}"
    );
    let text = imported.report.render();
    assert!(
        text.contains("subscription sub-alice-premium: the publisher's message"),
        "{text}"
    );
    assert!(text.contains("a reason has 1 to 500 characters"), "{text}");
    // The written file is one keygate starts from.
    crate::config::Config::parse("imported.yaml", &yaml).expect("a valid configuration");
}
