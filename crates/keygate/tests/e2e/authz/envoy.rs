//! Envoy's gRPC `ext_authz` (`envoy.service.auth.v3.Authorization/Check`) with a real gRPC
//! client generated from Envoy's API (tests/grpc/ext_authz_client.py: the `xds-protos`
//! and `grpcio` Python packages). Envoy itself is not packaged here; deploy/envoy/envoy.yaml
//! is the configuration that points it at keygate.

use serde_json::{json, Value};

use super::{AuthzGateway, ALEX_KEY, BOB_KEY, CAROL_KEY};

/// Runs the client with `checks`; `None`, said why, without its Python packages (a
/// failure under CI).
fn run_checks(gateway: &AuthzGateway, checks: &Value) -> Option<Vec<Value>> {
    let available = std::process::Command::new("python3")
        .args([
            "-c",
            "import grpc, envoy.service.auth.v3.external_auth_pb2_grpc",
        ])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        let message = "envoy ext_authz: SKIPPED — Python's grpcio and xds-protos are not installed";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message}, and CI=true requires them"
        );
        eprintln!("{message}");
        return None;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/grpc/ext_authz_client.py"
    );
    let address = gateway.grpc.expect("started with grpc_listen").to_string();
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(address)
        .arg(checks.to_string())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout);
    Some(serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "client said {text:?} {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            gateway.process.stderr_text()
        )
    }))
}

fn check(key: Option<(&str, String)>) -> Value {
    let mut headers = serde_json::Map::new();
    headers.insert("accept".into(), "*/*".into());
    headers.insert("x-consumer-username".into(), "mallory".into());
    headers.insert("x-consumer-groups".into(), "admin".into());
    headers.insert("x-authenticated-userid".into(), "admin".into());
    headers.insert("miauserid".into(), "admin".into());
    if let Some((name, value)) = key {
        headers.insert(name.into(), value.into());
    }
    json!({
        "method": "GET",
        "path": "/v1/orders/report?page=2",
        "host": "api.example.com",
        "headers": headers,
        "source": "203.0.113.5",
    })
}

#[test]
fn envoy_grpc_checks_allow_with_fields_and_deny_with_keygates_answer() {
    let gateway = AuthzGateway::start(&["grpc_listen: 127.0.0.1:0"]);
    let checks = json!([
        check(None),
        check(Some(("client-key", "no-such-key-0123456".into()))),
        check(Some(("client-key", CAROL_KEY.into()))),
        check(Some(("client-key", ALEX_KEY.into()))),
        check(Some((
            "cookie",
            format!("mia_client_key={BOB_KEY}; theme=dark")
        ))),
    ]);
    let Some(results) = run_checks(&gateway, &checks) else {
        return;
    };
    let [nobody, bad, carol, alex, bob] = &results[..] else {
        panic!("{results:?}");
    };
    // UNAUTHENTICATED, with keygate's answer for the client.
    assert_eq!(nobody["code"], 16, "{nobody}");
    assert_eq!(nobody["denied"]["status"], 401, "{nobody}");
    assert_eq!(
        nobody["denied"]["body"],
        r#"{"message":"Missing API key found in request"}"#
    );
    assert_eq!(
        nobody["denied"]["headers"]["www-authenticate"],
        "Key realm=\"keygate\""
    );
    assert_eq!(
        nobody["denied"]["headers"]["content-type"],
        "application/json"
    );
    assert_eq!(bad["code"], 16, "{bad}");
    assert_eq!(
        bad["denied"]["body"],
        r#"{"message":"Invalid API key in request"}"#
    );
    // PERMISSION_DENIED.
    assert_eq!(carol["code"], 7, "{carol}");
    assert_eq!(carol["denied"]["status"], 403, "{carol}");
    assert_eq!(
        carol["denied"]["body"],
        r#"{"message":"You cannot consume this service"}"#
    );
    // OK: the identity over the client's, the key's fields removed.
    assert_eq!(alex["code"], 0, "{alex}");
    assert_eq!(
        alex["ok"]["headers"]["x-consumer-username"], "alex",
        "{alex}"
    );
    assert_eq!(alex["ok"]["headers"]["client-type"], "A", "{alex}");
    // Every other identity field the client sent is removed (alex has no groups: the
    // client's `x-consumer-groups` goes too); those the answer sets replace the client's.
    let mut removed: Vec<String> =
        serde_json::from_value(alex["ok"]["headers_to_remove"].clone()).expect("names");
    removed.sort();
    assert_eq!(
        removed,
        [
            "apikey",
            "client-key",
            "miauserid",
            "secret",
            "x-authenticated-userid",
            "x-consumer-groups"
        ],
        "{alex}"
    );
    let removed = &bob["ok"]["headers_to_remove"];
    for name in ["x-authenticated-userid", "miauserid"] {
        assert!(
            removed.as_array().expect("a list").contains(&json!(name)),
            "{bob}"
        );
    }
    assert!(
        !removed
            .as_array()
            .expect("a list")
            .contains(&json!("x-consumer-groups")),
        "{bob}"
    );
    assert_eq!(bob["ok"]["headers"]["x-consumer-groups"], "admin", "{bob}");
    assert_eq!(bob["code"], 0, "{bob}");
    assert_eq!(bob["ok"]["headers"]["x-consumer-username"], "bob", "{bob}");
    assert_eq!(bob["ok"]["headers"]["cookie"], "theme=dark", "{bob}");

    // The anonymous consumer: its fields over the client's, the client's key id removed.
    let mut anonymous = check(None);
    anonymous["path"] = json!("/v2/open");
    anonymous["headers"]["x-anonymous-consumer"] = json!("false");
    anonymous["headers"]["x-credential-identifier"] = json!("admin");
    let Some(results) = run_checks(&gateway, &json!([anonymous])) else {
        return;
    };
    let guest = &results[0];
    assert_eq!(guest["code"], 0, "{guest}");
    assert_eq!(
        guest["ok"]["headers"]["x-consumer-username"], "guest",
        "{guest}"
    );
    assert_eq!(
        guest["ok"]["headers"]["x-anonymous-consumer"], "true",
        "{guest}"
    );
    assert_eq!(
        guest["ok"]["headers"].get("x-credential-identifier"),
        None,
        "{guest}"
    );
    let removed = guest["ok"]["headers_to_remove"].as_array().expect("a list");
    assert!(
        removed.contains(&json!("x-credential-identifier")),
        "{guest}"
    );
    assert!(!removed.contains(&json!("x-anonymous-consumer")), "{guest}");

    // Envoy forwards the path as the client wrote it: one that is not in normal form is
    // refused, never decided for the open route its normal form names. A CORS preflight
    // is checked like any request.
    let mut dotted = check(None);
    dotted["path"] = json!("/v1/orders/report/../../public");
    let mut preflight = check(None);
    preflight["method"] = json!("OPTIONS");
    preflight["headers"]["origin"] = json!("https://evil.example");
    preflight["headers"]["access-control-request-method"] = json!("DELETE");
    // A field keygate cannot read (a control byte) refuses the check: dropped, it would
    // neither be decided on nor named for removal, and Envoy would forward it.
    let mut unreadable = check(Some(("client-key", ALEX_KEY.into())));
    unreadable["headers"]["x-consumer-id"] = json!("admin\u{1}");
    let checks = json!([dotted, preflight, unreadable]);
    let Some(results) = run_checks(&gateway, &checks) else {
        return;
    };
    let [dotted, preflight, unreadable] = &results[..] else {
        panic!("{results:?}");
    };
    assert_eq!(unreadable["code"], 3, "{unreadable}");
    assert_eq!(unreadable["denied"]["status"], 400, "{unreadable}");
    assert_eq!(dotted["code"], 3, "{dotted}");
    assert_eq!(dotted["denied"]["status"], 400, "{dotted}");
    assert_eq!(
        dotted["denied"]["body"],
        r#"{"message":"Invalid request path"}"#
    );
    assert_eq!(preflight["code"], 16, "{preflight}");
    assert_eq!(preflight["denied"]["status"], 401, "{preflight}");

    let lines = gateway.log_lines(8);
    for line in &lines {
        assert_eq!(line["check"], "envoy_grpc", "{line}");
        assert_eq!(line["client"], "203.0.113.5", "{line}");
        assert_eq!(line["host"], "api.example.com", "{line}");
    }
}
