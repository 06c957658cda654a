//! Admin handlers without sockets: the router called directly, over an in-memory store.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate_store::sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

use super::{router, AdminState};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::sync::StoreSync;

const TOKEN: &str = "unit-test-admin-token";

fn state() -> AdminState {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = Config::parse("t.yaml", "").unwrap();
    let metrics = Arc::new(Metrics::new(false));
    let sync = StoreSync::start(store, config, metrics.clone()).unwrap();
    AdminState {
        sync: Arc::new(sync),
        token: super::AdminToken::new(TOKEN),
        metrics,
        cluster: None,
    }
}

async fn call(
    state: &AdminState,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("x-api-key", token);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_token_is_required_and_errors_have_the_documented_shape() {
    let state = state();
    let (status, body) = call(&state, "GET", "/v1/consumers", "", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = call(
        &state,
        "GET",
        "/v1/consumers",
        "",
        Some("wrong-token-value"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(&state, "GET", "/v1/consumers", "", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], Value::Array(Vec::new()));
}

#[tokio::test]
async fn a_created_key_is_valid_at_once_and_shown_once() {
    let state = state();
    let (status, _) = call(
        &state,
        "PUT",
        "/v1/consumers/alex",
        r#"{"client_type":"A"}"#,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, created) =
        call(&state, "POST", "/v1/consumers/alex/keys", "{}", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap().to_owned();
    let (_, verdict) = call(
        &state,
        "POST",
        "/v1/verify",
        &format!(r#"{{"key":"{key}"}}"#),
        Some(TOKEN),
    )
    .await;
    assert_eq!(verdict["code"], "VALID");
    assert_eq!(verdict["client_type"], "A");
    let (_, read) = call(
        &state,
        "GET",
        &format!("/v1/keys/{}", created["id"].as_str().unwrap()),
        "",
        Some(TOKEN),
    )
    .await;
    assert!(
        read.get("key").is_none(),
        "the plaintext is not shown again: {read}"
    );
}

#[tokio::test]
async fn invalid_services_are_422_with_positions() {
    let state = state();
    let body = r#"{"upstream":"http://127.0.0.1:1","routes":[{"name":"r","paths":["nope"]}]}"#;
    let (status, answer) = call(&state, "PUT", "/v1/services/s", body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("must start with `/`"), "{message}");
}
