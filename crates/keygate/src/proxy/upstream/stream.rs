//! The socket of an upstream connection: plain TCP, or TLS over it for an `https://`
//! target. An enum rather than a boxed trait object, so that a plain connection costs
//! one branch per read or write and no indirection; the TLS state is boxed, so that a
//! plain connection does not carry its size.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::proxy::read_buffer::poll_fill;

/// An upstream connection's socket.
#[derive(Debug)]
pub enum UpstreamStream {
    /// `http://`
    Plain(TcpStream),
    /// `https://`
    Tls(Box<TlsStream<TcpStream>>),
}

/// How a target is spoken to over TLS: the client configuration and the name its
/// certificate must hold (sent as SNI unless it is an IP address).
#[derive(Clone)]
pub struct TlsTarget {
    /// Makes the TLS connections.
    pub connector: TlsConnector,
    /// The name checked in the certificate.
    pub server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsTarget")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsTarget {
    /// The TLS handshake over `stream`. An error says why the upstream was refused
    /// (an expired certificate, one for another name, an unknown issuer, ...).
    pub async fn handshake(&self, stream: TcpStream) -> io::Result<UpstreamStream> {
        let stream = self
            .connector
            .connect(self.server_name.clone(), stream)
            .await?;
        Ok(UpstreamStream::Tls(Box::new(stream)))
    }
}

impl UpstreamStream {
    /// Whether an idle connection can carry a request: the upstream has neither closed
    /// it nor sent anything unasked. For plain TCP this costs a system call only when
    /// the socket has become readable since the last response. Over TLS the socket's
    /// bytes are TLS records (a session ticket may arrive after the handshake): they
    /// are read through the TLS layer into `buffer`, and only application data, an
    /// alert or the end of the connection make it unusable.
    pub fn is_reusable(&mut self, buffer: &mut BytesMut) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self {
            UpstreamStream::Plain(stream) => match stream.poll_read_ready(&mut cx) {
                Poll::Pending => true,
                Poll::Ready(Err(_)) => false,
                Poll::Ready(Ok(())) => {
                    let mut probe = [0u8; 1];
                    matches!(stream.try_read(&mut probe), Err(error) if error.kind() == io::ErrorKind::WouldBlock)
                }
            },
            UpstreamStream::Tls(_) => {
                matches!(poll_fill(self, buffer, &mut cx), Poll::Pending) && buffer.is_empty()
            }
        }
    }

    /// Whether this is a TLS connection.
    pub fn is_tls(&self) -> bool {
        matches!(self, UpstreamStream::Tls(_))
    }
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            UpstreamStream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            UpstreamStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            UpstreamStream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            UpstreamStream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(stream) => stream.is_write_vectored(),
            UpstreamStream::Tls(stream) => stream.is_write_vectored(),
        }
    }
}
