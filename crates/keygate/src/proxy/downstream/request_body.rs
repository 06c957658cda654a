//! A request body as the handler receives it: read from the client connection only when
//! the handler (in practice the upstream exchange) asks for it, by borrowing the
//! connection for the request's lifetime. A body the handler never read — a request
//! refused before forwarding — is left on the connection, which discards it or closes.
//! A client that sent `Expect: 100-continue` is told to go on at the first read, so a
//! refused request's body is never sent at all.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::connection::{ClientConnection, ClientIo};
use super::request_head::BodyFraming;
use crate::proxy::chunked::{ChunkedDecoder, ChunkedError, Decoded};
use crate::proxy::upstream::{ForwardBody, Undetachable};

/// The interim response a client waiting on `Expect: 100-continue` is sent.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum RequestBodyError {
    /// Reading from (or writing `100 Continue` to) the client failed.
    #[error("reading the request body failed: {0}")]
    Io(#[from] io::Error),
    /// The chunked framing was broken.
    #[error(transparent)]
    Chunked(#[from] ChunkedError),
    /// The client closed the connection before the body was complete.
    #[error("the client closed the connection before the body was complete")]
    Truncated,
}

/// How much of the current request's body is still to be read.
#[derive(Debug)]
pub enum BodyProgress {
    /// This many bytes (0: the body is complete, or there was none).
    Length(u64),
    /// Chunked framing, until the decoder is done.
    Chunked(ChunkedDecoder),
    /// The body broke off: the connection cannot carry another request.
    Broken,
}

/// What the connection knows of the request body being read.
#[derive(Debug)]
pub struct BodyState {
    /// What is left of it.
    pub progress: BodyProgress,
    /// Bytes of `100 Continue` still to be written; `None` when none is owed.
    pub continue_left: Option<usize>,
}

impl BodyState {
    /// No body: the state between requests.
    pub fn none() -> BodyState {
        BodyState {
            progress: BodyProgress::Length(0),
            continue_left: None,
        }
    }

    /// The state at the start of a body framed as `framing`.
    pub fn new(framing: BodyFraming, expects_continue: bool) -> BodyState {
        BodyState {
            progress: match framing {
                BodyFraming::None => BodyProgress::Length(0),
                BodyFraming::Length(length) => BodyProgress::Length(length),
                BodyFraming::Chunked => BodyProgress::Chunked(ChunkedDecoder::new()),
            },
            continue_left: expects_continue.then_some(CONTINUE.len()),
        }
    }

    /// Whether the client still waits for `100 Continue`, none of which was sent.
    pub fn continue_owed(&self) -> bool {
        self.continue_left == Some(CONTINUE.len())
    }

    /// Whether `100 Continue` was begun and not finished (the client stopped reading).
    pub fn interim_cut_short(&self) -> bool {
        self.continue_left
            .is_some_and(|left| left > 0 && left < CONTINUE.len())
    }

    /// Whether the body has been read to its end.
    pub fn is_complete(&self) -> bool {
        match &self.progress {
            BodyProgress::Length(left) => *left == 0,
            BodyProgress::Chunked(decoder) => decoder.is_done(),
            BodyProgress::Broken => false,
        }
    }
}

/// The body of the request being handled, read from the client connection.
pub struct RequestBody<'c, S> {
    connection: &'c mut ClientConnection<S>,
}

impl<'c, S: ClientIo> RequestBody<'c, S> {
    /// The body of the request whose head was just read from `connection`.
    pub fn new(connection: &'c mut ClientConnection<S>) -> RequestBody<'c, S> {
        RequestBody { connection }
    }
}

impl<S: ClientIo> ClientConnection<S> {
    /// The next piece of the request body, `None` at its end.
    pub fn poll_body_data(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, RequestBodyError>>> {
        if let Some(left) = self.body.continue_left {
            if left > 0 && self.buffer.is_empty() {
                if let Err(error) = ready!(self.poll_write_continue(cx, left)) {
                    self.body.progress = BodyProgress::Broken;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
            self.body.continue_left = Some(0);
        }
        loop {
            match &mut self.body.progress {
                BodyProgress::Broken | BodyProgress::Length(0) => return Poll::Ready(None),
                BodyProgress::Length(left) => {
                    if !self.buffer.is_empty() {
                        let buffered = u64::try_from(self.buffer.len()).unwrap_or(u64::MAX);
                        let take = (*left).min(buffered);
                        *left -= take;
                        let size = usize::try_from(take).unwrap_or(self.buffer.len());
                        return Poll::Ready(Some(Ok(self.buffer.split_to(size).freeze())));
                    }
                }
                BodyProgress::Chunked(decoder) => match decoder.decode(&mut self.buffer) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(data))),
                    Ok(Decoded::Done) => return Poll::Ready(None),
                    Ok(Decoded::NeedMore) => {}
                    Err(error) => {
                        self.body.progress = BodyProgress::Broken;
                        return Poll::Ready(Some(Err(error.into())));
                    }
                },
            }
            // The client waits for `100 Continue` before it sends the body: what a TLS
            // stream still holds of it goes out before the wait (a socket holds nothing).
            if self.body.continue_left == Some(0) {
                if let Poll::Ready(Err(error)) = Pin::new(&mut self.stream).poll_flush(cx) {
                    self.body.progress = BodyProgress::Broken;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) => {
                    self.body.progress = BodyProgress::Broken;
                    return Poll::Ready(Some(Err(RequestBodyError::Truncated)));
                }
                Ok(_) => {}
                Err(error) => {
                    self.body.progress = BodyProgress::Broken;
                    return Poll::Ready(Some(Err(error.into())));
                }
            }
        }
    }

    /// Writes what is left of `100 Continue`.
    fn poll_write_continue(
        &mut self,
        cx: &mut Context<'_>,
        mut left: usize,
    ) -> Poll<io::Result<()>> {
        while left > 0 {
            let start = CONTINUE.len() - left;
            let written = ready!(Pin::new(&mut self.stream).poll_write(cx, &CONTINUE[start..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            left -= written;
            self.body.continue_left = Some(left);
        }
        Poll::Ready(Ok(()))
    }
}

/// It borrows the client's connection: sent to its end before the response is read.
impl<S: ClientIo> ForwardBody for RequestBody<'_, S> {
    type Detached = Undetachable;

    fn detach(self) -> Result<Undetachable, Self> {
        Err(self)
    }
}

impl<S: ClientIo> Body for RequestBody<'_, S> {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        self.get_mut()
            .connection
            .poll_body_data(cx)
            .map(|data| data.map(|data| data.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.connection.body.is_complete()
    }

    fn size_hint(&self) -> SizeHint {
        match self.connection.body.progress {
            BodyProgress::Length(left) => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}
