//! Which protocol a proxy connection speaks. A plain connection speaks HTTP/1.1; a TLS
//! connection speaks what its handshake agreed by ALPN. Today only `http/1.1` is
//! offered ([`PROXY_ALPN`]), and a client that offers no ALPN gets HTTP/1.1 too.
//!
//! This is the seam where HTTP/2 joins: offer `h2` first in [`PROXY_ALPN`] once it is
//! served, and hand a connection that agreed on it to the HTTP/2 server in
//! [`serve_tls`] — the TLS stream and the client's facts are already there.

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::downstream::{serve_connection, Limits};
use super::forward::{ClientAddress, TlsFacts};
use super::handler::Gateway;
use crate::tls::ALPN_HTTP_1_1;

/// The ALPN protocols the proxy's TLS listeners offer, in order of preference.
pub const PROXY_ALPN: &[&[u8]] = &[ALPN_HTTP_1_1];

/// Runs the TLS handshake of a connection accepted on a TLS listener — with as long as
/// a request head may take — then serves it ([`serve_tls`]).
pub async fn accept_tls(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    client: ClientAddress,
    gateway: &Gateway,
    limits: Limits,
    stopping: &CancellationToken,
) {
    let handshake = acceptor.accept(stream);
    match tokio::time::timeout(limits.header_timeout, handshake).await {
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
    limits: Limits,
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
        // Only `http/1.1` is offered, so a client can agree on nothing else; one that
        // sends no ALPN speaks HTTP/1.1 by default.
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
