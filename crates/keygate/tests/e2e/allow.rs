//! `allow` expressions on routes: the Mia-Platform "User Group Permission" scenario.

use crate::support::{Echo, Gateway, TempDir};
use crate::{Example, ALEX, BOB};

#[test]
fn only_client_types_a_and_b_read_the_report() {
    let example = Example::start();
    let gateway = &example.gateway;
    assert_eq!(
        gateway.get("/orders/report", &[("apikey", ALEX)]).status,
        200
    );
    assert_eq!(
        gateway.get("/orders/report", &[("client-key", BOB)]).status,
        200
    );
    let carol = gateway.get("/orders/report", &[("apikey", "carol-key-0123456789")]);
    assert_eq!(carol.status, 403);
    assert_eq!(carol.message(), "You cannot consume this service");
    let nobody = gateway.get("/orders/report", &[]);
    assert_eq!(nobody.status, 401);
    assert_eq!(nobody.message(), "Missing API key found in request");
    // carol's key itself is fine elsewhere.
    assert_eq!(
        gateway
            .get("/orders/1", &[("apikey", "carol-key-0123456789")])
            .status,
        200
    );
    crate::support::eventually("the denial is logged as forbidden", || {
        crate::support::read_file(&gateway.access_log).contains("\"denial\":\"forbidden\"")
    });
    // Let through or refused by the rule, a line names the key's consumer and type.
    crate::support::eventually("five requests are logged", || {
        crate::support::read_file(&gateway.access_log)
            .lines()
            .count()
            >= 5
    });
    let log = crate::support::read_file(&gateway.access_log);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let with_status = |status: u16| lines.iter().filter(move |l| l["status"] == status);
    let refused: Vec<_> = with_status(403).collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert_eq!(refused[0]["consumer"], "carol", "{log}");
    assert_eq!(refused[0]["client_type"], "C", "{log}");
    assert!(refused[0]["key_id"].is_string(), "{log}");
    assert!(
        with_status(200).all(|line| line["consumer"].is_string() && line["key_id"].is_string()),
        "{log}"
    );
    assert!(
        with_status(401).all(|line| line["consumer"].is_null()),
        "{log}"
    );
}

#[test]
fn anonymous_calls_refused_by_allow_get_401_and_requests_are_visible() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: s
    path_prefix: /api
    upstream: {url}
    routes:
      - name: tenant
        paths: ["/*"]
        auth: optional
        allow: |
          request.headers['X-Tenant'] === 'acme'
            && startsWith(request.path, '/api/')
            && (clientType === null || groups.admin)
      - name: open
        paths: [/open]
        auth: none
        allow: "request.method === 'GET'"
consumers:
  - name: root
    groups: [admin]
    keys: [{{key: root-key-1234}}]
  - name: plain
    keys: [{{key: plain-key-1234}}]
"#,
        url = echo.url()
    ));
    assert_eq!(gateway.get("/api/x", &[("x-tenant", "acme")]).status, 200);
    assert_eq!(
        gateway
            .get(
                "/api/x",
                &[("x-tenant", "acme"), ("apikey", "root-key-1234")]
            )
            .status,
        200
    );
    let plain = gateway.get(
        "/api/x",
        &[("x-tenant", "acme"), ("apikey", "plain-key-1234")],
    );
    assert_eq!(plain.status, 403);
    let other_tenant = gateway.get("/api/x", &[("x-tenant", "other")]);
    assert_eq!(
        other_tenant.status, 401,
        "anonymous and refused: a key could change the answer"
    );
    assert_eq!(other_tenant.message(), "Missing API key found in request");
    assert_eq!(gateway.get("/api/open", &[]).status, 200);
    let post = crate::support::request(gateway.address, "POST", "/api/open", &[], b"");
    assert_eq!(post.status, 403, "auth: none has no key to ask for");
}

const BROKEN: [(&str, &str); 2] = [
    ("clientType === 'A' ||", "expected an expression after `||`"),
    ("clienType === 'A'", "did you mean `clientType`?"),
];

#[test]
fn validate_points_into_the_yaml_string() {
    let dir = TempDir::new();
    for (expression, expected) in BROKEN {
        let file = dir.0.join("bad.yaml");
        let text = include_str!("../../../../examples/keygate.yaml").replace(
            "\"clientType === 'A' || clientType === 'B'\"",
            &format!("\"{expression}\""),
        );
        std::fs::write(&file, &text).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_keygate"))
            .arg("validate")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let errors = String::from_utf8_lossy(&output.stderr);
        let line = text.lines().position(|l| l.contains(expression)).unwrap() + 1;
        let quote = text.lines().nth(line - 1).unwrap().find('"').unwrap() + 1;
        let fault = if expression.ends_with("||") {
            expression.len() + 1
        } else {
            1
        };
        let position = format!("bad.yaml:{line}:{}: in expression: ", quote + fault);
        assert!(errors.contains(&position), "{position} not in {errors}");
        assert!(errors.contains(expected), "{errors}");
        assert!(errors.contains('^'), "{errors}");
    }
}

#[test]
fn a_reload_with_a_broken_expression_keeps_the_old_config() {
    let example = Example::start();
    let gateway = &example.gateway;
    let good = crate::example_config(&example.first, &example.second);
    gateway.rewrite_config(&good.replace(
        "clientType === 'A' || clientType === 'B'",
        "clienType === 'A'",
    ));
    gateway.process.signal("HUP");
    gateway.process.wait_for_line("not reloaded");
    assert!(gateway
        .process
        .stderr_text()
        .contains("did you mean `clientType`?"));
    assert_eq!(
        gateway.get("/orders/report", &[("apikey", BOB)]).status,
        200
    );
    assert_eq!(
        gateway
            .get("/orders/report", &[("apikey", "carol-key-0123456789")])
            .status,
        403
    );
}
