//! What the `request_head` fuzz target checks on one input, shared with the corpus replay
//! test (crates/keygate/tests/fuzz_corpus.rs): the head parser never panics, the framing
//! it reports agrees with the fields it kept, the head is in its one reading (origin-form
//! target, no field named with `_`), and the same bytes arriving in two reads give the
//! same head as in one.

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::Version;
use keygate::proxy::downstream::request_head::{
    self, BodyFraming, HeadError, RequestHead, UnderscoredFields,
};

/// The parser as a connection runs it by default.
fn parse(buffer: &mut BytesMut) -> Result<Option<RequestHead>, HeadError> {
    request_head::parse(buffer, UnderscoredFields::Dropped)
}

/// Everything a parse tells the connection, in a form that can be compared.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The head is not complete; the buffer is left as it was.
    Partial,
    /// Refused.
    Refused(HeadError),
    /// A head, and what stayed in the buffer after it.
    Head(Summary, Vec<u8>),
}

/// A parsed head's contents.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    method: String,
    target: String,
    version: Version,
    fields: Vec<(String, Vec<u8>)>,
    framing: BodyFraming,
    keep_alive: bool,
    expects_continue: bool,
}

/// Parses `data` in one piece, then in two pieces split at several points, and checks
/// the head found. Panics when a check fails.
pub fn run(data: &[u8]) {
    let whole = parse_once(data);
    if let Outcome::Head(summary, rest) = &whole {
        check_framing(summary);
        assert!(
            summary.target.starts_with('/'),
            "a target not in origin-form"
        );
        assert!(
            summary.fields.iter().all(|(name, _)| !name.contains('_')),
            "a field named with `_` kept"
        );
        assert!(
            data.ends_with(rest),
            "what follows the head is not the input's tail"
        );
        let head = &data[..data.len() - rest.len()];
        assert!(
            head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n"),
            "the head does not end with an empty line"
        );
    }
    // Every split point of a short input; about 64 of a long one.
    let step = (data.len() / 64).max(1);
    for split in (1..data.len()).step_by(step) {
        let split_outcome = parse_in_two(data, split);
        assert_eq!(
            split_outcome, whole,
            "the input split after byte {split} parses differently"
        );
    }
}

/// The outcome of parsing `data` from one read.
fn parse_once(data: &[u8]) -> Outcome {
    let mut buffer = BytesMut::from(data);
    outcome(parse(&mut buffer), &mut buffer, data.len())
}

/// The outcome of parsing `data` as a connection does when its first `split` bytes
/// arrive in one read and the rest in the next: parse, and when the head is not complete
/// yet, append the rest and parse again.
fn parse_in_two(data: &[u8], split: usize) -> Outcome {
    let (first, second) = data.split_at(split);
    let mut buffer = BytesMut::from(first);
    match outcome(parse(&mut buffer), &mut buffer, first.len()) {
        Outcome::Partial => {
            buffer.extend_from_slice(second);
            outcome(parse(&mut buffer), &mut buffer, data.len())
        }
        // The head was complete in the first read: the second read stays in the buffer.
        Outcome::Head(summary, mut rest) => {
            rest.extend_from_slice(second);
            Outcome::Head(summary, rest)
        }
        refused => refused,
    }
}

/// What one call of `parse` gave; `length` is how much the buffer held before it.
fn outcome(
    result: Result<Option<RequestHead>, HeadError>,
    buffer: &mut BytesMut,
    length: usize,
) -> Outcome {
    match result {
        Ok(None) => {
            assert_eq!(buffer.len(), length, "an unfinished head consumed bytes");
            Outcome::Partial
        }
        Err(error) => Outcome::Refused(error),
        Ok(Some(head)) => {
            assert!(buffer.len() < length, "a head was found in no bytes");
            let summary = Summary {
                method: head.parts.method.as_str().to_owned(),
                target: head.parts.uri.to_string(),
                version: head.parts.version,
                fields: head
                    .parts
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
                    .collect(),
                framing: head.framing,
                keep_alive: head.keep_alive,
                expects_continue: head.expects_continue,
            };
            Outcome::Head(summary, buffer.to_vec())
        }
    }
}

/// The framing reported must be the one the kept fields say, with nothing ambiguous
/// left in them: a recipient behind keygate reading the same fields finds the same body.
fn check_framing(head: &Summary) {
    let values = |name: &http::HeaderName| {
        head.fields
            .iter()
            .filter(|(field, _)| field == name.as_str())
            .map(|(_, value)| value.as_slice())
            .collect::<Vec<_>>()
    };
    let lengths = values(&CONTENT_LENGTH);
    let codings = values(&TRANSFER_ENCODING);
    let hosts = values(&HOST);
    match head.framing {
        BodyFraming::Chunked => {
            assert!(lengths.is_empty(), "chunked with a Content-Length");
            assert!(!codings.is_empty(), "chunked without Transfer-Encoding");
            for coding in &codings {
                assert!(
                    coding.trim_ascii().eq_ignore_ascii_case(b"chunked"),
                    "chunked framing under the coding {coding:?}"
                );
            }
            assert_eq!(head.version, Version::HTTP_11, "chunked in HTTP/1.0");
        }
        BodyFraming::Length(length) => {
            assert!(codings.is_empty(), "a length with Transfer-Encoding");
            assert!(length > 0, "a body of length 0 is no body");
            assert!(!lengths.is_empty(), "a length without Content-Length");
            for value in &lengths {
                assert_eq!(
                    decimal(value),
                    Some(length),
                    "Content-Length {value:?} framed as {length}"
                );
            }
        }
        BodyFraming::None => {
            assert!(codings.is_empty(), "no body with Transfer-Encoding");
            for value in &lengths {
                assert_eq!(
                    decimal(value),
                    Some(0),
                    "no body with Content-Length {value:?}"
                );
            }
        }
    }
    if head.version == Version::HTTP_11 {
        assert_eq!(hosts.len(), 1, "an HTTP/1.1 head without exactly one Host");
    }
    assert!(
        !head.expects_continue || head.framing != BodyFraming::None,
        "100-continue expected without a body"
    );
}

/// A `Content-Length` value read as RFC 9110 §8.6 says: digits only.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}
