//! One request on a stream of an upstream HTTP/2 connection ([`super::h2_client`]): the
//! head, then the request body sent as it comes while the response head is awaited —
//! both at once, so that an upstream may answer before the request has ended.
//!
//! When the response head arrives first and the body can outlive the exchange (an
//! HTTP/2 client's, see [`super::forward_body`]), what is left of the request travels
//! in the response body ([`RequestRest`]) and is sent on as the client reads the
//! response: a gRPC bidirectional call interleaves, message for answer. Otherwise (an
//! HTTP/1.1 client's body) the body is sent to its end first, then the response is
//! handed on.
//!
//! Flow control holds both ways: a piece of the client's body is taken (and the
//! client's window given back) only once the upstream's window has room for the piece
//! before it; the response's window is given back as the client reads. A client that
//! stops sending for `send_timeout` has the upstream stream reset (`CANCEL`); a client
//! that resets its stream has the upstream stream reset with it; an upstream that
//! resets its stream has the client's reset with the same reason
//! (`proxy::http2::response`).

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::{Reason, RecvStream, SendStream};
use http::{Request, Response};
use http_body::Frame;

use super::forward_body::ForwardBody;
use super::{Failure, UpstreamBody};
use crate::proxy::error::ProxyError;

/// The largest request body piece handed to h2 at once.
const MAX_PIECE: usize = 16 * 1024;

/// What is left of a request body still being sent once the response has begun: it
/// finishes with `Err` when the client's side failed (its body broke off, or it sent
/// nothing for `send_timeout`), the upstream stream reset by then.
pub type RequestRest = Pin<Box<dyn Future<Output = Result<(), ProxyError>> + Send>>;

/// One request on a stream of `sender`: the head, the body as it comes (each wait for
/// the client or for window at most `send_timeout`) alongside the response head (at most
/// `read_timeout` once the body is sent).
pub async fn exchange<B: ForwardBody>(
    mut sender: SendRequest<Bytes>,
    request: Request<()>,
    body: Option<B>,
    send_timeout: Duration,
    read_timeout: Duration,
) -> Result<Response<UpstreamBody>, Failure> {
    let (mut response, stream) = sender.send_request(request, body.is_none()).map_err(lost)?;
    let Some(body) = body else {
        let head = head_within(response, read_timeout).await?;
        return Ok(answered(head, read_timeout, None));
    };
    match body.detach() {
        Ok(body) => {
            let mut sending = Box::pin(send_body(stream, body, send_timeout));
            let (head, sent) = race(&mut sending, &mut response, read_timeout).await?;
            let rest: Option<RequestRest> = match sent {
                true => None,
                false => Some(Box::pin(async move {
                    match sending.await {
                        Ok(()) | Err(Stop::Upstream(_)) => Ok(()),
                        Err(Stop::Client(failure)) => Err(failure.error),
                    }
                })),
            };
            Ok(answered(head, read_timeout, rest))
        }
        Err(body) => {
            let mut sending = std::pin::pin!(send_body(stream, body, send_timeout));
            let (head, sent) = race(&mut sending, &mut response, read_timeout).await?;
            if !sent {
                // The body borrows the client's connection: it is sent to its end
                // before the response is handed on. The upstream's answer stands if it
                // refuses the rest.
                if let Err(Stop::Client(failure)) = sending.await {
                    return Err(failure);
                }
            }
            Ok(answered(head, read_timeout, None))
        }
    }
}

/// Sends the body (`sending`) while the response head is awaited: the head, and whether
/// the body was sent whole by then. The response head is timed by `read_timeout` only
/// once the body is sent, as over HTTP/1.1.
async fn race<P>(
    sending: &mut P,
    response: &mut ResponseFuture,
    read_timeout: Duration,
) -> Result<(Response<RecvStream>, bool), Failure>
where
    P: Future<Output = Result<(), Stop>> + Unpin,
{
    tokio::select! {
        biased;
        head = &mut *response => {
            let head = head.map_err(|error| Failure::connection_lost("reading from", error, false))?;
            Ok((head, false))
        }
        sent = &mut *sending => match sent {
            Ok(()) => Ok((head_within(response, read_timeout).await?, true)),
            Err(Stop::Client(failure)) => Err(failure),
            // The upstream may have answered whole and reset the rest of the request
            // (RFC 9113 §8.1: an answer before the request is complete, then
            // RST_STREAM NO_ERROR): its answer stands.
            Err(Stop::Upstream(failure)) => match tokio::time::timeout(read_timeout, response).await {
                Ok(Ok(head)) => Ok((head, true)),
                _ => Err(failure),
            },
        },
    }
}

/// The response head, waited for at most `read_timeout`.
async fn head_within<F>(
    response: F,
    read_timeout: Duration,
) -> Result<Response<RecvStream>, Failure>
where
    F: Future<Output = Result<Response<RecvStream>, h2::Error>>,
{
    tokio::time::timeout(read_timeout, response)
        .await
        .map_err(|_| Failure::timeout())?
        .map_err(|error| Failure::connection_lost("reading from", error, false))
}

/// The response as the proxy hands it on, with what is left of its request.
fn answered(
    response: Response<RecvStream>,
    read_timeout: Duration,
    rest: Option<RequestRest>,
) -> Response<UpstreamBody> {
    let (parts, received) = response.into_parts();
    Response::from_parts(parts, UpstreamBody::h2(received, read_timeout, rest))
}

/// Why sending a request body stopped.
enum Stop {
    /// The client's side: its body failed or stopped coming.
    Client(Failure),
    /// The stream or connection to the upstream failed.
    Upstream(Failure),
}

/// A stream error as a failed try: one refused before the upstream took it (GOAWAY,
/// `REFUSED_STREAM`) may be sent again.
pub(super) fn lost(error: h2::Error) -> Failure {
    let refused = error.reason() == Some(Reason::REFUSED_STREAM) || error.is_go_away();
    Failure::connection_lost("sending to", error, refused)
}

/// Sends `body` on `stream` as it comes, its trailers included: each wait for the
/// client's next frame, or for window, at most `send_timeout`. When the client's side
/// fails the stream is reset (`CANCEL`), so that the upstream stops waiting for it.
async fn send_body<B>(
    mut stream: SendStream<Bytes>,
    body: B,
    send_timeout: Duration,
) -> Result<(), Stop>
where
    B: http_body::Body<Data = Bytes, Error: std::fmt::Display> + Unpin,
{
    let result = send_frames(&mut stream, body, send_timeout).await;
    if let Err(Stop::Client(_)) = &result {
        stream.send_reset(Reason::CANCEL);
    }
    result
}

async fn send_frames<B>(
    stream: &mut SendStream<Bytes>,
    mut body: B,
    send_timeout: Duration,
) -> Result<(), Stop>
where
    B: http_body::Body<Data = Bytes, Error: std::fmt::Display> + Unpin,
{
    let upstream = |error| Stop::Upstream(lost(error));
    loop {
        let frame = tokio::time::timeout(
            send_timeout,
            poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)),
        )
        .await
        .map_err(|_| Stop::Client(Failure::client(ProxyError::RequestBodyTimeout)))?;
        let Some(frame) = frame else {
            return stream.send_data(Bytes::new(), true).map_err(upstream);
        };
        let frame = frame.map_err(|error| Stop::Client(Failure::bad_request_body(error)))?;
        match frame.into_data() {
            Ok(mut data) => {
                while !data.is_empty() {
                    stream.reserve_capacity(data.len().min(MAX_PIECE));
                    let capacity =
                        tokio::time::timeout(send_timeout, poll_fn(|cx| poll_window(stream, cx)))
                            .await
                            .map_err(|_| Stop::Upstream(Failure::timeout()))?
                            .map_err(upstream)?;
                    let piece = data.split_to(capacity.min(data.len()));
                    stream.send_data(piece, false).map_err(upstream)?;
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    return stream.send_trailers(trailers).map_err(upstream);
                }
            }
        }
    }
}

/// Waits until the stream may send at least one byte: how many.
fn poll_window(
    stream: &mut SendStream<Bytes>,
    cx: &mut Context<'_>,
) -> Poll<Result<usize, h2::Error>> {
    loop {
        let capacity = stream.capacity();
        if capacity > 0 {
            return Poll::Ready(Ok(capacity));
        }
        match stream.poll_capacity(cx) {
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Err(error)),
            Poll::Ready(None) => return Poll::Ready(Err(h2::Error::from(Reason::STREAM_CLOSED))),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// The next frame of an HTTP/2 response body: data (its window given back at once, so
/// the upstream may go on as the client reads), then the trailers.
pub fn poll_response_frame(
    received: &mut RecvStream,
    trailers_done: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
    if !*trailers_done {
        match received.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                let _ = received.flow_control().release_capacity(data.len());
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
            Poll::Ready(None) => {}
            Poll::Pending => return Poll::Pending,
        }
        return match received.poll_trailers(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                *trailers_done = true;
                Poll::Ready(
                    result
                        .transpose()
                        .map(|trailers| trailers.map(Frame::trailers)),
                )
            }
        };
    }
    Poll::Ready(None)
}
