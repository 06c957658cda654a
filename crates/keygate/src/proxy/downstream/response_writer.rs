//! Writing a response to the client (RFC 9112 §4–§7): the head encoded into the
//! connection's write buffer, the body's first piece (usually all of it) appended, and
//! both sent in one write. The body is framed by its length when that is known, chunked
//! otherwise, or delimited by closing the connection for an HTTP/1.0 client.

use std::io;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, DATE};
use http::{HeaderValue, Response, StatusCode, Version};
use http_body::{Body as _, Frame};
use http_body_util::BodyExt as _;

use super::connection::ClientConnection;
use super::date::append_date;
use crate::proxy::error::ProxyError;
use crate::proxy::number_text::{append_decimal, append_hex};
use crate::proxy::respond::error_response;
use crate::proxy::ProxyBody;

/// A body piece larger than this is written from where it is rather than copied into
/// the write buffer.
const COPY_LIMIT: usize = 16 * 1024;

/// What the request asked that shapes the response's framing.
#[derive(Debug, Clone, Copy)]
pub struct Exchange {
    /// The request was `HEAD`: the response has fields but no body.
    pub head_request: bool,
    /// The request's HTTP version.
    pub version: Version,
    /// Whether the connection is to stay open after this response.
    pub keep_alive: bool,
}

/// How the response body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body is sent (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (an HTTP/1.0 client, length unknown).
    UntilClose,
}

/// Why the connection cannot go on after a response.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing to the client failed.
    #[error("writing the response failed: {0}")]
    Io(#[from] io::Error),
    /// The body broke off (the upstream failed mid-body); the client sees the connection
    /// close before the response's end.
    #[error("the response body broke off: {0}")]
    Body(String),
}

/// Writes `response` to the client. `Ok(true)`: the response was written whole and the
/// connection may carry the next request; `Ok(false)`: written whole, but the framing
/// (until close) or `exchange.keep_alive` ends the connection.
pub async fn write_response(
    connection: &mut ClientConnection,
    response: Response<ProxyBody>,
    exchange: Exchange,
) -> Result<bool, WriteError> {
    let (parts, mut body) = response.into_parts();
    let framing = framing(&parts.status, &parts.headers, &body, exchange);
    let keep_alive = exchange.keep_alive && framing != Framing::UntilClose;
    let out = &mut connection.outgoing;
    out.clear();
    encode_head(out, &parts, framing, keep_alive, exchange.version);
    if framing == Framing::Empty {
        connection.flush().await?;
        return Ok(keep_alive);
    }
    let mut written: u64 = 0;
    while let Some(frame) = body.frame().await {
        let data = match frame.map(Frame::into_data) {
            Ok(Ok(data)) => data,
            Ok(Err(_trailers)) => continue,
            Err(error) if written == 0 && !connection.outgoing.is_empty() => {
                // Nothing has left yet: the client gets a 502 rather than an empty reply.
                connection.outgoing.clear();
                let broken =
                    error_response(&ProxyError::UpstreamBroken, &HeaderValue::from_static(""));
                let closing = Exchange {
                    keep_alive: false,
                    ..exchange
                };
                Box::pin(write_response(connection, broken, closing)).await?;
                return Err(WriteError::Body(error.to_string()));
            }
            Err(error) => return Err(WriteError::Body(error.to_string())),
        };
        written += data.len() as u64;
        if let Framing::Length(length) = framing {
            if written > length {
                return Err(WriteError::Body(format!(
                    "more body than the declared {length} bytes"
                )));
            }
        }
        append_piece(connection, framing, data).await?;
        if !body.is_end_stream() {
            connection.flush().await?;
        }
    }
    match framing {
        Framing::Chunked => connection.outgoing.extend_from_slice(b"0\r\n\r\n"),
        Framing::Length(length) if length != written => {
            connection.flush().await?;
            return Err(WriteError::Body(format!(
                "{written} bytes sent of a declared {length}"
            )));
        }
        _ => {}
    }
    connection.flush().await?;
    Ok(keep_alive)
}

/// The framing RFC 9112 §6.3 asks for this response.
fn framing(
    status: &StatusCode,
    headers: &http::HeaderMap,
    body: &ProxyBody,
    exchange: Exchange,
) -> Framing {
    if exchange.head_request
        || status.is_informational()
        || *status == StatusCode::NO_CONTENT
        || *status == StatusCode::NOT_MODIFIED
    {
        return Framing::Empty;
    }
    if let Some(length) = headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
    {
        return Framing::Length(length);
    }
    if let Some(length) = body.size_hint().exact() {
        return Framing::Length(length);
    }
    if exchange.version == Version::HTTP_11 {
        Framing::Chunked
    } else {
        Framing::UntilClose
    }
}

/// Status line and fields, with `Date` (unless the upstream sent one), the framing field
/// when the headers lack it, and `Connection` when it differs from the version's default.
fn encode_head(
    out: &mut Vec<u8>,
    parts: &http::response::Parts,
    framing: Framing,
    keep_alive: bool,
    version: Version,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    // RFC 9110 §8.6: no Content-Length on 1xx and 204 (an upstream may send one).
    let length_forbidden =
        parts.status.is_informational() || parts.status == StatusCode::NO_CONTENT;
    for (name, value) in &parts.headers {
        if length_forbidden && name == CONTENT_LENGTH {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(DATE) {
        out.extend_from_slice(b"date: ");
        append_date(out);
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(length) if !parts.headers.contains_key(CONTENT_LENGTH) => {
            out.extend_from_slice(b"content-length: ");
            append_decimal(out, length);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if !keep_alive && version == Version::HTTP_11 {
        out.extend_from_slice(b"connection: close\r\n");
    } else if keep_alive && version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one body piece, framed; a large one is written from where it is.
async fn append_piece(
    connection: &mut ClientConnection,
    framing: Framing,
    data: Bytes,
) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    if framing == Framing::Chunked {
        append_hex(&mut connection.outgoing, data.len() as u64);
        connection.outgoing.extend_from_slice(b"\r\n");
    }
    if data.len() <= COPY_LIMIT {
        connection.outgoing.extend_from_slice(&data);
    } else {
        connection.flush().await?;
        connection.send_bytes(&data).await?;
    }
    if framing == Framing::Chunked {
        connection.outgoing.extend_from_slice(b"\r\n");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::header::TRANSFER_ENCODING;
    use http::HeaderValue;
    use http_body_util::{Either, Full};

    use super::*;
    use crate::proxy::upstream::UpstreamBody;

    fn exchange(version: Version, keep_alive: bool) -> Exchange {
        Exchange {
            head_request: false,
            version,
            keep_alive,
        }
    }

    fn own(text: &'static str) -> ProxyBody {
        Either::Right(Full::new(Bytes::from_static(text.as_bytes())))
    }

    #[test]
    fn framing_follows_status_method_length_and_version() {
        let headers = http::HeaderMap::new();
        let ok = StatusCode::OK;
        let http11 = exchange(Version::HTTP_11, true);
        assert_eq!(
            framing(&ok, &headers, &own("abc"), http11),
            Framing::Length(3)
        );
        let head = Exchange {
            head_request: true,
            ..http11
        };
        assert_eq!(framing(&ok, &headers, &own("abc"), head), Framing::Empty);
        for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            assert_eq!(framing(&status, &headers, &own(""), http11), Framing::Empty);
        }
        let mut declared = http::HeaderMap::new();
        declared.insert(CONTENT_LENGTH, HeaderValue::from_static("7"));
        let empty = || Either::Left(UpstreamBody::whole(None));
        assert_eq!(
            framing(&ok, &declared, &empty(), http11),
            Framing::Length(7)
        );
    }

    #[test]
    fn heads_carry_date_framing_and_connection_only_when_needed() {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
        let (parts, ()) = response.into_parts();
        let mut out = Vec::new();
        encode_head(&mut out, &parts, Framing::Length(5), true, Version::HTTP_11);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: "));
        assert!(text.ends_with(" GMT\r\n\r\n"), "{text}");
        assert_eq!(text.matches("content-length").count(), 1);

        let (parts, ()) = Response::new(()).into_parts();
        let mut out = Vec::new();
        encode_head(&mut out, &parts, Framing::Chunked, false, Version::HTTP_11);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("{TRANSFER_ENCODING}: chunked\r\n")));
        assert!(text.ends_with("connection: close\r\n\r\n"));

        let mut out = Vec::new();
        encode_head(&mut out, &parts, Framing::Length(0), true, Version::HTTP_10);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 0\r\n"));
        assert!(text.ends_with("connection: keep-alive\r\n\r\n"));
    }
}
