//! gRPC streaming in both directions at once through keygate's h2c listener to an h2c
//! upstream, with the grpcio client and server of tests/grpc/: a ping-pong call whose
//! client sends each message only once the answer to the one before came back (the
//! request body is sent on while the response streams); a call the client cancels
//! mid-stream, which the upstream sees cancelled; a call the upstream cancels, which the
//! client sees cancelled. (Bare HTTP/2 resets and flow control: `http2_streaming.rs`.)

use crate::grpc::{grpc_client, GrpcServer};
use crate::support::{eventually, Gateway};

const KEY: &str = "chat-key-0123456789";

/// keygate with an h2c listener in front of `server` (`protocol: h2c`), calls to
/// `/echo.Echo/*` needing [`KEY`].
fn gateway_for(server: &GrpcServer) -> Gateway {
    Gateway::start_with_proxy_settings(
        &["http2: {h2c: true}"],
        &format!(
            r#"
services:
  - name: echo
    upstream:
      targets: [http://{address}]
      protocol: h2c
    routes:
      - {{name: calls, paths: ["/echo.Echo/*"], methods: [POST], forward_key: true}}
consumers:
  - name: chatter
    keys: [{{key: {KEY}}}]
"#,
            address = server.address
        ),
    )
}

#[test]
fn a_bidirectional_call_takes_turns_message_for_answer() {
    let Some(server) = GrpcServer::start() else {
        return;
    };
    let gateway = gateway_for(&server);
    let target = gateway.address.to_string();
    const ROUNDS: usize = 20;

    // Each message leaves only once the answer to the one before is back: with the
    // request held until the client half-closed, the first round would wait (5 s)
    // and the call would end after one answer.
    let rounds = ROUNDS.to_string();
    let report = grpc_client(&target, KEY, &["--pingpong", &rounds], &gateway);
    let call = &report["pingpong"];
    assert_eq!(call["code"], "OK", "{report}");
    assert_eq!(call["sent"], ROUNDS, "{report}");
    let expected: Vec<String> = (0..ROUNDS).map(|i| format!("ping-{i}:pong")).collect();
    assert_eq!(call["texts"], serde_json::json!(expected), "{report}");
    assert!(
        call["seconds"].as_f64().unwrap() < 5.0,
        "no round waited for its answer to time out: {report}"
    );

    // Without a key the call is refused before it reaches the upstream.
    let refused = grpc_client(&target, "-", &["--pingpong", "2"], &gateway);
    assert_eq!(refused["pingpong"]["code"], "UNAUTHENTICATED", "{refused}");
    assert_eq!(refused["pingpong"]["texts"], serde_json::Value::Null);
}

#[test]
fn a_call_cancelled_on_either_side_is_cancelled_on_the_other() {
    let Some(server) = GrpcServer::start() else {
        return;
    };
    let gateway = gateway_for(&server);
    let target = gateway.address.to_string();

    // The client cancels with its request still open: keygate resets the upstream's
    // stream, and the server's handler sees the call cancelled.
    let report = grpc_client(&target, KEY, &["--cancel", "tag-41"], &gateway);
    assert_eq!(report["cancel"]["first"], "tag-41:pong", "{report}");
    assert_eq!(report["cancel"]["code"], "CANCELLED", "{report}");
    eventually("the server sees the call cancelled", || {
        server.said("cancelled tag-41")
    });

    // The server cancels the call in the middle: the client sees it cancelled, after
    // the answer that came before.
    let report = grpc_client(&target, KEY, &["--hang-up"], &gateway);
    assert_eq!(report["hang_up"]["code"], "CANCELLED", "{report}");
    assert_eq!(
        report["hang_up"]["texts"],
        serde_json::json!(["ping:pong"]),
        "{report}"
    );

    // The connection to the upstream is still good for the next call.
    let report = grpc_client(&target, KEY, &["--pingpong", "3"], &gateway);
    assert_eq!(report["pingpong"]["code"], "OK", "{report}");
}
