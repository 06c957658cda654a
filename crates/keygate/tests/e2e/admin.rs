//! The admin API through real sockets: auth, consumers, the key lifecycle and its effect
//! on the very next proxied request, services, verify, durability across restarts.

use std::time::Duration;

use serde_json::Value;

use crate::support::{request, Echo, Gateway, TempDir, ADMIN_TOKEN};

fn base(echo: &Echo) -> String {
    format!(
        r#"
services:
  - name: api
    upstream: {url}
    routes:
      - name: all
        paths: ["/*"]
consumers:
  - name: filed
    client_type: F
    keys: [{{key: file-key-123456, id: file-key}}]
"#,
        url = echo.url()
    )
}

fn json(response: &crate::support::HttpResponse) -> Value {
    response.json()
}

/// Creates consumer `name` with client type `client_type` and a generated key; returns
/// (key id, plaintext).
fn consumer_with_key(gateway: &Gateway, name: &str, client_type: &str) -> (String, String) {
    let put = gateway.admin(
        "PUT",
        &format!("/v1/consumers/{name}"),
        &format!(r#"{{"client_type":"{client_type}"}}"#),
    );
    assert!(put.status == 201 || put.status == 200, "{put:?}");
    let created = gateway.admin("POST", &format!("/v1/consumers/{name}/keys"), "{}");
    assert_eq!(created.status, 201, "{created:?}");
    let body = json(&created);
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

fn proxied(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/x", &[("apikey", key)]).status
}

#[test]
fn auth_matrix() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let none = request(gateway.admin, "GET", "/v1/consumers", &[], b"");
    assert_eq!(none.status, 401);
    assert_eq!(json(&none)["error"]["code"], "unauthorized");
    let wrong = request(
        gateway.admin,
        "GET",
        "/v1/consumers",
        &[("X-API-KEY", "not-the-token-at-all")],
        b"",
    );
    assert_eq!(wrong.status, 401);
    let header = request(
        gateway.admin,
        "GET",
        "/v1/consumers",
        &[("X-API-KEY", ADMIN_TOKEN)],
        b"",
    );
    assert_eq!(header.status, 200);
    let bearer = request(
        gateway.admin,
        "GET",
        "/v1/consumers",
        &[("Authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        b"",
    );
    assert_eq!(bearer.status, 200);
    assert!(json(&bearer)["data"].is_array());
    // The admin API never answers on the proxy listener.
    let on_proxy = request(
        gateway.address,
        "GET",
        "/v1/consumers",
        &[("X-API-KEY", ADMIN_TOKEN)],
        b"",
    );
    // There `/v1/consumers` is just a path of the catch-all route: it wants a consumer's
    // key, and with one the call goes to the upstream.
    assert_eq!(on_proxy.status, 401);
    assert_eq!(on_proxy.message(), "Missing API key found in request");
    let forwarded = request(
        gateway.address,
        "GET",
        "/v1/consumers",
        &[("apikey", "file-key-123456")],
        b"",
    );
    assert_eq!(
        forwarded.json()["server"],
        "e",
        "answered by the upstream, not the admin API"
    );
    // Probes need no token.
    assert_eq!(
        request(gateway.admin, "GET", "/healthz", &[], b"").status,
        200
    );
    assert_eq!(
        request(gateway.admin, "GET", "/readyz", &[], b"").status,
        200
    );
    assert_eq!(
        request(gateway.admin, "GET", "/v1/openapi.json", &[], b"").json()["openapi"],
        "3.1.0"
    );
}

#[test]
fn consumers_crud_and_errors() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let created = gateway.admin(
        "PUT",
        "/v1/consumers/alex",
        r#"{"client_type":"A","groups":["admin"],"description":"first"}"#,
    );
    assert_eq!(created.status, 201);
    assert_eq!(json(&created)["client_type"], "A");
    assert_eq!(
        gateway
            .admin(
                "PUT",
                "/v1/consumers/alex",
                r#"{"client_type":"A","groups":["admin"],"description":"first"}"#
            )
            .status,
        200
    );
    let patched = gateway.admin(
        "PATCH",
        "/v1/consumers/alex",
        r#"{"description":"changed"}"#,
    );
    assert_eq!(json(&patched)["description"], "changed");
    assert_eq!(json(&patched)["groups"][0], "admin");
    assert_eq!(
        json(&gateway.admin("GET", "/v1/consumers/alex", ""))["description"],
        "changed"
    );

    let listed = gateway.admin("GET", "/v1/consumers?limit=1", "");
    assert_eq!(json(&listed)["data"].as_array().unwrap().len(), 1);
    assert_eq!(json(&listed)["next"], "alex");
    let rest = gateway.admin("GET", "/v1/consumers?limit=1&after=alex", "");
    assert_eq!(json(&rest)["data"][0]["name"], "filed");

    let invalid = gateway.admin("PUT", "/v1/consumers/bad%20name", "{}");
    assert_eq!(invalid.status, 422);
    assert_eq!(json(&invalid)["error"]["code"], "invalid");
    let unknown_field = gateway.admin("PUT", "/v1/consumers/x", r#"{"colour":"blue"}"#);
    assert_eq!(unknown_field.status, 422, "{unknown_field:?}");
    let not_json = gateway.admin("PUT", "/v1/consumers/x", "{");
    assert_eq!(not_json.status, 400);

    gateway.admin("POST", "/v1/consumers/alex/keys", "{}");
    let referenced = gateway.admin("DELETE", "/v1/consumers/alex", "");
    assert_eq!(referenced.status, 409, "still has a key");
    let file_owned = gateway.admin("PATCH", "/v1/consumers/filed", r#"{"description":"x"}"#);
    assert_eq!(file_owned.status, 409);
    assert!(json(&file_owned)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("configuration file"));
    assert_eq!(gateway.admin("GET", "/v1/consumers/nobody", "").status, 404);
}

#[test]
fn key_state_matrix_at_the_proxy() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let (id, key) = consumer_with_key(&gateway, "alex", "A");
    assert!(key.starts_with("kg_") && key.len() == 41, "{key}");
    assert_eq!(proxied(&gateway, &key), 200, "live before the next request");

    let listed = gateway.admin("GET", "/v1/keys?consumer=alex&limit=10", "");
    let text = String::from_utf8_lossy(&listed.body).to_string();
    assert!(!text.contains(&key), "listings never show the key");
    assert_eq!(json(&listed)["data"][0]["prefix"], &key[..8]);

    assert_eq!(
        gateway
            .admin("PATCH", &format!("/v1/keys/{id}"), r#"{"active":false}"#)
            .status,
        200
    );
    assert_eq!(proxied(&gateway, &key), 401, "disabled");
    assert_eq!(
        gateway
            .admin("PATCH", &format!("/v1/keys/{id}"), r#"{"active":true}"#)
            .status,
        200
    );
    assert_eq!(proxied(&gateway, &key), 200, "enabled again");

    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let soon = soon
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    gateway.admin(
        "PATCH",
        &format!("/v1/keys/{id}"),
        &format!(r#"{{"expires_at":"{soon}"}}"#),
    );
    assert_eq!(proxied(&gateway, &key), 200);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(proxied(&gateway, &key), 401, "expired a second ago");
    gateway.admin("PATCH", &format!("/v1/keys/{id}"), r#"{"expires_at":null}"#);
    assert_eq!(proxied(&gateway, &key), 200, "expiry removed");

    // Renew: inside the grace period both work; with 0s the old one stops at once.
    let renewed = gateway.admin("POST", &format!("/v1/keys/{id}/renew"), r#"{"grace":"1h"}"#);
    assert_eq!(renewed.status, 201);
    let new_key = json(&renewed)["key"].as_str().unwrap().to_owned();
    let new_id = json(&renewed)["id"].as_str().unwrap().to_owned();
    assert_eq!(proxied(&gateway, &key), 200, "old key inside its grace");
    assert_eq!(proxied(&gateway, &new_key), 200);
    let again = gateway.admin(
        "POST",
        &format!("/v1/keys/{new_id}/renew"),
        r#"{"grace":"0s"}"#,
    );
    let newest = json(&again)["key"].as_str().unwrap().to_owned();
    assert_eq!(proxied(&gateway, &new_key), 401, "past its grace");
    assert_eq!(proxied(&gateway, &newest), 200);

    let revoked = gateway.admin(
        "POST",
        &format!("/v1/keys/{}/revoke", json(&again)["id"].as_str().unwrap()),
        "",
    );
    assert_eq!(json(&revoked)["status"], "revoked");
    assert_eq!(proxied(&gateway, &newest), 401, "revoked, at once");
    let reactivate = gateway.admin(
        "PATCH",
        &format!("/v1/keys/{}", json(&again)["id"].as_str().unwrap()),
        r#"{"active":true}"#,
    );
    assert_eq!(reactivate.status, 409);

    assert_eq!(proxied(&gateway, "never-issued-key"), 401, "unknown");
    let malformed = "kg_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA000000";
    assert_eq!(proxied(&gateway, malformed), 401, "malformed generated key");
    assert_eq!(
        gateway
            .admin("DELETE", &format!("/v1/keys/{id}"), "")
            .status,
        204
    );
    assert_eq!(proxied(&gateway, &key), 401, "deleted");
}

#[test]
fn custom_keys_and_verify() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    gateway.admin("PUT", "/v1/consumers/bob", r#"{"client_type":"B"}"#);
    for bad in [
        r#"{"key":"short"}"#,
        r#"{"key":"has space inside"}"#,
        r#"{"key":"with/slash1"}"#,
        r#"{"key":"kg_pretending"}"#,
    ] {
        let refused = gateway.admin("POST", "/v1/consumers/bob/keys", bad);
        assert_eq!(refused.status, 422, "{bad}: {refused:?}");
    }
    let custom = gateway.admin(
        "POST",
        "/v1/consumers/bob/keys",
        r#"{"key":"bob-custom-key_01","description":"typed"}"#,
    );
    assert_eq!(custom.status, 201);
    assert_eq!(json(&custom)["key"], "bob-custom-key_01");
    assert_eq!(proxied(&gateway, "bob-custom-key_01"), 200);
    let duplicate = gateway.admin(
        "POST",
        "/v1/consumers/bob/keys",
        r#"{"key":"bob-custom-key_01","id":"other"}"#,
    );
    assert_eq!(duplicate.status, 409);
    let orphan = gateway.admin("POST", "/v1/consumers/nobody/keys", "{}");
    assert_eq!(orphan.status, 404);

    let valid = gateway.admin("POST", "/v1/verify", r#"{"key":"bob-custom-key_01"}"#);
    let verdict = json(&valid);
    assert_eq!(
        (verdict["valid"].as_bool(), verdict["code"].as_str()),
        (Some(true), Some("VALID"))
    );
    assert_eq!(verdict["consumer"], "bob");
    assert_eq!(verdict["client_type"], "B");
    let missing = json(&gateway.admin("POST", "/v1/verify", r#"{"key":"nope-nope-nope"}"#));
    assert_eq!(missing["code"], "NOT_FOUND");
    let id = json(&custom)["id"].as_str().unwrap().to_owned();
    gateway.admin("PATCH", &format!("/v1/keys/{id}"), r#"{"active":false}"#);
    assert_eq!(
        json(&gateway.admin("POST", "/v1/verify", r#"{"key":"bob-custom-key_01"}"#))["code"],
        "DISABLED"
    );
    gateway.admin("POST", &format!("/v1/keys/{id}/revoke"), "");
    assert_eq!(
        json(&gateway.admin("POST", "/v1/verify", r#"{"key":"bob-custom-key_01"}"#))["code"],
        "REVOKED"
    );
    // Keys of the configuration file are the file's to change.
    assert_eq!(
        gateway.admin("POST", "/v1/keys/file-key/revoke", "").status,
        409
    );
}

#[test]
fn services_through_the_api_route_at_once() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let (_, key) = consumer_with_key(&gateway, "alex", "A");
    let body = format!(
        r#"{{"path_prefix":"/reports","upstream":"{url}","routes":[{{"name":"daily","paths":["/daily"],"allow":"clientType === 'A'"}}]}}"#,
        url = echo.url()
    );
    let created = gateway.admin("PUT", "/v1/services/reports", &body);
    assert_eq!(created.status, 201, "{created:?}");
    let response = gateway.get("/reports/daily", &[("apikey", &key)]);
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["path"], "/daily");

    let broken = r#"{"name":"reports","upstream":"http://127.0.0.1:1","routes":[{"name":"r","paths":["/"],"allow":"clienType === 'A'"}]}"#;
    let refused = gateway.admin("PUT", "/v1/services/reports", broken);
    assert_eq!(refused.status, 422);
    let message = json(&refused)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("1:") && message.contains("did you mean `clientType`"),
        "{message}"
    );
    assert_eq!(
        gateway.get("/reports/daily", &[("apikey", &key)]).status,
        200,
        "unchanged"
    );

    assert_eq!(
        gateway.admin("GET", "/v1/services/reports", "").json()["origin"],
        "api"
    );
    assert_eq!(
        gateway.admin("DELETE", "/v1/services/api", "").status,
        409,
        "the file's"
    );
    assert_eq!(
        gateway.admin("DELETE", "/v1/services/reports", "").status,
        204
    );
    // Gone: the file's catch-all service answers now, without the /reports prefix stripped.
    let after = gateway.get("/reports/daily", &[("apikey", &key)]);
    assert_eq!(after.json()["path"], "/reports/daily");
}

#[test]
fn changes_survive_restart_and_kill() {
    let echo = Echo::start("e");
    let dir = TempDir::new();
    let config = base(&echo);
    let path = dir.0.clone();
    let mut gateway = Gateway::start_in(dir, &config);
    let (_, key) = consumer_with_key(&gateway, "alex", "A");
    let (revoked_id, revoked_key) = consumer_with_key(&gateway, "bob", "B");
    gateway.admin("POST", &format!("/v1/keys/{revoked_id}/revoke"), "");
    // kill -9 right after the answers.
    gateway.process.signal("KILL");
    gateway.process.wait_exit();
    std::mem::forget(gateway.take_dir());
    let restarted = Gateway::start_in(TempDir(path), &config);
    assert_eq!(proxied(&restarted, &key), 200);
    assert_eq!(proxied(&restarted, &revoked_key), 401);
    assert_eq!(proxied(&restarted, "file-key-123456"), 200);
}

#[test]
fn restarts_read_the_directory_cache_and_catch_up_after_it() {
    let echo = Echo::start("e");
    let dir = TempDir::new();
    let config = base(&echo);
    let path = dir.0.clone();
    let mut gateway = Gateway::start_in(dir, &config);
    // The first start read the store, then wrote the cache in the background.
    gateway.process.wait_for_line("directory cache written");
    let (_, key) = consumer_with_key(&gateway, "alex", "A");
    // A graceful stop writes it again: it is behind by the new key.
    gateway.process.signal("TERM");
    gateway.process.wait_exit();
    assert!(path.join("keygate.db.cache").exists());
    std::mem::forget(gateway.take_dir());

    let mut restarted = Gateway::start_in(TempDir(path.clone()), &config);
    restarted.process.wait_for_line("from_cache=true");
    assert_eq!(proxied(&restarted, &key), 200);
    // Changes after the cache, then kill -9: the next start reads the older cache and
    // catches up from the store.
    let (_, later) = consumer_with_key(&restarted, "bob", "B");
    let (revoked_id, revoked_key) = consumer_with_key(&restarted, "carol", "A");
    restarted.admin("POST", &format!("/v1/keys/{revoked_id}/revoke"), "");
    restarted.process.signal("KILL");
    restarted.process.wait_exit();
    std::mem::forget(restarted.take_dir());

    let third = Gateway::start_in(TempDir(path), &config);
    third.process.wait_for_line("from_cache=true");
    assert_eq!(proxied(&third, &key), 200);
    assert_eq!(proxied(&third, &later), 200);
    assert_eq!(proxied(&third, &revoked_key), 401);
    assert_eq!(proxied(&third, "file-key-123456"), 200);
}

#[test]
fn concurrent_writers_all_land() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    gateway.admin("PUT", "/v1/consumers/many", r#"{"client_type":"M"}"#);
    let admin = gateway.admin;
    let keys: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(move || {
                    (0..10)
                        .map(|_| {
                            let created = request(
                                admin,
                                "POST",
                                "/v1/consumers/many/keys",
                                &[
                                    ("X-API-KEY", ADMIN_TOKEN),
                                    ("Content-Type", "application/json"),
                                ],
                                b"{}",
                            );
                            assert_eq!(created.status, 201);
                            created.json()["key"].as_str().unwrap().to_owned()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(keys.len(), 80);
    for key in &keys {
        assert_eq!(proxied(&gateway, key), 200);
    }
    let ready = request(gateway.admin, "GET", "/readyz", &[], b"").json();
    assert_eq!(ready["keys"], 81);
}

#[test]
fn metrics_count_requests_denials_and_keys() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    assert_eq!(proxied(&gateway, "file-key-123456"), 200);
    assert_eq!(proxied(&gateway, "unknown-key-1"), 401);
    crate::support::eventually("metrics show both requests", || {
        let text =
            String::from_utf8_lossy(&request(gateway.admin, "GET", "/metrics", &[], b"").body)
                .to_string();
        text.contains(
            r#"keygate_requests_total{service="api",route="all",status="200",consumer=""} 1"#,
        ) && text.contains(r#"keygate_denials_total{reason="key_not_found"} 1"#)
            && text.contains(r#"keygate_keys{state="active"} 1"#)
            && text.contains("keygate_request_duration_seconds_bucket")
    });
}

#[test]
fn a_generated_admin_token_is_written_0600_and_works() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let config = format!(
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nstore: sqlite://{}\n",
        dir.0.join("k.db").display()
    );
    let config_path = dir.0.join("keygate.yaml");
    std::fs::write(&config_path, config).unwrap();
    let process = crate::support::Process::spawn(&[
        "serve",
        "--config",
        config_path.to_str().unwrap(),
        "--access-log",
        "off",
    ]);
    let admin = process.listening_address("admin");
    let token_file = dir.0.join("keygate.admin-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        process.stderr_text().contains(&token),
        "shown once at start"
    );
    assert!(
        token.starts_with("kgadmin_") && token.len() == 46,
        "not shaped like an API key: {token}"
    );
    let listed = request(admin, "GET", "/v1/consumers", &[("X-API-KEY", &token)], b"");
    assert_eq!(listed.status, 200);
}
