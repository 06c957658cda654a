//! Header field names as read off the wire. `http` knows the standard names without
//! allocating; any other name is copied into a new buffer of its own. The few
//! non-standard names that API traffic carries on most requests — the API key headers of
//! APISIX, Kong and Gravitee, the forwarding fields, request ids — are taken from a
//! table instead, so that reading them costs no allocation.

use http::header::{HeaderName, InvalidHeaderName};

/// Non-standard names common enough to be worth keeping, lowercase.
static COMMON: [HeaderName; 9] = [
    HeaderName::from_static("apikey"),
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-gravitee-api-key"),
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("keep-alive"),
];

/// The header name spelled `raw` (any case): one of the common names when it is one,
/// otherwise what `HeaderName::from_bytes` makes of it.
pub fn field_name(raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    for common in &COMMON {
        let spelled = common.as_str().as_bytes();
        if spelled.len() == raw.len() && spelled.eq_ignore_ascii_case(raw) {
            return Ok(common.clone());
        }
    }
    HeaderName::from_bytes(raw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn common_names_match_in_any_case_and_others_are_parsed() {
        assert_eq!(field_name(b"ApiKey").unwrap(), "apikey");
        assert_eq!(field_name(b"X-Forwarded-For").unwrap(), "x-forwarded-for");
        assert_eq!(field_name(b"Host").unwrap(), http::header::HOST);
        assert_eq!(field_name(b"X-Custom").unwrap(), "x-custom");
        assert!(field_name(b"bad name").is_err());
        assert!(field_name(b"").is_err());
    }
}
