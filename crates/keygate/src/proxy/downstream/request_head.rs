//! Parsing a client's request head (RFC 9112 §2–§7) from the connection's read buffer:
//! request line and fields with httparse, the target and every field value kept as a
//! slice of the buffer (no copy), and in the same pass what the head says about the
//! body (length, chunked, none) and the connection (keep-alive, `Expect: 100-continue`).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};

use crate::proxy::field_maps;
use crate::proxy::field_names::field_name;

/// At most this many fields in a request head (hyper's default; nginx allows a similar
/// number within its 8 KiB of buffers).
pub const MAX_FIELDS: usize = 100;

/// Field positions of up to this many fields are kept on the stack while the head is
/// split off the buffer.
const FEW_FIELDS: usize = 24;

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A request head as the handler receives it, and what it says about the exchange.
#[derive(Debug)]
pub struct RequestHead {
    /// Method, target, version and fields.
    pub parts: Parts,
    /// How the body that follows is delimited.
    pub framing: BodyFraming,
    /// Whether the client will send another request on the connection after this one.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before it sends the body.
    pub expects_continue: bool,
}

/// Why a request head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not HTTP/1.x, or a request line or field that breaks the grammar.
    #[error("malformed request head: {0}")]
    Malformed(&'static str),
    /// More fields than [`MAX_FIELDS`].
    #[error("more than {MAX_FIELDS} header fields")]
    TooManyFields,
    /// A transfer coding other than a final `chunked`.
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
}

/// Where a field's name and value lie in the head.
#[derive(Clone, Copy, Default)]
struct FieldRange {
    name: (usize, usize),
    value: (usize, usize),
}

/// Parses the head at the start of `buffer`. `Ok(None)`: the head is not complete yet.
/// On success the head is split off `buffer`, which keeps what followed it (the body,
/// or a pipelined request), and its fields go into a field map the thread kept from an
/// earlier head or response (`proxy::field_maps`), taken only once a head is complete.
pub fn parse(buffer: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    // Left uninitialised: a request uses a few of the hundred slots, and writing all of
    // them first would cost more than parsing.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut request = httparse::Request::new(&mut []);
    let length = match request.parse_with_uninit_headers(buffer, &mut fields) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyFields),
        Err(error) => return Err(HeadError::Malformed(error_text(error))),
    };
    let base = buffer.as_ptr() as usize;
    let range_of = |slice: &[u8]| {
        let start = slice.as_ptr() as usize - base;
        (start, start + slice.len())
    };
    let method = Method::from_bytes(request.method.unwrap_or("").as_bytes())
        .map_err(|_| HeadError::Malformed("invalid method"))?;
    let version = match request.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let target = range_of(request.path.unwrap_or("").as_bytes());
    let field_range = |field: &httparse::Header<'_>| FieldRange {
        name: range_of(field.name.as_bytes()),
        value: range_of(field.value),
    };
    // Most requests fit the array on the stack; more fields go to the heap.
    let mut on_stack = [FieldRange::default(); FEW_FIELDS];
    let on_heap: Vec<FieldRange>;
    let ranges = if request.headers.len() <= FEW_FIELDS {
        for (range, field) in on_stack.iter_mut().zip(request.headers.iter()) {
            *range = field_range(field);
        }
        &on_stack[..request.headers.len()]
    } else {
        on_heap = request.headers.iter().map(field_range).collect();
        &on_heap[..]
    };
    let head = buffer.split_to(length).freeze();
    build(
        &head,
        method,
        version,
        target,
        ranges,
        field_maps::take(ranges.len()),
    )
    .map(Some)
}

/// The head's parts from the ranges found by the parser, and its framing.
fn build(
    head: &Bytes,
    method: Method,
    version: Version,
    target: (usize, usize),
    ranges: &[FieldRange],
    mut headers: HeaderMap,
) -> Result<RequestHead, HeadError> {
    // The target is a slice of the head, like the field values: the access log, which
    // keeps it after the request, copies its path (`AccessLog::write`).
    let uri = Uri::from_maybe_shared(head.slice(target.0..target.1))
        .map_err(|_| HeadError::Malformed("invalid request target"))?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expects_continue = false;
    let mut hosts = 0;
    for range in ranges {
        let name = field_name(&head[range.name.0..range.name.1])
            .map_err(|_| HeadError::Malformed("invalid field name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(range.value.0..range.value.1))
            .map_err(|_| HeadError::Malformed("invalid field value"))?;
        if name == CONTENT_LENGTH {
            let parsed = parse_length(value.as_bytes())?;
            if length.is_some_and(|seen| seen != parsed) {
                return Err(HeadError::Malformed("conflicting Content-Length fields"));
            }
            length = Some(parsed);
        } else if name == TRANSFER_ENCODING {
            // As nginx: `chunked` alone; a coding under it would be lost in forwarding.
            if !value
                .as_bytes()
                .trim_ascii()
                .eq_ignore_ascii_case(b"chunked")
            {
                return Err(HeadError::UnsupportedTransferCoding);
            }
            chunked = true;
        } else if name == HOST {
            hosts += 1;
        } else if name == CONNECTION {
            for token in value.as_bytes().split(|&byte| byte == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name == EXPECT {
            expects_continue = value.as_bytes().eq_ignore_ascii_case(b"100-continue");
        }
        headers.append(name, value);
    }
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1 (nginx and hyper's client agree).
    if hosts > 1 || (hosts == 0 && version == Version::HTTP_11) {
        return Err(HeadError::Malformed(
            "a request needs exactly one Host field",
        ));
    }
    let framing = match (chunked, length) {
        // Both is how requests are smuggled past one parser to another (RFC 9112 §6.3).
        (true, Some(_)) => {
            return Err(HeadError::Malformed(
                "both Transfer-Encoding and Content-Length",
            ))
        }
        (true, None) if version == Version::HTTP_10 => {
            return Err(HeadError::Malformed("Transfer-Encoding in HTTP/1.0"))
        }
        (true, None) => BodyFraming::Chunked,
        (false, Some(0) | None) => BodyFraming::None,
        (false, Some(length)) => BodyFraming::Length(length),
    };
    let keep_alive = !close && (version == Version::HTTP_11 || keep_alive_token);
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = headers;
    let (parts, ()) = request.into_parts();
    Ok(RequestHead {
        parts,
        framing,
        keep_alive,
        // RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is ignored.
        expects_continue: expects_continue
            && framing != BodyFraming::None
            && version == Version::HTTP_11,
    })
}

/// A `Content-Length` value: decimal digits only, and no more than fit in a u64.
fn parse_length(value: &[u8]) -> Result<u64, HeadError> {
    let invalid = HeadError::Malformed("invalid Content-Length");
    if value.is_empty() || value.len() > 19 {
        return Err(invalid);
    }
    value.iter().try_fold(0u64, |total, &byte| {
        if byte.is_ascii_digit() {
            Ok(total * 10 + u64::from(byte - b'0'))
        } else {
            Err(invalid)
        }
    })
}

/// What broke, in words for the log.
fn error_text(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid field name",
        httparse::Error::HeaderValue => "invalid field value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid token in the request line",
        httparse::Error::TooManyHeaders => "too many fields",
        httparse::Error::Version => "not HTTP/1.x",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parsed(input: &str) -> Result<Option<RequestHead>, HeadError> {
        parse(&mut BytesMut::from(input))
    }

    #[test]
    fn a_get_is_split_off_and_what_follows_stays() {
        let mut buffer = BytesMut::from(
            "GET /orders?x=1 HTTP/1.1\r\nHost: a\r\nX-Api-Key: k\r\n\r\nGET /next HTTP/1.1\r\n",
        );
        let head = parse(&mut buffer).unwrap().unwrap();
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.uri.path(), "/orders");
        assert_eq!(head.parts.uri.query(), Some("x=1"));
        assert_eq!(head.parts.headers["x-api-key"], "k");
        assert_eq!(head.framing, BodyFraming::None);
        assert!(head.keep_alive);
        assert_eq!(&buffer[..], b"GET /next HTTP/1.1\r\n");
    }

    #[test]
    fn heads_with_many_fields_keep_every_one() {
        let fields: String = (0..60)
            .map(|n| format!("x-field-{n}: value {n}\r\n"))
            .collect();
        let head = parsed(&format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n"))
            .unwrap()
            .unwrap();
        assert_eq!(head.parts.headers.len(), 61);
        assert_eq!(head.parts.headers["x-field-59"], "value 59");
    }

    #[test]
    fn an_unfinished_head_asks_for_more_and_keeps_the_buffer() {
        let mut buffer = BytesMut::from("GET / HTTP/1.1\r\nHost: a\r\n");
        assert!(parse(&mut buffer).unwrap().is_none());
        assert_eq!(buffer.len(), 25);
    }

    #[test]
    fn the_fields_go_into_a_kept_map_without_the_fields_it_held() {
        let mut kept = HeaderMap::with_capacity(200);
        kept.insert("x-old", HeaderValue::from_static("stale"));
        let capacity = kept.capacity();
        field_maps::give_back(kept);
        let mut buffer = BytesMut::from("GET / HTTP/1.1\r\nHost: a\r\nX-New: 1\r\n\r\n");
        let head = parse(&mut buffer).unwrap().unwrap();
        assert_eq!(head.parts.headers.len(), 2);
        assert!(!head.parts.headers.contains_key("x-old"));
        assert_eq!(head.parts.headers["x-new"], "1");
        assert_eq!(
            head.parts.headers.capacity(),
            capacity,
            "the map given back is the one taken"
        );
    }

    #[test]
    fn bodies_are_framed_by_length_or_chunked() {
        let head = parsed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, BodyFraming::Length(12));
        let head = parsed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.framing, BodyFraming::Chunked);
        let head =
            parsed("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(head.framing, BodyFraming::Length(5));
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for input in [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert!(
                matches!(parsed(input), Err(HeadError::Malformed(_))),
                "{input}"
            );
        }
        assert_eq!(
            parsed("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
                .unwrap_err(),
            HeadError::UnsupportedTransferCoding
        );
    }

    #[test]
    fn http_1_1_needs_exactly_one_host() {
        for input in [
            "GET / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        ] {
            assert!(
                matches!(parsed(input), Err(HeadError::Malformed(_))),
                "{input}"
            );
        }
        assert!(parsed("GET / HTTP/1.0\r\n\r\n").unwrap().is_some());
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        let cases = [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false,
            ),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, CLOSE\r\n\r\n",
                false,
            ),
        ];
        for (input, keep_alive) in cases {
            assert_eq!(
                parsed(input).unwrap().unwrap().keep_alive,
                keep_alive,
                "{input}"
            );
        }
    }

    #[test]
    fn expect_continue_counts_only_with_a_body() {
        let with_body =
            "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert!(parsed(with_body).unwrap().unwrap().expects_continue);
        let without = "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n";
        assert!(!parsed(without).unwrap().unwrap().expects_continue);
        let old = "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
        assert!(!parsed(old).unwrap().unwrap().expects_continue);
    }

    #[test]
    fn broken_heads_are_refused() {
        for input in [
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
            "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert!(
                matches!(parsed(input), Err(HeadError::Malformed(_))),
                "{input}"
            );
        }
        let many: String = (0..=MAX_FIELDS).map(|n| format!("x-{n}: 1\r\n")).collect();
        assert_eq!(
            parsed(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")).unwrap_err(),
            HeadError::TooManyFields
        );
    }
}
