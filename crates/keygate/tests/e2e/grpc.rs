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

/// The gRPC test upstream (tests/grpc/server.py, grpcio over h2c) on a free port;
/// `None`, said why, when Python's grpcio is missing (a failure under CI). What it
/// prints after its first line is kept ([`GrpcServer::said`]).
pub struct GrpcServer {
    pub address: std::net::SocketAddr,
    child: std::process::Child,
    printed: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl GrpcServer {
    pub fn start() -> Option<GrpcServer> {
        GrpcServer::start_with(&[])
    }

    /// The server with `args` (`--tls CERT KEY`: over TLS).
    pub fn start_with(args: &[&str]) -> Option<GrpcServer> {
        use std::io::BufRead;
        if !grpcio_available() {
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/server.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("python3 runs");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout);
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("the gRPC server said {line:?}"));
        // Read to the end (the server's exit), so that its prints never block or fail.
        let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = printed.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Some(GrpcServer {
            address: ([127, 0, 0, 1], port).into(),
            child,
            printed,
        })
    }

    /// Whether the server printed `line` after its first line.
    pub fn said(&self, line: &str) -> bool {
        self.printed.lock().unwrap().iter().any(|said| said == line)
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether Python's grpcio and grpcio-tools are there; said when not (a failure under
/// CI).
fn grpcio_available() -> bool {
    let available = std::process::Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        let message = "grpc: SKIPPED — Python's grpcio and grpcio-tools are not installed";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{message}, and CI=true requires them"
        );
        eprintln!("{message}");
    }
    available
}

/// Runs the grpcio client (tests/grpc/client.py) against `target` with `key` (`-`: no
/// key) and `options`: what it printed, as JSON. `gateway` is shown when it fails.
pub fn grpc_client(
    target: &str,
    key: &str,
    options: &[&str],
    gateway: &Gateway,
) -> serde_json::Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/grpc/client.py");
    let output = std::process::Command::new("timeout")
        .args(["60", "python3", script, target, key])
        .args(options)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "client said {text:?} {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            gateway.process.stderr_text()
        )
    })
}

/// One gRPC message as it travels: uncompressed flag, length, then the protobuf
/// `echo.Message` with its `text` (field 1, length-delimited).
pub fn grpc_message(text: &str) -> Vec<u8> {
    let mut protobuf = vec![0x0A, u8::try_from(text.len()).unwrap()];
    protobuf.extend_from_slice(text.as_bytes());
    let mut framed = vec![0];
    framed.extend_from_slice(&u32::try_from(protobuf.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&protobuf);
    framed
}

/// The texts of the gRPC messages in `body`.
pub fn grpc_texts(mut body: &[u8]) -> Vec<String> {
    let mut texts = Vec::new();
    while body.len() >= 5 {
        let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        let message = &body[5..5 + length];
        assert_eq!(message[0], 0x0A, "field 1, length-delimited");
        texts.push(String::from_utf8(message[2..2 + usize::from(message[1])].to_vec()).unwrap());
        body = &body[5 + length..];
    }
    assert!(body.is_empty(), "a whole number of messages");
    texts
}

#[test]
fn grpc_calls_reach_an_h2c_upstream_with_the_key_in_metadata() {
    let Some(server) = GrpcServer::start() else {
        return;
    };
    let gateway = Gateway::start(&format!(
        r#"
services:
  - name: echo
    upstream:
      targets: [http://{address}]
      protocol: h2c
    routes:
      - {{name: calls, paths: ["/echo.Echo/*"], methods: [POST], forward_key: true}}
consumers:
  - name: caller
    keys: [{{key: caller-key-1234}}]
"#,
        address = server.address
    ));
    let call = |method: &str, body: &[u8], key: &str| {
        let mut headers = vec![GRPC, ("te", "trailers")];
        if !key.is_empty() {
            headers.push(("apikey", key));
        }
        request(
            gateway.address,
            "POST",
            &format!("/echo.Echo/{method}"),
            &headers,
            body,
        )
    };

    // Unary: the answer, and the upstream saw the key in its metadata.
    let unary = call("Unary", &grpc_message("hello"), "caller-key-1234");
    assert_eq!(unary.status, 200);
    assert_eq!(unary.header("content-type"), Some("application/grpc"));
    assert_eq!(
        unary.header("seen-apikey"),
        Some("caller-key-1234"),
        "{:?}\n{}",
        unary.headers,
        gateway.process.stderr_text()
    );
    assert_eq!(grpc_texts(&unary.body), ["olleh"]);

    // A stream of messages in one request body, each answered.
    let mut stream = grpc_message("a");
    stream.extend(grpc_message("b"));
    stream.extend(grpc_message("c"));
    let bidi = call("Bidi", &stream, "caller-key-1234");
    assert_eq!(bidi.status, 200);
    assert_eq!(grpc_texts(&bidi.body), ["A", "B", "C"]);

    // The upstream's own refusal is a trailers-only answer: its status arrives.
    let failed = call("Unary", &grpc_message("fail"), "caller-key-1234");
    assert_eq!(failed.status, 200);
    assert_eq!(failed.header("grpc-status"), Some("3"));
    assert_eq!(failed.header("grpc-message"), Some("fail was asked for"));

    // keygate's: no key.
    let refused = call("Unary", &grpc_message("hello"), "");
    assert_eq!(refused.header("grpc-status"), Some("16"));
}

/// The HTTP/2 client itself, against the gRPC server: the response's trailers
/// (`grpc-status`, the server's own) come through as the body's last frame, and both
/// calls share one connection.
#[test]
fn the_h2c_upstream_passes_trailers_through() {
    use http_body_util::BodyExt as _;
    use keygate::proxy::upstream::{AsSent, RequestPath, Tries, Upstream};

    let Some(server) = GrpcServer::start() else {
        return;
    };
    let text = format!(
        "services:\n  - name: echo\n    upstream:\n      targets: [http://{}]\n      protocol: h2c\n    routes:\n      - {{name: r, paths: ['/*'], auth: none}}\n",
        server.address
    );
    let config = keygate::config::Config::parse("t.yaml", &text).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let upstream = Upstream::new(&config.services[0].upstream);
        for (method, body, texts) in [
            ("Unary", grpc_message("hello"), vec!["olleh"]),
            (
                "Bidi",
                [grpc_message("x"), grpc_message("y")].concat(),
                vec!["X", "Y"],
            ),
        ] {
            let (head, ()) = http::Request::post(format!("/echo.Echo/{method}"))
                .header("content-type", "application/grpc")
                .header("host", server.address.to_string())
                .body(())
                .unwrap()
                .into_parts();
            let target = upstream.pick(None).unwrap();
            let mut tries = Tries::new(std::time::Instant::now());
            let path = RequestPath::whole(head.uri.path());
            let body = http_body_util::Full::new(bytes::Bytes::from(body));
            let response = upstream
                .send(target, &head, path, &AsSent, body, &mut tries)
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["seen-apikey"], "none");
            let collected = response.into_body().collect().await.unwrap();
            let trailers = collected.trailers().cloned().expect("trailers");
            assert_eq!(trailers["grpc-status"], "0", "{method}");
            assert_eq!(trailers["echo-trailer"], "done", "{method}");
            assert_eq!(grpc_texts(&collected.to_bytes()), texts);
        }
    });
}

/// A real gRPC client (grpcio, tests/grpc/client.py) through keygate's HTTP/2 listener
/// (h2c with prior knowledge, as grpcio's insecure channels speak it) to the grpcio
/// server: a unary call and a stream of messages with the key in the metadata, and the
/// same calls without a key refused as `UNAUTHENTICATED`.
#[test]
fn a_grpc_client_calls_through_keygate_with_the_key_in_metadata() {
    let Some(server) = GrpcServer::start() else {
        return;
    };
    let gateway = Gateway::start_with_proxy_settings(
        &["header_timeout: 1s", "http2: {h2c: true}"],
        &format!(
            r#"
services:
  - name: echo
    upstream:
      targets: [http://{address}]
      protocol: h2c
    routes:
      - {{name: calls, paths: ["/echo.Echo/*"], methods: [POST]}}
consumers:
  - name: caller
    keys: [{{key: caller-key-1234}}]
"#,
            address = server.address
        ),
    );
    let target = gateway.address.to_string();
    let client = |key: &str| grpc_client(&target, key, &[], &gateway);

    let admitted = client("caller-key-1234");
    assert_eq!(admitted["unary"]["code"], "OK", "{admitted}");
    assert_eq!(admitted["unary"]["text"], "olleh", "{admitted}");
    assert_eq!(admitted["bidi"]["code"], "OK", "{admitted}");
    assert_eq!(
        admitted["bidi"]["texts"],
        serde_json::json!(["A", "B", "C"]),
        "{admitted}"
    );

    let refused = client("-");
    assert_eq!(refused["unary"]["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(refused["bidi"]["code"], "UNAUTHENTICATED", "{refused}");
}
