//! `GET /v1/services/{name}/routes/{route}/callers` over consumers, keys, plans and
//! subscriptions written through the API.

use axum::http::StatusCode;
use serde_json::Value;

use super::{call, state, TOKEN};
use crate::admin::AdminState;

async fn put(state: &AdminState, path: &str, body: &str) {
    let (status, answer) = call(state, "PUT", path, body, Some(TOKEN)).await;
    assert!(status.is_success(), "{path}: {answer}");
}

async fn post(state: &AdminState, path: &str, body: &str) -> Value {
    let (status, answer) = call(state, "POST", path, body, Some(TOKEN)).await;
    assert!(status.is_success(), "{path}: {answer}");
    answer
}

async fn callers(state: &AdminState, service: &str, route: &str) -> Value {
    let path = format!("/v1/services/{service}/routes/{route}/callers");
    let (status, answer) = call(state, "GET", &path, "", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn names(report: &Value) -> Vec<(String, String)> {
    report["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn callers_follow_auth_allow_and_subscriptions() {
    let state = state();
    put(
        &state,
        "/v1/consumers/alice",
        r#"{"client_type":"A","groups":["admin"]}"#,
    )
    .await;
    put(&state, "/v1/consumers/bob", r#"{"client_type":"B"}"#).await;
    put(&state, "/v1/consumers/carol", r#"{"client_type":"C"}"#).await;
    for consumer in ["alice", "bob", "carol"] {
        post(
            &state,
            &format!("/v1/consumers/{consumer}/keys"),
            &format!(r#"{{"id":"{consumer}-key"}}"#),
        )
        .await;
    }
    let disabled = r#"{"id":"carol-off","active":false}"#;
    post(&state, "/v1/consumers/carol/keys", disabled).await;
    let service = r#"{"upstream":"http://127.0.0.1:1","routes":[
        {"name":"read","paths":["/read"],
         "allow":"clientType === 'A' || (clientType === 'B' && request.method === 'GET')"},
        {"name":"open","paths":["/open"],"auth":"none"},
        {"name":"maybe","paths":["/maybe"],"auth":"optional","allow":"clientType === null || groups.admin"}]}"#;
    put(&state, "/v1/services/api", service).await;

    let read = callers(&state, "api", "read").await;
    assert_eq!(
        names(&read),
        [
            ("alice".into(), "yes".into()),
            ("bob".into(), "depends".into())
        ]
    );
    let bob = &read["consumers"][1]["keys"][0];
    assert_eq!(bob["id"], "bob-key");
    assert_eq!(bob["on"], serde_json::json!(["request.method"]));
    assert_eq!(bob["rest"], "request.method === 'GET'");
    assert_eq!(read["anonymous"]["verdict"], "no");
    assert_eq!(
        read["keys_checked"], 3,
        "the disabled key is not judged: {read}"
    );
    let types: Vec<&Value> = read["client_types"].as_array().unwrap().iter().collect();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0]["client_type"], "A");

    let open = callers(&state, "api", "open").await;
    assert_eq!(open["anonymous"]["verdict"], "yes");
    assert_eq!(open["auth"], "none");

    let maybe = callers(&state, "api", "maybe").await;
    assert_eq!(maybe["anonymous"]["verdict"], "yes");
    assert_eq!(names(&maybe), [("alice".into(), "yes".into())]);

    // With plans, only a key with an accepted subscription whose rule holds gets in.
    let planned = r#"{"upstream":"http://127.0.0.1:1","routes":[{"name":"all","paths":["/*"]}],
        "plans":[{"name":"gold","selection_rule":"isBackoffice"},{"name":"free"}]}"#;
    put(&state, "/v1/services/paid", planned).await;
    let subscribed = post(
        &state,
        "/v1/subscriptions",
        r#"{"consumer":"bob","service":"paid","plan":"gold"}"#,
    )
    .await;
    let all = callers(&state, "paid", "all").await;
    assert_eq!(names(&all), [("bob".into(), "depends".into())], "{all}");
    let key = &all["consumers"][0]["keys"][0];
    assert_eq!(key["id"], subscribed["key"]["id"]);
    assert_eq!(key["plans"], serde_json::json!(["gold"]));
    assert_eq!(key["on"], serde_json::json!(["isBackoffice"]));
    post(
        &state,
        "/v1/subscriptions",
        r#"{"consumer":"carol","service":"paid","plan":"free","key_mode":"shared"}"#,
    )
    .await;
    let all = callers(&state, "paid", "all").await;
    assert_eq!(
        names(&all),
        [
            ("bob".into(), "depends".into()),
            ("carol".into(), "yes".into())
        ],
        "{all}"
    );

    let path = "/v1/services/api/routes/nowhere/callers";
    let (status, answer) = call(&state, "GET", path, "", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let path = "/v1/services/api/routes/read/callers?limit=0";
    let (status, _) = call(&state, "GET", path, "", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn calls_without_a_key_are_judged_as_the_anonymous_consumer() {
    let state = state();
    let service = r#"{"upstream":"http://127.0.0.1:1","anonymous_consumer":"guest","routes":[
        {"name":"public","paths":["/p"],"auth":"optional","allow":"groups.public"},
        {"name":"staff","paths":["/s"],"auth":"optional","allow":"groups.staff"},
        {"name":"keyed","paths":["/k"]}]}"#;
    put(&state, "/v1/services/shop", service).await;
    let missing = callers(&state, "shop", "public").await;
    assert_eq!(
        missing["anonymous"]["verdict"], "no",
        "no such consumer yet"
    );
    assert_eq!(missing["anonymous"]["consumer"], "guest");

    put(&state, "/v1/consumers/guest", r#"{"groups":["public"]}"#).await;
    let public = callers(&state, "shop", "public").await;
    assert_eq!(public["anonymous"]["verdict"], "yes");
    let staff = callers(&state, "shop", "staff").await;
    assert_eq!(staff["anonymous"]["verdict"], "no");
    let keyed = callers(&state, "shop", "keyed").await;
    assert_eq!(keyed["anonymous"]["verdict"], "no");
    assert!(keyed["anonymous"].get("consumer").is_none(), "{keyed}");
}
