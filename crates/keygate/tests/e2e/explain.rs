//! `keygate explain` against a real gateway: who can call a route, from the state the
//! proxy serves — and the proxy agrees with it.

use crate::cli::cli;
use crate::support::{Echo, Gateway};

#[test]
fn explain_names_who_can_call_and_the_proxy_agrees() {
    let echo = Echo::start("explain");
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: shop
    upstream: {url}
    routes:
      - name: orders
        paths: ["/orders"]
        allow: "clientType === 'A' || (groups.staff && request.headers['x-shift'] === 'day')"
consumers:
  - name: anna
    client_type: A
    keys: [{{key: explain-anna-key-0123456789, id: anna-key}}]
  - name: sam
    client_type: S
    groups: [staff]
    keys: [{{key: explain-sam-key-0123456789, id: sam-key}}]
  - name: zed
    client_type: Z
    keys: [{{key: explain-zed-key-0123456789, id: zed-key}}]
"#,
        url = echo.url()
    ));
    let report = cli(
        &gateway,
        "explain --service shop --route orders --output json",
    )
    .ok()
    .json();
    let consumers = report["consumers"].as_array().unwrap();
    let names: Vec<&str> = consumers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["anna", "sam"], "{report}");
    assert_eq!(consumers[0]["verdict"], "yes");
    assert_eq!(
        consumers[1]["keys"][0]["on"][0],
        "request.headers['x-shift']"
    );

    let table = cli(&gateway, "explain --service shop --route orders")
        .ok()
        .stdout;
    assert!(
        table.contains("depends on request.headers['x-shift']"),
        "{table}"
    );
    assert!(!table.contains("zed"), "{table}");

    // What the report says, the proxy does.
    let status = |key: &str, shift: &str| {
        let headers = [("apikey", key), ("x-shift", shift)];
        gateway.get("/orders", &headers).status
    };
    assert_eq!(status("explain-anna-key-0123456789", "night"), 200);
    assert_eq!(status("explain-sam-key-0123456789", "day"), 200);
    assert_eq!(status("explain-sam-key-0123456789", "night"), 403);
    assert_eq!(status("explain-zed-key-0123456789", "day"), 403);

    cli(&gateway, "explain --service shop --route nowhere").fails_with("no route named nowhere");
}
