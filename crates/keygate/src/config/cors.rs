//! A service's CORS policy as the proxy reads it: which origins may call the service from
//! a browser, and the `Access-Control-*` values answered to them, rendered once at load.

use http::HeaderValue;

/// `cors:` of a service, checked.
#[derive(Debug, Clone)]
pub struct Cors {
    /// The origins allowed; empty when any origin is (`*`).
    pub origins: Vec<OriginPattern>,
    /// `Access-Control-Allow-Methods`, and the methods it names (upper case).
    pub methods: (HeaderValue, Vec<http::Method>),
    /// `Access-Control-Allow-Headers`; `None` answers a preflight with the fields it asks
    /// for.
    pub headers: Option<HeaderValue>,
    /// `Access-Control-Expose-Headers`, when set.
    pub expose_headers: Option<HeaderValue>,
    /// `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// `Access-Control-Max-Age`, in seconds.
    pub max_age: HeaderValue,
}

/// One allowed origin: exact (`https://app.example.com`), or a pattern with one `*` for
/// one or more host labels (`https://*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// This origin only (lower case).
    Exact(String),
    /// Origins that start with `.0`, end with `.1`, and have host characters between.
    Wildcard(String, String),
}

impl OriginPattern {
    /// Reads one entry of `origins`; `Err` says what is wrong with it.
    pub fn parse(text: &str) -> Result<OriginPattern, String> {
        let lower = text.to_ascii_lowercase();
        let Some((scheme, rest)) = lower.split_once("://") else {
            return Err(format!(
                "expected an origin such as https://app.example.com or https://*.example.com, found `{text}`"
            ));
        };
        if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') {
            return Err(format!(
                "an origin is a scheme (http or https) and a host, with an optional port and no path, found `{text}`"
            ));
        }
        match rest.split_once('*') {
            None => Ok(OriginPattern::Exact(lower)),
            Some(("", suffix)) if suffix.starts_with('.') && !suffix.contains('*') => Ok(
                OriginPattern::Wildcard(format!("{scheme}://"), suffix.to_owned()),
            ),
            Some(_) => Err(format!(
                "a `*` in an origin stands for the first host labels, as in https://*.example.com, found `{text}`"
            )),
        }
    }

    /// Whether `origin` (an `Origin` field's value) is one this pattern allows.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            OriginPattern::Exact(exact) => exact.eq_ignore_ascii_case(origin),
            OriginPattern::Wildcard(start, end) => {
                let fits = origin.len() > start.len() + end.len()
                    && origin.is_char_boundary(start.len())
                    && origin.is_char_boundary(origin.len() - end.len())
                    && origin[..start.len()].eq_ignore_ascii_case(start)
                    && origin[origin.len() - end.len()..].eq_ignore_ascii_case(end);
                fits && origin[start.len()..origin.len() - end.len()]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            }
        }
    }
}

impl Cors {
    /// Whether `origin` may call the service.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins.is_empty() || self.origins.iter().any(|p| p.allows(origin))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_origins_match_whatever_the_case() {
        let pattern = OriginPattern::parse("https://App.example.com").unwrap();
        assert!(pattern.allows("https://app.example.com"));
        assert!(pattern.allows("https://APP.example.com"));
        assert!(!pattern.allows("http://app.example.com"));
        assert!(!pattern.allows("https://app.example.com:8443"));
        assert!(!pattern.allows("https://app.example.com.evil.test"));
    }

    #[test]
    fn a_wildcard_stands_for_host_labels_only() {
        let pattern = OriginPattern::parse("https://*.example.com").unwrap();
        assert!(pattern.allows("https://a.example.com"));
        assert!(pattern.allows("https://a.b.example.com"));
        assert!(!pattern.allows("https://example.com"));
        assert!(!pattern.allows("https://.example.com"));
        assert!(!pattern.allows("http://a.example.com"));
        assert!(!pattern.allows("https://evil.test/.example.com"));
        assert!(!pattern.allows("https://evil.test?.example.com"));
        assert!(!pattern.allows("https://a.example.com.evil.test"));
        assert!(!pattern.allows("https://a.example.com:8443"));
        let with_port = OriginPattern::parse("https://*.example.com:8443").unwrap();
        assert!(with_port.allows("https://a.example.com:8443"));
    }

    #[test]
    fn patterns_that_are_not_origins_are_refused() {
        for text in [
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://",
            "https://a*.example.com",
            "https://*example.com",
            "https://*.*.example.com",
        ] {
            assert!(OriginPattern::parse(text).is_err(), "{text}");
        }
    }
}
