//! Header field names as read off the wire. `http` knows the standard names without
//! allocating, but finds them by parsing each name; any other name is copied into a new
//! buffer of its own. The names that API traffic carries on most requests and responses
//! — `Host`, the framing fields, the API key headers of APISIX, Kong and Gravitee, the
//! forwarding fields, request ids — are taken from a table instead: found with a length
//! comparison and one case-insensitive comparison, without a copy.

use http::header::{self, HeaderName, InvalidHeaderName};

/// Names common enough to be worth finding first, each with its lowercase spelling (so
/// that finding one reads no `HeaderName`), the most frequent first: a name of another
/// length is passed over with one comparison.
static COMMON: [(&[u8], HeaderName); 27] = [
    (b"host", header::HOST),
    (b"apikey", HeaderName::from_static("apikey")),
    (b"x-api-key", HeaderName::from_static("x-api-key")),
    (b"content-length", header::CONTENT_LENGTH),
    (b"content-type", header::CONTENT_TYPE),
    (b"date", header::DATE),
    (b"server", header::SERVER),
    (b"connection", header::CONNECTION),
    (b"keep-alive", HeaderName::from_static("keep-alive")),
    (b"user-agent", header::USER_AGENT),
    (b"accept", header::ACCEPT),
    (b"transfer-encoding", header::TRANSFER_ENCODING),
    (b"accept-encoding", header::ACCEPT_ENCODING),
    (b"cache-control", header::CACHE_CONTROL),
    (
        b"x-forwarded-for",
        HeaderName::from_static("x-forwarded-for"),
    ),
    (
        b"x-forwarded-proto",
        HeaderName::from_static("x-forwarded-proto"),
    ),
    (
        b"x-forwarded-host",
        HeaderName::from_static("x-forwarded-host"),
    ),
    (b"x-real-ip", HeaderName::from_static("x-real-ip")),
    (b"x-request-id", HeaderName::from_static("x-request-id")),
    (
        b"x-gravitee-api-key",
        HeaderName::from_static("x-gravitee-api-key"),
    ),
    (b"authorization", header::AUTHORIZATION),
    (b"cookie", header::COOKIE),
    // What front proxies send with each authorization check (`authz.listen`): nginx's
    // `auth_request` as its documentation sets it up, Caddy's and Traefik's forward auth.
    (
        b"x-original-method",
        HeaderName::from_static("x-original-method"),
    ),
    (b"x-original-uri", HeaderName::from_static("x-original-uri")),
    (
        b"x-forwarded-method",
        HeaderName::from_static("x-forwarded-method"),
    ),
    (
        b"x-forwarded-uri",
        HeaderName::from_static("x-forwarded-uri"),
    ),
    (
        b"x-forwarded-port",
        HeaderName::from_static("x-forwarded-port"),
    ),
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
        .find(|(spelled, _)| spelled.len() == raw.len() && spelled.eq_ignore_ascii_case(raw))
        .map(|(_, name)| name.clone())
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
        for (_, common) in &COMMON {
            let upper = common.as_str().to_ascii_uppercase();
            assert_eq!(&field_name(upper.as_bytes()).unwrap(), common);
        }
        assert_eq!(
            field_name(b"X-Original-URI").unwrap(),
            "x-original-uri",
            "a check's fields are common names too"
        );
        assert_eq!(field_name(b"X-Custom").unwrap(), "x-custom");
        assert!(field_name(b"bad name").is_err());
        assert!(field_name(b"").is_err());
    }

    #[test]
    fn each_spelling_is_its_names_and_each_name_is_there_once() {
        let mut seen = std::collections::HashSet::new();
        for (spelled, name) in &COMMON {
            assert_eq!(*spelled, name.as_str().as_bytes());
            assert!(seen.insert(name.clone()), "{name} twice");
        }
    }

    #[test]
    fn no_common_name_holds_an_underscore() {
        // The request head parser looks for `_` only in names that are not common.
        assert!(COMMON.iter().all(|(_, name)| !name.as_str().contains('_')));
        assert_eq!(common_field_name(b"APIKEY"), Some(COMMON[1].1.clone()));
        assert_eq!(common_field_name(b"x-custom"), None);
    }
}
