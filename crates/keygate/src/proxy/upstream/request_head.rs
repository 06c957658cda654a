//! Writing a request for the upstream: the request line and header fields into one
//! buffer, so that a request without a body leaves in one write; bodies go as they come,
//! re-framed as chunked when their length is unknown.

use http::header::{CONTENT_LENGTH, EXPECT, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::proxy::number_text::append_hex;

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

/// The request target sent upstream, in the pieces it is made of: the target's base
/// path, the forwarded path and the query. They are written one after the other; no
/// string is built for them.
#[derive(Debug, Clone, Copy)]
pub struct RequestPath<'a> {
    /// The upstream target's base path (empty for none).
    pub base: &'a str,
    /// The path as forwarded: starts with `/`, or is empty when nothing of the request's
    /// path is left to send (see [`RequestPath::pieces`]).
    pub path: &'a str,
    /// The query without its `?`; `None` or empty for none.
    pub query: Option<&'a str>,
}

impl<'a> RequestPath<'a> {
    /// A target sent as it is: `path_and_query` whole.
    pub fn whole(path_and_query: &'a str) -> RequestPath<'a> {
        RequestPath {
            base: "",
            path: path_and_query,
            query: None,
        }
    }

    /// The two pieces the path is written as, as nginx's `proxy_pass` with a URI joins
    /// them: an empty forwarded path (nothing left after the service prefix) adds
    /// nothing to the base, which goes as written (`/team` or `/team/`; `/` for none);
    /// otherwise the base without its trailing slash, then the path (`/team` + `/x`), so
    /// that no `//` is made where nginx would make one.
    pub fn pieces(&self) -> [&'a str; 2] {
        match (self.path.is_empty(), self.base.is_empty()) {
            (true, true) => ["/", ""],
            (true, false) => [self.base, ""],
            (false, _) => [self.base.strip_suffix('/').unwrap_or(self.base), self.path],
        }
    }
}

/// The fields the gateway writes on a request besides the client's: a `Host` of its own
/// first, then the client's fields less the ones it replaces, then its own. The client's
/// header map is never changed for them, so that no field is inserted, hashed or
/// allocated per request.
pub trait FieldRewrite {
    /// The `Host` sent instead of the client's, if the client's is not kept.
    fn host(&self) -> Option<&HeaderValue>;
    /// Whether the client's field `name` is left out (other than `Host`, which
    /// [`FieldRewrite::host`] decides).
    fn replaces(&self, name: &HeaderName) -> bool;
    /// Appends the gateway's own fields, as `name: value\r\n` lines, after the client's
    /// `fields`.
    fn append_fields(&self, fields: &HeaderMap, out: &mut Vec<u8>);
}

/// The client's fields as they are: nothing replaced, nothing added.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsSent;

impl FieldRewrite for AsSent {
    fn host(&self) -> Option<&HeaderValue> {
        None
    }

    fn replaces(&self, _name: &HeaderName) -> bool {
        false
    }

    fn append_fields(&self, _fields: &HeaderMap, _out: &mut Vec<u8>) {}
}

/// Appends the head of a request to `out`: `METHOD path HTTP/1.1`, the rewrite's `Host`
/// if it has one, every field of `headers` the rewrite does not replace (hop-by-hop
/// fields were already removed), the rewrite's own fields, and the chunked
/// `Transfer-Encoding` when `framing` needs it.
///
/// `Content-Length` is written once: a client may send it twice with the same value
/// (two different values were refused), and one upstream may read two fields as a
/// conflict another would not. `Expect` is never written: keygate answers
/// `100 Continue` itself when it first reads the body, so the upstream gets the body
/// without waiting (as nginx, which never passes `Expect` on).
pub fn write_head(
    out: &mut Vec<u8>,
    method: &Method,
    target: RequestPath<'_>,
    headers: &HeaderMap,
    rewrite: &(impl FieldRewrite + ?Sized),
    framing: BodyFraming,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    for piece in target.pieces() {
        out.extend_from_slice(piece.as_bytes());
    }
    if let Some(query) = target.query.filter(|query| !query.is_empty()) {
        out.push(b'?');
        out.extend_from_slice(query.as_bytes());
    }
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let new_host = rewrite.host();
    if let Some(host) = new_host {
        append_field(out, HOST.as_str(), host.as_bytes());
    }
    let mut length_written = false;
    for (name, value) in headers {
        if (new_host.is_some() && name == HOST) || name == EXPECT || rewrite.replaces(name) {
            continue;
        }
        if name == CONTENT_LENGTH {
            if length_written {
                continue;
            }
            length_written = true;
        }
        append_field(out, name.as_str(), value.as_bytes());
    }
    rewrite.append_fields(headers, out);
    if framing == BodyFraming::Chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one `name: value\r\n` line.
pub fn append_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends one piece of body to `out`, framed as `framing` says. Empty pieces are left
/// out: in chunked framing an empty chunk would end the body.
pub fn write_body_piece(out: &mut Vec<u8>, framing: BodyFraming, piece: &[u8]) {
    if piece.is_empty() {
        return;
    }
    if framing == BodyFraming::Chunked {
        append_hex(out, piece.len() as u64);
        out.extend_from_slice(b"\r\n");
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
            RequestPath::whole("/a?b=c"),
            &headers,
            &AsSent,
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
        write_head(
            &mut out,
            &Method::POST,
            RequestPath::whole("/"),
            &headers,
            &AsSent,
            BodyFraming::Chunked,
        );
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

    #[test]
    fn one_content_length_and_no_expect_go_upstream() {
        let mut headers = HeaderMap::new();
        headers.append("host", HeaderValue::from_static("up"));
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("5"));
        headers.append(EXPECT, HeaderValue::from_static("100-continue"));
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("5"));
        let mut out = Vec::new();
        write_head(
            &mut out,
            &Method::POST,
            RequestPath::whole("/"),
            &headers,
            &AsSent,
            BodyFraming::Length,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST / HTTP/1.1\r\nhost: up\r\ncontent-length: 5\r\n\r\n"
        );
    }

    /// Replaces `Host` and `x-secret`, and adds `x-added`.
    struct Replacing(HeaderValue);

    impl FieldRewrite for Replacing {
        fn host(&self) -> Option<&HeaderValue> {
            Some(&self.0)
        }

        fn replaces(&self, name: &HeaderName) -> bool {
            name == "x-secret"
        }

        fn append_fields(&self, fields: &HeaderMap, out: &mut Vec<u8>) {
            let kept = fields.get("x-kept").map_or(&b""[..], HeaderValue::as_bytes);
            append_field(out, "x-added", kept);
        }
    }

    #[test]
    fn a_rewrite_puts_its_host_first_leaves_out_what_it_replaces_and_adds_last() {
        let mut headers = HeaderMap::new();
        headers.insert("x-kept", HeaderValue::from_static("1"));
        headers.insert("host", HeaderValue::from_static("client.example"));
        headers.insert("x-secret", HeaderValue::from_static("forged"));
        let mut out = Vec::new();
        let target = RequestPath {
            base: "/base",
            path: "/orders",
            query: Some("page=2"),
        };
        let host = Replacing(HeaderValue::from_static("127.0.0.1:9001"));
        write_head(
            &mut out,
            &Method::GET,
            target,
            &headers,
            &host,
            BodyFraming::None,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /base/orders?page=2 HTTP/1.1\r\nhost: 127.0.0.1:9001\r\nx-kept: 1\r\n\
             x-added: 1\r\n\r\n"
        );
        let mut out = Vec::new();
        let empty_query = RequestPath {
            query: Some(""),
            ..target
        };
        write_head(
            &mut out,
            &Method::GET,
            empty_query,
            &headers,
            &AsSent,
            BodyFraming::None,
        );
        assert!(
            out.starts_with(b"GET /base/orders HTTP/1.1\r\nx-kept: 1\r\nhost: client.example\r\n")
        );
    }
}
