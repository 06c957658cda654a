//! The body of an upstream response as the client receives it: either already read
//! whole with the head (the usual small response, its connection already back in the
//! pool), or streamed from the connection, which goes back to the pool once the body has
//! been read to its end. Each read of a streamed body waits at most `read_timeout` for
//! the upstream's next bytes; an upstream silent longer ends the body with an error,
//! and with it the client's connection (its response has begun).

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::balance::Outstanding;
use super::h2_exchange::RequestRest;
use super::pool::{Connection, ConnectionPool};
use crate::proxy::chunked::{ChunkedDecoder, ChunkedError, Decoded};
use crate::proxy::error::ProxyError;

/// Why a streamed body ended early.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamBodyError {
    /// Reading from the upstream failed.
    #[error("reading the upstream response body failed: {0}")]
    Io(#[from] io::Error),
    /// The chunked framing was broken.
    #[error(transparent)]
    Chunked(#[from] ChunkedError),
    /// The upstream closed the connection before the body was complete.
    #[error("the upstream closed the connection before the body was complete")]
    Truncated,
    /// The upstream sent nothing for `read_timeout` before the body was complete.
    #[error(
        "upstream_timeout: the upstream sent nothing for read_timeout in the middle of the body"
    )]
    TimedOut,
    /// The HTTP/2 stream was reset or its connection failed.
    #[error("the upstream HTTP/2 stream failed: {0}")]
    H2(#[from] h2::Error),
    /// The rest of the request, sent alongside the response, failed on the client's
    /// side (its body broke off, or it sent nothing for `send_timeout`).
    #[error("the request body stopped while the response was under way: {0}")]
    Request(ProxyError),
}

impl UpstreamBodyError {
    /// The HTTP/2 reason to reset the client's stream with: an upstream stream's reset
    /// passes on with its reason; a client whose request stopped is told `CANCEL`;
    /// anything else is `INTERNAL_ERROR`.
    pub fn reset_reason(&self) -> h2::Reason {
        match self {
            UpstreamBodyError::H2(error) if error.is_reset() => {
                error.reason().unwrap_or(h2::Reason::INTERNAL_ERROR)
            }
            UpstreamBodyError::Request(_) => h2::Reason::CANCEL,
            _ => h2::Reason::INTERNAL_ERROR,
        }
    }
}

/// How the rest of a streamed body is delimited.
#[derive(Debug)]
pub enum Delimiter {
    /// This many bytes are still to come.
    Length(u64),
    /// Chunked framing.
    Chunked(ChunkedDecoder),
    /// Until the upstream closes the connection.
    UntilClose,
}

/// A response body from the upstream.
#[derive(Debug)]
pub struct UpstreamBody {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Whole(Option<Bytes>),
    Streamed(Box<Streamed>),
    H2(Box<H2Body>),
}

/// A body arriving on an HTTP/2 stream ([`super::h2_exchange`]), and what is left of
/// its request, sent on as the body is read.
struct H2Body {
    received: h2::RecvStream,
    /// The stream has ended (trailers read, or none came).
    done: bool,
    read_timeout: Duration,
    /// Fires when the upstream has sent nothing for `read_timeout`; not watched while
    /// the request is still being sent (each of its pieces is timed by `send_timeout`).
    silence: Pin<Box<tokio::time::Sleep>>,
    outstanding: Option<Outstanding>,
    /// The request body still being sent, when the response began before it ended.
    request: Option<RequestRest>,
    /// How the request's rest failed, told with the next frame asked for.
    request_failed: Option<ProxyError>,
}

impl std::fmt::Debug for H2Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Body")
            .field("done", &self.done)
            .field("sending", &self.request.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Streamed {
    /// `None` once the body has ended (the connection then went back or was closed).
    connection: Option<Connection>,
    delimiter: Delimiter,
    pool: Arc<ConnectionPool>,
    keep_alive: bool,
    /// How long each read may wait for the upstream's next bytes.
    read_timeout: Duration,
    /// The request counted as under way on its target until the body ends.
    outstanding: Option<Outstanding>,
}

impl UpstreamBody {
    /// A body read whole with the head (`None`: no body).
    pub fn whole(data: Option<Bytes>) -> UpstreamBody {
        UpstreamBody {
            inner: Inner::Whole(data.filter(|data| !data.is_empty())),
        }
    }

    /// A body arriving on an HTTP/2 stream, data then trailers; each wait for the next
    /// frame at most `read_timeout` once `request`, the rest of the request still to be
    /// sent, is sent.
    pub fn h2(
        received: h2::RecvStream,
        read_timeout: Duration,
        request: Option<RequestRest>,
    ) -> UpstreamBody {
        let done = received.is_end_stream();
        UpstreamBody {
            inner: Inner::H2(Box::new(H2Body {
                received,
                done,
                read_timeout,
                silence: Box::pin(tokio::time::sleep(read_timeout)),
                outstanding: None,
                request,
                request_failed: None,
            })),
        }
    }

    /// Sends on what is left of the request, if anything, without reading the response:
    /// for a client that waits for window to take the next piece of the response while
    /// it may still be sending. `Ready` once nothing is left to send.
    pub fn poll_request(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.inner {
            Inner::H2(body) => body.poll_request(cx),
            Inner::Whole(_) | Inner::Streamed(_) => Poll::Ready(()),
        }
    }

    /// The length of a body read whole with the head; `None` for a streamed body.
    pub fn whole_length(&self) -> Option<u64> {
        match &self.inner {
            Inner::Whole(data) => Some(data.as_ref().map_or(0, |data| data.len() as u64)),
            Inner::Streamed(_) | Inner::H2(_) => None,
        }
    }

    /// Takes the bytes of a body read whole with the head (empty when there were none);
    /// `None` for a streamed body, which is left as it is.
    pub fn take_whole(&mut self) -> Option<Bytes> {
        match &mut self.inner {
            Inner::Whole(data) => Some(data.take().unwrap_or_default()),
            Inner::Streamed(_) | Inner::H2(_) => None,
        }
    }

    /// A body still to be read from `connection`, whose buffer holds what already
    /// arrived. When the body ends, the connection goes back to `pool` if `keep_alive`.
    /// Each read waits at most `read_timeout` for the next bytes.
    pub fn streamed(
        connection: Connection,
        delimiter: Delimiter,
        pool: Arc<ConnectionPool>,
        keep_alive: bool,
        read_timeout: Duration,
    ) -> UpstreamBody {
        UpstreamBody {
            inner: Inner::Streamed(Box::new(Streamed {
                connection: Some(connection),
                delimiter,
                pool,
                keep_alive,
                read_timeout,
                outstanding: None,
            })),
        }
    }
}

impl UpstreamBody {
    /// Keeps the request counted as under way on its target (least outstanding) until a
    /// streamed body ends; a body read whole with the head lets it go at once.
    pub fn hold(&mut self, outstanding: Option<Outstanding>) {
        match &mut self.inner {
            Inner::Streamed(streamed) if streamed.connection.is_some() => {
                streamed.outstanding = outstanding;
            }
            Inner::H2(body) if !body.done => body.outstanding = outstanding,
            _ => {}
        }
    }
}

impl Streamed {
    /// The body ended as its framing says: the connection may carry the next request.
    fn finish(&mut self) {
        if let Some(connection) = self.connection.take() {
            if self.keep_alive {
                self.pool.give_back(connection);
            }
        }
    }

    fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, UpstreamBodyError>>> {
        loop {
            let Some(connection) = self.connection.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut self.delimiter {
                Delimiter::Length(remaining) => {
                    if *remaining == 0 {
                        self.finish();
                        return Poll::Ready(None);
                    }
                    if !connection.buffer.is_empty() {
                        let buffered = u64::try_from(connection.buffer.len()).unwrap_or(u64::MAX);
                        let take = (*remaining).min(buffered);
                        *remaining -= take;
                        let size = usize::try_from(take).unwrap_or(connection.buffer.len());
                        let data = connection.buffer.split_to(size).freeze();
                        if *remaining == 0 {
                            self.finish();
                        }
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Delimiter::Chunked(decoder) => match decoder.decode(&mut connection.buffer) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(Decoded::Done) => {
                        self.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(error) => {
                        self.connection = None;
                        return Poll::Ready(Some(Err(error.into())));
                    }
                },
                Delimiter::UntilClose => {
                    if !connection.buffer.is_empty() {
                        return Poll::Ready(Some(Ok(connection.buffer.split().freeze())));
                    }
                }
            }
            match connection.poll_fill(cx) {
                Poll::Pending => {
                    if connection.poll_silence(cx, self.read_timeout).is_pending() {
                        return Poll::Pending;
                    }
                    self.connection = None;
                    // The access record went out with the response head: the cause is
                    // told here.
                    tracing::warn!(
                        denial = "upstream_timeout",
                        timeout = ?self.read_timeout,
                        "the upstream went silent in the middle of a response body; the client connection is closed"
                    );
                    return Poll::Ready(Some(Err(UpstreamBodyError::TimedOut)));
                }
                Poll::Ready(Ok(0)) => {
                    self.connection = None;
                    return Poll::Ready(match self.delimiter {
                        Delimiter::UntilClose => None,
                        _ => Some(Err(UpstreamBodyError::Truncated)),
                    });
                }
                Poll::Ready(Ok(_)) => connection.progressed(),
                Poll::Ready(Err(error)) => {
                    self.connection = None;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
        }
    }
}

impl H2Body {
    /// Sends on the request's rest; once it is sent the upstream's silence is timed.
    fn poll_request(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(rest) = self.request.as_mut() else {
            return Poll::Ready(());
        };
        let Poll::Ready(sent) = rest.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        self.request = None;
        let deadline = tokio::time::Instant::now() + self.read_timeout;
        self.silence.as_mut().reset(deadline);
        if let Err(error) = sent {
            // The access record went out with the response head: the cause is told here.
            if error == ProxyError::RequestBodyTimeout {
                tracing::warn!(
                    denial = "request_body_timeout",
                    "the client sent nothing for send_timeout in the middle of a streamed request; both streams are reset"
                );
            } else {
                tracing::debug!(%error, "the rest of the request failed on the client's side; both streams are reset");
            }
            self.request_failed = Some(error);
        }
        Poll::Ready(())
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamBodyError>>> {
        if self.done {
            self.outstanding = None;
            return Poll::Ready(None);
        }
        let _ = self.poll_request(cx);
        if let Some(error) = self.request_failed.take() {
            self.done = true;
            self.outstanding = None;
            return Poll::Ready(Some(Err(UpstreamBodyError::Request(error))));
        }
        match super::h2_exchange::poll_response_frame(&mut self.received, &mut self.done, cx) {
            Poll::Ready(frame) => {
                let deadline = tokio::time::Instant::now() + self.read_timeout;
                self.silence.as_mut().reset(deadline);
                if self.done || frame.is_none() {
                    self.done = true;
                    self.outstanding = None;
                }
                Poll::Ready(frame.map(|frame| frame.map_err(UpstreamBodyError::from)))
            }
            Poll::Pending => {
                if self.request.is_some() || self.silence.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.done = true;
                self.outstanding = None;
                tracing::warn!(
                    denial = "upstream_timeout",
                    timeout = ?self.read_timeout,
                    "the upstream went silent in the middle of an HTTP/2 response body"
                );
                Poll::Ready(Some(Err(UpstreamBodyError::TimedOut)))
            }
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = UpstreamBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, UpstreamBodyError>>> {
        let data = match &mut self.get_mut().inner {
            Inner::H2(body) => return body.poll_frame(cx),
            Inner::Whole(data) => Poll::Ready(data.take().map(Ok)),
            Inner::Streamed(streamed) => {
                let data = streamed.poll_data(cx);
                if streamed.connection.is_none() {
                    streamed.outstanding = None;
                }
                data
            }
        };
        data.map(|data| data.map(|data| data.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Whole(data) => data.is_none(),
            Inner::Streamed(streamed) => streamed.connection.is_none(),
            Inner::H2(body) => body.done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Whole(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |data| data.len() as u64))
            }
            Inner::Streamed(streamed) => match streamed.delimiter {
                Delimiter::Length(remaining) if streamed.connection.is_some() => {
                    SizeHint::with_exact(remaining)
                }
                Delimiter::Length(_) => SizeHint::with_exact(0),
                _ => SizeHint::default(),
            },
            Inner::H2(body) if body.done => SizeHint::with_exact(0),
            Inner::H2(_) => SizeHint::default(),
        }
    }
}
