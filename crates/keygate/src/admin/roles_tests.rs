//! The roles on the admin API, endpoint by endpoint (a table per role), sessions with
//! their cookie, CSRF token and sign-in limit, and the audit log — the router called
//! directly over an in-memory store.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::router;
use super::tests::{state, TOKEN};
use super::AdminState;

/// One call's answer: status, `Set-Cookie`, `Retry-After`, body.
struct Answer {
    status: StatusCode,
    cookie: Option<String>,
    retry_after: Option<String>,
    body: Value,
}

async fn send(
    state: &AdminState,
    method: &str,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router(state.clone())
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, cookie, retry_after) = (
        response.status(),
        header("set-cookie"),
        header("retry-after"),
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        cookie,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn as_token(state: &AdminState, token: &str, method: &str, path: &str, body: &str) -> Answer {
    send(state, method, path, body, &[("x-api-key", token)]).await
}

/// Creates an account with a password and returns a scoped token of it.
async fn account(state: &AdminState, name: &str, role: &str) -> String {
    let body = format!(r#"{{"name":"{name}","role":"{role}","password":"password-of-{name}"}}"#);
    let made = as_token(state, TOKEN, "POST", "/v1/accounts", &body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let path = format!("/v1/accounts/{name}/tokens");
    let token = as_token(state, TOKEN, "POST", &path, r#"{"description":"tests"}"#).await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.body);
    let token = token.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("kgtok_"));
    token
}

/// The world of the tables: publishers `pub1` (service `orders`, published, plan
/// `gold`) and `pub2` (service `billing`, unpublished); owners `own1` (consumer `app1`,
/// subscribed to orders/gold with its shared key) and `own2` (consumer `app2`).
struct World {
    state: AdminState,
    pub1: String,
    pub2: String,
    own1: String,
    own2: String,
    subscription: String,
    shared_key: String,
}

async fn world() -> World {
    let state = state();
    let pub1 = account(&state, "pub1", "publisher").await;
    let pub2 = account(&state, "pub2", "publisher").await;
    let own1 = account(&state, "own1", "owner").await;
    let own2 = account(&state, "own2", "owner").await;
    let service = |published: bool| {
        format!(
            r#"{{"upstream":"http://127.0.0.1:1","published":{published},"routes":[{{"name":"all","paths":["/*"]}}],"plans":[{{"name":"gold"}}]}}"#
        )
    };
    let made = as_token(&state, &pub1, "PUT", "/v1/services/orders", &service(true)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = as_token(
        &state,
        &pub2,
        "PUT",
        "/v1/services/billing",
        &service(false),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = as_token(&state, &own1, "POST", "/v1/consumers", r#"{"name":"app1"}"#).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let made = as_token(&state, &own2, "PUT", "/v1/consumers/app2", "{}").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let subscribe = r#"{"consumer":"app1","service":"orders","plan":"gold","key_mode":"shared"}"#;
    let made = as_token(&state, &own1, "POST", "/v1/subscriptions", subscribe).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let subscription = made.body["id"].as_str().unwrap().to_owned();
    let shared_key = made.body["key"]["id"].as_str().unwrap().to_owned();
    World {
        state,
        pub1,
        pub2,
        own1,
        own2,
        subscription,
        shared_key,
    }
}

/// Runs `(method, path, body, expected status)` rows as `token`.
async fn table(world: &World, who: &str, token: &str, rows: &[(&str, String, &str, u16)]) {
    for (method, path, body, expected) in rows {
        let answer = as_token(&world.state, token, method, path, body).await;
        assert_eq!(
            answer.status.as_u16(),
            *expected,
            "{who}: {method} {path} answered {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn each_role_on_each_endpoint() {
    let w = world().await;
    let (sub, key) = (&w.subscription, &w.shared_key);
    let p = |text: &str| text.replace("{sub}", sub).replace("{key}", key);
    let publisher: Vec<(&str, String, &str, u16)> = vec![
        ("GET", p("/v1/services/orders"), "", 200),
        ("GET", p("/v1/services/orders/plans"), "", 200),
        ("GET", p("/v1/services/orders/plans/gold"), "", 200),
        ("PUT", p("/v1/services/orders/plans/silver"), "{}", 201),
        ("DELETE", p("/v1/services/orders/plans/silver"), "", 204),
        ("GET", p("/v1/services/billing"), "", 404),
        (
            "PUT",
            p("/v1/services/billing"),
            r#"{"upstream":"http://127.0.0.1:1"}"#,
            404,
        ),
        ("DELETE", p("/v1/services/billing"), "", 404),
        ("GET", p("/v1/services/billing/plans"), "", 404),
        ("GET", p("/v1/consumers/app1"), "", 200),
        (
            "PATCH",
            p("/v1/consumers/app1"),
            r#"{"description":"x"}"#,
            403,
        ),
        ("POST", p("/v1/consumers/app1/keys"), "{}", 403),
        ("GET", p("/v1/consumers/app2"), "", 404),
        ("POST", p("/v1/consumers"), r#"{"name":"mine"}"#, 403),
        ("GET", p("/v1/keys/{key}"), "", 200),
        ("POST", p("/v1/keys/{key}/renew"), "", 403),
        ("POST", p("/v1/keys/{key}/revoke"), "", 403),
        ("PATCH", p("/v1/keys/{key}"), r#"{"active":false}"#, 403),
        ("DELETE", p("/v1/keys/{key}"), "", 403),
        ("GET", p("/v1/subscriptions/{sub}"), "", 200),
        ("POST", p("/v1/subscriptions/{sub}/pause"), "", 200),
        ("POST", p("/v1/subscriptions/{sub}/resume"), "", 200),
        // A decision's body does not get round the transition rules (accepted already).
        (
            "POST",
            p("/v1/subscriptions/{sub}/accept"),
            r#"{"key":"publisher-key-1"}"#,
            409,
        ),
        ("GET", p("/v1/accounts"), "", 403),
        (
            "POST",
            p("/v1/accounts"),
            r#"{"name":"x","role":"admin"}"#,
            403,
        ),
        ("GET", p("/v1/tokens"), "", 403),
        ("GET", p("/v1/audit"), "", 403),
        ("GET", p("/v1/export"), "", 403),
        ("POST", p("/v1/verify"), r#"{"key":"kg_x"}"#, 403),
        (
            "PUT",
            p("/v1/services/orders/owner"),
            r#"{"account":"pub2"}"#,
            403,
        ),
        ("GET", p("/v1/usage?service=orders"), "", 200),
        ("GET", p("/v1/usage?service=billing"), "", 404),
        ("GET", p("/v1/usage"), "", 403),
        ("GET", p("/v1/usage?consumer=app1"), "", 403),
        ("GET", p("/v1/services/orders/routes/all/callers"), "", 200),
        ("GET", p("/v1/services/billing/routes/all/callers"), "", 404),
    ];
    table(&w, "pub1", &w.pub1, &publisher).await;
    let renew = as_token(&w.state, &w.pub1, "POST", &p("/v1/keys/{key}/renew"), "").await;
    let message = renew.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("only the application's owner can renew or revoke a shared key"),
        "{message}"
    );

    let other_publisher: Vec<(&str, String, &str, u16)> = vec![
        ("GET", p("/v1/services/orders"), "", 404),
        (
            "PUT",
            p("/v1/services/orders"),
            r#"{"upstream":"http://127.0.0.1:1"}"#,
            404,
        ),
        ("GET", p("/v1/subscriptions/{sub}"), "", 404),
        ("POST", p("/v1/subscriptions/{sub}/close"), "", 404),
        (
            "POST",
            p("/v1/subscriptions/{sub}/reject"),
            r#"{"reason":"not mine"}"#,
            404,
        ),
        ("GET", p("/v1/keys/{key}"), "", 404),
        ("GET", p("/v1/consumers/app1"), "", 404),
        (
            "PUT",
            p("/v1/services/ledger"),
            r#"{"upstream":"http://127.0.0.1:1"}"#,
            201,
        ),
    ];
    table(&w, "pub2", &w.pub2, &other_publisher).await;

    let owner: Vec<(&str, String, &str, u16)> = vec![
        ("GET", p("/v1/services/orders"), "", 200),
        ("GET", p("/v1/services/orders/plans"), "", 200),
        (
            "PUT",
            p("/v1/services/orders"),
            r#"{"upstream":"http://127.0.0.1:1"}"#,
            403,
        ),
        ("PUT", p("/v1/services/orders/plans/silver"), "{}", 403),
        ("GET", p("/v1/services/billing"), "", 404),
        (
            "PUT",
            p("/v1/services/fresh"),
            r#"{"upstream":"http://127.0.0.1:1"}"#,
            403,
        ),
        ("GET", p("/v1/consumers/app1"), "", 200),
        (
            "PATCH",
            p("/v1/consumers/app1"),
            r#"{"description":"mine"}"#,
            200,
        ),
        ("POST", p("/v1/consumers/app1/keys"), "{}", 201),
        ("GET", p("/v1/consumers/app2"), "", 404),
        ("PATCH", p("/v1/consumers/app2"), "{}", 404),
        ("GET", p("/v1/keys/{key}"), "", 200),
        ("GET", p("/v1/subscriptions/{sub}"), "", 200),
        ("POST", p("/v1/subscriptions/{sub}/pause"), "", 403),
        // Deciding is the publisher's, whatever the body holds.
        (
            "POST",
            p("/v1/subscriptions/{sub}/accept"),
            r#"{"key":"owner-picks-key-1"}"#,
            403,
        ),
        (
            "POST",
            p("/v1/subscriptions/{sub}/reject"),
            r#"{"reason":"changed my mind"}"#,
            403,
        ),
        ("DELETE", p("/v1/subscriptions/{sub}"), "", 403),
        ("POST", p("/v1/keys/{key}/renew"), r#"{"grace":"0s"}"#, 201),
        ("GET", p("/v1/accounts"), "", 403),
        ("GET", p("/v1/audit"), "", 403),
        ("GET", p("/v1/usage?consumer=app1"), "", 200),
        ("GET", p("/v1/usage?consumer=app1&granularity=day"), "", 200),
        ("GET", p("/v1/usage?consumer=app2"), "", 404),
        ("GET", p("/v1/usage?key_id={key}"), "", 200),
        ("GET", p("/v1/usage?service=orders"), "", 403),
        ("GET", p("/v1/usage"), "", 403),
        ("GET", p("/v1/services/orders/routes/all/callers"), "", 404),
    ];
    table(&w, "own1", &w.own1, &owner).await;

    let other_owner: Vec<(&str, String, &str, u16)> = vec![
        ("GET", p("/v1/consumers/app1"), "", 404),
        ("DELETE", p("/v1/consumers/app1"), "", 404),
        ("POST", p("/v1/consumers/app1/keys"), "{}", 404),
        ("GET", p("/v1/keys/{key}"), "", 404),
        ("POST", p("/v1/keys/{key}/revoke"), "", 404),
        ("GET", p("/v1/subscriptions/{sub}"), "", 404),
        ("POST", p("/v1/subscriptions/{sub}/close"), "", 404),
        (
            "POST",
            p("/v1/subscriptions"),
            r#"{"consumer":"app1","service":"orders","plan":"gold"}"#,
            404,
        ),
        (
            "POST",
            p("/v1/subscriptions"),
            r#"{"consumer":"app2","service":"billing","plan":"gold"}"#,
            404,
        ),
        (
            "POST",
            p("/v1/subscriptions"),
            r#"{"consumer":"app2","service":"orders","plan":"gold"}"#,
            201,
        ),
        ("PUT", p("/v1/consumers/app1"), "{}", 404),
        ("GET", p("/v1/usage?key_id={key}"), "", 404),
        ("GET", p("/v1/usage?consumer=app1"), "", 404),
    ];
    table(&w, "own2", &w.own2, &other_owner).await;

    // The admin token, and an admin account's token, do everything.
    let admin = account(&w.state, "root", "admin").await;
    for token in [TOKEN, admin.as_str()] {
        let rows: Vec<(&str, String, &str, u16)> = vec![
            ("GET", p("/v1/services/billing"), "", 200),
            ("GET", p("/v1/consumers/app2"), "", 200),
            ("GET", p("/v1/subscriptions/{sub}"), "", 200),
            ("GET", p("/v1/accounts"), "", 200),
            ("GET", p("/v1/audit"), "", 200),
            ("GET", p("/v1/services/orders/owner"), "", 200),
            ("GET", p("/v1/usage"), "", 200),
            ("GET", p("/v1/services/billing/routes/all/callers"), "", 200),
        ];
        table(&w, "admin", token, &rows).await;
    }
}

fn names(answer: &Answer, field: &str) -> Vec<String> {
    answer.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn listings_show_only_what_the_role_may_see() {
    let w = world().await;
    let list = |token: &str, path: &'static str| {
        let state = w.state.clone();
        let token = token.to_owned();
        async move { as_token(&state, &token, "GET", path, "").await }
    };
    assert_eq!(
        names(&list(&w.pub1, "/v1/services").await, "name"),
        ["orders"]
    );
    assert_eq!(
        names(&list(&w.pub2, "/v1/services").await, "name"),
        ["billing"]
    );
    assert_eq!(
        names(&list(&w.own2, "/v1/services").await, "name"),
        ["orders"],
        "published only"
    );
    assert_eq!(
        names(&list(&w.own1, "/v1/consumers").await, "name"),
        ["app1"]
    );
    assert_eq!(
        names(&list(&w.pub1, "/v1/consumers").await, "name"),
        ["app1"],
        "subscribed"
    );
    assert!(names(&list(&w.pub2, "/v1/consumers").await, "name").is_empty());
    assert_eq!(
        names(&list(&w.own1, "/v1/keys").await, "id"),
        [w.shared_key.as_str()]
    );
    assert!(names(&list(&w.own2, "/v1/keys").await, "id").is_empty());
    assert_eq!(
        names(&list(&w.pub1, "/v1/subscriptions").await, "id"),
        [w.subscription.as_str()]
    );
    assert!(names(&list(&w.pub2, "/v1/subscriptions").await, "id").is_empty());
    assert!(names(&list(&w.own2, "/v1/subscriptions").await, "id").is_empty());
    assert_eq!(
        names(&list(TOKEN, "/v1/consumers").await, "name"),
        ["app1", "app2"]
    );
    // Creators own what they created.
    let owner = as_token(&w.state, TOKEN, "GET", "/v1/consumers/app1/owner", "").await;
    assert_eq!(owner.body["account"], "own1");
    let owner = as_token(&w.state, TOKEN, "GET", "/v1/services/billing/owner", "").await;
    assert_eq!(owner.body["account"], "pub2");
}

#[tokio::test]
async fn sessions_by_password_or_token_with_csrf_and_sign_out() {
    let w = world().await;
    let signed = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"account":"own1","password":"password-of-own1"}"#,
        &[],
    )
    .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert_eq!(signed.body["account"], "own1");
    assert_eq!(signed.body["role"], "owner");
    let csrf = signed.body["csrf_token"].as_str().unwrap().to_owned();
    let set = signed.cookie.unwrap();
    assert!(set.starts_with("keygate_session="), "{set}");
    assert!(
        set.contains("; HttpOnly") && set.contains("; SameSite=Strict") && set.contains("; Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "plain listener: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();

    let current = send(&w.state, "GET", "/v1/session", "", &[("cookie", &cookie)]).await;
    assert_eq!(current.status, StatusCode::OK);
    assert_eq!(current.body["csrf_token"], csrf.as_str());
    let read = send(
        &w.state,
        "GET",
        "/v1/consumers/app1",
        "",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    let hidden = send(
        &w.state,
        "GET",
        "/v1/consumers/app2",
        "",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let patch = r#"{"description":"by cookie"}"#;
    let refused = send(
        &w.state,
        "PATCH",
        "/v1/consumers/app1",
        patch,
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("X-CSRF-Token"));
    let wrong = send(
        &w.state,
        "PATCH",
        "/v1/consumers/app1",
        patch,
        &[("cookie", &cookie), ("x-csrf-token", "nope")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let done = send(
        &w.state,
        "PATCH",
        "/v1/consumers/app1",
        patch,
        &[("cookie", &cookie), ("x-csrf-token", &csrf)],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);

    let out = send(
        &w.state,
        "DELETE",
        "/v1/session",
        "",
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.cookie.unwrap().contains("Max-Age=0"));
    let gone = send(&w.state, "GET", "/v1/session", "", &[("cookie", &cookie)]).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    let gone = send(&w.state, "GET", "/v1/consumers", "", &[("cookie", &cookie)]).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);

    // A token signs in too: the admin token as admin, a scoped one as its account.
    let admin = send(
        &w.state,
        "POST",
        "/v1/session",
        &format!(r#"{{"token":"{TOKEN}"}}"#),
        &[],
    )
    .await;
    assert_eq!(admin.status, StatusCode::OK);
    assert_eq!(admin.body["account"], Value::Null);
    assert_eq!(admin.body["role"], "admin");
    let scoped = send(
        &w.state,
        "POST",
        "/v1/session",
        &format!(r#"{{"token":"{}"}}"#, w.pub1),
        &[],
    )
    .await;
    assert_eq!(scoped.body["account"], "pub1");
    assert_eq!(scoped.body["role"], "publisher");

    // Disabling an account ends its sessions and its tokens.
    let cookie = scoped.cookie.unwrap().split(';').next().unwrap().to_owned();
    let off = as_token(
        &w.state,
        TOKEN,
        "PATCH",
        "/v1/accounts/pub1",
        r#"{"disabled":true}"#,
    )
    .await;
    assert_eq!(off.status, StatusCode::OK);
    assert!(off.body.get("password_hash").is_none() && off.body["has_password"] == true);
    let ended = send(&w.state, "GET", "/v1/session", "", &[("cookie", &cookie)]).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    let refused = as_token(&w.state, &w.pub1, "GET", "/v1/services", "").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_sign_ins_look_alike_and_are_limited() {
    let w = world().await;
    let unknown = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"account":"ghost","password":"whatever-it-is"}"#,
        &[],
    )
    .await;
    let wrong = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"account":"own2","password":"not-the-password"}"#,
        &[],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.body, wrong.body, "one message whatever was wrong");
    let token = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"token":"kgtok_made_up"}"#,
        &[],
    )
    .await;
    assert_eq!(token.status, StatusCode::UNAUTHORIZED);
    assert_eq!(token.body, wrong.body);
    // own2 has had one failure; four more spend its attempts, and then even the right
    // password waits.
    for _ in 1..super::login_limit::PER_ACCOUNT {
        let again = send(
            &w.state,
            "POST",
            "/v1/session",
            r#"{"account":"own2","password":"not-the-password"}"#,
            &[],
        )
        .await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    }
    let limited = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"account":"own2","password":"password-of-own2"}"#,
        &[],
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    let seconds: u64 = limited.retry_after.unwrap().parse().unwrap();
    assert!(seconds > 0 && seconds <= super::login_limit::WINDOW.as_secs());
    let other = send(
        &w.state,
        "POST",
        "/v1/session",
        r#"{"account":"own1","password":"password-of-own1"}"#,
        &[],
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another account still signs in"
    );
}

#[tokio::test]
async fn the_audit_log_records_writes_without_secrets() {
    let w = world().await;
    let made = as_token(
        &w.state,
        &w.own1,
        "POST",
        "/v1/consumers/app1/keys",
        r#"{"key":"custom-key-123456"}"#,
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED);
    let key_id = made.body["id"].as_str().unwrap().to_owned();
    let deleted = as_token(
        &w.state,
        &w.own1,
        "DELETE",
        &format!("/v1/keys/{key_id}"),
        "",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let refused = as_token(&w.state, &w.own2, "DELETE", "/v1/consumers/app1", "").await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);

    let log = as_token(&w.state, TOKEN, "GET", "/v1/audit?entity_kind=key", "").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let records = log.body["data"].as_array().unwrap();
    let text = log.body.to_string();
    assert!(
        !text.contains("custom-key-123456"),
        "no key plaintext: {text}"
    );
    let newest = &records[0];
    assert_eq!(newest["actor"], "own1");
    assert_eq!(newest["action"], "DELETE /v1/keys/{id}");
    assert_eq!(newest["entity"], key_id.as_str());
    assert_eq!(newest["before"]["id"], key_id.as_str());
    assert_eq!(newest["after"], Value::Null);
    let created = &records[1];
    assert_eq!(created["action"], "POST /v1/consumers/{name}/keys");
    assert_eq!(created["entity"], key_id.as_str());
    assert_eq!(created["before"], Value::Null);
    assert!(created["after"]["prefix"].as_str().is_some());
    assert!(created["after"].get("key").is_none());

    let all = as_token(&w.state, TOKEN, "GET", "/v1/audit?limit=1000", "").await;
    let text = all.body.to_string();
    assert!(!text.contains("password-of-"), "no passwords: {text}");
    assert!(!text.contains("argon2"), "no password hashes");
    assert!(!text.contains(&w.pub1), "no token plaintext");
    let actors: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor"].as_str().unwrap())
        .collect();
    assert!(
        actors.contains(&"admin token") && actors.contains(&"pub1"),
        "{actors:?}"
    );
    let deletions = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "DELETE /v1/consumers/{name}")
        .count();
    assert_eq!(deletions, 0, "refused calls are not recorded");
    let one = as_token(
        &w.state,
        TOKEN,
        "GET",
        "/v1/audit?entity_kind=consumer&entity=app2",
        "",
    )
    .await;
    assert_eq!(one.body["data"].as_array().unwrap().len(), 1);
    let paged = as_token(&w.state, TOKEN, "GET", "/v1/audit?limit=2", "").await;
    let next = paged.body["next"].as_str().unwrap().to_owned();
    let rest = as_token(
        &w.state,
        TOKEN,
        "GET",
        &format!("/v1/audit?limit=2&before={next}"),
        "",
    )
    .await;
    assert_eq!(rest.status, StatusCode::OK);
    assert!(
        rest.body["data"][0]["id"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            < next.parse::<i64>().unwrap()
    );
}
