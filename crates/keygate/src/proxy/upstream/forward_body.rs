//! A request body as the upstream sends it ([`ForwardBody`]), and whether it can be
//! handed on to go on being sent after the exchange has returned the response head.
//!
//! Over HTTP/2 on both sides a call may stream in both directions at once (a gRPC
//! bidirectional call): the upstream answers message 1 before the client sends message
//! 2. The request body must then outlive the exchange, travelling in the response body
//! that the client reads ([`super::UpstreamBody`]). Only a body that owns what it reads
//! can: an HTTP/2 stream's ([`crate::proxy::http2::body::RequestBody`]). An HTTP/1.1
//! client's body borrows its connection and is sent to its end before the response head
//! is awaited, as it always was; it costs nothing here, the choice is made when the code
//! is compiled.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::{Empty, Full};

/// A request body the proxy forwards.
pub trait ForwardBody: Body<Data = Bytes, Error: std::fmt::Display> + Unpin + Sized {
    /// The body when it can go on after the exchange ([`ForwardBody::detach`]);
    /// [`Undetachable`] when it cannot.
    type Detached: Body<Data = Bytes, Error: std::fmt::Display + Send> + Send + Unpin + 'static;

    /// The body as one that may outlive the exchange, or itself back when it cannot.
    fn detach(self) -> Result<Self::Detached, Self>;
}

/// The [`ForwardBody::Detached`] of a body that is never detached: no value of it
/// exists.
#[derive(Debug)]
pub enum Undetachable {}

impl Body for Undetachable {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match *self {}
    }
}

/// A body built whole before the call (tools and tests): it owns its bytes.
impl ForwardBody for Full<Bytes> {
    type Detached = Full<Bytes>;

    fn detach(self) -> Result<Full<Bytes>, Full<Bytes>> {
        Ok(self)
    }
}

/// No body.
impl ForwardBody for Empty<Bytes> {
    type Detached = Undetachable;

    fn detach(self) -> Result<Undetachable, Empty<Bytes>> {
        Err(self)
    }
}
