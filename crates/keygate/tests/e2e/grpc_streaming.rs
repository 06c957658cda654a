//! gRPC streaming in both directions at once through keygate's h2c listener to an h2c
//! upstream, with the grpcio client and server of tests/grpc/: a ping-pong call whose
//! client sends each message only once the answer to the one before came back (the
//! request body is sent on while the response streams); a call the client cancels
//! mid-stream, which the upstream sees cancelled; a call the upstream cancels, which the
//! client sees cancelled; and bare HTTP/2 resets passed on with their reasons both ways
//! (the h2 crate on both sides).

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

/// An h2c upstream (the h2 crate) that answers each stream at once and echoes each piece
/// of its body; a piece `reset` has it reset the stream `ENHANCE_YOUR_CALM`. What it
/// saw end each stream goes to `ends`: `None` when the request ended, else the reason
/// it was reset with.
async fn resetting_upstream(
    ends: tokio::sync::mpsc::UnboundedSender<Option<h2::Reason>>,
) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let ends = ends.clone();
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else {
                    return;
                };
                while let Some(Ok((request, mut respond))) = connection.accept().await {
                    let ends = ends.clone();
                    tokio::spawn(async move {
                        let mut body = request.into_body();
                        let head = http::Response::new(());
                        let mut sending = respond.send_response(head, false).unwrap();
                        loop {
                            let piece = match body.data().await {
                                None => {
                                    let _ = sending.send_data(bytes::Bytes::new(), true);
                                    let _ = ends.send(None);
                                    return;
                                }
                                Some(Err(error)) => {
                                    let _ = ends.send(error.reason());
                                    return;
                                }
                                Some(Ok(piece)) => piece,
                            };
                            let _ = body.flow_control().release_capacity(piece.len());
                            if piece == "reset" {
                                sending.send_reset(h2::Reason::ENHANCE_YOUR_CALM);
                                return;
                            }
                            let _ = sending.send_data(piece, false);
                        }
                    });
                }
            });
        }
    });
    address
}

/// Resets at the HTTP/2 level, through keygate's h2c listener to an h2c upstream: the
/// upstream's `RST_STREAM` reaches the client with its reason in the middle of a stream
/// that is still sending, and the client's reaches the upstream as `CANCEL`.
#[test]
fn resets_pass_through_with_their_reason() {
    use std::time::Duration;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ends, mut ended) = tokio::sync::mpsc::unbounded_channel();
    let upstream = runtime.block_on(resetting_upstream(ends));
    let gateway = Gateway::start_with_proxy_settings(
        &["http2: {h2c: true}"],
        &format!(
            "services:
  - name: raw
    upstream:
      targets: [http://{upstream}]
      protocol: h2c
    routes:
      - {{name: all, paths: ['/*'], methods: [POST], auth: none}}
"
        ),
    );
    let limit = Duration::from_secs(10);
    runtime.block_on(async {
        let socket = tokio::net::TcpStream::connect(gateway.address)
            .await
            .unwrap();
        let (sender, connection) = h2::client::handshake(socket).await.unwrap();
        tokio::spawn(connection);
        let call = || {
            http::Request::post(format!("http://{}/raw/stream", gateway.address))
                .body(())
                .unwrap()
        };

        // The upstream resets in the middle: the client's stream is reset with its reason.
        let mut ready = sender.clone().ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(), false).unwrap();
        sending
            .send_data(bytes::Bytes::from_static(b"one"), false)
            .unwrap();
        let response = tokio::time::timeout(limit, response)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut received = response.into_body();
        let echoed = tokio::time::timeout(limit, received.data()).await.unwrap();
        assert_eq!(echoed.unwrap().unwrap(), "one");
        sending
            .send_data(bytes::Bytes::from_static(b"reset"), false)
            .unwrap();
        let broken = tokio::time::timeout(limit, received.data()).await.unwrap();
        let error = broken.unwrap().unwrap_err();
        assert_eq!(
            error.reason(),
            Some(h2::Reason::ENHANCE_YOUR_CALM),
            "{error:?}"
        );

        // The client resets in the middle: the upstream's stream is reset `CANCEL`.
        let mut ready = sender.clone().ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(), false).unwrap();
        sending
            .send_data(bytes::Bytes::from_static(b"two"), false)
            .unwrap();
        let mut received = tokio::time::timeout(limit, response)
            .await
            .unwrap()
            .unwrap()
            .into_body();
        let echoed = tokio::time::timeout(limit, received.data()).await.unwrap();
        assert_eq!(echoed.unwrap().unwrap(), "two");
        sending.send_reset(h2::Reason::CANCEL);
        let end = tokio::time::timeout(limit, ended.recv()).await.unwrap();
        assert_eq!(end, Some(Some(h2::Reason::CANCEL)));
    });
}
