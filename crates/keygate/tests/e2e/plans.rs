//! API key plans and subscriptions (Gravitee): plan selection by rule, own and shared
//! keys across services, every subscription status and transition, renew, revoke and
//! reactivate — through the admin API and the proxy, over real sockets.

use serde_json::Value;

use crate::support::{Echo, Gateway};

/// Two services with plans (`orders`: gold then silver, chosen by the `x-plan` header;
/// `billing`: basic; `manual`: reviewed, whose subscriptions start pending) and one
/// without (`open`).
fn config(echo: &Echo) -> String {
    format!(
        r#"
services:
  - name: orders
    path_prefix: /orders
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
    plans:
      - name: gold
        selection_rule: "request.headers['x-plan'] === 'gold'"
        forward_key: true
      - name: silver
        selection_rule: "request.headers['x-plan'] !== 'gold'"
  - name: billing
    path_prefix: /billing
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
    plans:
      - name: basic
  - name: manual
    path_prefix: /manual
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
    plans:
      - name: reviewed
        auto_approve: false
  - name: open
    path_prefix: /open
    upstream: {url}
    routes: [{{name: all, paths: ["/*"]}}]
"#,
        url = echo.url()
    )
}

fn start() -> (Gateway, Echo) {
    let echo = Echo::start("plans");
    let gateway = Gateway::start(&config(&echo));
    let consumer = gateway.admin("PUT", "/v1/consumers/alice", "{}");
    assert_eq!(consumer.status, 201, "{consumer:?}");
    (gateway, echo)
}

/// Creates a subscription; returns its answer (with the key's plaintext, if one was made).
fn subscribe(gateway: &Gateway, service: &str, plan: &str, extra: &str) -> Value {
    let body =
        format!(r#"{{"consumer": "alice", "service": "{service}", "plan": "{plan}"{extra}}}"#);
    let created = gateway.admin("POST", "/v1/subscriptions", &body);
    assert_eq!(created.status, 201, "{created:?}");
    created.json()
}

fn plaintext(subscription: &Value) -> String {
    subscription["key"]["key"]
        .as_str()
        .expect("a key was issued")
        .to_owned()
}

fn call(gateway: &Gateway, path: &str, key: &str, plan: Option<&str>) -> u16 {
    let mut headers = vec![("apikey", key)];
    if let Some(plan) = plan {
        headers.push(("x-plan", plan));
    }
    gateway.get(path, &headers).status
}

fn act(gateway: &Gateway, id: &str, action: &str) -> u16 {
    let path = format!("/v1/subscriptions/{id}/{action}");
    gateway.admin("POST", &path, "").status
}

fn denials(gateway: &Gateway) -> Vec<Value> {
    let text = std::fs::read_to_string(&gateway.access_log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .collect()
}

#[test]
fn selection_rules_choose_the_plan_and_only_its_subscription_key_passes() {
    let (gateway, _echo) = start();
    let gold = subscribe(&gateway, "orders", "gold", "");
    let silver = subscribe(&gateway, "orders", "silver", "");
    assert_eq!(gold["status"], "accepted");
    assert_eq!(gold["key"]["subscription"], gold["id"]);
    let (gold_key, silver_key) = (plaintext(&gold), plaintext(&silver));

    let through_gold = gateway.get(
        "/orders/items",
        &[("apikey", &gold_key), ("x-plan", "gold")],
    );
    assert_eq!(through_gold.status, 200, "{through_gold:?}");
    assert_eq!(
        through_gold.upstream_header("apikey").as_deref(),
        Some(gold_key.as_str()),
        "gold propagates the key upstream"
    );
    let through_silver = gateway.get("/orders/items", &[("apikey", &silver_key)]);
    assert_eq!(through_silver.status, 200);
    assert_eq!(
        through_silver.upstream_header("apikey"),
        None,
        "silver strips it"
    );

    // Each key passes only through its own plan, whichever the header selects.
    let refused = gateway.get("/orders/items", &[("apikey", &gold_key)]);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.message(), "You cannot consume this service");
    assert_eq!(call(&gateway, "/orders/x", &silver_key, Some("gold")), 403);
    // No subscription on billing; a service without plans takes any valid key.
    assert_eq!(call(&gateway, "/billing/x", &gold_key, None), 403);
    assert_eq!(call(&gateway, "/open/x", &gold_key, None), 200);
    // An unknown key is 401, never a fall back to some plan.
    let unknown = gateway.get("/orders/x", &[("apikey", "no-such-key-123")]);
    assert_eq!(unknown.status, 401);
    assert_eq!(call(&gateway, "/orders/x", "", None), 401);

    // The log names the plan and subscription, or why none let the key through.
    crate::support::eventually("the access log is written", || denials(&gateway).len() >= 8);
    let lines = denials(&gateway);
    let first = &lines[0];
    assert_eq!(first["plan"], "gold");
    assert_eq!(first["subscription"], gold["id"]);
    let reasons: Vec<&str> = lines.iter().filter_map(|l| l["denial"].as_str()).collect();
    assert!(reasons.contains(&"plan_rule_false"), "{reasons:?}");
    assert!(reasons.contains(&"no_subscription"), "{reasons:?}");
}

#[test]
fn shared_key_serves_one_plan_per_service_and_is_renewed_and_revoked_for_all() {
    let (gateway, _echo) = start();
    let orders = subscribe(&gateway, "orders", "silver", r#", "key_mode": "shared""#);
    let shared = plaintext(&orders);
    assert_eq!(orders["key"]["shared"], true);
    let billing = subscribe(&gateway, "billing", "basic", r#", "key_mode": "shared""#);
    assert!(billing["key"].is_null(), "the existing shared key is used");
    assert_eq!(call(&gateway, "/orders/x", &shared, None), 200);
    assert_eq!(call(&gateway, "/billing/x", &shared, None), 200);

    // A second plan of the same service cannot take the shared key.
    let refused = gateway.admin(
        "POST",
        "/v1/subscriptions",
        r#"{"consumer": "alice", "service": "orders", "plan": "gold", "key_mode": "shared"}"#,
    );
    assert_eq!(refused.status, 422, "{refused:?}");
    let message = refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("one plan per service"), "{message}");
    // An own key on that plan is fine.
    let own = subscribe(&gateway, "orders", "gold", r#", "key": "alice-gold-key-1""#);
    assert_eq!(
        call(&gateway, "/orders/x", "alice-gold-key-1", Some("gold")),
        200
    );
    assert_eq!(own["key"]["key"], "alice-gold-key-1");

    // Renewed once for every subscription; the old key works through the grace period.
    let key_id = orders["key"]["id"].as_str().unwrap();
    let renewed = gateway.admin(
        "POST",
        &format!("/v1/keys/{key_id}/renew"),
        r#"{"grace": "1h"}"#,
    );
    assert_eq!(renewed.status, 201, "{renewed:?}");
    let new_key = renewed.json()["key"].as_str().unwrap().to_owned();
    let new_id = renewed.json()["id"].as_str().unwrap().to_owned();
    for key in [&shared, &new_key] {
        assert_eq!(call(&gateway, "/orders/x", key, None), 200);
        assert_eq!(call(&gateway, "/billing/x", key, None), 200);
    }

    // Revoked for every subscription at once; reactivated while they are accepted.
    let revoked = gateway.admin("POST", &format!("/v1/keys/{new_id}/revoke"), "");
    assert_eq!(revoked.status, 200);
    assert_eq!(call(&gateway, "/orders/x", &new_key, None), 401);
    assert_eq!(call(&gateway, "/billing/x", &new_key, None), 401);
    // With every shared key revoked (the old one too), a new shared-key subscription
    // must not mint a shared key that would bring the revoked subscriptions back.
    let old_revoked = gateway.admin("POST", &format!("/v1/keys/{key_id}/revoke"), "");
    assert_eq!(old_revoked.status, 200);
    assert_eq!(call(&gateway, "/billing/x", &shared, None), 401);
    let minted = gateway.admin(
        "POST",
        "/v1/subscriptions",
        r#"{"consumer": "alice", "service": "manual", "plan": "reviewed", "key_mode": "shared"}"#,
    );
    assert_eq!(minted.status, 422, "{minted:?}");
    let reactivated = gateway.admin("POST", &format!("/v1/keys/{new_id}/reactivate"), "");
    assert_eq!(reactivated.status, 200, "{reactivated:?}");
    assert_eq!(call(&gateway, "/billing/x", &new_key, None), 200);
}

#[test]
fn every_status_and_transition() {
    let (gateway, _echo) = start();
    let pending = subscribe(&gateway, "manual", "reviewed", "");
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap();
    let key = plaintext(&pending);
    assert_eq!(call(&gateway, "/manual/x", &key, None), 403);

    // Only legal transitions: 409 otherwise, and nothing changes.
    for action in ["pause", "resume"] {
        assert_eq!(act(&gateway, id, action), 409, "{action} a pending one");
    }
    assert_eq!(act(&gateway, id, "accept"), 200);
    assert_eq!(call(&gateway, "/manual/x", &key, None), 200);
    assert_eq!(act(&gateway, id, "accept"), 409);
    assert_eq!(act(&gateway, id, "reject"), 409);
    assert_eq!(act(&gateway, id, "pause"), 200);
    assert_eq!(call(&gateway, "/manual/x", &key, None), 403);
    assert_eq!(act(&gateway, id, "resume"), 200);
    assert_eq!(call(&gateway, "/manual/x", &key, None), 200);

    // A revoked key comes back only while its subscription is accepted or paused.
    let key_id = pending["key"]["id"].as_str().unwrap();
    assert_eq!(
        gateway
            .admin("POST", &format!("/v1/keys/{key_id}/revoke"), "")
            .status,
        200
    );
    assert_eq!(call(&gateway, "/manual/x", &key, None), 401);
    assert_eq!(act(&gateway, id, "pause"), 200);
    assert_eq!(
        gateway
            .admin("POST", &format!("/v1/keys/{key_id}/reactivate"), "")
            .status,
        200
    );
    assert_eq!(call(&gateway, "/manual/x", &key, None), 403, "still paused");
    assert_eq!(act(&gateway, id, "close"), 200);
    assert_eq!(call(&gateway, "/manual/x", &key, None), 403);
    assert_eq!(act(&gateway, id, "resume"), 409, "closed is final");
    let renewal = gateway.admin("POST", &format!("/v1/keys/{key_id}/renew"), "");
    assert_eq!(
        renewal.status, 409,
        "a closed subscription's key is not renewed"
    );
    assert_eq!(
        gateway
            .admin("POST", &format!("/v1/keys/{key_id}/revoke"), "")
            .status,
        200
    );
    let refused = gateway.admin("POST", &format!("/v1/keys/{key_id}/reactivate"), "");
    assert_eq!(refused.status, 409, "{refused:?}");

    // Reject is for pending subscriptions; a rejected one never passes.
    let second = subscribe(&gateway, "manual", "reviewed", "");
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(act(&gateway, second_id, "reject"), 200);
    assert_eq!(call(&gateway, "/manual/x", &plaintext(&second), None), 403);
    assert_eq!(act(&gateway, second_id, "accept"), 409);
    assert_eq!(act(&gateway, second_id, "dance"), 404);

    let listed = gateway
        .admin("GET", "/v1/subscriptions?service=manual", "")
        .json();
    let mut sorted: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    sorted.sort_unstable();
    assert_eq!(sorted, ["closed", "rejected"]);
}

#[test]
fn own_key_renewal_keeps_its_subscription_and_ends_with_it() {
    let (gateway, _echo) = start();
    let sub = subscribe(
        &gateway,
        "billing",
        "basic",
        r#", "ends_at": "2099-01-01T00:00:00Z""#,
    );
    assert_eq!(sub["key"]["expires_at"], "2099-01-01T00:00:00Z");
    let key_id = sub["key"]["id"].as_str().unwrap();
    let renewed = gateway.admin(
        "POST",
        &format!("/v1/keys/{key_id}/renew"),
        r#"{"grace": "0s"}"#,
    );
    assert_eq!(renewed.status, 201);
    let renewed = renewed.json();
    assert_eq!(renewed["subscription"], sub["id"]);
    assert_eq!(renewed["expires_at"], "2099-01-01T00:00:00Z");
    let new_key = renewed["key"].as_str().unwrap();
    assert_eq!(call(&gateway, "/billing/x", new_key, None), 200);
    assert_eq!(call(&gateway, "/billing/x", &plaintext(&sub), None), 401);

    // A subscription cannot end before it starts.
    let past = gateway.admin(
        "POST",
        "/v1/subscriptions",
        r#"{"consumer": "alice", "service": "orders", "plan": "silver", "ends_at": "2001-01-01T00:00:00Z"}"#,
    );
    assert_eq!(past.status, 422, "{past:?}");
}

#[test]
fn plans_through_the_admin_api() {
    let echo = Echo::start("plans");
    let gateway = Gateway::start("services: []\n");
    let service = format!(
        r#"{{"upstream": "{}", "routes": [{{"name": "all", "paths": ["/*"]}}]}}"#,
        echo.url()
    );
    assert_eq!(
        gateway.admin("PUT", "/v1/services/api", &service).status,
        201
    );
    assert_eq!(
        gateway.admin("PUT", "/v1/consumers/alice", "{}").status,
        201
    );
    // No plans yet: any valid key passes.
    let key = gateway
        .admin("POST", "/v1/consumers/alice/keys", "{}")
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(call(&gateway, "/x", &key, None), 200);

    let created = gateway.admin(
        "PUT",
        "/v1/services/api/plans/gold",
        r#"{"selection_rule": "request.headers['x-plan'] === 'gold'", "description": "Gold"}"#,
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(
        call(&gateway, "/x", &key, None),
        403,
        "now a subscription is needed"
    );
    let bad = gateway.admin(
        "PUT",
        "/v1/services/api/plans/bad",
        r#"{"selection_rule": "request.headerz['x'] === 'a'"}"#,
    );
    assert_eq!(bad.status, 422, "{bad:?}");
    assert_eq!(
        gateway
            .admin("PUT", "/v1/services/api/plans/silver", "{}")
            .status,
        201
    );
    let plans = gateway.admin("GET", "/v1/services/api/plans", "").json();
    let names: Vec<&str> = plans["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["gold", "silver"]);
    let gold = gateway
        .admin("GET", "/v1/services/api/plans/gold", "")
        .json();
    assert_eq!(gold["description"], "Gold");

    let sub = subscribe(&gateway, "api", "silver", "");
    assert_eq!(call(&gateway, "/x", &plaintext(&sub), None), 200);
    let busy = gateway.admin("DELETE", "/v1/services/api/plans/silver", "");
    assert_eq!(busy.status, 409, "{busy:?}");
    // Nor can the plan go by replacing or deleting its service: the plain key would
    // pass again.
    let replaced = gateway.admin("PUT", "/v1/services/api", &service);
    assert_eq!(replaced.status, 409, "{replaced:?}");
    assert_eq!(gateway.admin("DELETE", "/v1/services/api", "").status, 409);
    assert_eq!(call(&gateway, "/x", &key, None), 403);
    assert_eq!(act(&gateway, sub["id"].as_str().unwrap(), "close"), 200);
    assert_eq!(
        gateway
            .admin("DELETE", "/v1/services/api/plans/silver", "")
            .status,
        204
    );
    assert_eq!(
        gateway
            .admin("GET", "/v1/services/api/plans/silver", "")
            .status,
        404
    );
    // Plans of a service from the configuration file are changed in the file.
    let unknown = gateway.admin("PUT", "/v1/services/ghost/plans/gold", "{}");
    assert_eq!(unknown.status, 404);
}
