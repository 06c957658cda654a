//! Which protocol a proxy connection speaks. A plain connection speaks HTTP/1.1; a TLS
//! connection speaks what its handshake agreed by ALPN: `h2` (offered first,
//! [`PROXY_ALPN`], unless `proxy.http2.enabled` is false) is served by
//! [`super::http2`], `http/1.1` — or no ALPN at all — by the HTTP/1.1 connection. With
//! `proxy.http2.h2c`, a plain connection that opens with HTTP/2's preface speaks HTTP/2
//! ([`serve_plain_detecting`]).

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::downstream::{serve_connection, Limits};
use super::forward::{ClientAddress, TlsFacts};
use super::handler::Gateway;
use super::http2::{serve_http2, ALPN_H2};
use crate::config::Http2Settings;
use crate::tls::ALPN_HTTP_1_1;

/// The ALPN protocols the proxy's TLS listeners offer, in order of preference.
pub const PROXY_ALPN: &[&[u8]] = &[ALPN_H2, ALPN_HTTP_1_1];

/// What the TLS listeners offer with `proxy.http2.enabled: false`.
pub const PROXY_ALPN_HTTP1: &[&[u8]] = &[ALPN_HTTP_1_1];

/// The ALPN protocols offered under `settings`.
pub fn proxy_alpn(settings: &Http2Settings) -> &'static [&'static [u8]] {
    if settings.enabled {
        PROXY_ALPN
    } else {
        PROXY_ALPN_HTTP1
    }
}

/// Runs the TLS handshake of a connection accepted on a TLS listener — with as long as
/// a request head may take — then serves it ([`serve_tls`]).
pub async fn accept_tls(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    client: ClientAddress,
    gateway: &Gateway,
    limits: (Limits, Http2Settings),
    stopping: &CancellationToken,
) {
    let handshake = acceptor.accept(stream);
    match tokio::time::timeout(limits.0.header_timeout, handshake).await {
        Ok(Ok(stream)) => serve_tls(stream, client, gateway, limits, stopping).await,
        Ok(Err(error)) => tracing::debug!(client = %client.ip, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(client = %client.ip, "TLS handshake timed out"),
    }
}

/// Serves a connection whose TLS handshake is done, in the protocol it agreed on.
pub async fn serve_tls(
    stream: TlsStream<TcpStream>,
    client: ClientAddress,
    gateway: &Gateway,
    (limits, http2): (Limits, Http2Settings),
    stopping: &CancellationToken,
) {
    let session = stream.get_ref().1;
    let facts = TlsFacts {
        client_certificate: session
            .peer_certificates()
            .is_some_and(|chain| !chain.is_empty()),
    };
    let client = client.with_tls(facts);
    match session.alpn_protocol() {
        Some(ALPN_H2) => {
            serve_http2(stream, client, gateway, limits, http2, stopping).await;
        }
        // A client that sends no ALPN speaks HTTP/1.1 by default.
        Some(ALPN_HTTP_1_1) | None => {
            serve_connection(stream, client, gateway, limits, stopping).await;
        }
        Some(other) => {
            tracing::debug!(
                client = %client.ip,
                protocol = %String::from_utf8_lossy(other),
                "ALPN protocol not served; connection closed"
            );
        }
    }
}

/// What an HTTP/2 connection opens with (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves a connection on a plain listener with `proxy.http2.h2c` on: HTTP/2 when its
/// first bytes are HTTP/2's preface, HTTP/1.1 otherwise. The bytes are peeked, not read,
/// so either server reads the connection from its start. With `h2c` off, plain
/// connections go to the HTTP/1.1 server without this.
pub async fn serve_plain_detecting(
    stream: TcpStream,
    client: ClientAddress,
    gateway: &Gateway,
    (limits, http2): (Limits, Http2Settings),
    stopping: &CancellationToken,
) {
    match tokio::time::timeout(limits.header_timeout, opens_with_preface(&stream)).await {
        Ok(Ok(true)) => serve_http2(stream, client, gateway, limits, http2, stopping).await,
        Ok(Ok(false)) => serve_connection(stream, client, gateway, limits, stopping).await,
        Ok(Err(_)) => {}
        Err(_) => tracing::debug!(client = %client.ip, "client sent nothing in time"),
    }
}

/// Whether the connection's first bytes are HTTP/2's preface: `false` at the first byte
/// that differs. A preface that comes in pieces is peeked again after a short pause
/// (a peek does not wait for more than it already saw).
async fn opens_with_preface(stream: &TcpStream) -> std::io::Result<bool> {
    let mut start = [0u8; PREFACE.len()];
    loop {
        let seen = stream.peek(&mut start).await?;
        if seen == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if start[..seen] != PREFACE[..seen] {
            return Ok(false);
        }
        if seen == PREFACE.len() {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
