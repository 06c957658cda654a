//! A stream through keygate's h2c listener to an h2c upstream, with the h2 crate on
//! both sides (an echo upstream that keeps to its flow-control windows): resets pass on
//! with their reasons both ways, a client's request trailers reach the upstream, and a
//! client that sends without reading is held back
//! by flow control — keygate takes no more than the windows allow — then gets every
//! byte back in order once it reads.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::{Reason, SendStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::support::Gateway;

/// How long any one step may take.
const LIMIT: Duration = Duration::from_secs(10);

/// Waits until `stream` may send at least one byte: how many.
fn poll_window(stream: &mut SendStream<Bytes>, cx: &mut Context<'_>) -> Poll<usize> {
    loop {
        if stream.capacity() > 0 {
            return Poll::Ready(stream.capacity());
        }
        match stream.poll_capacity(cx) {
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(_) => panic!("the stream is gone"),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Sends `data` on `stream` as its window allows.
async fn send_all(stream: &mut SendStream<Bytes>, mut data: Bytes) {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let window = poll_fn(|cx| poll_window(stream, cx)).await;
        let piece = data.split_to(window.min(data.len()));
        stream.send_data(piece, false).unwrap();
    }
}

/// An h2c upstream that answers each stream at once and echoes each piece of its body,
/// within its window to keygate, giving the piece's window back only once it is echoed;
/// a piece `reset` has it reset the stream `ENHANCE_YOUR_CALM`; the request's trailers
/// come back as the response's. What it saw end each
/// stream goes to `ends`: `None` when the request ended, else the reason it was reset
/// with.
async fn echo_upstream(ends: UnboundedSender<Option<Reason>>) -> std::net::SocketAddr {
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
                                    match body.trailers().await {
                                        Ok(Some(trailers)) => {
                                            let _ = sending.send_trailers(trailers);
                                        }
                                        _ => {
                                            let _ = sending.send_data(Bytes::new(), true);
                                        }
                                    }
                                    let _ = ends.send(None);
                                    return;
                                }
                                Some(Err(error)) => {
                                    let _ = ends.send(error.reason());
                                    return;
                                }
                                Some(Ok(piece)) => piece,
                            };
                            if piece == "reset" {
                                sending.send_reset(Reason::ENHANCE_YOUR_CALM);
                                return;
                            }
                            let length = piece.len();
                            send_all(&mut sending, piece).await;
                            let _ = body.flow_control().release_capacity(length);
                        }
                    });
                }
            });
        }
    });
    address
}

/// A runtime, the echo upstream (its stream ends on the receiver) and keygate in front
/// of it with an h2c listener, the route `/raw/*` open.
fn setup() -> (
    tokio::runtime::Runtime,
    tokio::sync::mpsc::UnboundedReceiver<Option<Reason>>,
    Gateway,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ends, ended) = unbounded_channel();
    let upstream = runtime.block_on(echo_upstream(ends));
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
    (runtime, ended, gateway)
}

/// A client connection to `gateway`'s h2c listener.
async fn client(gateway: &Gateway) -> h2::client::SendRequest<Bytes> {
    let socket = tokio::net::TcpStream::connect(gateway.address)
        .await
        .unwrap();
    let (sender, connection) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(connection);
    sender
}

fn call(gateway: &Gateway) -> http::Request<()> {
    http::Request::post(format!("http://{}/raw/stream", gateway.address))
        .body(())
        .unwrap()
}

#[test]
fn resets_pass_through_with_their_reason() {
    let (runtime, mut ended, gateway) = setup();
    runtime.block_on(async {
        let sender = client(&gateway).await;

        // The upstream resets in the middle: the client's stream is reset with its reason.
        let mut ready = sender.clone().ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(&gateway), false).unwrap();
        sending
            .send_data(Bytes::from_static(b"one"), false)
            .unwrap();
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut received = response.into_body();
        let echoed = tokio::time::timeout(LIMIT, received.data()).await.unwrap();
        assert_eq!(echoed.unwrap().unwrap(), "one");
        sending
            .send_data(Bytes::from_static(b"reset"), false)
            .unwrap();
        let broken = tokio::time::timeout(LIMIT, received.data()).await.unwrap();
        let error = broken.unwrap().unwrap_err();
        assert_eq!(error.reason(), Some(Reason::ENHANCE_YOUR_CALM), "{error:?}");

        // The client resets in the middle: the upstream's stream is reset `CANCEL`.
        let mut ready = sender.clone().ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(&gateway), false).unwrap();
        sending
            .send_data(Bytes::from_static(b"two"), false)
            .unwrap();
        let mut received = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap()
            .into_body();
        let echoed = tokio::time::timeout(LIMIT, received.data()).await.unwrap();
        assert_eq!(echoed.unwrap().unwrap(), "two");
        sending.send_reset(Reason::CANCEL);
        let end = tokio::time::timeout(LIMIT, ended.recv()).await.unwrap();
        assert_eq!(end, Some(Some(Reason::CANCEL)));
    });
}

/// Byte `at` of the test's stream.
fn pattern(at: usize) -> u8 {
    (at % 251) as u8
}

#[test]
fn a_client_that_does_not_read_is_held_back_by_flow_control() {
    const PIECE: usize = 16 * 1024;
    // What keygate and the upstream may hold between them: each window on the way
    // (1 MiB per stream on keygate's side, both ways; 64 KiB on the upstream's and the
    // client's), keygate's send buffer and a piece in hand each way — 2 MiB and 64 KiB
    // were taken in the runs this was written with. Without flow control from end to
    // end the client would go on sending.
    const HELD_AT_MOST: usize = 4 * 1024 * 1024;
    let (runtime, mut ended, gateway) = setup();
    runtime.block_on(async {
        let sender = client(&gateway).await;
        let mut ready = sender.ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(&gateway), false).unwrap();
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        let mut received = response.into_body();

        // Send without reading until no window opens for half a second.
        let mut sent = 0usize;
        loop {
            sending.reserve_capacity(PIECE);
            let window = poll_fn(|cx| poll_window(&mut sending, cx));
            let Ok(window) = tokio::time::timeout(Duration::from_millis(500), window).await else {
                break;
            };
            let length = window.min(PIECE);
            let piece: Vec<u8> = (sent..sent + length).map(pattern).collect();
            sending.send_data(Bytes::from(piece), false).unwrap();
            sent += length;
            assert!(
                sent <= 2 * HELD_AT_MOST,
                "{sent} bytes taken without a read"
            );
        }
        assert!(sent > 64 * 1024, "only {sent} bytes went");
        assert!(sent <= HELD_AT_MOST, "{sent} bytes held");
        sending.reserve_capacity(0);

        // Read it all back while sending 1 MiB more, then the end.
        let total = sent + 1024 * 1024;
        let writing = async {
            let more: Vec<u8> = (sent..total).map(pattern).collect();
            send_all(&mut sending, Bytes::from(more)).await;
            sending.send_data(Bytes::new(), true).unwrap();
        };
        let reading = async {
            let mut at = 0usize;
            while let Some(piece) = received.data().await {
                let piece = piece.unwrap();
                let _ = received.flow_control().release_capacity(piece.len());
                for (offset, byte) in piece.iter().enumerate() {
                    assert_eq!(*byte, pattern(at + offset), "byte {}", at + offset);
                }
                at += piece.len();
            }
            at
        };
        let ((), read) = tokio::time::timeout(LIMIT, async { tokio::join!(writing, reading) })
            .await
            .unwrap();
        assert_eq!(read, total);
        assert_eq!(ended.recv().await, Some(None));
    });
}

#[test]
fn request_trailers_reach_the_upstream() {
    let (runtime, _ended, gateway) = setup();
    runtime.block_on(async {
        let sender = client(&gateway).await;
        let mut ready = sender.ready().await.unwrap();
        let (response, mut sending) = ready.send_request(call(&gateway), false).unwrap();
        sending
            .send_data(Bytes::from_static(b"body"), false)
            .unwrap();
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("c0ffee"));
        sending.send_trailers(trailers).unwrap();
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .unwrap()
            .unwrap();
        let mut received = response.into_body();
        let echoed = tokio::time::timeout(LIMIT, received.data()).await.unwrap();
        assert_eq!(echoed.unwrap().unwrap(), "body");
        let trailers = tokio::time::timeout(LIMIT, received.trailers())
            .await
            .unwrap()
            .unwrap()
            .expect("trailers");
        assert_eq!(trailers["x-checksum"], "c0ffee");
    });
}
