//! Keys in the request body (`body: NAME` key sources, Kong's `key_in_body`): read from
//! form, JSON and multipart bodies, chunked or not, over HTTP/1.1 and HTTP/2; cut out of
//! the body the upstream gets (which it sees with the right `Content-Length`) unless the
//! key is forwarded; bodies too long or unreadable refused; header and query keys first.

use std::io::Write;
use std::time::Duration;

use crate::http1::{closed_by_server, connect, read_one};
use crate::support::{request, Echo, Gateway, HttpResponse};

const ALEX: &str = "body-key-alex-0123456789";
const BOB: &str = "body-key-bob-0123456789";
const FORM: &str = "application/x-www-form-urlencoded";

/// A gateway reading keys from bodies up to 1 KiB, in front of `echo`: `/submit` reads
/// header, query, then the body fields `apikey` and `key`; `/forwarded` forwards the
/// key; `/optional` lets calls without a key through; `/plain/*` has no body source.
fn gateway(echo: &Echo) -> Gateway {
    Gateway::start_with_proxy_settings(
        &[
            "header_timeout: 1s",
            "max_key_body_bytes: 1024",
            "http2: {h2c: true}",
        ],
        &format!(
            "services:
  - name: forms
    upstream: {url}
    key_sources: [{{header: apikey}}, {{query: apikey}}, {{body: apikey}}, {{body: key}}]
    routes:
      - {{name: submit, paths: ['/submit'], methods: [POST, PUT]}}
      - {{name: forwarded, paths: ['/forwarded'], forward_key: true}}
      - {{name: optional, paths: ['/optional'], auth: optional}}
  - name: plain
    path_prefix: /plain
    upstream: {url}
    routes: [{{name: all, paths: ['/*']}}]
consumers:
  - name: alex
    keys: [{{key: {ALEX}}}]
  - name: bob
    keys: [{{key: {BOB}}}]
",
            url = echo.url()
        ),
    )
}

/// POSTs `body` as `content_type` to `path`, with `headers` and `x-echo-body: 1`.
fn post(
    gateway: &Gateway,
    path: &str,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> HttpResponse {
    let mut all = vec![("Content-Type", content_type), ("x-echo-body", "1")];
    all.extend_from_slice(headers);
    request(gateway.address, "POST", path, &all, body.as_bytes())
}

/// Checks that the upstream got `body` as the request's body, with its length.
fn upstream_got(response: &HttpResponse, body: &str) {
    assert_eq!(response.status, 200, "{response:?}");
    let echoed = response.json();
    assert_eq!(echoed["body"], body, "{echoed}");
    assert_eq!(echoed["body_length"], body.len(), "{echoed}");
    assert_eq!(
        response.upstream_header("content-length"),
        Some(body.len().to_string()),
        "{echoed}"
    );
    assert_eq!(response.upstream_header("transfer-encoding"), None);
}

fn consumer(response: &HttpResponse) -> Option<String> {
    response.upstream_header("x-consumer-username")
}

#[test]
fn a_form_field_is_the_key_and_leaves_the_body() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let body = format!("a=1&apikey={ALEX}&b=x+y%21");
    let response = post(&gateway, "/submit", FORM, &body, &[]);
    upstream_got(&response, "a=1&b=x+y%21");
    assert_eq!(consumer(&response).as_deref(), Some("alex"));
    // The second body source, encoded names read decoded.
    let response = post(&gateway, "/submit", FORM, &format!("k%65y={BOB}"), &[]);
    upstream_got(&response, "");
    assert_eq!(consumer(&response).as_deref(), Some("bob"));
}

#[test]
fn a_json_member_is_the_key_and_is_cut_out_leaving_every_other_byte() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let body =
        format!("{{\n  \"a\": 1,\n  \"apikey\": \"{ALEX}\",\n  \"b\": {{\"apikey\": \"x\"}}\n}}");
    let response = post(
        &gateway,
        "/submit",
        "application/json; charset=utf-8",
        &body,
        &[],
    );
    upstream_got(&response, "{\n  \"a\": 1,\n  \"b\": {\"apikey\": \"x\"}\n}");
    assert_eq!(consumer(&response).as_deref(), Some("alex"));
    let nested_only = post(
        &gateway,
        "/submit",
        "application/json",
        r#"{"b":{"apikey":"x"}}"#,
        &[],
    );
    assert_eq!(nested_only.status, 401, "{nested_only:?}");
    assert_eq!(nested_only.message(), "Missing API key found in request");
}

#[test]
fn a_multipart_part_is_the_key_and_is_cut_out_whole() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let part = |name: &str, value: &str| {
        format!("--kgb\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
    };
    let file = "--kgb\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n";
    let body = format!(
        "{}{}{file}--kgb--\r\n",
        part("a", "1"),
        part("apikey", ALEX)
    );
    let response = post(
        &gateway,
        "/submit",
        "multipart/form-data; boundary=kgb",
        &body,
        &[],
    );
    upstream_got(&response, &format!("{}{file}--kgb--\r\n", part("a", "1")));
    assert_eq!(consumer(&response).as_deref(), Some("alex"));
}

#[test]
fn a_forwarded_key_stays_in_the_body_as_sent() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let body = format!(r#"{{"apikey":"{ALEX}"}}"#);
    let response = post(&gateway, "/forwarded", "application/json", &body, &[]);
    upstream_got(&response, &body);
    assert_eq!(consumer(&response).as_deref(), Some("alex"));
}

#[test]
fn a_chunked_body_is_read_and_goes_on_with_a_content_length() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let mut stream = connect(gateway.address);
    let first = format!("a=1&apikey={}", &ALEX[..6]);
    let second = format!("{}&b=2", &ALEX[6..]);
    let raw = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nx-echo-body: 1\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    );
    stream.write_all(raw.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    upstream_got(&response, "a=1&b=2");
    assert_eq!(consumer(&response).as_deref(), Some("alex"));
    // The body was read to its end: the connection carries the next request.
    let next = format!("POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nContent-Length: {}\r\nConnection: close\r\n\r\nkey={BOB}", BOB.len() + 4);
    stream.write_all(next.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(consumer(&response).as_deref(), Some("bob"));
}

#[test]
fn a_body_over_the_bound_is_refused_413_before_100_continue() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let long = format!("apikey={ALEX}&pad={}", "x".repeat(1100));
    let response = post(&gateway, "/submit", FORM, &long, &[]);
    assert_eq!(response.status, 413, "{response:?}");
    assert_eq!(response.message(), "Request body too large");

    // By its length: answered at once, the client never told to send the body.
    let mut stream = connect(gateway.address);
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let (response, raw) = read_one(&mut stream);
    assert_eq!(response.status, 413, "{}", String::from_utf8_lossy(&raw));
    assert!(!String::from_utf8_lossy(&raw).contains("100 Continue"));
    assert!(closed_by_server(&mut stream));

    // Chunked: refused once it has sent more than the bound.
    let mut stream = connect(gateway.address);
    let chunk = "x".repeat(600);
    let raw = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    stream.write_all(raw.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    assert_eq!(response.status, 413);
    // What was left of the body was read and dropped: the connection goes on.
    let next = format!("GET /plain/x HTTP/1.1\r\nHost: x\r\napikey: {ALEX}\r\n\r\n");
    stream.write_all(next.as_bytes()).unwrap();
    assert_eq!(read_one(&mut stream).0.status, 200);

    let log = crate::support::read_file(&gateway.access_log);
    assert!(
        log.contains("\"denial\":\"request_body_too_large\""),
        "{log}"
    );
}

#[test]
fn a_client_waiting_for_100_continue_is_told_to_go_on_when_its_body_is_read() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let mut stream = connect(gateway.address);
    let body = format!("apikey={ALEX}");
    let head = format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nx-echo-body: 1\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut interim = [0u8; 25];
    std::io::Read::read_exact(&mut stream, &mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(body.as_bytes()).unwrap();
    let (response, _) = read_one(&mut stream);
    upstream_got(&response, "");
    assert_eq!(response.upstream_header("expect"), None);
}

#[test]
fn an_unreadable_body_is_refused_400() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let trailing_comma = format!(r#"{{"apikey":"{ALEX}",}}"#);
    let response = post(
        &gateway,
        "/submit",
        "application/json",
        &trailing_comma,
        &[],
    );
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.message(), "Malformed request body");
    let unclosed = format!("--b\r\nContent-Disposition: form-data; name=apikey\r\n\r\n{ALEX}\r\n");
    let response = post(
        &gateway,
        "/submit",
        "multipart/form-data; boundary=b",
        &unclosed,
        &[],
    );
    assert_eq!(response.status, 400);
    // Even with a key in a header: the body could not be cleaned.
    let no_boundary = post(
        &gateway,
        "/submit",
        "multipart/form-data",
        "x",
        &[("apikey", ALEX)],
    );
    assert_eq!(no_boundary.status, 400);
    let two_types = request(
        gateway.address,
        "POST",
        "/submit",
        &[
            ("Content-Type", FORM),
            ("Content-Type", "text/plain"),
            ("apikey", ALEX),
        ],
        format!("apikey={ALEX}").as_bytes(),
    );
    assert_eq!(two_types.status, 400);
    let gzip = post(
        &gateway,
        "/submit",
        FORM,
        "\u{1f}\u{8b}",
        &[("Content-Encoding", "gzip"), ("apikey", ALEX)],
    );
    assert_eq!(gzip.status, 400);
    // A part only a lenient upstream (Werkzeug) finds, after a bare line feed: it would
    // pass with its key, neither read nor removed.
    let hidden = format!(
        "--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\n--b\r\nContent-Disposition: form-data; name=apikey\r\n\r\n{BOB}\r\n--b--\r\n"
    );
    let response = post(
        &gateway,
        "/submit",
        "multipart/form-data; boundary=b",
        &hidden,
        &[("apikey", ALEX)],
    );
    assert_eq!(response.status, 400, "{response:?}");
    // PHP reads this type as a form.
    let listed = post(
        &gateway,
        "/submit",
        "application/x-www-form-urlencoded, text/plain",
        &format!("apikey={BOB}"),
        &[("apikey", ALEX)],
    );
    assert_eq!(listed.status, 400, "{listed:?}");
}

#[test]
fn two_different_keys_in_the_body_are_a_duplicate_and_one_key_twice_is_not() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let twice = post(
        &gateway,
        "/submit",
        FORM,
        &format!("apikey={ALEX}&apikey={BOB}"),
        &[],
    );
    assert_eq!(twice.status, 401);
    assert_eq!(twice.message(), "Duplicate API key found in request");
    let json = format!(r#"{{"apikey":"{ALEX}","apikey":"{BOB}"}}"#);
    let twice = post(&gateway, "/submit", "application/json", &json, &[]);
    assert_eq!(twice.message(), "Duplicate API key found in request");
    let same = post(
        &gateway,
        "/submit",
        FORM,
        &format!("apikey={ALEX}&x=1&apikey={ALEX}"),
        &[],
    );
    upstream_got(&same, "x=1");
}

#[test]
fn header_and_query_keys_come_first_and_the_body_field_goes_all_the_same() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let body = format!("apikey={ALEX}&a=1");
    let header = post(&gateway, "/submit", FORM, &body, &[("apikey", BOB)]);
    assert_eq!(consumer(&header).as_deref(), Some("bob"));
    upstream_got(&header, "a=1");
    assert_eq!(header.upstream_header("apikey"), None);
    let query = post(&gateway, &format!("/submit?apikey={BOB}"), FORM, &body, &[]);
    assert_eq!(consumer(&query).as_deref(), Some("bob"));
    upstream_got(&query, "a=1");
    assert_eq!(query.json()["query"], serde_json::Value::Null);
    // The header's key is the one checked, though the body's is valid.
    let invalid = post(
        &gateway,
        "/submit",
        FORM,
        &body,
        &[("apikey", "not-a-key-of-anyone")],
    );
    assert_eq!(invalid.status, 401);
    assert_eq!(invalid.message(), "Invalid API key in request");
}

#[test]
fn other_media_types_and_routes_without_body_sources_are_not_read() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let body = format!("apikey={ALEX}");
    let text = post(&gateway, "/submit", "text/plain", &body, &[]);
    assert_eq!(text.status, 401);
    assert_eq!(text.message(), "Missing API key found in request");
    let anonymous = post(&gateway, "/optional", "text/plain", &body, &[]);
    upstream_got(&anonymous, &body);
    assert_eq!(consumer(&anonymous), None);
    let plain = post(&gateway, "/plain/x", FORM, &body, &[]);
    assert_eq!(plain.status, 401);
    // On an optional route a form body is read, and its field goes though no key was
    // checked: a key that is not valid is refused, never anonymous.
    let keyless = post(&gateway, "/optional", FORM, "a=1&key=", &[]);
    upstream_got(&keyless, "a=1");
    let invalid = post(&gateway, "/optional", FORM, "key=nobody-has-this-key", &[]);
    assert_eq!(invalid.status, 401);
}

/// A runtime for one test's HTTP/2 client.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// An HTTP/2 (h2c, prior knowledge) client connected to `address`, ready to send.
async fn h2_client(address: std::net::SocketAddr) -> h2::client::SendRequest<bytes::Bytes> {
    let socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(connection);
    sender.ready().await.unwrap()
}

#[test]
fn http2_bodies_are_read_and_cut_alike() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let runtime = runtime();
    let (status, answer) = runtime.block_on(async {
        let mut sender = h2_client(gateway.address).await;
        let call = http::Request::post(format!("http://{}/submit", gateway.address))
            .header("content-type", FORM)
            .header("x-echo-body", "1")
            .body(())
            .unwrap();
        let (response, mut body) = sender.send_request(call, false).unwrap();
        body.send_data(
            bytes::Bytes::from(format!("a=1&apikey={}", &ALEX[..5])),
            false,
        )
        .unwrap();
        body.send_data(bytes::Bytes::from(format!("{}&b=2", &ALEX[5..])), true)
            .unwrap();
        let response = tokio::time::timeout(crate::support::PATIENCE, response)
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let mut received = response.into_body();
        let mut answer = Vec::new();
        while let Some(data) = received.data().await {
            let data = data.unwrap();
            let _ = received.flow_control().release_capacity(data.len());
            answer.extend_from_slice(&data);
        }
        (status, answer)
    });
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let echoed: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(echoed["body"], "a=1&b=2");
    assert_eq!(echoed["headers"]["content-length"], "7");
    assert_eq!(echoed["headers"]["x-consumer-username"], "alex");
}

#[test]
fn an_http2_body_declared_over_the_bound_is_refused_413_unread() {
    let echo = Echo::start("api");
    let gateway = gateway(&echo);
    let runtime = runtime();
    let status = runtime.block_on(async {
        let mut sender = h2_client(gateway.address).await;
        // The head only: a client waiting on `Expect: 100-continue` sends no data until
        // told to, so only a refusal by the declared length answers it.
        let call = http::Request::post(format!("http://{}/submit", gateway.address))
            .header("content-type", FORM)
            .header("content-length", "5000")
            .header("expect", "100-continue")
            .body(())
            .unwrap();
        let (response, _body) = sender.send_request(call, false).unwrap();
        let response = tokio::time::timeout(Duration::from_millis(800), response)
            .await
            .expect("answered before the body came (header_timeout is 1 s)")
            .unwrap();
        response.status().as_u16()
    });
    assert_eq!(status, 413);
}

#[test]
fn checks_of_a_front_proxy_never_read_a_body() {
    let dir = crate::support::TempDir::new();
    let text = format!(
        "proxy:\n  listen: []\nauthz:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: {}\nstore: sqlite://{}\n\
         services:\n  - name: forms\n    upstream: http://127.0.0.1:9\n    key_sources: [{{header: apikey}}, {{body: apikey}}]\n    routes: [{{name: submit, paths: ['/submit']}}]\n\
         consumers:\n  - name: alex\n    keys: [{{key: {ALEX}}}]\n",
        crate::support::ADMIN_TOKEN,
        dir.0.join("keygate.db").display()
    );
    let gateway = crate::authz::AuthzGateway::launch(dir, &text, ("authz", false));
    let check = |fields: &[(&str, &str)], body: &str| {
        let mut headers = vec![
            ("X-Forwarded-Method", "POST"),
            ("X-Forwarded-Uri", "/submit"),
            ("Content-Type", FORM),
        ];
        headers.extend_from_slice(fields);
        request(
            gateway.authz,
            "POST",
            "/forward-auth",
            &headers,
            body.as_bytes(),
        )
    };
    let in_body = check(&[], &format!("apikey={ALEX}"));
    assert_eq!(in_body.status, 401, "{in_body:?}");
    assert_eq!(in_body.message(), "Missing API key found in request");
    let in_header = check(&[("apikey", ALEX)], "");
    assert_eq!(in_header.status, 200, "{in_header:?}");
    assert_eq!(in_header.header("x-consumer-username"), Some("alex"));
}
