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
use http_body_util::Either;

use super::connection::{ClientConnection, ClientIo};
use super::date::append_date;
use crate::proxy::error::ProxyError;
use crate::proxy::field_maps;
use crate::proxy::number_text::append_hex;
use crate::proxy::request_id::RequestIdField;
use crate::proxy::respond::{error_response, ErrorBody};
use crate::proxy::upstream::UpstreamBodyError;
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

/// What [`encode_whole`] did with a response.
// Not boxed: a box would cost an allocation for every streamed response.
#[allow(clippy::large_enum_variant)]
pub enum Encoded {
    /// Head and body are in the write buffer, to be flushed; then the connection may
    /// carry the next request (`true`) or not.
    Whole(bool),
    /// The body is still to come, or too large to copy: to be written with
    /// [`write_response`].
    Streamed(Response<ProxyBody>),
}

/// Encodes a response whose body is all here — the gateway's own, or an upstream body
/// read with its head — into the write buffer, head and body, without waiting: such a
/// response (every refusal, most small answers) needs only a flush, not the future that
/// streaming a body needs. Any other response comes back untouched. `request_id`, when
/// set, is written into the head.
pub fn encode_whole(
    out: &mut Vec<u8>,
    response: Response<ProxyBody>,
    exchange: Exchange,
    request_id: Option<&RequestIdField>,
) -> Encoded {
    let Some(length) = whole_length(response.body()) else {
        return Encoded::Streamed(response);
    };
    let framing = framing(
        &response.status(),
        response.headers(),
        response.body(),
        exchange,
    );
    match framing {
        Framing::Empty => {}
        Framing::Length(declared) if declared == length && length <= COPY_LIMIT as u64 => {}
        _ => return Encoded::Streamed(response),
    }
    // Neither framing ends the connection by itself.
    let keep_alive = exchange.keep_alive;
    let (parts, mut body) = response.into_parts();
    out.clear();
    encode_head(
        out,
        &parts,
        own_fields(&body),
        request_id,
        framing,
        keep_alive,
        exchange.version,
    );
    field_maps::give_back(parts.headers);
    if framing != Framing::Empty {
        let data = match &mut body {
            Either::Left(upstream) => upstream.take_whole().unwrap_or_default(),
            Either::Right(error) => error.take_whole(),
        };
        out.extend_from_slice(&data);
    }
    Encoded::Whole(keep_alive)
}

/// The length of a body that is all here; `None` for one still to be read.
fn whole_length(body: &ProxyBody) -> Option<u64> {
    match body {
        Either::Left(upstream) => upstream.whole_length(),
        Either::Right(error) => Some(error.length()),
    }
}

/// The fields an error body brings with it.
fn own_fields(body: &ProxyBody) -> Option<&ErrorBody> {
    match body {
        Either::Right(error) => Some(error),
        Either::Left(_) => None,
    }
}

/// Writes `response` to the client. `Ok(true)`: the response was written whole and the
/// connection may carry the next request; `Ok(false)`: written whole, but the framing
/// (until close) or `exchange.keep_alive` ends the connection. `request_id`, when set,
/// is written into the head.
pub async fn write_response<S: ClientIo>(
    connection: &mut ClientConnection<S>,
    response: Response<ProxyBody>,
    exchange: Exchange,
    request_id: Option<&RequestIdField>,
) -> Result<bool, WriteError> {
    let (parts, mut body) = response.into_parts();
    let framing = framing(&parts.status, &parts.headers, &body, exchange);
    let keep_alive = exchange.keep_alive && framing != Framing::UntilClose;
    let out = &mut connection.outgoing;
    out.clear();
    let fields = own_fields(&body);
    encode_head(
        out,
        &parts,
        fields,
        request_id,
        framing,
        keep_alive,
        exchange.version,
    );
    field_maps::give_back(parts.headers);
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
                // Nothing has left yet: the client gets a 502 (504 for an upstream gone
                // silent) rather than an empty reply.
                connection.outgoing.clear();
                let cause = match error.downcast_ref::<UpstreamBodyError>() {
                    Some(UpstreamBodyError::TimedOut) => ProxyError::UpstreamTimeout,
                    _ => ProxyError::UpstreamBroken,
                };
                let broken = error_response(&cause, &HeaderValue::from_static(""));
                let closing = Exchange {
                    keep_alive: false,
                    ..exchange
                };
                Box::pin(write_response(connection, broken, closing, request_id)).await?;
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
    // The gateway's own answers have no fields here: no lookup for them.
    let declared = match headers.is_empty() {
        true => None,
        false => headers.get(CONTENT_LENGTH),
    };
    if let Some(length) = declared
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

/// Status line and fields, with an error body's own fields, the request id (in place of
/// any the upstream sent under its name), `Date` (unless the upstream sent one), the
/// framing field when the headers lack it, and `Connection` when it differs from the
/// version's default.
fn encode_head(
    out: &mut Vec<u8>,
    parts: &http::response::Parts,
    own_fields: Option<&ErrorBody>,
    request_id: Option<&RequestIdField>,
    framing: Framing,
    keep_alive: bool,
    version: Version,
) {
    append_status_line(out, parts.status);
    // RFC 9110 §8.6: no Content-Length on 1xx and 204 (an upstream may send one).
    let length_forbidden =
        parts.status.is_informational() || parts.status == StatusCode::NO_CONTENT;
    for (name, value) in &parts.headers {
        if (length_forbidden && name == CONTENT_LENGTH)
            || request_id.is_some_and(|field| field.name == name)
        {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(error) = own_fields {
        error.append_fields(out);
    }
    if let Some(field) = request_id {
        field.append_to(out);
    }
    // The gateway's own answers have no fields here: no lookups for them.
    let has = |name| !parts.headers.is_empty() && parts.headers.contains_key(name);
    if !has(DATE) {
        out.extend_from_slice(b"date: ");
        append_date(out);
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::Length(length) if !has(CONTENT_LENGTH) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
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

/// Appends the status line of `status`: one piece for the statuses of most answers,
/// put together for the others.
fn append_status_line(out: &mut Vec<u8>, status: StatusCode) {
    let line: &[u8] = match status {
        StatusCode::OK => b"HTTP/1.1 200 OK\r\n",
        StatusCode::UNAUTHORIZED => b"HTTP/1.1 401 Unauthorized\r\n",
        StatusCode::FORBIDDEN => b"HTTP/1.1 403 Forbidden\r\n",
        _ => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(status.as_str().as_bytes());
            out.push(b' ');
            out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
            out.extend_from_slice(b"\r\n");
            return;
        }
    };
    out.extend_from_slice(line);
}

/// Appends one body piece, framed; a large one is written from where it is.
async fn append_piece<S: ClientIo>(
    connection: &mut ClientConnection<S>,
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
        Either::Left(UpstreamBody::whole(Some(Bytes::from_static(
            text.as_bytes(),
        ))))
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

    fn whole(response: Response<ProxyBody>, exchange: Exchange) -> (bool, String) {
        let mut out = b"left from before".to_vec();
        match encode_whole(&mut out, response, exchange, None) {
            Encoded::Whole(keep_alive) => (keep_alive, String::from_utf8(out).unwrap()),
            Encoded::Streamed(_) => panic!("a body that is all here is encoded whole"),
        }
    }

    #[test]
    fn bodies_that_are_all_here_are_encoded_whole_without_waiting() {
        let refused = ProxyError::InvalidKey(crate::proxy::error::InvalidKey::NotFound);
        let response = error_response(&refused, &HeaderValue::from_static("Key"));
        let (keep_alive, text) = whole(response, exchange(Version::HTTP_11, true));
        assert!(keep_alive);
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{text}");
        assert!(text.contains("www-authenticate: Key\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"message\":\"Invalid API key in request\"}"));

        let response = Response::new(own("hello"));
        let (keep_alive, text) = whole(response, exchange(Version::HTTP_10, false));
        assert!(!keep_alive);
        assert!(text.contains("content-length: 5\r\n"));
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");

        let head = Exchange {
            head_request: true,
            ..exchange(Version::HTTP_11, true)
        };
        let (_, text) = whole(Response::new(own("hello")), head);
        assert!(
            text.ends_with("\r\n\r\n"),
            "a HEAD answer has no body: {text}"
        );
    }

    #[test]
    fn large_or_misdeclared_bodies_are_left_to_the_streaming_writer() {
        let large = "x".repeat(COPY_LIMIT + 1).leak();
        let mut out = Vec::new();
        let http11 = exchange(Version::HTTP_11, true);
        let response = Response::new(own(large));
        assert!(matches!(
            encode_whole(&mut out, response, http11, None),
            Encoded::Streamed(_)
        ));
        let mut response = Response::new(own("hello"));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("9"));
        assert!(matches!(
            encode_whole(&mut out, response, http11, None),
            Encoded::Streamed(_)
        ));
        assert!(
            out.is_empty(),
            "nothing is written for a response handed back"
        );
    }

    #[test]
    fn an_error_head_carries_its_own_fields_once() {
        let refused = ProxyError::InvalidKey(crate::proxy::error::InvalidKey::NotFound);
        let response = error_response(&refused, &HeaderValue::from_static("Key"));
        let (parts, body) = response.into_parts();
        let Either::Right(error) = &body else {
            panic!("an error response has the gateway's own body");
        };
        let length = body.size_hint().exact().unwrap();
        let mut out = Vec::new();
        let framing = Framing::Length(length);
        encode_head(
            &mut out,
            &parts,
            Some(error),
            None,
            framing,
            true,
            Version::HTTP_11,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                 www-authenticate: Key\r\ndate: "
            ),
            "{text}"
        );
        assert!(text.ends_with(&format!("content-length: {length}\r\n\r\n")));
        assert_eq!(text.matches("content-type").count(), 1);
    }

    #[test]
    fn the_request_id_is_written_once_in_place_of_an_upstreams() {
        let mut response = Response::new(own("hi"));
        response
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_static("upstream-own"));
        let field = RequestIdField {
            name: http::header::HeaderName::from_static("x-request-id"),
            id: crate::proxy::request_id::RequestId::taken(&HeaderValue::from_static("req-7"))
                .unwrap(),
        };
        let mut out = Vec::new();
        let exchange = exchange(Version::HTTP_11, true);
        assert!(matches!(
            encode_whole(&mut out, response, exchange, Some(&field)),
            Encoded::Whole(true)
        ));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("x-request-id").count(), 1, "{text}");
        assert!(text.contains("x-request-id: req-7\r\n"), "{text}");
    }

    #[test]
    fn status_lines_written_whole_read_as_those_put_together() {
        for code in 100..=999 {
            let status = StatusCode::from_u16(code).unwrap();
            let mut out = Vec::new();
            append_status_line(&mut out, status);
            let reason = status.canonical_reason().unwrap_or("");
            assert_eq!(out, format!("HTTP/1.1 {code} {reason}\r\n").as_bytes());
        }
    }

    #[test]
    fn heads_carry_date_framing_and_connection_only_when_needed() {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
        let (parts, ()) = response.into_parts();
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &parts,
            None,
            None,
            Framing::Length(5),
            true,
            Version::HTTP_11,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: "));
        assert!(text.ends_with(" GMT\r\n\r\n"), "{text}");
        assert_eq!(text.matches("content-length").count(), 1);

        let (parts, ()) = Response::new(()).into_parts();
        let mut out = Vec::new();
        encode_head(
            &mut out,
            &parts,
            None,
            None,
            Framing::Chunked,
            false,
            Version::HTTP_11,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("{TRANSFER_ENCODING}: chunked\r\n")));
        assert!(text.ends_with("connection: close\r\n\r\n"));

        let mut out = Vec::new();
        encode_head(
            &mut out,
            &parts,
            None,
            None,
            Framing::Length(0),
            true,
            Version::HTTP_10,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("content-length: 0\r\n"));
        assert!(text.ends_with("connection: keep-alive\r\n\r\n"));
    }
}
