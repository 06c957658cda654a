//! Reading an upstream's response head: status line and header fields parsed with
//! `httparse` into a field map the thread kept (`proxy::field_maps`), header values kept
//! as slices of the read buffer, hop-by-hop fields left out as they are read, and the
//! body's framing worked out as RFC 9112 §6.3 says.

use bytes::Bytes;
use http::header::{HeaderName, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::proxy::field_maps;
use crate::proxy::field_names::field_name;
use crate::proxy::forward::{is_hop_by_hop, remove_named};

/// How many header fields an upstream response may have.
pub const MAX_HEADERS: usize = 128;

/// How the body that follows a response head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a `HEAD` request, or a 1xx, 204 or 304 response.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct ResponseHead {
    /// Status code.
    pub status: StatusCode,
    /// Header fields as sent, less the hop-by-hop ones (RFC 9110 §7.6.1) and those that
    /// `Connection` names.
    pub headers: HeaderMap,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Why a response head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not HTTP/1.x, or a malformed line.
    #[error("malformed response head")]
    Malformed,
    /// More than [`MAX_HEADERS`] fields.
    #[error("too many header fields")]
    TooManyHeaders,
    /// `Content-Length` unreadable or given twice with different values.
    #[error("invalid Content-Length")]
    BadContentLength,
}

/// Parses the head at the start of `buffer`. `Ok(None)`: the head is not complete yet.
/// On success also returns the head's length; header values are slices of `buffer`.
pub fn parse(buffer: &Bytes, method: &Method) -> Result<Option<(ResponseHead, usize)>, HeadError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut fields);
    let parsed = response.parse(buffer);
    let length = match parsed {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(_) => return Err(HeadError::Malformed),
    };
    let code = response.code.ok_or(HeadError::Malformed)?;
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::Malformed)?;
    let http11 = response.version == Some(1);
    let mut headers = field_maps::take(response.headers.len());
    let mut delimiting = Delimiting::default();
    for field in response.headers.iter() {
        let name = field_name(field.name.as_bytes()).map_err(|_| HeadError::Malformed)?;
        delimiting.note(&name, field.value)?;
        // Hop-by-hop fields are for this connection only: read, never kept.
        if is_hop_by_hop(&name) {
            continue;
        }
        let value = HeaderValue::from_maybe_shared(buffer.slice_ref(field.value))
            .map_err(|_| HeadError::Malformed)?;
        headers.append(name, value);
    }
    if delimiting.connection_names_fields {
        // Fields a `Connection` names are hop-by-hop too, wherever they stood.
        for field in response.headers.iter() {
            if field.name.eq_ignore_ascii_case("connection") {
                remove_named(&mut headers, field.value);
            }
        }
    }
    let framing = delimiting.framing(status, method);
    let keep_alive = http11 && !delimiting.close && framing != Framing::UntilClose;
    Ok(Some((
        ResponseHead {
            status,
            headers,
            framing,
            keep_alive,
        },
        length,
    )))
}

/// What the fields that delimit the body said, noted while the fields are read.
#[derive(Default)]
struct Delimiting {
    /// `Transfer-Encoding` was present; whether its last coding is `chunked`.
    transfer_encoding: Option<bool>,
    /// `Content-Length`, the same value however often it was given.
    content_length: Option<u64>,
    /// `Connection` has `close`.
    close: bool,
    /// `Connection` names a field other than `close` and `keep-alive`.
    connection_names_fields: bool,
}

impl Delimiting {
    fn note(&mut self, name: &HeaderName, value: &[u8]) -> Result<(), HeadError> {
        if name == TRANSFER_ENCODING {
            let text = std::str::from_utf8(value).unwrap_or("");
            if let Some(last) = text.split(',').map(str::trim).rfind(|c| !c.is_empty()) {
                self.transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
            } else {
                self.transfer_encoding.get_or_insert(false);
            }
        } else if name == CONTENT_LENGTH {
            let text = std::str::from_utf8(value).map_err(|_| HeadError::BadContentLength)?;
            for part in text.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeadError::BadContentLength);
                }
                let length: u64 = part.parse().map_err(|_| HeadError::BadContentLength)?;
                if self.content_length.is_some_and(|seen| seen != length) {
                    return Err(HeadError::BadContentLength);
                }
                self.content_length = Some(length);
            }
        } else if name == CONNECTION {
            for token in value.split(|&byte| byte == b',').map(<[u8]>::trim_ascii) {
                let close = token.eq_ignore_ascii_case(b"close");
                self.close |= close;
                self.connection_names_fields |=
                    !close && !token.is_empty() && !token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
        Ok(())
    }

    /// RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; then Transfer-Encoding (chunked
    /// last, or read until close); then Content-Length; else until close.
    fn framing(&self, status: StatusCode, method: &Method) -> Framing {
        if method == Method::HEAD
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Framing::Empty;
        }
        match (self.transfer_encoding, self.content_length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(0)) => Framing::Empty,
            (None, Some(length)) => Framing::Length(length),
            (None, None) => Framing::UntilClose,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn head(text: &str, method: &Method) -> Result<Option<(ResponseHead, usize)>, HeadError> {
        parse(&Bytes::copy_from_slice(text.as_bytes()), method)
    }

    fn framing_of(text: &str, method: &Method) -> Framing {
        head(text, method).unwrap().unwrap().0.framing
    }

    #[test]
    fn a_complete_head_gives_status_headers_and_its_length() {
        let text = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Thing: a b\r\n\r\nhi";
        let (parsed, length) = head(text, &Method::GET).unwrap().unwrap();
        assert_eq!(parsed.status, StatusCode::CREATED);
        assert_eq!(parsed.headers["x-thing"], "a b");
        assert_eq!(parsed.framing, Framing::Length(2));
        assert!(parsed.keep_alive);
        assert_eq!(&text[length..], "hi");
    }

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_left_out() {
        let text = "HTTP/1.1 200 OK\r\nX-Private: 1\r\nConnection: keep-alive, X-Private\r\n\
                    Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n";
        let (parsed, _) = head(text, &Method::GET).unwrap().unwrap();
        let left: Vec<_> = parsed.headers.keys().map(|name| name.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
        assert_eq!(parsed.framing, Framing::Chunked);
        assert!(parsed.keep_alive);
        let text = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let (parsed, _) = head(text, &Method::GET).unwrap().unwrap();
        assert!(!parsed.keep_alive);
        assert_eq!(parsed.headers.len(), 1);
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        assert!(head("HTTP/1.1 200 OK\r\nContent-Le", &Method::GET)
            .unwrap()
            .is_none());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let get = &Method::GET;
        assert_eq!(
            framing_of(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                &Method::HEAD
            ),
            Framing::Empty
        );
        for status in ["204 No Content", "304 Not Modified", "100 Continue"] {
            let text = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            assert_eq!(framing_of(&text, get), Framing::Empty, "{status}");
        }
        assert_eq!(
            framing_of(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
                get
            ),
            Framing::Chunked
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", get),
            Framing::UntilClose
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n", get),
            Framing::Length(7)
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", get),
            Framing::Empty
        );
        assert_eq!(
            framing_of("HTTP/1.1 200 OK\r\n\r\n", get),
            Framing::UntilClose
        );
    }

    #[test]
    fn connection_reuse_needs_http_1_1_without_close_and_a_delimited_body() {
        let reusable = |text: &str| head(text, &Method::GET).unwrap().unwrap().0.keep_alive;
        assert!(reusable("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!reusable(
            "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n"
        ));
        assert!(!reusable("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
        assert!(!reusable("HTTP/1.1 200 OK\r\n\r\n"));
    }

    #[test]
    fn bad_heads_are_refused() {
        let get = &Method::GET;
        assert_eq!(
            head("SSH-2.0-OpenSSH\r\n\r\n", get).unwrap_err(),
            HeadError::Malformed
        );
        for length in ["-1", "1x", "", "5, 6", "99999999999999999999999"] {
            let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n");
            assert_eq!(
                head(&text, get).unwrap_err(),
                HeadError::BadContentLength,
                "{length}"
            );
        }
        let many: String = (0..=MAX_HEADERS).map(|n| format!("x-{n}: 1\r\n")).collect();
        let text = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert_eq!(head(&text, get).unwrap_err(), HeadError::TooManyHeaders);
    }
}
