//! Consumers through the admin API and the CLI: deletion with their keys and
//! subscriptions (`?cascade=true`, `--cascade`).

use crate::support::{Echo, Gateway};

/// `DELETE /v1/consumers/{name}?cascade=true` (and the CLI's `--cascade`) deletes the
/// consumer with its keys and subscriptions, as Kong and APISIX delete a consumer with
/// its credentials; without it, a consumer with keys is `409` and nothing changes.
#[test]
fn a_consumer_is_deleted_with_its_keys_only_when_asked() {
    let echo = Echo::start("up");
    let gateway = Gateway::start(&format!(
        "services:\n  - name: api\n    upstream: {}\n    routes: [{{name: all, paths: ['/*']}}]\n    plans: [{{name: gold}}]\n",
        echo.url()
    ));
    for name in ["acme", "beta"] {
        let created = gateway.admin("PUT", &format!("/v1/consumers/{name}"), "{}");
        assert_eq!(created.status, 201, "{created:?}");
        let key = format!(r#"{{"key":"{name}-key-0123456"}}"#);
        let path = format!("/v1/consumers/{name}/keys");
        assert_eq!(gateway.admin("POST", &path, &key).status, 201);
        let body = format!(r#"{{"consumer":"{name}","service":"api","plan":"gold"}}"#);
        let subscribed = gateway.admin("POST", "/v1/subscriptions", &body);
        assert_eq!(subscribed.status, 201, "{subscribed:?}");
    }
    let on_api = |key: &str| gateway.get("/x", &[("apikey", key)]).status;
    assert_eq!(
        on_api("acme-key-0123456"),
        403,
        "the shared key has no subscription"
    );

    let refused = gateway.admin("DELETE", "/v1/consumers/acme", "");
    assert_eq!(refused.status, 409, "{refused:?}");
    assert_eq!(gateway.admin("GET", "/v1/consumers/acme", "").status, 200);

    let deleted = gateway.admin("DELETE", "/v1/consumers/acme?cascade=true", "");
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_eq!(gateway.admin("GET", "/v1/consumers/acme", "").status, 404);
    assert_eq!(on_api("acme-key-0123456"), 401);
    let left = gateway
        .admin("GET", "/v1/subscriptions?consumer=acme", "")
        .json();
    assert_eq!(left["data"].as_array().unwrap().len(), 0, "{left}");
    let keys = gateway.admin("GET", "/v1/keys?consumer=acme", "").json();
    assert_eq!(keys["data"].as_array().unwrap().len(), 0, "{keys}");

    crate::cli::cli(&gateway, "consumers delete beta").fails_with("keygate: 409 conflict: ");
    crate::cli::cli(&gateway, "consumers delete beta --cascade").ok();
    assert_eq!(gateway.admin("GET", "/v1/consumers/beta", "").status, 404);
    assert_eq!(
        gateway
            .admin("DELETE", "/v1/consumers/beta?cascade=true", "")
            .status,
        404
    );
}
