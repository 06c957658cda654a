//! A publisher's decisions on subscriptions (Gravitee's): accept with a custom key, reject
//! with a reason the application's owner reads, and what each action's body may hold —
//! by accounts of each role, over the router and an in-memory store.

use axum::http::StatusCode;
use serde_json::Value;

use super::{call, state, TOKEN};
use crate::admin::AdminState;

/// The world: publisher `pub1` owns service `orders` (plan `gold`, reviewed: its
/// subscriptions start pending); owner `own1` owns consumer `app1`. Answers the tokens
/// of `pub1` and `own1`.
async fn world(state: &AdminState) -> (String, String) {
    let mut tokens = Vec::new();
    for (name, role) in [("pub1", "publisher"), ("own1", "owner")] {
        let body = format!(r#"{{"name":"{name}","role":"{role}"}}"#);
        let (status, made) = call(state, "POST", "/v1/accounts", &body, Some(TOKEN)).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        let path = format!("/v1/accounts/{name}/tokens");
        let (status, token) = call(state, "POST", &path, "{}", Some(TOKEN)).await;
        assert_eq!(status, StatusCode::CREATED, "{token}");
        tokens.push(token["token"].as_str().unwrap().to_owned());
    }
    let service = r#"{"upstream":"http://127.0.0.1:1","published":true,
        "routes":[{"name":"all","paths":["/*"]}],"plans":[{"name":"gold","auto_approve":false}]}"#;
    let (status, made) = call(
        state,
        "PUT",
        "/v1/services/orders",
        service,
        Some(&tokens[0]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, made) = call(
        state,
        "POST",
        "/v1/consumers",
        r#"{"name":"app1"}"#,
        Some(&tokens[1]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    (tokens.remove(0), tokens.remove(0))
}

/// `own1` subscribes `app1` to orders/gold (`mode`: own or shared); answers the pending
/// subscription, with the key made with it.
async fn subscribe(state: &AdminState, owner: &str, mode: &str) -> Value {
    let body =
        format!(r#"{{"consumer":"app1","service":"orders","plan":"gold","key_mode":"{mode}"}}"#);
    let (status, made) = call(state, "POST", "/v1/subscriptions", &body, Some(owner)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["status"], "pending");
    made
}

/// The code `/v1/verify` gives `key`.
async fn verdict(state: &AdminState, key: &str) -> String {
    let body = serde_json::json!({ "key": key }).to_string();
    let (_, answer) = call(state, "POST", "/v1/verify", &body, Some(TOKEN)).await;
    answer["code"].as_str().unwrap().to_owned()
}

fn message(answer: &Value) -> &str {
    answer["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_rejection_keeps_its_reason_for_the_owner_and_the_audit_log() {
    let state = state();
    let (publisher, owner) = world(&state).await;
    let made = subscribe(&state, &owner, "own").await;
    let id = made["id"].as_str().unwrap();
    assert_eq!(made["reason"], Value::Null);
    let reject = format!("/v1/subscriptions/{id}/reject");

    // Bad bodies change nothing: (body, status, part of the message).
    let long = format!(r#"{{"reason":"{}"}}"#, "x".repeat(501));
    let refused = [
        (
            long.as_str(),
            422,
            "a reason has 1 to 500 characters, this one has 501",
        ),
        (r#"{"reason":""}"#, 422, "this one has 0"),
        (r#"{"reason":" \n "}"#, 422, "only white space"),
        (r#"{"reason":"red \u001b[31m"}"#, 422, "control character"),
        (r#"{"reason":42}"#, 422, "reason"),
        (r#"{"why":"x"}"#, 422, "unknown field `why`"),
        (
            r#"{"key":"app1-custom-key"}"#,
            422,
            "`key` is given to accept only",
        ),
        ("not json", 400, ""),
    ];
    for (body, expected, text) in refused {
        let (status, answer) = call(&state, "POST", &reject, body, Some(&publisher)).await;
        assert_eq!(status.as_u16(), expected, "{body}: {answer}");
        assert!(message(&answer).contains(text), "{body}: {answer}");
    }
    let close = format!("/v1/subscriptions/{id}/close");
    let (status, answer) = call(&state, "POST", &close, r#"{"reason":"x"}"#, Some(&owner)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        message(&answer).contains("`reason` is given to reject only"),
        "{answer}"
    );
    let (_, still) = call(
        &state,
        "GET",
        &format!("/v1/subscriptions/{id}"),
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(still["status"], "pending", "{still}");

    // The application's owner may not reject, reason or not.
    let reason =
        "Plan gold is for partners under contract: write to sales@example.com.\nThanks — Zoë";
    let body = serde_json::json!({ "reason": reason }).to_string();
    let (status, _) = call(&state, "POST", &reject, &body, Some(&owner)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, rejected) = call(&state, "POST", &reject, &body, Some(&publisher)).await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], reason);
    // The owner reads it, alone and in its listing.
    let (_, read) = call(
        &state,
        "GET",
        &format!("/v1/subscriptions/{id}"),
        "",
        Some(&owner),
    )
    .await;
    assert_eq!(read["reason"], reason);
    let (_, listed) = call(
        &state,
        "GET",
        "/v1/subscriptions?consumer=app1",
        "",
        Some(&owner),
    )
    .await;
    assert_eq!(listed["data"][0]["reason"], reason, "{listed}");
    // The audit log keeps it, with the caller.
    let (_, log) = call(
        &state,
        "GET",
        &format!("/v1/audit?entity_kind=subscription&entity={id}"),
        "",
        Some(TOKEN),
    )
    .await;
    let newest = &log["data"][0];
    assert_eq!(newest["action"], "POST /v1/subscriptions/{id}/{action}");
    assert_eq!(newest["actor"], "pub1");
    assert_eq!(newest["before"]["reason"], Value::Null);
    assert_eq!(newest["after"]["status"], "rejected");
    assert_eq!(newest["after"]["reason"], reason);

    // A rejection without a reason has none; an empty body is no body.
    let other = subscribe(&state, &owner, "own").await;
    let path = format!("/v1/subscriptions/{}/reject", other["id"].as_str().unwrap());
    let (status, answer) = call(&state, "POST", &path, "", Some(&publisher)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["reason"], Value::Null);
}

#[tokio::test]
async fn accepting_with_a_custom_key_replaces_the_requested_one_at_once() {
    let state = state();
    let (publisher, owner) = world(&state).await;
    let made = subscribe(&state, &owner, "own").await;
    let id = made["id"].as_str().unwrap();
    let requested = made["key"]["key"].as_str().unwrap().to_owned();
    let accept = format!("/v1/subscriptions/{id}/accept");

    // The custom-key rule, with its own message; nothing changes.
    let (status, answer) = call(
        &state,
        "POST",
        &accept,
        r#"{"key":"has space1"}"#,
        Some(&publisher),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(
        message(&answer).contains("a custom key may not contain a space"),
        "{answer}"
    );
    let (status, answer) = call(
        &state,
        "POST",
        &accept,
        r#"{"key":"short"}"#,
        Some(&publisher),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(message(&answer).contains("8 to 64 characters"), "{answer}");
    // The application's owner may not accept, with a key or without.
    let (status, _) = call(
        &state,
        "POST",
        &accept,
        r#"{"key":"owner-picks-key-1"}"#,
        Some(&owner),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, still) = call(
        &state,
        "GET",
        &format!("/v1/subscriptions/{id}"),
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(still["status"], "pending");
    let (_, keys) = call(&state, "GET", "/v1/keys?consumer=app1", "", Some(TOKEN)).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "{keys}");

    let custom = "app1-orders-key!2026";
    let body = serde_json::json!({ "key": custom }).to_string();
    let (status, accepted) = call(&state, "POST", &accept, &body, Some(&publisher)).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["key"]["key"], custom, "the plaintext, once");
    assert_eq!(accepted["key"]["subscription"], id);
    assert_eq!(accepted["key"]["status"], "active");
    assert_eq!(verdict(&state, custom).await, "VALID");
    assert_eq!(
        verdict(&state, &requested).await,
        "EXPIRED",
        "replaced at once"
    );
    // Read again: no plaintext; the owner sees both keys, the old one expired.
    let key_path = format!("/v1/keys/{}", accepted["key"]["id"].as_str().unwrap());
    let (_, read) = call(&state, "GET", &key_path, "", Some(&owner)).await;
    assert!(read.get("key").is_none(), "{read}");
    let (_, keys) = call(&state, "GET", "/v1/keys?consumer=app1", "", Some(&owner)).await;
    let mut statuses: Vec<&str> = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, ["active", "expired"], "{keys}");
    // Once only; and a key is for accept alone.
    let (status, _) = call(&state, "POST", &accept, &body, Some(&publisher)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let pause = format!("/v1/subscriptions/{id}/pause");
    let (status, answer) = call(
        &state,
        "POST",
        &pause,
        r#"{"key":"another-key-12"}"#,
        Some(&publisher),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // The audit log records the acceptance without the plaintext.
    let (_, log) = call(&state, "GET", "/v1/audit?limit=1000", "", Some(TOKEN)).await;
    assert!(
        !log.to_string().contains(custom),
        "no plaintext in the audit log"
    );
    let accepted_record = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["entity"] == id && r["after"]["status"] == "accepted")
        .unwrap();
    assert_eq!(accepted_record["after"]["key"]["subscription"], id);

    // A second key with the same value is refused: keys are unique.
    let second = subscribe(&state, &owner, "own").await;
    let path = format!(
        "/v1/subscriptions/{}/accept",
        second["id"].as_str().unwrap()
    );
    let (status, answer) = call(&state, "POST", &path, &body, Some(&publisher)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (_, still) = call(
        &state,
        "GET",
        &format!("/v1/subscriptions/{}", second["id"].as_str().unwrap()),
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(still["status"], "pending", "all or nothing");
}

/// The shared key serves the consumer's other shared-key subscriptions: nobody sets it at
/// accept — a publisher never changes a shared key, and an admin renews it instead.
#[tokio::test]
async fn a_shared_key_is_not_set_at_accept() {
    let state = state();
    let (publisher, owner) = world(&state).await;
    let made = subscribe(&state, &owner, "shared").await;
    let id = made["id"].as_str().unwrap();
    let shared = made["key"]["key"].as_str().unwrap().to_owned();
    let accept = format!("/v1/subscriptions/{id}/accept");
    let body = r#"{"key":"publisher-sets-shared"}"#;
    for token in [publisher.as_str(), TOKEN] {
        let (status, answer) = call(&state, "POST", &accept, body, Some(token)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(message(&answer).contains("shared key"), "{answer}");
    }
    assert_eq!(verdict(&state, "publisher-sets-shared").await, "NOT_FOUND");
    let (_, keys) = call(&state, "GET", "/v1/keys?consumer=app1", "", Some(TOKEN)).await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1, "{keys}");
    let (status, accepted) = call(&state, "POST", &accept, "", Some(&publisher)).await;
    assert_eq!(status, StatusCode::OK, "{accepted}");
    assert!(accepted.get("key").is_none(), "{accepted}");
    assert_eq!(verdict(&state, &shared).await, "VALID");
}
