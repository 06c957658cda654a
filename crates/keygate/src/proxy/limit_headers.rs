//! The rate-limit fields of an answer, for the limit closest to refusing:
//!
//! - `RateLimit-Policy: "name";q=10;w=60` and `RateLimit: "name";r=3;t=20`
//!   (draft-ietf-httpapi-ratelimit-headers: a quota `q` per window `w` seconds; `r`
//!   units remaining, `t` seconds until the quota is whole again);
//! - or, as APISIX and Kong name them, `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//!   `X-RateLimit-Reset` (seconds);
//! - and on a `429`, `Retry-After` (seconds) whatever the route's mode.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

use super::limit_check::LimitReport;
use crate::limits::HeaderMode;

/// Appends the fields of `mode` for `report`, one `name: value\r\n` each; allocates
/// nothing (the `429` is written this way).
pub fn append(out: &mut Vec<u8>, report: &LimitReport, mode: HeaderMode) {
    each(report, mode, |name, parts| {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        for part in parts {
            out.extend_from_slice(part);
        }
        out.extend_from_slice(b"\r\n");
    });
}

/// Sets the fields of `mode` for `report` in `headers` (an upstream's answer: any of
/// these fields the upstream sent are replaced).
pub fn insert(headers: &mut HeaderMap, report: &LimitReport, mode: HeaderMode) {
    each(report, mode, |name, parts| {
        if let Ok(value) = HeaderValue::from_bytes(&parts.concat()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    });
}

/// Calls `field` with each field's lower-case name and its value in parts.
fn each(report: &LimitReport, mode: HeaderMode, mut field: impl FnMut(&'static str, &[&[u8]])) {
    let (mut count, mut window) = (itoa::Buffer::new(), itoa::Buffer::new());
    let (mut remaining, mut reset) = (itoa::Buffer::new(), itoa::Buffer::new());
    let count = count.format(report.count).as_bytes();
    let window = window.format(report.window).as_bytes();
    let remaining = remaining.format(report.remaining).as_bytes();
    let reset = reset.format(report.reset).as_bytes();
    if matches!(mode, HeaderMode::Ietf | HeaderMode::Both) {
        // Limit names are letters, digits, `.`, `_` and `-`: a structured-field string
        // needs no escapes for them.
        let name = report.name.as_bytes();
        field(
            "ratelimit-policy",
            &[b"\"", name, b"\";q=", count, b";w=", window],
        );
        field(
            "ratelimit",
            &[b"\"", name, b"\";r=", remaining, b";t=", reset],
        );
    }
    if matches!(mode, HeaderMode::Legacy | HeaderMode::Both) {
        field("x-ratelimit-limit", &[count]);
        field("x-ratelimit-remaining", &[remaining]);
        field("x-ratelimit-reset", &[reset]);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report() -> LimitReport {
        LimitReport {
            name: "default".into(),
            count: 10,
            window: 60,
            remaining: 3,
            reset: 42,
        }
    }

    fn written(mode: HeaderMode) -> String {
        let mut out = Vec::new();
        append(&mut out, &report(), mode);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_ietf_fields_follow_the_draft() {
        assert_eq!(
            written(HeaderMode::Ietf),
            "ratelimit-policy: \"default\";q=10;w=60\r\nratelimit: \"default\";r=3;t=42\r\n"
        );
    }

    #[test]
    fn the_legacy_fields_are_plain_numbers_and_off_writes_nothing() {
        assert_eq!(
            written(HeaderMode::Legacy),
            "x-ratelimit-limit: 10\r\nx-ratelimit-remaining: 3\r\nx-ratelimit-reset: 42\r\n"
        );
        assert_eq!(written(HeaderMode::Off), "");
        assert_eq!(written(HeaderMode::Both).lines().count(), 5);
    }

    #[test]
    fn inserting_replaces_the_upstreams_own_fields() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit", HeaderValue::from_static("\"up\";r=1;t=1"));
        insert(&mut headers, &report(), HeaderMode::Ietf);
        assert_eq!(headers["ratelimit"], "\"default\";r=3;t=42");
        assert_eq!(headers.get_all("ratelimit").iter().count(), 1);
    }
}
