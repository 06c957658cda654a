//! One client connection, request after request: read a head, hand the request to the
//! gateway in this task, write its response, and go on while both sides keep the
//! connection alive. Pipelined requests are answered in order from the same buffer.
//!
//! One timer serves the whole connection: waiting for a head (idle time included) is
//! limited by `header_timeout`, a write the client does not take in `send_timeout`
//! ends the connection, and the timer is moved to a later deadline only when it fires
//! early, never once per request.

use std::future::{poll_fn, Future as _};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use http::{HeaderValue, Method, Version};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::head_room::{self, HeadRoom, NoRoom, FIRST_BUFFER};
use super::request_body::{BodyProgress, BodyState, RequestBody};
use super::request_head::{self, HeadError, RequestHead, UnderscoredFields};
use super::response_writer::{encode_whole, write_response, Encoded, Exchange, WriteError};
use crate::proxy::error::ProxyError;
use crate::proxy::field_maps;
use crate::proxy::forward::ClientAddress;
use crate::proxy::handler::{Checked, Checking, Gateway};
use crate::proxy::read_buffer::{poll_fill, poll_fill_within};
use crate::proxy::respond::error_response;
use crate::proxy::turn_clock;

/// When keygate closes a connection the client may still be sending on, what it sends
/// is read and dropped for at most this long (and [`DISCARD_LIMIT`] bytes) before the
/// socket closes, so that closing with unread data does not reset the connection and
/// lose the answer on its way (nginx's lingering close).
const LINGER: Duration = Duration::from_secs(2);

/// A request body the handler left unread is read and dropped, up to this many bytes
/// read and within [`LINGER`], so that the connection can carry the next request; a
/// longer or slower one closes it.
const DISCARD_LIMIT: u64 = 1024 * 1024;

/// The limits and rules a connection is served under, read from the configuration when
/// it opened.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request head, idle time before it included.
    pub header_timeout: Duration,
    /// A head still incomplete after this many bytes is answered `431` (a complete one
    /// is measured against `max_header_bytes` by the handler).
    pub max_head_bytes: usize,
    /// How much room the incomplete heads of all connections may hold together beyond
    /// their first buffers (`proxy.max_partial_head_bytes`); a head that needs more is
    /// answered `431`.
    pub partial_head_budget: usize,
    /// How long a write may make no progress before the connection is closed.
    pub send_timeout: Duration,
    /// What becomes of request fields whose names hold an `_`.
    pub underscored_fields: UnderscoredFields,
}

/// What a client connection runs over: a TCP socket, or a TLS stream over one. The
/// connection code is generic over it, so that the plain path is compiled for the
/// socket itself, with no dispatch per read or write.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin {}

impl<S: AsyncRead + AsyncWrite + Unpin> ClientIo for S {}

/// A client connection: the stream, what was read from it and not used yet, what is
/// being written to it, and the state of the request body being read.
#[derive(Debug)]
pub struct ClientConnection<S> {
    /// The socket, or the TLS stream over it.
    pub stream: S,
    /// Bytes read and not consumed yet.
    pub buffer: BytesMut,
    /// The response being written.
    pub outgoing: Vec<u8>,
    /// The current request's body.
    pub body: BodyState,
    /// The room the head being read may take in `buffer`.
    head_room: HeadRoom,
    /// Bytes read from the socket so far.
    bytes_read: u64,
    /// How long a write may make no progress.
    send_timeout: Duration,
    /// The connection's one timer: the wait for a head, and writes.
    timer: Pin<Box<Sleep>>,
}

/// How waiting for a request head ended without a head.
enum NoHead {
    /// The client closed the connection, or the server is shutting down.
    Closed,
    /// The head broke a rule: answered with this error, then the connection closes.
    Refused(ProxyError),
}

impl<S: ClientIo> ClientConnection<S> {
    fn new(stream: S, limits: &Limits) -> ClientConnection<S> {
        ClientConnection {
            stream,
            buffer: BytesMut::with_capacity(FIRST_BUFFER),
            outgoing: Vec::with_capacity(1024),
            body: BodyState::none(),
            head_room: HeadRoom::new(&head_room::TAKEN),
            bytes_read: 0,
            send_timeout: limits.send_timeout,
            timer: Box::pin(tokio::time::sleep(limits.header_timeout)),
        }
    }

    /// Reads what the socket has into `buffer` ([`poll_fill`]), counting the bytes.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let read = poll_fill(&mut self.stream, &mut self.buffer, cx);
        self.count(read)
    }

    /// Reads at most `room` bytes into the room already made in `buffer`
    /// ([`poll_fill_within`]), counting them.
    fn poll_fill_within(&mut self, room: usize, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let read = poll_fill_within(&mut self.stream, &mut self.buffer, room, cx);
        self.count(read)
    }

    /// Counts the bytes of a read.
    fn count(&mut self, read: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if let Poll::Ready(Ok(count)) = read {
            self.bytes_read += count as u64;
        }
        read
    }

    /// Writes what the write buffer holds, each write within the send timeout.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.outgoing.is_empty() {
            return Ok(());
        }
        let result = send(
            &mut self.stream,
            &mut self.timer,
            self.send_timeout,
            &self.outgoing,
        )
        .await;
        self.outgoing.clear();
        result
    }

    /// Writes `data` (a large body piece, not copied into the write buffer), each write
    /// within the send timeout.
    pub async fn send_bytes(&mut self, data: &[u8]) -> io::Result<()> {
        send(&mut self.stream, &mut self.timer, self.send_timeout, data).await
    }

    /// Waits for a complete request head, within `deadline`, and puts it in `parsed`:
    /// there it stays for the request, rather than moved out through the poll's result
    /// and the wait's (a few hundred bytes copied at each step).
    fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        limits: &Limits,
        deadline: Instant,
        stopped: &mut Pin<&mut WaitForCancellationFuture<'_>>,
        parsed: &mut Option<RequestHead>,
    ) -> Poll<Result<(), NoHead>> {
        loop {
            if !self.buffer.is_empty() {
                match request_head::parse(&mut self.buffer, limits.underscored_fields) {
                    Ok(Some(head)) => {
                        self.head_room.release();
                        *parsed = Some(head);
                        return Poll::Ready(Ok(()));
                    }
                    Ok(None) => {}
                    Err(error) => {
                        self.head_room.release();
                        return Poll::Ready(Err(refusal(error)));
                    }
                }
            }
            let room = self.head_room.make_room(
                &mut self.buffer,
                limits.max_head_bytes,
                limits.partial_head_budget,
            );
            let room = match room {
                Ok(room) => room,
                Err(no_room) => {
                    self.head_room.release();
                    if no_room == NoRoom::OverBudget {
                        tracing::debug!(
                            "request head refused: the budget for partial heads is spent"
                        );
                    }
                    return Poll::Ready(Err(NoHead::Refused(ProxyError::HeadersTooLarge)));
                }
            };
            match self.poll_fill_within(room, cx) {
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
        if poll_deadline(&mut self.timer, cx, deadline) {
            tracing::debug!("client sent no complete request head in time");
            return Poll::Ready(Err(NoHead::Closed));
        }
        Poll::Pending
    }

    /// Reads and drops what is left of a body the handler did not read. `false`: the
    /// body is longer or slower than worth reading, or broke off; the connection must
    /// close.
    async fn discard_body(&mut self) -> bool {
        let buffered = self.buffer.len() as u64;
        if matches!(self.body.progress, BodyProgress::Length(left) if left > DISCARD_LIMIT + buffered)
        {
            return false;
        }
        let limit = self.bytes_read + DISCARD_LIMIT;
        let discarding = async {
            loop {
                match poll_fn(|cx| self.poll_body_data(cx)).await {
                    None => return !matches!(self.body.progress, BodyProgress::Broken),
                    Some(Ok(_)) if self.bytes_read <= limit => {}
                    Some(_) => return false,
                }
            }
        };
        tokio::time::timeout(LINGER, discarding)
            .await
            .unwrap_or(false)
    }

    /// Closes the sending side, then reads and drops what the client still sends, until
    /// it closes too or [`LINGER`] or [`DISCARD_LIMIT`] is reached.
    async fn linger(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let draining = async {
            let limit = self.bytes_read + DISCARD_LIMIT;
            while self.bytes_read < limit {
                // Read into the first buffer's worth, not a larger one grown for this.
                self.buffer.clear();
                self.buffer.reserve(FIRST_BUFFER);
                let room = self.buffer.capacity().min(FIRST_BUFFER);
                match poll_fn(|cx| self.poll_fill_within(room, cx)).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, draining).await;
    }
}

/// Whether `deadline` has passed, polling the connection's timer. The timer is moved
/// back when it is set past `deadline`, and forward only when it fires early.
fn poll_deadline(timer: &mut Pin<Box<Sleep>>, cx: &mut Context<'_>, deadline: Instant) -> bool {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    while timer.as_mut().poll(cx).is_ready() {
        if timer.deadline() >= deadline {
            return true;
        }
        timer.as_mut().reset(deadline);
    }
    false
}

/// Writes `data` whole to `stream`, then flushes it; fails when a write makes no
/// progress for `timeout`. The clock is read only when the socket is full. The flush is
/// what a TLS stream needs to send the last encrypted bytes the socket did not take at
/// once; on a plain socket it does nothing.
async fn send<S: ClientIo>(
    stream: &mut S,
    timer: &mut Pin<Box<Sleep>>,
    timeout: Duration,
    mut data: &[u8],
) -> io::Result<()> {
    let mut deadline: Option<Instant> = None;
    poll_fn(|cx| {
        while !data.is_empty() {
            match Pin::new(&mut *stream).poll_write(cx, data) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(written)) => {
                    data = &data[written..];
                    deadline = None;
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return wait(timer, cx, &mut deadline, timeout),
            }
        }
        match Pin::new(&mut *stream).poll_flush(cx) {
            Poll::Ready(flushed) => Poll::Ready(flushed),
            Poll::Pending => wait(timer, cx, &mut deadline, timeout),
        }
    })
    .await
}

/// A write that is waiting: pending until `timeout` after the wait began, then
/// `TimedOut`.
fn wait(
    timer: &mut Pin<Box<Sleep>>,
    cx: &mut Context<'_>,
    deadline: &mut Option<Instant>,
    timeout: Duration,
) -> Poll<io::Result<()>> {
    let due = *deadline.get_or_insert_with(|| Instant::now() + timeout);
    if poll_deadline(timer, cx, due) {
        return Poll::Ready(Err(io::ErrorKind::TimedOut.into()));
    }
    Poll::Pending
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
pub async fn serve_connection<S: ClientIo>(
    stream: S,
    client: ClientAddress,
    gateway: &Gateway,
    limits: Limits,
    stopping: &CancellationToken,
) {
    let mut connection = ClientConnection::new(stream, &limits);
    let mut stopped = pin!(stopping.cancelled());
    loop {
        // The turn's reading: a head due a few requests' time early is still due.
        let deadline = Instant::from_std(turn_clock::now().instant) + limits.header_timeout;
        let mut parsed = None;
        let waited =
            poll_fn(|cx| connection.poll_head(cx, &limits, deadline, &mut stopped, &mut parsed));
        match waited.await {
            Ok(()) => {}
            Err(NoHead::Closed) => break,
            Err(NoHead::Refused(error)) => {
                refuse(&mut connection, &error).await;
                connection.linger().await;
                return;
            }
        }
        // Read where `poll_head` put it; always there after `Ok`.
        let Some(head) = parsed.as_mut() else {
            break;
        };
        let (head_request, version) = (head.parts.method == Method::HEAD, head.parts.version);
        connection.body = BodyState::new(head.framing, head.expects_continue);
        // Set only on a route with `body` key sources; not paired with `checked` in a
        // tuple, which would copy the decision (hundreds of bytes) once more per request.
        let mut read_body = None;
        let checked = match gateway.check(&mut head.parts, &head.source, &client) {
            Checking::Decided(checked) => checked,
            // Exact rate limits across nodes: the one wait before forwarding.
            Checking::Limiting(admission) => gateway.settle(admission, &head.parts).await,
            // A route with `body` key sources: the body is read before the key is looked
            // for. Boxed, as the forwarding below: other requests never pay to move it.
            Checking::ReadingBody(wait) => {
                let mut body = RequestBody::new(&mut connection);
                let reading = gateway.check_body(wait, &mut head.parts, &client, &mut body);
                let (checked, read) = Box::pin(reading).await;
                read_body = read;
                checked
            }
        };
        let (response, request_id) = match checked {
            Checked::Answered(response, request_id) => (response, request_id),
            Checked::Admitted(admission) => {
                let request_id = admission.request_id_field();
                let forwarded = match read_body {
                    None => {
                        let body = RequestBody::new(&mut connection);
                        gateway
                            .forward(admission, &mut head.parts, body, &client)
                            .await
                    }
                    Some(read) => {
                        Box::pin(gateway.forward_read(admission, &mut head.parts, read, &client))
                            .await
                    }
                };
                (forwarded, request_id)
            }
        };
        // Emptied and given back now, not when the next head comes: its values are slices
        // of the read buffer, which can start again at its front only when nothing else
        // holds it.
        field_maps::give_back(std::mem::take(&mut head.parts.headers));
        drop(std::mem::take(&mut head.source));
        if connection.body.interim_cut_short() {
            // Part of a `100 Continue` went out: a response after it would be garbled.
            return;
        }
        let body_unread = !connection.body.is_complete();
        let exchange = Exchange {
            head_request,
            version,
            keep_alive: head.keep_alive
                && !stopping.is_cancelled()
                && !(body_unread && connection.body.continue_owed()),
        };
        let request_id = request_id.as_ref();
        let written = match encode_whole(&mut connection.outgoing, response, exchange, request_id) {
            Encoded::Whole(keep_alive) => connection
                .flush()
                .await
                .map(|()| keep_alive)
                .map_err(WriteError::from),
            Encoded::Streamed(response) => {
                write_response(&mut connection, response, exchange, request_id).await
            }
        };
        match written {
            Ok(true) => {}
            Ok(false) => {
                // The client may still be sending (a body, a pipelined or next request):
                // closing on unread bytes would reset the connection under the answer.
                connection.linger().await;
                return;
            }
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
async fn refuse<S: ClientIo>(connection: &mut ClientConnection<S>, error: &ProxyError) {
    let response = error_response(error, &HeaderValue::from_static(""));
    let exchange = Exchange {
        head_request: false,
        version: Version::HTTP_11,
        keep_alive: false,
    };
    if let Err(error) = write_response(connection, response, exchange, None).await {
        tracing::debug!(%error, "refusal not sent");
    }
}

#[cfg(test)]
mod tests;
