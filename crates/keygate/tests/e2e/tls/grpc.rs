//! A real gRPC client over TLS: grpcio with `ssl_channel_credentials` trusting the
//! test CA, through keygate's TLS proxy listener (ALPN `h2`) to the grpcio server,
//! itself over TLS (`protocol: h2`) — TLS and HTTP/2 on both sides. A unary call, three
//! messages in one go and a ping-pong call with the key in the metadata; the same
//! calls without a key refused `UNAUTHENTICATED` (`grpc-status: 16`).

use super::tools::{certificate_entry, config, Ca};
use crate::grpc::{grpc_client, GrpcServer};
use crate::support::{Gateway, TempDir};

const KEY: &str = "tls-caller-key-0123456789";

#[test]
fn a_grpc_client_calls_through_the_tls_listener_with_the_key_in_metadata() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (site, site_key) = ca.issue(&dir.0, "site", "site", &["localhost"]);
    let (upstream, upstream_key) = ca.issue(&dir.0, "grpc", "grpc", &["127.0.0.1"]);
    let Some(server) = GrpcServer::start_with(&[
        "--tls",
        upstream.to_str().unwrap(),
        upstream_key.to_str().unwrap(),
    ]) else {
        return;
    };
    let tls = format!(
        "    certificates:\n{}",
        certificate_entry(&site, &site_key, "")
    );
    let services = format!(
        "services:
  - name: echo
    upstream:
      targets: [https://{address}]
      protocol: h2
      tls: {{ca_file: {ca}}}
    routes:
      - {{name: calls, paths: ['/echo.Echo/*'], methods: [POST], forward_key: true}}
consumers:
  - name: caller
    keys: [{{key: {KEY}}}]
",
        address = server.address,
        ca = ca.path.display()
    );
    let text = config(&dir.0, &tls, &services);
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let target = gateway.process.listening_address("proxy tls").to_string();
    let ca = gateway.config_path.with_file_name("ca.pem");
    let ca = ca.to_str().unwrap();
    let over_tls = |key: &str, extra: &[&str]| {
        let options = [&["--ca", ca, "--name", "localhost"], extra].concat();
        grpc_client(&target, key, &options, &gateway)
    };

    let admitted = over_tls(KEY, &[]);
    assert_eq!(admitted["unary"]["code"], "OK", "{admitted}");
    assert_eq!(admitted["unary"]["text"], "olleh", "{admitted}");
    assert_eq!(admitted["unary"]["seen_apikey"], KEY, "{admitted}");
    assert_eq!(
        admitted["unary"]["trailers"]["echo-trailer"], "done",
        "{admitted}"
    );
    assert_eq!(admitted["bidi"]["code"], "OK", "{admitted}");
    assert_eq!(
        admitted["bidi"]["texts"],
        serde_json::json!(["A", "B", "C"]),
        "{admitted}"
    );

    let turns = over_tls(KEY, &["--pingpong", "10"]);
    assert_eq!(turns["pingpong"]["code"], "OK", "{turns}");
    assert_eq!(turns["pingpong"]["sent"], 10, "{turns}");
    assert_eq!(turns["pingpong"]["texts"][9], "ping-9:pong", "{turns}");

    let refused = over_tls("-", &[]);
    assert_eq!(refused["unary"]["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(
        refused["unary"]["message"], "Missing API key found in request",
        "{refused}"
    );
    assert_eq!(refused["bidi"]["code"], "UNAUTHENTICATED", "{refused}");
    let refused = over_tls("-", &["--pingpong", "2"]);
    assert_eq!(refused["pingpong"]["code"], "UNAUTHENTICATED", "{refused}");
}
