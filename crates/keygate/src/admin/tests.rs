//! Admin handlers without sockets: the router called directly, over an in-memory store.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use keygate_store::sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

mod callers;
mod decisions;
mod usage;

use super::{router, AdminState};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::sync::StoreSync;

pub(super) const TOKEN: &str = "unit-test-admin-token";

pub(super) fn state() -> AdminState {
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let config = Config::parse("t.yaml", "").unwrap();
    let metrics = Arc::new(Metrics::new(false));
    let sync = StoreSync::start(store, config, metrics.clone()).unwrap();
    AdminState {
        sync: Arc::new(sync),
        token: super::AdminToken::new(TOKEN),
        metrics: metrics.clone(),
        cluster: None,
        health_checks: Arc::new(crate::proxy::health_checks::HealthChecks::new(metrics)),
        sessions: Arc::default(),
        login_limit: Arc::default(),
        secure_cookies: false,
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

/// A raw call: the response's status, `Allow` field and JSON body.
async fn raw_call(
    state: &AdminState,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", TOKEN);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let allow = response
        .headers()
        .get("allow")
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, allow, json)
}

#[tokio::test]
async fn every_error_is_json_bad_queries_wrong_methods_and_unknown_paths_too() {
    let state = state();
    for query in ["limit=abc", "limit=0", "limit=1001", "limit=-1"] {
        let path = format!("/v1/consumers?{query}");
        let (status, _, body) = raw_call(&state, "GET", &path, None, "").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(body["error"]["code"], "invalid", "{query}: {body}");
    }
    let (status, _, body) = raw_call(&state, "GET", "/v1/keys?limit=1000", None, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, allow, body) = raw_call(&state, "DELETE", "/v1/consumers", None, "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    let allow = allow.expect("Allow on a 405");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");

    let (status, _, body) = raw_call(&state, "GET", "/v1/nothing-here", None, "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn json_bodies_are_read_whatever_their_content_type() {
    let state = state();
    for (n, content_type) in [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(r#"{{"name":"c{n}","client_type":"A"}}"#);
        let (status, _, json) =
            raw_call(&state, "POST", "/v1/consumers", content_type, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{content_type:?}: {json}");
    }
    let (status, _, json) = raw_call(&state, "POST", "/v1/consumers", None, "name=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["error"]["code"], "bad_request");
}

/// The routes `router` declares in `admin/mod.rs`, as (path, methods), read from its
/// source: every `.route("PATH", get(…).post(…))` call, with `/v1` before those of the
/// nested API.
fn declared_routes() -> std::collections::BTreeMap<String, Vec<String>> {
    let source = include_str!("mod.rs");
    let start = source.find("pub fn router(").unwrap();
    let end = start + source[start..].find("\n}\n").unwrap();
    let body = &source[start..end];
    let nested_until = body.find(".nest(\"/v1\"").unwrap();
    let mut routes = std::collections::BTreeMap::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let length = call
            .char_indices()
            .find_map(|(index, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(index)
            })
            .unwrap();
        let call = &call[..length];
        let path = call.split('"').nth(1).unwrap();
        let prefix = if offset + at < nested_until {
            "/v1"
        } else {
            ""
        };
        let methods = ["get", "post", "put", "patch", "delete"]
            .iter()
            .filter(|method| {
                call.contains(&format!("{method}(")) || call.contains(&format!(".{method}("))
            })
            .map(|method| method.to_string())
            .collect();
        routes.insert(format!("{prefix}{path}"), methods);
        offset += at + ".route(".len() + length;
        rest = &body[offset..];
    }
    routes
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_the_router_serves() {
    let state = state();
    let (status, document) = call(&state, "GET", "/v1/openapi.json", "", None).await;
    assert_eq!(status, StatusCode::OK);
    let documented: std::collections::BTreeMap<String, Vec<String>> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, operations)| {
            let mut methods: Vec<String> = operations
                .as_object()
                .unwrap()
                .keys()
                .filter(|key| *key != "parameters")
                .cloned()
                .collect();
            methods.sort_by_key(|method| {
                ["get", "post", "put", "patch", "delete"]
                    .iter()
                    .position(|m| m == method)
            });
            (path.clone(), methods)
        })
        .collect();
    let declared = declared_routes();
    assert!(declared.len() > 15, "the source was read: {declared:?}");
    assert_eq!(documented, declared);
}

/// The custom-key rule of docs/admin-api.md, at every call where a custom key can enter:
/// key creation, renewal, a subscription's own or shared key, and an acceptance.
#[tokio::test]
async fn one_custom_key_rule_wherever_a_custom_key_enters() {
    let state = state();
    let (status, _) = call(
        &state,
        "PUT",
        "/v1/consumers/acme",
        r#"{"client_type":"A"}"#,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let service = r#"{"upstream":"http://127.0.0.1:1","routes":[{"name":"all","paths":["/*"]}],
        "plans":[{"name":"gold"},{"name":"silver"},{"name":"bronze","auto_approve":false}]}"#;
    let (status, answer) = call(&state, "PUT", "/v1/services/weather", service, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, generated) = call(&state, "POST", "/v1/consumers/acme/keys", "{}", Some(TOKEN)).await;
    let renew = format!("/v1/keys/{}/renew", generated["id"].as_str().unwrap());
    let pending = r#"{"consumer":"acme","service":"weather","plan":"bronze"}"#;
    let (_, pending) = call(&state, "POST", "/v1/subscriptions", pending, Some(TOKEN)).await;
    let accept = format!(
        "/v1/subscriptions/{}/accept",
        pending["id"].as_str().unwrap()
    );

    // (path, body with KEY in place of the key): each entry point.
    let entries = [
        ("/v1/consumers/acme/keys", r#"{"key":"KEY"}"#.to_owned()),
        (renew.as_str(), r#"{"key":"KEY"}"#.to_owned()),
        (
            "/v1/subscriptions",
            r#"{"consumer":"acme","service":"weather","plan":"gold","key":"KEY"}"#.to_owned(),
        ),
        (
            "/v1/subscriptions",
            r#"{"consumer":"acme","service":"weather","plan":"silver","key_mode":"shared","key":"KEY"}"#
                .to_owned(),
        ),
        (accept.as_str(), r#"{"key":"KEY"}"#.to_owned()),
    ];
    let refused = [
        "short12",
        &"x".repeat(65),
        "has space1",
        "sla/sh1234",
        "per%cent12",
        "til~de1234",
        "less<than12",
        "bra{ce}1234",
        "back`tick12",
        "kg_custom-but-prefixed",
    ];
    for (path, body) in &entries {
        for key in refused {
            let (status, answer) =
                call(&state, "POST", path, &body.replace("KEY", key), Some(TOKEN)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {key}: {answer}"
            );
        }
    }
    // Characters outside `A-Z a-z 0-9 - _ .` that the rule allows, at every entry point.
    let accepted = [
        "acme!key*01",
        "acme:key+02",
        "acme(key)03",
        "acme$key&04",
        "acme'key'05",
    ];
    for ((path, body), key) in entries.iter().zip(accepted) {
        let (status, answer) =
            call(&state, "POST", path, &body.replace("KEY", key), Some(TOKEN)).await;
        assert!(status.is_success(), "{path} {key}: {answer}");
        // A subscription's answer holds the key it made, with its plaintext.
        let shown = answer["key"].get("key").unwrap_or(&answer["key"]);
        assert_eq!(shown, key, "{path}: {answer}");
    }
}
