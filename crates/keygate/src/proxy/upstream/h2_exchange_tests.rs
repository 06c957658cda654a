//! [`super::h2_exchange`] against an HTTP/2 server of the h2 crate on loopback that
//! answers at once and echoes each piece of the request as it comes: the rest of a
//! request that can outlive the exchange is sent as the response is read; one that
//! cannot is sent to its end first; a client silent for `send_timeout` has the upstream
//! stream reset `CANCEL`; an upstream's reset reaches the client with its reason.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::Reason;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::forward_body::ForwardBody;
use super::h2_exchange::exchange;
use super::UpstreamBodyError;
use crate::proxy::error::ProxyError;

/// What the echo server saw end each stream: `None` when the request ended, or the
/// reason it was reset with.
type Ends = mpsc::UnboundedSender<Option<Reason>>;

/// An h2c server that answers each stream's head at once and then echoes each piece
/// of its body; a piece `reset` has it reset the stream `ENHANCE_YOUR_CALM`.
async fn echo_server(ends: Ends) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut connection = h2::server::handshake(socket).await.unwrap();
        while let Some(Ok((request, mut respond))) = connection.accept().await {
            let ends = ends.clone();
            tokio::spawn(async move {
                let mut body = request.into_body();
                let mut sending = respond.send_response(Response::new(()), false).unwrap();
                loop {
                    match body.data().await {
                        None => {
                            let _ = sending.send_data(Bytes::new(), true);
                            let _ = ends.send(None);
                            return;
                        }
                        Some(Err(error)) => {
                            let _ = ends.send(error.reason());
                            return;
                        }
                        Some(Ok(piece)) => {
                            let _ = body.flow_control().release_capacity(piece.len());
                            if piece == "reset" {
                                sending.send_reset(Reason::ENHANCE_YOUR_CALM);
                                return;
                            }
                            let _ = sending.send_data(piece, false);
                        }
                    }
                }
            });
        }
    });
    address
}

/// A sender of streams on a connection to `address`.
async fn connect(address: std::net::SocketAddr) -> h2::client::SendRequest<Bytes> {
    let socket = TcpStream::connect(address).await.unwrap();
    let (sender, connection) = h2::client::handshake(socket).await.unwrap();
    tokio::spawn(connection);
    sender
}

/// A request body whose pieces a test hands over one by one; it ends when the sender
/// is dropped. `detachable` says whether it may outlive the exchange.
struct Handed {
    pieces: mpsc::UnboundedReceiver<Bytes>,
    detachable: bool,
}

impl Body for Handed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.pieces
            .poll_recv(cx)
            .map(|piece| piece.map(|piece| Ok(Frame::data(piece))))
    }
}

impl ForwardBody for Handed {
    type Detached = Handed;

    fn detach(self) -> Result<Handed, Handed> {
        match self.detachable {
            true => Ok(self),
            false => Err(self),
        }
    }
}

fn request() -> Request<()> {
    Request::post("http://upstream.test/echo.Echo/Chat")
        .body(())
        .unwrap()
}

const LONG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_rest_of_the_request_is_sent_as_the_response_is_read() {
    let (ends, mut ended) = mpsc::unbounded_channel();
    let sender = connect(echo_server(ends).await).await;
    let (hand, pieces) = mpsc::unbounded_channel();
    let body = Handed {
        pieces,
        detachable: true,
    };
    // The head comes back before any of the body was sent.
    let response = exchange(sender, request(), Some(body), LONG, LONG)
        .await
        .unwrap();
    let mut received = response.into_body();
    for turn in ["one", "two", "three"] {
        hand.send(Bytes::from_static(turn.as_bytes())).unwrap();
        let frame = tokio::time::timeout(LONG, received.frame()).await.unwrap();
        let data = frame.unwrap().unwrap().into_data().unwrap();
        assert_eq!(data, turn);
    }
    drop(hand);
    let rest = tokio::time::timeout(LONG, received.collect())
        .await
        .unwrap();
    assert!(rest.unwrap().to_bytes().is_empty());
    assert_eq!(ended.recv().await, Some(None));
}

#[tokio::test]
async fn a_body_that_cannot_outlive_the_exchange_is_sent_whole_first() {
    let (ends, _ended) = mpsc::unbounded_channel();
    let sender = connect(echo_server(ends).await).await;
    let (hand, pieces) = mpsc::unbounded_channel();
    let body = Handed {
        pieces,
        detachable: false,
    };
    hand.send(Bytes::from_static(b"a")).unwrap();
    hand.send(Bytes::from_static(b"b")).unwrap();
    let exchanged = tokio::spawn(exchange(sender, request(), Some(body), LONG, LONG));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !exchanged.is_finished(),
        "the exchange waits for the body's end"
    );
    drop(hand);
    let response = exchanged.await.unwrap().unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "ab");
}

#[tokio::test]
async fn a_client_silent_for_send_timeout_has_the_upstream_stream_cancelled() {
    let (ends, mut ended) = mpsc::unbounded_channel();
    let sender = connect(echo_server(ends).await).await;
    let (hand, pieces) = mpsc::unbounded_channel();
    let body = Handed {
        pieces,
        detachable: true,
    };
    let send_timeout = Duration::from_millis(200);
    let response = exchange(sender, request(), Some(body), send_timeout, LONG)
        .await
        .unwrap();
    let mut received = response.into_body();
    let failed = tokio::time::timeout(LONG, received.frame()).await.unwrap();
    let error = failed.unwrap().unwrap_err();
    assert!(
        matches!(
            error,
            UpstreamBodyError::Request(ProxyError::RequestBodyTimeout)
        ),
        "{error:?}"
    );
    assert_eq!(error.reset_reason(), Reason::CANCEL);
    let end = tokio::time::timeout(LONG, ended.recv()).await.unwrap();
    assert_eq!(end, Some(Some(Reason::CANCEL)));
    drop(hand);
}

#[tokio::test]
async fn an_upstream_reset_passes_on_with_its_reason() {
    let (ends, _ended) = mpsc::unbounded_channel();
    let sender = connect(echo_server(ends).await).await;
    let (hand, pieces) = mpsc::unbounded_channel();
    let body = Handed {
        pieces,
        detachable: true,
    };
    let response = exchange(sender, request(), Some(body), LONG, LONG)
        .await
        .unwrap();
    let mut received = response.into_body();
    hand.send(Bytes::from_static(b"reset")).unwrap();
    let failed = tokio::time::timeout(LONG, received.frame()).await.unwrap();
    let error = failed.unwrap().unwrap_err();
    assert_eq!(error.reset_reason(), Reason::ENHANCE_YOUR_CALM, "{error:?}");
}
