//! Bodies over an HTTP/2 stream: the client's request body as an [`http_body::Body`]
//! for forwarding, its flow-control window given back as each piece is taken, its
//! trailers last; and the response body sent in pieces the client's windows allow,
//! each wait for window limited by `send_timeout`, what is left of the request sent on
//! meanwhile.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use h2::{RecvStream, SendStream};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Either;

use crate::proxy::upstream::ForwardBody;
use crate::proxy::ProxyBody;

/// A request body read from an HTTP/2 stream. Each piece's room in the stream's and
/// the connection's window is given back when the piece is taken — when the upstream
/// is ready for it — so that what a client may send ahead is bounded by the windows.
pub struct RequestBody {
    stream: RecvStream,
    /// The data has ended: the trailers, if any, come next.
    data_done: bool,
}

impl RequestBody {
    /// The body of a request whose stream is `stream`.
    pub fn new(stream: RecvStream) -> RequestBody {
        RequestBody {
            stream,
            data_done: false,
        }
    }
}

/// It owns its stream: an HTTP/2 upstream may answer while it is still being sent (a
/// bidirectional gRPC call), see `upstream::forward_body`.
impl ForwardBody for RequestBody {
    type Detached = RequestBody;

    fn detach(self) -> Result<RequestBody, RequestBody> {
        Ok(self)
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if !self.data_done {
            match self.stream.poll_data(cx) {
                Poll::Ready(Some(Ok(data))) => {
                    // Fails only when the stream is gone, which the next read reports.
                    let _ = self.stream.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => self.data_done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
        // An HTTP/2 upstream gets the trailers; an HTTP/1.1 one's writer leaves them out.
        self.stream.poll_trailers(cx).map(|trailers| {
            trailers
                .transpose()
                .map(|trailers| trailers.map(Frame::trailers))
        })
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Why a response body could not be sent whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStop {
    /// The client gave no window for `send_timeout`: it does not read (zero-window
    /// stall). The connection is closed.
    Stalled,
    /// The stream or connection is gone (reset by the client, or closed).
    Gone,
}

/// Sends `data` on `sending` in pieces as the client's windows open, each wait for
/// window within `timeout`; while it waits, what is left of the request is sent on
/// (`body`'s, see `UpstreamBody::poll_request`), so that neither direction waits for
/// the other.
pub async fn send_data(
    sending: &mut SendStream<Bytes>,
    mut data: Bytes,
    timeout: Duration,
    body: &mut ProxyBody,
) -> Result<(), SendStop> {
    while !data.is_empty() {
        sending.reserve_capacity(data.len());
        let granted = std::future::poll_fn(|cx| {
            let granted = sending.poll_capacity(cx);
            if granted.is_pending() {
                if let Either::Left(upstream) = body {
                    let _ = upstream.poll_request(cx);
                }
            }
            granted
        });
        let granted = match tokio::time::timeout(timeout, granted).await {
            Err(_) => return Err(SendStop::Stalled),
            Ok(None | Some(Err(_))) => return Err(SendStop::Gone),
            Ok(Some(Ok(granted))) => granted,
        };
        if granted == 0 {
            continue;
        }
        let piece = data.split_to(granted.min(data.len()));
        sending
            .send_data(piece, false)
            .map_err(|_| SendStop::Gone)?;
    }
    Ok(())
}
