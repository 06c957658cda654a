//! A publisher's decisions on pending subscriptions, through the command line and the
//! proxy (Gravitee's "accept with a custom key" and "reject with a reason"):
//! `keygate subscriptions accept ID --key KEY` makes the call work with that key and
//! ends the one made when the subscription was requested; `reject ID --reason TEXT`
//! keeps the reason where the application's owner reads it.

use serde_json::Value;

use crate::cli::cli_args;
use crate::support::{Echo, Gateway};

/// A service whose one plan reviews its subscriptions (they start pending).
fn config(echo: &Echo) -> String {
    format!(
        "services:\n  - name: manual\n    path_prefix: /manual\n    upstream: {}\n    routes: [{{name: all, paths: [\"/*\"]}}]\n    plans: [{{name: reviewed, auto_approve: false}}]\n",
        echo.url()
    )
}

/// Subscribes consumer `alice` to the reviewed plan with its own key; answers the id and
/// the key made with it.
fn request(gateway: &Gateway) -> (String, String) {
    let body = r#"{"consumer":"alice","service":"manual","plan":"reviewed"}"#;
    let made = gateway.admin("POST", "/v1/subscriptions", body);
    assert_eq!(made.status, 201, "{made:?}");
    let made = made.json();
    assert_eq!(made["status"], "pending");
    (
        made["id"].as_str().unwrap().to_owned(),
        made["key"]["key"].as_str().unwrap().to_owned(),
    )
}

fn call(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/manual/items", &[("apikey", key)]).status
}

#[test]
fn accept_with_a_custom_key_and_reject_with_a_reason() {
    let echo = Echo::start("decisions");
    let gateway = Gateway::start(&config(&echo));
    let consumer = gateway.admin("PUT", "/v1/consumers/alice", "{}");
    assert_eq!(consumer.status, 201, "{consumer:?}");

    // Accept with a key that breaks the rule: the rule's message, nothing changes.
    let (id, requested) = request(&gateway);
    let refused = cli_args(
        &gateway,
        &["subscriptions", "accept", &id, "--key", "has space1"],
    );
    refused.fails_with("a custom key may not contain a space");
    assert_eq!(call(&gateway, &requested), 403, "still pending");

    // Accepted with a custom key: the call goes through with it, the requested key
    // stops at once; the key is printed once.
    let custom = "alice-manual-key-2026";
    let accepted = cli_args(&gateway, &["subscriptions", "accept", &id, "--key", custom]).ok();
    assert!(
        accepted
            .stdout
            .contains(&format!("subscription {id} accepted")),
        "{}",
        accepted.stdout
    );
    assert!(
        accepted.stdout.contains(&format!("\n    {custom}\n")),
        "{}",
        accepted.stdout
    );
    assert!(accepted.stdout.contains("only time the key is shown"));
    let through = gateway.get("/manual/items", &[("apikey", custom)]);
    assert_eq!(through.status, 200, "{through:?}");
    assert_eq!(
        through.upstream_header("x-consumer-username").as_deref(),
        Some("alice")
    );
    assert_eq!(call(&gateway, &requested), 401, "replaced at once");

    // Rejected with a reason: kept, shown, answered as JSON too; the key is refused.
    let (other, other_key) = request(&gateway);
    let reason = "Plan reviewed is for partners under contract.\nWrite to sales.";
    let long = "x".repeat(501);
    let refused = cli_args(
        &gateway,
        &["subscriptions", "reject", &other, "--reason", &long],
    );
    refused.fails_with("a reason has 1 to 500 characters, this one has 501");
    let rejected = cli_args(
        &gateway,
        &["subscriptions", "reject", &other, "--reason", reason],
    )
    .ok();
    assert!(
        rejected
            .stdout
            .contains("reason:    Plan reviewed is for partners under contract.\n           Write to sales.\n"),
        "{}",
        rejected.stdout
    );
    let shown = cli_args(
        &gateway,
        &["subscriptions", "get", &other, "--output", "json"],
    )
    .ok();
    let shown: Value = shown.json();
    assert_eq!(shown["status"], "rejected");
    assert_eq!(shown["reason"], reason);
    assert_eq!(call(&gateway, &other_key), 403);
    // Closing takes no reason (as in Gravitee); the export keeps the rejection's.
    let closed = cli_args(&gateway, &["subscriptions", "close", &id]).ok();
    assert!(!closed.stdout.contains("reason:"), "{}", closed.stdout);
    let exported = gateway.admin("GET", "/v1/export", "").json();
    let subscriptions = exported["subscriptions"].as_array().unwrap();
    let kept = subscriptions
        .iter()
        .find(|s| s["id"] == other.as_str())
        .unwrap();
    assert_eq!(kept["reason"], reason, "an export keeps it");
    let closed = subscriptions
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap();
    assert!(closed.get("reason").is_none(), "{closed}");
}
