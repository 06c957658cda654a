//! One health check: a `GET` on a new connection (never a pooled one, so a check sees
//! what a new client would), judged by the status alone, spoken as the target's requests
//! are: HTTP/1.1 (`Connection: close`, the status line read) or HTTP/2 (`h2` over TLS,
//! `h2c` in clear: one stream, its response head read), over TLS for an `https://`
//! target with the service's `upstream.tls` (its CA, client certificate, `server_name`
//! and ALPN). Connection, TLS handshake, request and status together get `timeout`.

use std::io;
use std::time::Duration;

use http::header::USER_AGENT;
use http::{HeaderValue, Request, Uri};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::{StatusSet, UpstreamProtocol};
use crate::proxy::upstream::{CheckOutcome, TlsTarget, UpstreamStream};

/// The most read while looking for the end of the status line.
const MAX_STATUS_LINE: usize = 1024;

/// The `User-Agent` a check sends.
const AGENT: &str = "keygate-health-check";

/// What a checker sends, and in which HTTP version.
#[derive(Debug)]
pub enum Probe {
    /// The HTTP/1.1 request, whole.
    Http1(Vec<u8>),
    /// The HTTP/2 request's target (`:scheme`, `:authority`, `:path`); `None` when the
    /// path and host make no URI (every check then fails, said once at start).
    Http2(Option<Uri>),
}

impl Probe {
    /// The check of `path` with `host` as its `Host` (or `:authority`), in `protocol`;
    /// `secure` for an `https://` target.
    pub fn new(path: &str, host: &str, protocol: UpstreamProtocol, secure: bool) -> Probe {
        if protocol == UpstreamProtocol::Http1 {
            return Probe::Http1(request(path, host));
        }
        let uri = Uri::builder()
            .scheme(if secure { "https" } else { "http" })
            .authority(host)
            .path_and_query(path)
            .build();
        match uri {
            Ok(uri) => Probe::Http2(Some(uri)),
            Err(error) => {
                tracing::warn!(%error, host, path, "the HTTP/2 health check has no valid target: every check fails");
                Probe::Http2(None)
            }
        }
    }

    /// Checks `address` (`host:port`), over TLS with `tls` when set, and judges the
    /// answer's status by `statuses`.
    pub async fn check(
        &self,
        address: &str,
        tls: Option<&TlsTarget>,
        timeout: Duration,
        statuses: &StatusSet,
    ) -> CheckOutcome {
        match tokio::time::timeout(timeout, self.exchange(address, tls)).await {
            Err(_) => CheckOutcome::Timeout,
            Ok(Err(error)) => {
                tracing::debug!(%error, target = address, "health check failed");
                CheckOutcome::Failed
            }
            Ok(Ok(status)) if statuses.contains(status) => CheckOutcome::Healthy(status),
            Ok(Ok(status)) => CheckOutcome::Status(status),
        }
    }

    /// Connects (and makes the TLS handshake), sends, and reads the status.
    async fn exchange(&self, address: &str, tls: Option<&TlsTarget>) -> io::Result<u16> {
        let socket = connect(address).await?;
        let stream = match tls {
            None => UpstreamStream::Plain(socket),
            Some(tls) => tls.handshake(socket).await?,
        };
        match self {
            Probe::Http1(request) => http1_status(stream, request).await,
            Probe::Http2(Some(uri)) => http2_status(stream, uri).await,
            Probe::Http2(None) => Err(io::Error::other("no valid target for the check")),
        }
    }
}

/// The HTTP/1.1 request a check sends to `path` with `host` as its `Host`.
pub fn request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {AGENT}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// A connection to `address`, each of its addresses tried in turn.
async fn connect(address: &str) -> io::Result<TcpStream> {
    let mut last_error = None;
    for resolved in tokio::net::lookup_host(address).await? {
        match TcpStream::connect(resolved).await {
            Ok(connected) => return Ok(connected),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("the target's host has no address")))
}

/// Sends `request` and reads up to the end of the status line: its code.
async fn http1_status<S>(mut stream: S, request: &[u8]) -> io::Result<u16>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(request).await?;
    let mut read = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    loop {
        if let Some(end) = read.windows(2).position(|pair| pair == b"\r\n") {
            return status_code(&read[..end]);
        }
        if read.len() >= MAX_STATUS_LINE {
            return Err(io::Error::other("the status line is too long"));
        }
        let count = stream.read(&mut buffer).await?;
        if count == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        read.extend_from_slice(&buffer[..count]);
    }
}

/// The HTTP/2 handshake, one `GET uri` stream, and its response's status; the
/// connection is driven alongside and dropped with the answer.
async fn http2_status(stream: UpstreamStream, uri: &Uri) -> io::Result<u16> {
    let (sender, connection) = h2::client::handshake(stream)
        .await
        .map_err(io::Error::other)?;
    let asked = async move {
        let mut sender = sender.ready().await?;
        let mut request = Request::new(());
        *request.uri_mut() = uri.clone();
        request
            .headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static(AGENT));
        let (response, _) = sender.send_request(request, true)?;
        Ok::<u16, h2::Error>(response.await?.status().as_u16())
    };
    tokio::select! {
        status = asked => status.map_err(io::Error::other),
        ended = connection => Err(match ended {
            Ok(()) => io::Error::from(io::ErrorKind::UnexpectedEof),
            Err(error) => io::Error::other(error),
        }),
    }
}

/// The code of a status line `HTTP/1.x NNN reason`.
fn status_code(line: &[u8]) -> io::Result<u16> {
    let malformed = || io::Error::other("the answer is not an HTTP/1 status line");
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or_else(malformed)?;
    let digits = rest.get(..3).ok_or_else(malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|b| *b != b' ') {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    if !(100..=599).contains(&code) {
        return Err(malformed());
    }
    Ok(code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "probe_tests.rs"]
mod tests;
