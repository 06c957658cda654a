//! Parsing a client's request head (RFC 9112 §2–§7) from the connection's read buffer:
//! request line and fields with httparse, the target and every field value kept as a
//! slice of the buffer (no copy), and in the same pass what the head says about the
//! body (length, chunked, none) and the connection (keep-alive, `Expect: 100-continue`).
//!
//! Everything after parsing decides on the request the upstream will act on, so the head
//! is brought to one reading here: an absolute target (`GET http://host/path`) becomes
//! origin-form with its authority as the `Host` field (RFC 9112 §3.2.2), every `Host` is
//! checked against RFC 3986's host syntax, fields whose names hold an `_` are dropped
//! unless kept by configuration (CGI-style upstreams read `X_Api_User` as `X-Api-User`),
//! and methods are upper-case tokens, as nginx requires.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, CONNECTION, CONTENT_LENGTH, EXPECT, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, Version};

use super::host::is_valid_host;

use crate::proxy::field_maps;
use crate::proxy::field_names::common_field_name;

/// At most this many fields in a request head (hyper's default; nginx allows a similar
/// number within its 8 KiB of buffers).
pub const MAX_FIELDS: usize = 100;

/// Field positions of up to this many fields are kept on the stack while the head is
/// split off the buffer.
const FEW_FIELDS: usize = 24;

/// What becomes of a request field whose name holds an `_` (`proxy.underscores_in_headers`).
/// Names with any other byte but letters, digits and `-` are always dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnderscoredFields {
    /// Left out of the request, as nginx does by default: upstreams that read names the
    /// CGI way (`HTTP_X_API_USER`) cannot tell `X_Api_User` from `X-Api-User`.
    Dropped,
    /// Kept like any other field (forwarding still leaves out those that read like the
    /// fields the gateway sets, see `proxy::forward`).
    Kept,
}

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
    /// The head as read, of which the target and every field value are slices: what
    /// reads a value as another type shares these bytes rather than copying them (an
    /// authz check's original URI, `proxy::authz::original`).
    pub source: Bytes,
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
pub fn parse(
    buffer: &mut BytesMut,
    underscored: UnderscoredFields,
) -> Result<Option<RequestHead>, HeadError> {
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
    let method = method(request.method.unwrap_or("").as_bytes())?;
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
    let mut built = build(
        &head,
        RequestLine {
            method,
            target,
            version,
        },
        ranges,
        underscored,
        field_maps::take(ranges.len()),
    )?;
    built.source = head;
    Ok(Some(built))
}

/// A method as nginx accepts it: upper-case letters, `_` and `-` only. Methods are
/// case-sensitive (RFC 9110 §9.1): `get` is not `GET`, and would otherwise slip past
/// routes that allow `GET` only to an upstream that reads it as one.
pub fn method(bytes: &[u8]) -> Result<Method, HeadError> {
    // Three to seven bytes for the standard methods, which `from_bytes` then finds by
    // comparison without a copy.
    if bytes.is_empty()
        || !bytes
            .iter()
            .all(|&byte| byte.is_ascii_uppercase() || byte == b'_' || byte == b'-')
    {
        return Err(HeadError::Malformed("invalid method"));
    }
    // CONNECT asks for a tunnel, which a gateway of API calls does not make; TRACE would
    // echo the request, credentials included, back to whoever sent it (cross-site
    // tracing). nginx refuses both, with 405.
    if bytes == b"CONNECT" {
        return Err(HeadError::Malformed("the CONNECT method"));
    }
    if bytes == b"TRACE" {
        return Err(HeadError::Malformed("the TRACE method"));
    }
    Method::from_bytes(bytes).map_err(|_| HeadError::Malformed("invalid method"))
}

/// The request line, the target as a range of the head.
struct RequestLine {
    method: Method,
    target: (usize, usize),
    version: Version,
}

/// The target in origin-form, and for an absolute target its authority (a `Host` value).
fn origin_form(
    head: &Bytes,
    target: (usize, usize),
) -> Result<(Uri, Option<HeaderValue>), HeadError> {
    let invalid = |_| HeadError::Malformed("invalid request target");
    if head.get(target.0) == Some(&b'/') {
        // The common case: a slice of the head, no copy.
        let uri = Uri::from_maybe_shared(head.slice(target.0..target.1)).map_err(invalid)?;
        return Ok((uri, None));
    }
    absolute_form(head, target)
}

/// An absolute target (`http://host:port/path?query`, RFC 9112 §3.2.2) as origin-form
/// and its authority. Only `http` and `https`; no user information (`http://u:p@host/`,
/// which nginx refuses too); an authority that is a valid `Host`. The asterisk-form of
/// `OPTIONS *` and the authority-form of `CONNECT` are refused here as well (nginx
/// answers the one with `400`, the other with `405`): neither names a path to route.
#[cold]
fn absolute_form(
    head: &Bytes,
    target: (usize, usize),
) -> Result<(Uri, Option<HeaderValue>), HeadError> {
    let text = &head[target.0..target.1];
    let Some(scheme_end) = text.windows(3).position(|three| three == b"://") else {
        return Err(HeadError::Malformed(
            "request target neither origin-form nor absolute-form",
        ));
    };
    let scheme = &text[..scheme_end];
    if !scheme.eq_ignore_ascii_case(b"http") && !scheme.eq_ignore_ascii_case(b"https") {
        return Err(HeadError::Malformed(
            "request target scheme not http or https",
        ));
    }
    let authority_start = scheme_end + 3;
    let authority_end = text[authority_start..]
        .iter()
        .position(|&byte| matches!(byte, b'/' | b'?' | b'#'))
        .map_or(text.len(), |end| authority_start + end);
    let authority = &text[authority_start..authority_end];
    if authority.contains(&b'@') {
        return Err(HeadError::Malformed(
            "user information in the request target",
        ));
    }
    if !is_valid_host(authority) {
        return Err(HeadError::Malformed("invalid host in the request target"));
    }
    let host = HeaderValue::from_maybe_shared(
        head.slice(target.0 + authority_start..target.0 + authority_end),
    )
    .map_err(|_| HeadError::Malformed("invalid host in the request target"))?;
    let rest = target.0 + authority_end..target.1;
    let uri = if head.get(rest.start) == Some(&b'/') {
        Uri::from_maybe_shared(head.slice(rest))
    } else {
        // `http://host` or `http://host?query`: the path is `/` (RFC 9112 §3.2.2).
        let mut path = Vec::with_capacity(1 + rest.len());
        path.push(b'/');
        path.extend_from_slice(&head[rest]);
        Uri::from_maybe_shared(Bytes::from(path))
    }
    .map_err(|_| HeadError::Malformed("invalid request target"))?;
    Ok((uri, Some(host)))
}

/// The head's parts from the ranges found by the parser, and its framing.
fn build(
    head: &Bytes,
    line: RequestLine,
    ranges: &[FieldRange],
    underscored: UnderscoredFields,
    mut headers: HeaderMap,
) -> Result<RequestHead, HeadError> {
    let RequestLine {
        method,
        target,
        version,
    } = line;
    // The target is a slice of the head, like the field values: the access log, which
    // keeps it after the request, copies its path (`AccessLog::write`). An absolute
    // target's authority replaces the `Host` field: routing, checks and forwarding all
    // read that one authority.
    let (uri, authority) = origin_form(head, target)?;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expects_continue = false;
    let mut hosts = 0;
    for range in ranges {
        let raw_name = &head[range.name.0..range.name.1];
        // Common names are letters and `-` only: just the others, which `HeaderName`
        // parses (and copies) anyway, are scanned.
        let name = match common_field_name(raw_name) {
            Some(name) => name,
            None if !plain_name(raw_name, underscored) => {
                drop_field(raw_name);
                continue;
            }
            None => HeaderName::from_bytes(raw_name)
                .map_err(|_| HeadError::Malformed("invalid field name"))?,
        };
        let mut value = HeaderValue::from_maybe_shared(head.slice(range.value.0..range.value.1))
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
            // Also when an absolute target's authority replaces it, as nginx does.
            if !is_valid_host(value.as_bytes()) {
                return Err(HeadError::Malformed("invalid Host"));
            }
            if let Some(authority) = &authority {
                value = authority.clone();
            }
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
    // An HTTP/1.0 request may name its host in the target only.
    if let (0, Some(authority)) = (hosts, authority) {
        headers.insert(HOST, authority);
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
        source: Bytes::new(),
    })
}

/// Whether a field name is letters, digits and `-` (and `_` when such fields are kept),
/// as nginx's `ignore_invalid_headers` wants. Any other byte (`.`, `~`, `!`, `+`, `*`, …)
/// is one that an upstream reading names the CGI way turns into `_`, so that
/// `X.Consumer.Username` would reach it as `X-Consumer-Username`.
pub fn plain_name(raw_name: &[u8], underscored: UnderscoredFields) -> bool {
    raw_name.iter().all(|&byte| {
        byte.is_ascii_alphanumeric()
            || byte == b'-'
            || (byte == b'_' && underscored == UnderscoredFields::Kept)
    })
}

/// Notes a field left out for its name: the name only, never its value.
#[cold]
fn drop_field(raw_name: &[u8]) {
    tracing::debug!(
        field = %String::from_utf8_lossy(raw_name),
        "request field dropped: its name holds more than letters, digits and `-`"
    );
}

/// A `Content-Length` value: decimal digits only, and no more than fit in a u64.
pub fn parse_length(value: &[u8]) -> Result<u64, HeadError> {
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
        parse(&mut BytesMut::from(input), UnderscoredFields::Dropped)
    }

    /// The head of `input`, which must parse.
    fn head(input: &str) -> RequestHead {
        parsed(input).unwrap().unwrap()
    }

    #[test]
    fn a_get_is_split_off_and_what_follows_stays() {
        let mut buffer = BytesMut::from(
            "GET /orders?x=1 HTTP/1.1\r\nHost: a\r\nX-Api-Key: k\r\n\r\nGET /next HTTP/1.1\r\n",
        );
        let head = parse(&mut buffer, UnderscoredFields::Dropped)
            .unwrap()
            .unwrap();
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
        assert!(parse(&mut buffer, UnderscoredFields::Dropped)
            .unwrap()
            .is_none());
        assert_eq!(buffer.len(), 25);
    }

    #[test]
    fn the_fields_go_into_a_kept_map_without_the_fields_it_held() {
        let mut kept = HeaderMap::with_capacity(200);
        kept.insert("x-old", HeaderValue::from_static("stale"));
        let capacity = kept.capacity();
        field_maps::give_back(kept);
        let mut buffer = BytesMut::from("GET / HTTP/1.1\r\nHost: a\r\nX-New: 1\r\n\r\n");
        let head = parse(&mut buffer, UnderscoredFields::Dropped)
            .unwrap()
            .unwrap();
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

    #[test]
    fn an_absolute_target_becomes_origin_form_with_its_authority_as_host() {
        let head = head(
            "GET http://public.example:8080/data?x=1 HTTP/1.1\r\nHost: private.example\r\n\r\n",
        );
        assert_eq!(head.parts.uri, "/data?x=1");
        assert_eq!(head.parts.uri.authority(), None);
        assert_eq!(head.parts.headers.get_all(HOST).iter().count(), 1);
        assert_eq!(head.parts.headers[HOST], "public.example:8080");
        for (input, uri, host) in [
            (
                "GET HTTPS://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n",
                "/",
                "a.example",
            ),
            (
                "GET http://a.example?q=1 HTTP/1.1\r\nHost: b\r\n\r\n",
                "/?q=1",
                "a.example",
            ),
            (
                "GET http://[::1]:81//x HTTP/1.1\r\nHost: b\r\n\r\n",
                "//x",
                "[::1]:81",
            ),
            // HTTP/1.0 may leave the Host field out: the authority becomes it.
            ("GET http://a.example/x HTTP/1.0\r\n\r\n", "/x", "a.example"),
        ] {
            let head = self::head(input);
            assert_eq!(head.parts.uri, uri, "{input}");
            assert_eq!(head.parts.headers[HOST], host, "{input}");
        }
    }

    #[test]
    fn origin_form_keeps_its_host_and_needs_none_in_http_1_0() {
        let head = head("GET /x HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n");
        assert_eq!(head.parts.headers[HOST], "api.example.com:8080");
        assert!(!head_of("GET /x HTTP/1.0\r\n\r\n").contains_key(HOST));
    }

    fn head_of(input: &str) -> HeaderMap {
        head(input).parts.headers
    }

    #[test]
    fn targets_other_than_origin_and_http_absolute_form_are_refused() {
        for input in [
            "GET http://user:secret@a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET http://a.example@b.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET ftp://a.example/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET http:///x HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET http://a..example/x HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET http://a.example:99999/ HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET a.example:80 HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET x HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
            "CONNECT /x HTTP/1.1\r\nHost: a.example\r\n\r\n",
            "TRACE / HTTP/1.1\r\nHost: a.example\r\n\r\n",
            // The client's Host is checked even where the authority replaces it.
            "GET http://a.example/ HTTP/1.1\r\nHost: a b\r\n\r\n",
            // HTTP/1.1 still needs its Host field.
            "GET http://a.example/ HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                matches!(parsed(input), Err(HeadError::Malformed(_))),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_hosts_are_refused() {
        for host in [
            "",
            "a b",
            "x/../y",
            "public.example:1@private.example",
            "a..b",
            "a.example.",
            "a:99999",
        ] {
            for version in ["1.1", "1.0"] {
                let input = format!("GET / HTTP/{version}\r\nHost: {host}\r\n\r\n");
                assert!(
                    matches!(parsed(&input), Err(HeadError::Malformed(_))),
                    "{input:?}"
                );
            }
        }
    }

    #[test]
    fn fields_named_with_underscores_are_dropped_unless_kept() {
        let input = "GET / HTTP/1.1\r\nHost: a\r\nX_Consumer_Username: alex\r\n\
                     Client_Type: A\r\nX-Kept: 1\r\nx_custom: 1\r\n\r\n";
        let dropped = head(input).parts.headers;
        let names: Vec<&str> = dropped.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["host", "x-kept"]);
        let kept = parse(&mut BytesMut::from(input), UnderscoredFields::Kept)
            .unwrap()
            .unwrap()
            .parts
            .headers;
        assert_eq!(kept.len(), 5);
        assert_eq!(kept["x_consumer_username"], "alex");
        assert_eq!(kept["x_custom"], "1");
    }

    #[test]
    fn fields_named_with_other_than_letters_digits_and_dashes_are_dropped() {
        let input = "GET / HTTP/1.1\r\nHost: a\r\nX.Consumer.Username: alex\r\n\
                     X~Custom: 1\r\nX!Custom: 1\r\nX+Custom: 1\r\nX*Custom: 1\r\n\
                     X-Kept-2: 1\r\n\r\n";
        for underscored in [UnderscoredFields::Dropped, UnderscoredFields::Kept] {
            let fields = parse(&mut BytesMut::from(input), underscored)
                .unwrap()
                .unwrap()
                .parts
                .headers;
            let names: Vec<&str> = fields.keys().map(HeaderName::as_str).collect();
            assert_eq!(names, ["host", "x-kept-2"], "{underscored:?}");
        }
    }

    #[test]
    fn methods_are_upper_case_tokens() {
        for method in ["GET", "DELETE", "PROPFIND", "M-SEARCH", "X_CUSTOM"] {
            let input = format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(head(&input).parts.method.as_str(), method);
        }
        for method in ["get", "Get", "gET", "POST1", "X.Y", "X!"] {
            let input = format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n");
            assert!(
                matches!(parsed(&input), Err(HeadError::Malformed(_))),
                "{input}"
            );
        }
    }
}
