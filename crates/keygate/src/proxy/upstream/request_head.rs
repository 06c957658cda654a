//! Writing a request for the upstream: the request line and header fields into one
//! buffer, so that a request without a body leaves in one write; bodies go as they come,
//! re-framed as chunked when their length is unknown.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, Method};

/// How the request body is framed on the upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body follows the head.
    None,
    /// The client's `Content-Length` is kept and the body is sent as it is.
    Length,
    /// Length unknown: sent as `Transfer-Encoding: chunked`.
    Chunked,
}

/// How a request with `headers` and a body that may be empty (`has_body`) is framed.
pub fn body_framing(headers: &HeaderMap, has_body: bool) -> BodyFraming {
    if headers.contains_key(CONTENT_LENGTH) {
        BodyFraming::Length
    } else if has_body {
        BodyFraming::Chunked
    } else {
        BodyFraming::None
    }
}

/// Appends the head of a request to `out`: `METHOD path HTTP/1.1`, every field of
/// `headers` as it is (hop-by-hop fields were already removed), and the chunked
/// `Transfer-Encoding` when `framing` needs it.
pub fn write_head(
    out: &mut Vec<u8>,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    framing: BodyFraming,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if framing == BodyFraming::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one piece of body to `out`, framed as `framing` says. Empty pieces are left
/// out: in chunked framing an empty chunk would end the body.
pub fn write_body_piece(out: &mut Vec<u8>, framing: BodyFraming, piece: &[u8]) {
    if piece.is_empty() {
        return;
    }
    if framing == BodyFraming::Chunked {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(piece);
    }
}

/// Appends the end of the body: the last chunk in chunked framing, nothing otherwise.
pub fn write_body_end(out: &mut Vec<u8>, framing: BodyFraming) {
    if framing == BodyFraming::Chunked {
        out.extend_from_slice(b"0\r\n\r\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_head_has_the_request_line_every_field_and_a_blank_line() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9001"));
        headers.append("x-many", HeaderValue::from_static("1"));
        headers.append("x-many", HeaderValue::from_static("2"));
        let mut out = Vec::new();
        write_head(
            &mut out,
            &Method::GET,
            "/a?b=c",
            &headers,
            BodyFraming::None,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a?b=c HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nx-many: 1\r\nx-many: 2\r\n\r\n"
        );
    }

    #[test]
    fn bodies_of_unknown_length_are_chunked() {
        let mut headers = HeaderMap::new();
        assert_eq!(body_framing(&headers, false), BodyFraming::None);
        assert_eq!(body_framing(&headers, true), BodyFraming::Chunked);
        let mut out = Vec::new();
        write_head(&mut out, &Method::POST, "/", &headers, BodyFraming::Chunked);
        write_body_piece(&mut out, BodyFraming::Chunked, b"hello world!");
        write_body_piece(&mut out, BodyFraming::Chunked, b"");
        write_body_end(&mut out, BodyFraming::Chunked);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nc\r\nhello world!\r\n0\r\n\r\n"
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert_eq!(body_framing(&headers, true), BodyFraming::Length);
        let mut out = Vec::new();
        write_body_piece(&mut out, BodyFraming::Length, b"hello");
        write_body_end(&mut out, BodyFraming::Length);
        assert_eq!(out, b"hello");
    }
}
