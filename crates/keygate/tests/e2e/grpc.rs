//! gRPC calls refused by keygate get gRPC statuses: HTTP `200`, `content-type:
//! application/grpc`, `grpc-status` and `grpc-message`, no body (a trailers-only
//! response over HTTP/2; its head alone over HTTP/1.1, as here). Other callers of the
//! same routes keep the JSON refusals.

use crate::support::{closed_port, request, Echo, Gateway};

const GRPC: (&str, &str) = ("content-type", "application/grpc");

#[test]
fn refusals_of_grpc_calls_are_grpc_statuses() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: greeter
    upstream: {url}
    routes:
      - name: hello
        paths: ["/helloworld.Greeter/*"]
        methods: [POST]
        allow: "groups.greeters"
  - name: down
    upstream: http://{closed}
    routes:
      - {{name: all, paths: ["/down.Service/*"], auth: none}}
consumers:
  - name: greeter
    groups: [greeters]
    keys: [{{key: greeter-key-1234}}]
  - name: other
    keys: [{{key: other-key-1234}}]
"#,
        url = echo.url(),
        closed = closed_port()
    ));
    let call = |path: &str, headers: &[(&str, &str)]| {
        request(gateway.address, "POST", path, headers, b"\0\0\0\0\0")
    };
    let path = "/helloworld.Greeter/SayHello";

    // Admitted: the call goes through as it came.
    let admitted = call(path, &[GRPC, ("apikey", "greeter-key-1234")]);
    assert_eq!(admitted.status, 200);
    assert_eq!(
        admitted.json()["headers"]["content-type"],
        "application/grpc"
    );

    for (what, path, headers, status, message) in [
        (
            "no key",
            path,
            vec![GRPC],
            "16",
            "Missing API key found in request",
        ),
        (
            "an unknown key",
            path,
            vec![GRPC, ("apikey", "nobody-1234")],
            "16",
            "Invalid API key in request",
        ),
        (
            "a key the route refuses",
            path,
            vec![
                ("content-type", "application/grpc+proto"),
                ("apikey", "other-key-1234"),
            ],
            "7",
            "You cannot consume this service",
        ),
        (
            "no route",
            "/nothing.Here/Call",
            vec![GRPC],
            "12",
            "No route matched the request",
        ),
        (
            "an upstream that is down",
            "/down.Service/Call",
            vec![GRPC],
            "14",
            "Could not connect to the upstream server",
        ),
    ] {
        let refused = call(path, &headers);
        assert_eq!(refused.status, 200, "{what}");
        assert_eq!(
            refused.header("content-type"),
            Some("application/grpc"),
            "{what}"
        );
        assert_eq!(refused.header("grpc-status"), Some(status), "{what}");
        assert_eq!(refused.header("grpc-message"), Some(message), "{what}");
        assert_eq!(refused.header("content-length"), Some("0"), "{what}");
        assert!(refused.body.is_empty(), "{what}");
    }
    let missing = call(path, &[GRPC]);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Key realm=\"keygate\"")
    );

    // The same refusals in JSON for a caller that is not gRPC, gRPC-Web included.
    let json = call(path, &[("content-type", "application/grpc-web")]);
    assert_eq!(json.status, 401);
    assert_eq!(json.header("grpc-status"), None);
    assert_eq!(json.message(), "Missing API key found in request");
}
