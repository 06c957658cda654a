//! W3C Trace Context (`traceparent`): a client's field goes upstream untouched; with
//! `proxy.traceparent: generate`, a request without one valid field gets a new one
//! (version `00`, a new trace id and parent id, flags `01`), held inline.

use http::header::HeaderName;
use http::HeaderMap;

use super::request_id::{fresh_bits, write_hex};

/// The `traceparent` field's name.
pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Length of a version-`00` `traceparent` value.
const LENGTH: usize = 55;

/// A generated `traceparent` value.
#[derive(Clone, Copy)]
pub struct TraceParent([u8; LENGTH]);

impl TraceParent {
    /// The value to send for a request with `headers` when generating: `None` when the
    /// client sent exactly one valid field (it goes as sent), a new value otherwise.
    pub fn needed(headers: &HeaderMap) -> Option<TraceParent> {
        let mut sent = headers.get_all(&TRACEPARENT).iter();
        match (sent.next(), sent.next()) {
            (Some(value), None) if valid(value.as_bytes()) => None,
            _ => Some(TraceParent::generate()),
        }
    }

    /// `00-<trace id>-<parent id>-01`: the trace id unique within the process (as a
    /// generated request id), the parent id never zero.
    pub fn generate() -> TraceParent {
        let (thread, count) = fresh_bits();
        let mut value = *b"00-00000000000000000000000000000000-0000000000000000-01";
        write_hex(&mut value[3..19], thread);
        write_hex(&mut value[19..35], count);
        write_hex(&mut value[36..52], (count ^ thread.rotate_left(17)) | 1);
        TraceParent(value)
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Whether `value` is a `traceparent` this gateway keeps: version `00` exactly as the
/// recommendation writes it, or a later version (not `ff`) whose first 55 bytes have that
/// shape, followed by nothing or `-`; lower-case hex, trace id and parent id not all zero.
pub fn valid(value: &[u8]) -> bool {
    if value.len() < LENGTH {
        return false;
    }
    let hex = |part: &[u8]| part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let zero = |part: &[u8]| part.iter().all(|&b| b == b'0');
    let (version, trace_id, parent_id, flags) =
        (&value[..2], &value[3..35], &value[36..52], &value[53..55]);
    let shaped = value[2] == b'-' && value[35] == b'-' && value[52] == b'-';
    let rest_ok = match version {
        b"00" => value.len() == LENGTH,
        b"ff" => false,
        _ => value.len() == LENGTH || value[LENGTH] == b'-',
    };
    shaped
        && rest_ok
        && hex(version)
        && hex(trace_id)
        && hex(parent_id)
        && hex(flags)
        && !zero(trace_id)
        && !zero(parent_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const GOOD: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_recommendations_forms_are_told_apart() {
        assert!(valid(GOOD.as_bytes()));
        assert!(valid(
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ] {
            assert!(!valid(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn a_valid_field_is_kept_and_any_other_replaced_by_a_valid_one() {
        let mut headers = HeaderMap::new();
        headers.insert(&TRACEPARENT, HeaderValue::from_static(GOOD));
        assert!(TraceParent::needed(&headers).is_none());
        headers.append(&TRACEPARENT, HeaderValue::from_static(GOOD));
        let replaced = TraceParent::needed(&headers).unwrap();
        assert!(valid(replaced.as_bytes()));
        let fresh = TraceParent::needed(&HeaderMap::new()).unwrap();
        assert!(valid(fresh.as_bytes()));
        assert_ne!(fresh.as_bytes()[3..35], replaced.as_bytes()[3..35]);
        assert!(fresh.as_bytes().starts_with(b"00-") && fresh.as_bytes().ends_with(b"-01"));
    }
}
