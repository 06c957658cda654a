//! Header field names as read off the wire. `http` knows the standard names without
//! allocating, but finds them by parsing each name; any other name is copied into a new
//! buffer of its own. The names that API traffic carries on most requests and responses
//! — `Host`, the framing fields, the API key headers of APISIX, Kong and Gravitee, the
//! forwarding fields, request ids — are taken from a table instead: found with a length
//! comparison and one case-insensitive comparison, without a copy.

use http::header::{self, HeaderName, InvalidHeaderName};

/// Names common enough to be worth finding first, lowercase, the most frequent first.
static COMMON: [HeaderName; 20] = [
    header::HOST,
    HeaderName::from_static("apikey"),
    HeaderName::from_static("x-api-key"),
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::DATE,
    header::SERVER,
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::USER_AGENT,
    header::ACCEPT,
    header::TRANSFER_ENCODING,
    header::ACCEPT_ENCODING,
    header::CACHE_CONTROL,
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("x-forwarded-proto"),
    HeaderName::from_static("x-forwarded-host"),
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-gravitee-api-key"),
];

/// The header name spelled `raw` (any case): one of the common names when it is one,
/// otherwise what `HeaderName::from_bytes` makes of it.
pub fn field_name(raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    match common_field_name(raw) {
        Some(name) => Ok(name),
        None => HeaderName::from_bytes(raw),
    }
}

/// The common name spelled `raw` (any case), if it is one. None of them holds an `_`.
pub fn common_field_name(raw: &[u8]) -> Option<HeaderName> {
    COMMON
        .iter()
        .find(|common| {
            let spelled = common.as_str().as_bytes();
            spelled.len() == raw.len() && spelled.eq_ignore_ascii_case(raw)
        })
        .cloned()
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
        assert_eq!(
            field_name(b"CONTENT-LENGTH").unwrap(),
            http::header::CONTENT_LENGTH
        );
        assert_eq!(field_name(b"Content-Lengtx").unwrap(), "content-lengtx");
        for common in &COMMON {
            let upper = common.as_str().to_ascii_uppercase();
            assert_eq!(&field_name(upper.as_bytes()).unwrap(), common);
        }
        assert_eq!(field_name(b"X-Custom").unwrap(), "x-custom");
        assert!(field_name(b"bad name").is_err());
        assert!(field_name(b"").is_err());
    }

    #[test]
    fn no_common_name_holds_an_underscore() {
        // The request head parser looks for `_` only in names that are not common.
        assert!(COMMON.iter().all(|name| !name.as_str().contains('_')));
        assert_eq!(common_field_name(b"APIKEY"), Some(COMMON[1].clone()));
        assert_eq!(common_field_name(b"x-custom"), None);
    }
}
