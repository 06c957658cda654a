//! Request ids and the access log's fields for finding a request: the id taken from the
//! client or generated, seen upstream, on the response (refusals too) and in the log line
//! with the client's address and the host; `traceparent` passed through or generated;
//! `/metrics` behind the admin token when asked.

use serde_json::Value;

use crate::support::{eventually, read_file, request, Echo, Gateway, HttpResponse, ADMIN_TOKEN};
use crate::{Example, ALEX};

/// The access-log line whose `request_id` is `id`, once it is written.
fn logged(gateway: &Gateway, id: &str) -> Value {
    let mut found = None;
    eventually(&format!("the log has a line for request {id}"), || {
        found = read_file(&gateway.access_log)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["request_id"] == id);
        found.is_some()
    });
    found.unwrap()
}

/// Whether `id` has the shape of a generated id: 32 lower-case hex digits.
fn generated(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The id a response carries.
fn id_of(response: &HttpResponse) -> String {
    response
        .header("x-request-id")
        .unwrap_or_else(|| panic!("no request id on {response:?}"))
        .to_owned()
}

#[test]
fn a_generated_id_goes_upstream_back_and_into_the_log_with_client_and_host() {
    let example = Example::start();
    let response = example.gateway.get(
        "/orders/1",
        &[("apikey", ALEX), ("Host", "shop.example.com")],
    );
    assert_eq!(response.status, 200);
    let id = id_of(&response);
    assert!(generated(&id), "{id}");
    assert_eq!(response.upstream_header("x-request-id"), Some(id.clone()));
    let line = logged(&example.gateway, &id);
    assert_eq!(line["status"], 200);
    assert_eq!(line["client"], "127.0.0.1");
    assert_eq!(line["host"], "shop.example.com");
    assert_eq!(line["consumer"], "alex");
    let again = id_of(&example.gateway.get("/orders/1", &[("apikey", ALEX)]));
    assert_ne!(again, id, "each request has its own id");
}

#[test]
fn a_valid_client_id_is_kept_end_to_end() {
    let example = Example::start();
    let sent = "client-abc.123_~!";
    let response = example
        .gateway
        .get("/orders/1", &[("apikey", ALEX), ("X-Request-Id", sent)]);
    assert_eq!(response.status, 200);
    assert_eq!(id_of(&response), sent);
    assert_eq!(
        response.upstream_header("x-request-id").as_deref(),
        Some(sent)
    );
    assert_eq!(logged(&example.gateway, sent)["status"], 200);
}

#[test]
fn an_invalid_client_id_is_replaced_and_never_forwarded() {
    let example = Example::start();
    let too_long = "a".repeat(129);
    for sent in [too_long.as_str(), "tab\tinside", "caf\u{e9}", "two words"] {
        let response = example
            .gateway
            .get("/orders/1", &[("apikey", ALEX), ("X-Request-Id", sent)]);
        assert_eq!(response.status, 200, "{sent:?}");
        let id = id_of(&response);
        assert!(generated(&id), "{sent:?} replaced by {id}");
        assert_eq!(
            response.upstream_header("x-request-id"),
            Some(id.clone()),
            "only the new id goes upstream for {sent:?}"
        );
        assert_eq!(logged(&example.gateway, &id)["status"], 200);
    }
}

#[test]
fn refusals_carry_and_log_the_id() {
    let example = Example::start();
    let cases = [
        ("/orders/1", None, 401),
        ("/weather/today", Some(("apikey", ALEX)), 403),
        ("/nowhere", None, 404),
    ];
    for (path, key, status) in cases {
        let mut headers: Vec<(&str, &str)> = key.into_iter().collect();
        let sent = format!("refused-{status}");
        headers.push(("X-Request-Id", &sent));
        let response = example.gateway.get(path, &headers);
        assert_eq!(response.status, status, "{path}");
        assert_eq!(id_of(&response), sent);
        let line = logged(&example.gateway, &sent);
        assert_eq!(line["status"], status);
        assert_eq!(line["client"], "127.0.0.1");
        assert_eq!(line["host"], "localhost");
        assert!(line["denial"].is_string(), "{line}");
        let generated_one = id_of(&example.gateway.get(path, &headers[..headers.len() - 1]));
        assert!(generated(&generated_one), "{generated_one}");
        assert_eq!(logged(&example.gateway, &generated_one)["status"], status);
    }
}

#[test]
fn the_field_name_can_be_changed_or_turned_off() {
    let echo = Echo::start("ids");
    let config = format!(
        "services:\n  - name: open\n    path_prefix: /\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/*\"]\n        auth: none\n",
        echo.url()
    );
    let renamed =
        Gateway::start_with_proxy_settings(&["request_id_header: X-Correlation-Id"], &config);
    let response = renamed.get("/a", &[("X-Request-Id", "left alone")]);
    let id = response.header("x-correlation-id").unwrap().to_owned();
    assert!(generated(&id), "{id}");
    assert_eq!(
        response.upstream_header("x-correlation-id"),
        Some(id.clone())
    );
    assert_eq!(
        response.upstream_header("x-request-id").as_deref(),
        Some("left alone"),
        "another name is just a field"
    );
    assert_eq!(response.header("x-request-id"), None);
    logged(&renamed, &id);

    let off = Gateway::start_with_proxy_settings(&["request_id_header: \"off\""], &config);
    let response = off.get("/b", &[]);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-request-id"), None);
    assert_eq!(response.upstream_header("x-request-id"), None);
    eventually("the log has the request", || {
        read_file(&off.access_log).contains("\"path\":\"/b\"")
    });
    assert!(read_file(&off.access_log).contains("\"request_id\":null"));
}

#[test]
fn traceparent_is_passed_through_untouched() {
    let example = Example::start();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = example.gateway.get(
        "/orders/1",
        &[("apikey", ALEX), ("traceparent", traceparent)],
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.upstream_header("traceparent").as_deref(),
        Some(traceparent)
    );
}

/// Whether `value` is a version-00 `traceparent` with non-zero ids and flags `01`.
fn generated_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let hex = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    parts.len() == 4
        && parts[0] == "00"
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3] == "01"
        && parts[1..3]
            .iter()
            .all(|part| hex(part) && part.bytes().any(|b| b != b'0'))
}

#[test]
fn traceparent_can_be_generated_when_missing_or_invalid() {
    let echo = Echo::start("traces");
    let config = format!(
        "services:\n  - name: open\n    path_prefix: /\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/*\"]\n        auth: none\n",
        echo.url()
    );
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let invalid = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
    let generating = Gateway::start_with_proxy_settings(&["traceparent: generate"], &config);
    let kept = generating.get("/a", &[("traceparent", valid)]);
    assert_eq!(kept.upstream_header("traceparent").as_deref(), Some(valid));
    let first = generating
        .get("/a", &[])
        .upstream_header("traceparent")
        .unwrap();
    assert!(generated_traceparent(&first), "{first}");
    let replaced = generating
        .get("/a", &[("traceparent", invalid)])
        .upstream_header("traceparent")
        .unwrap();
    assert!(generated_traceparent(&replaced), "{replaced}");
    assert_ne!(first[3..35], replaced[3..35], "each request its own trace");

    let passing = Gateway::start(&config);
    let untouched = passing.get("/a", &[("traceparent", invalid)]);
    assert_eq!(
        untouched.upstream_header("traceparent").as_deref(),
        Some(invalid),
        "by default the field is the client's business"
    );
    assert_eq!(passing.get("/a", &[]).upstream_header("traceparent"), None);
}

fn metrics(gateway: &Gateway, token: Option<&str>) -> u16 {
    let headers: Vec<(&str, &str)> = token.map(|t| ("X-API-KEY", t)).into_iter().collect();
    request(gateway.admin, "GET", "/metrics", &headers, b"").status
}

#[test]
fn metrics_can_require_the_admin_token() {
    let guarded = Gateway::start_with_admin_settings(&["metrics_auth: true"], "");
    assert_eq!(metrics(&guarded, None), 401);
    assert_eq!(metrics(&guarded, Some("wrong-token")), 401);
    assert_eq!(metrics(&guarded, Some(ADMIN_TOKEN)), 200);
    let open = Gateway::start("");
    assert_eq!(metrics(&open, None), 200, "open by default");
}
