//! The request id: taken from the client's request-id field when it is 1–128 bytes of
//! visible ASCII, otherwise generated; sent upstream, returned on the response and written
//! to the access log. A taken id is the client's field value itself (a slice of the read
//! buffer, shared, not copied) and a generated one 32 hex digits inline, so that the id
//! costs an ordinary request no allocation and few bytes to move: the access record,
//! which carries it, is moved several times per request.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue};

/// Longest request id taken from a client, in bytes.
pub const MAX_LENGTH: usize = 128;

/// A request id.
#[derive(Clone)]
pub struct RequestId(Repr);

#[derive(Clone)]
enum Repr {
    /// Made here: 32 lower-case hex digits.
    Generated([u8; 32]),
    /// The client's, checked: 1–128 bytes of visible ASCII.
    Taken(HeaderValue),
}

impl RequestId {
    /// The id for a request with `headers`: the one field `name` holds when it is valid
    /// ([`RequestId::taken`]), else a new one. Several fields of that name are not
    /// trusted either: a new id replaces them.
    pub fn of(headers: &HeaderMap, name: &HeaderName) -> RequestId {
        let mut sent = headers.get_all(name).iter();
        match (sent.next(), sent.next()) {
            (Some(value), None) => RequestId::taken(value).unwrap_or_else(RequestId::generate),
            _ => RequestId::generate(),
        }
    }

    /// `value` as an id, when it is 1–128 bytes of visible ASCII (`!` to `~`).
    pub fn taken(value: &HeaderValue) -> Option<RequestId> {
        let bytes = value.as_bytes();
        if bytes.is_empty()
            || bytes.len() > MAX_LENGTH
            || !bytes.iter().all(|byte| (b'!'..=b'~').contains(byte))
        {
            return None;
        }
        Some(RequestId(Repr::Taken(value.clone())))
    }

    /// A new id: 32 lower-case hex digits. Unique within the process (a per-thread number
    /// and a per-thread counter, each spread by a bijective mix) and, through a random
    /// per-process part, very likely across processes. Not meant to be unguessable.
    pub fn generate() -> RequestId {
        let (thread, count) = fresh_bits();
        let mut digits = [0u8; 32];
        write_hex(&mut digits[..16], thread);
        write_hex(&mut digits[16..], count);
        RequestId(Repr::Generated(digits))
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Generated(digits) => digits,
            Repr::Taken(value) => value.as_bytes(),
        }
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// The same id holding bytes of its own: a taken id is otherwise a slice of the
    /// connection's read buffer, which a record kept after the request must not hold.
    pub fn owned(&self) -> RequestId {
        match &self.0 {
            Repr::Generated(_) => self.clone(),
            Repr::Taken(value) => RequestId(Repr::Taken(
                HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone()),
            )),
        }
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The request-id field a response carries: its configured name and the request's id.
#[derive(Debug, Clone)]
pub struct RequestIdField {
    /// The field name (`proxy.request_id_header`).
    pub name: HeaderName,
    /// The request's id.
    pub id: RequestId,
}

impl RequestIdField {
    /// Appends `name: id\r\n` to a head being written.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// 128 bits no other call in this process gets: the thread's own 64 bits and its next
/// count, mixed (never zero).
pub(crate) fn fresh_bits() -> (u64, u64) {
    NEXT.with(|next| {
        let count = next.count.get();
        next.count.set(count.wrapping_add(1));
        (next.thread, mix(count))
    })
}

/// A thread's part of generated ids.
struct Next {
    /// The thread's own 64 bits: the process's random part mixed with a thread number.
    thread: u64,
    /// Ids generated on this thread so far.
    count: Cell<u64>,
}

thread_local! {
    static NEXT: Next = Next {
        thread: mix(process_part().wrapping_add(THREADS.fetch_add(1, Ordering::Relaxed))),
        // From 1: the mix of 0 is 0.
        count: Cell::new(1),
    };
}

/// Threads that have generated an id so far.
static THREADS: AtomicU64 = AtomicU64::new(0);

/// Random bits drawn once per process.
fn process_part() -> u64 {
    static PART: OnceLock<u64> = OnceLock::new();
    *PART.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // No system randomness: the time and process id still differ between runs.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64);
            return nanos ^ u64::from(std::process::id()).rotate_left(32);
        }
        u64::from_le_bytes(bytes)
    })
}

/// A bijection on 64 bits that spreads every input bit over the output (the SplitMix64
/// finaliser): distinct inputs give distinct ids that do not look sequential.
fn mix(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Writes `value` as 16 lower-case hex digits into `out`, two digits per byte looked up.
pub(crate) fn write_hex(out: &mut [u8], value: u64) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(value.to_be_bytes()) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
    }
}

/// The two lower-case hex digits of every byte.
static HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0u8; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [DIGITS[byte >> 4], DIGITS[byte & 0xf]];
        byte += 1;
    }
    pairs
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use http::HeaderValue;

    use super::*;

    static NAME: HeaderName = HeaderName::from_static("x-request-id");

    #[test]
    fn a_valid_id_is_kept_as_sent() {
        let mut headers = HeaderMap::new();
        headers.insert(&NAME, HeaderValue::from_static("abc-123_~!"));
        assert_eq!(RequestId::of(&headers, &NAME).as_str(), "abc-123_~!");
        let longest = "x".repeat(MAX_LENGTH);
        assert_eq!(
            RequestId::taken(&HeaderValue::from_str(&longest).unwrap())
                .unwrap()
                .as_str(),
            longest
        );
    }

    #[test]
    fn an_invalid_missing_or_repeated_id_is_replaced() {
        let too_long = "x".repeat(MAX_LENGTH + 1);
        for bad in ["", "has space", "tab\there", "\u{e9}t\u{e9}", &too_long] {
            let value = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(RequestId::taken(&value).is_none(), "{bad:?}");
        }
        // NUL and DEL cannot be in a field value at all (the head parser refuses them).
        assert!(HeaderValue::from_bytes(b"del\x7f").is_err());
        let mut headers = HeaderMap::new();
        let generated = RequestId::of(&headers, &NAME);
        assert_eq!(generated.as_bytes().len(), 32);
        headers.append(&NAME, HeaderValue::from_static("one"));
        headers.append(&NAME, HeaderValue::from_static("two"));
        let replaced = RequestId::of(&headers, &NAME);
        assert_eq!(replaced.as_bytes().len(), 32);
        assert_ne!(replaced.as_str(), "one");
    }

    #[test]
    fn generated_ids_are_hex_and_distinct_across_threads() {
        let ids = |count: usize| -> Vec<String> {
            (0..count)
                .map(|_| RequestId::generate().as_str().to_owned())
                .collect()
        };
        let mut all: Vec<String> = ids(1000);
        let other = std::thread::spawn(move || ids(1000)).join().unwrap();
        all.extend(other);
        assert!(all
            .iter()
            .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        let distinct: HashSet<&String> = all.iter().collect();
        assert_eq!(distinct.len(), 2000);
    }

    #[test]
    fn hex_is_written_most_significant_digit_first() {
        let mut out = [0u8; 16];
        write_hex(&mut out, 0x0123_4567_89ab_cdef);
        assert_eq!(&out, b"0123456789abcdef");
        write_hex(&mut out, u64::MAX);
        assert_eq!(&out, b"ffffffffffffffff");
    }

    #[test]
    fn a_field_is_written_as_a_header_line() {
        let field = RequestIdField {
            name: NAME.clone(),
            id: RequestId::taken(&HeaderValue::from_static("req-1")).unwrap(),
        };
        let mut out = Vec::new();
        field.append_to(&mut out);
        assert_eq!(out, b"x-request-id: req-1\r\n");
    }
}
