//! One client connection, request after request: read a head, hand the request to the
//! gateway in this task, write its response, and go on while both sides keep the
//! connection alive. Pipelined requests are answered in order from the same buffer.
//!
//! One timer serves the whole connection: waiting for a head (idle time included) is
//! limited by `header_timeout`, and the timer is moved to a later deadline only when it
//! fires early, never once per request.

use std::future::{poll_fn, Future as _};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderValue, Method, Request, Version};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::request_body::{BodyProgress, BodyState, RequestBody};
use super::request_head::{self, HeadError, RequestHead};
use super::response_writer::{write_response, Exchange};
use crate::proxy::error::ProxyError;
use crate::proxy::forward::ClientAddress;
use crate::proxy::handler::Gateway;
use crate::proxy::respond::error_response;

/// Read buffers grow by this much when they run low.
const READ_CHUNK: usize = 16 * 1024;

/// After a refusal, what the client still sends is read and dropped for at most this
/// long (and [`DISCARD_LIMIT`] bytes) before the socket closes, so that closing a socket
/// with unread data does not reset the connection and lose the answer on its way.
const LINGER: Duration = Duration::from_secs(2);

/// A request body the handler left unread is read and dropped, up to this many bytes,
/// so that the connection can carry the next request; a longer one closes it.
const DISCARD_LIMIT: u64 = 1024 * 1024;

/// The limits a connection is served under, read from the configuration when it opened.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request head, idle time before it included.
    pub header_timeout: Duration,
    /// A head that is not complete within this many bytes is answered `431`.
    pub max_head_bytes: usize,
}

/// A client connection: the socket, what was read from it and not used yet, what is
/// being written to it, and the state of the request body being read.
#[derive(Debug)]
pub struct ClientConnection {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read and not consumed yet.
    pub buffer: BytesMut,
    /// The response being written.
    pub outgoing: Vec<u8>,
    /// The current request's body.
    pub body: BodyState,
}

/// How waiting for a request head ended without a head.
enum NoHead {
    /// The client closed the connection, or the server is shutting down.
    Closed,
    /// The head broke a rule: answered with this error, then the connection closes.
    Refused(ProxyError),
}

impl ClientConnection {
    fn new(stream: TcpStream) -> ClientConnection {
        ClientConnection {
            stream,
            buffer: BytesMut::with_capacity(READ_CHUNK),
            outgoing: Vec::with_capacity(1024),
            body: BodyState::none(),
        }
    }

    /// Reads what the socket has into `buffer`: the number of bytes, 0 at end of stream.
    /// Through `AsyncRead`, so that a read that empties the socket also clears its
    /// readiness and the next wait costs no system call.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buffer.capacity() - self.buffer.len() < READ_CHUNK / 4 {
            self.buffer.reserve(READ_CHUNK);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buffer)
    }

    /// Waits for a complete request head, within `deadline`. `timer` is the
    /// connection's one timer; it is moved to `deadline` only when it fires before it.
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        limits: &Limits,
        deadline: Instant,
        timer: &mut Pin<&mut Sleep>,
        stopped: &mut Pin<&mut WaitForCancellationFuture<'_>>,
    ) -> Poll<Result<RequestHead, NoHead>> {
        loop {
            if !self.buffer.is_empty() {
                match request_head::parse(&mut self.buffer) {
                    Ok(Some(head)) => return Poll::Ready(Ok(head)),
                    Ok(None) if self.buffer.len() >= limits.max_head_bytes => {
                        return Poll::Ready(Err(NoHead::Refused(ProxyError::HeadersTooLarge)))
                    }
                    Ok(None) => {}
                    Err(error) => return Poll::Ready(Err(refusal(error))),
                }
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Err(NoHead::Closed)),
                Poll::Ready(Ok(_)) => continue,
                Poll::Pending => break,
            }
        }
        // Between requests, a shutdown closes the connection; a head already begun is
        // waited for like any other.
        if self.buffer.is_empty() && stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(NoHead::Closed));
        }
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= deadline {
                tracing::debug!("client sent no complete request head in time");
                return Poll::Ready(Err(NoHead::Closed));
            }
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }

    /// Reads and drops what is left of a body the handler did not read. `false`: the
    /// body is longer than worth reading, or broke off; the connection must close.
    async fn discard_body(&mut self) -> bool {
        if self.body.continue_left.is_some_and(|left| left > 0) {
            // The client still waits to be told to send it: it never will be.
            return false;
        }
        let mut discarded: u64 = 0;
        loop {
            match poll_fn(|cx| self.poll_body_data(cx)).await {
                None => return !matches!(self.body.progress, BodyProgress::Broken),
                Some(Ok(data)) => {
                    discarded += data.len() as u64;
                    if discarded > DISCARD_LIMIT {
                        return false;
                    }
                }
                Some(Err(_)) => return false,
            }
        }
    }
}

impl ClientConnection {
    /// Closes the sending side, then reads and drops what the client still sends, until
    /// it closes too or [`LINGER`] or [`DISCARD_LIMIT`] is reached.
    async fn linger(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let draining = async {
            let mut drained: u64 = 0;
            while drained < DISCARD_LIMIT {
                self.buffer.clear();
                match poll_fn(|cx| self.poll_fill(cx)).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => drained += read as u64,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, draining).await;
    }
}

/// The answer to a refused head.
fn refusal(error: HeadError) -> NoHead {
    tracing::debug!(%error, "request head refused");
    NoHead::Refused(match error {
        HeadError::TooManyFields => ProxyError::HeadersTooLarge,
        HeadError::UnsupportedTransferCoding => ProxyError::UnsupportedTransferCoding,
        HeadError::Malformed(_) => ProxyError::MalformedRequest,
    })
}

/// Serves the requests of one client connection until either side ends it, or until
/// `stopping` is cancelled and the request in flight (if any) is answered.
pub async fn serve_connection(
    stream: TcpStream,
    client: SocketAddr,
    gateway: &Gateway,
    limits: Limits,
    stopping: &CancellationToken,
) {
    let mut connection = ClientConnection::new(stream);
    let client = ClientAddress::new(client.ip());
    let mut timer = pin!(tokio::time::sleep(limits.header_timeout));
    let mut stopped = pin!(stopping.cancelled());
    loop {
        let deadline = Instant::now() + limits.header_timeout;
        let waited =
            poll_fn(|cx| connection.poll_head(cx, &limits, deadline, &mut timer, &mut stopped));
        let head = match waited.await {
            Ok(head) => head,
            Err(NoHead::Closed) => break,
            Err(NoHead::Refused(error)) => {
                refuse(&mut connection, &error).await;
                connection.linger().await;
                return;
            }
        };
        let exchange = Exchange {
            head_request: head.parts.method == Method::HEAD,
            version: head.parts.version,
            keep_alive: head.keep_alive,
        };
        connection.body = BodyState::new(head.framing, head.expects_continue);
        let request = Request::from_parts(head.parts, RequestBody::new(&mut connection));
        let response = gateway.handle(request, &client).await;
        let body_unread = !connection.body.is_complete();
        let keep_alive = exchange.keep_alive
            && !stopping.is_cancelled()
            && !(body_unread && connection.body.continue_left.is_some_and(|left| left > 0));
        let exchange = Exchange {
            keep_alive,
            ..exchange
        };
        match write_response(&mut connection, response, exchange).await {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                tracing::debug!(client = %client.ip, %error, "response not completed");
                return;
            }
        }
        if body_unread && !connection.discard_body().await {
            connection.linger().await;
            return;
        }
        connection.body = BodyState::none();
    }
    let _ = connection.stream.shutdown().await;
}

/// Answers a head that could not be handled, and ends the connection.
async fn refuse(connection: &mut ClientConnection, error: &ProxyError) {
    let response = error_response(error, &HeaderValue::from_static(""));
    let exchange = Exchange {
        head_request: false,
        version: Version::HTTP_11,
        keep_alive: false,
    };
    if let Err(error) = write_response(connection, response, exchange).await {
        tracing::debug!(%error, "refusal not sent");
    }
}
