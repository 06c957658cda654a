//! Checks a service's `cors:` and renders its `Access-Control-*` values once.
//!
//! Secure by default: no origin is allowed unless listed, `*` never goes with
//! `credentials: true` (browsers refuse that pair, and reflecting any origin with
//! credentials would let every site read the answers), and a preflight's answer is kept
//! 5 seconds unless `max_age` says otherwise.

use std::sync::Arc;

use http::{HeaderValue, Method};

use super::super::file::{At, FileCors};
use super::super::{Cors, OriginPattern};
use super::Checker;

/// The methods a preflight may ask for when `methods` is not set.
const DEFAULT_METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

impl Checker<'_> {
    /// `cors:` of a service.
    pub(super) fn cors(&mut self, cors: &At<FileCors>) -> Option<Arc<Cors>> {
        let file = &cors.value;
        if file.origins.value.is_empty() {
            self.report(
                &file.origins.referenced,
                "`origins` lists the origins allowed, such as [https://app.example.com], or [\"*\"] for any",
            );
            return None;
        }
        let any = file.origins.value.iter().any(|origin| origin.value == "*");
        let mut origins = Vec::new();
        for origin in &file.origins.value {
            if origin.value == "*" {
                if file.origins.value.len() > 1 {
                    self.report(&origin.referenced, "`*` allows every origin: list it alone");
                }
                continue;
            }
            match OriginPattern::parse(&origin.value) {
                Ok(pattern) => origins.push(pattern),
                Err(message) => self.report(&origin.referenced, message),
            }
        }
        let credentials = file.credentials.unwrap_or(false);
        if any && credentials {
            self.report(
                &cors.referenced,
                "`credentials: true` needs the origins listed: with `*`, any site could read the answers to its visitors' credentials",
            );
        }
        let methods = match &file.methods {
            None => DEFAULT_METHODS.to_vec(),
            Some(methods) => methods
                .iter()
                .filter_map(|method| match Method::from_bytes(method.value.as_bytes()) {
                    Ok(parsed) if method.value.bytes().all(|b| b.is_ascii_uppercase()) => {
                        Some(parsed)
                    }
                    _ => {
                        self.report(
                            &method.referenced,
                            format!(
                                "expected a method in upper case, such as GET, found `{}`",
                                method.value
                            ),
                        );
                        None
                    }
                })
                .collect::<Vec<_>>(),
        };
        let method_list = methods
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        let headers = file.headers.as_ref().map(|names| self.field_list(names));
        let expose_headers = file
            .expose_headers
            .as_ref()
            .map(|names| self.field_list(names));
        let max_age = match &file.max_age {
            None => 5,
            Some(text) => match humantime::parse_duration(&text.value) {
                Ok(duration) => duration.as_secs(),
                Err(_) => {
                    self.report(
                        &text.referenced,
                        format!("expected a duration such as 10m, found `{}`", text.value),
                    );
                    5
                }
            },
        };
        Some(Arc::new(Cors {
            origins,
            methods: (header_value(&method_list), methods),
            headers,
            expose_headers,
            credentials,
            max_age: HeaderValue::from(max_age),
        }))
    }

    /// A list of field names as one `a, b` value; each name checked.
    fn field_list(&mut self, names: &[At<String>]) -> HeaderValue {
        for name in names {
            if http::HeaderName::from_bytes(name.value.as_bytes()).is_err() {
                self.report(
                    &name.referenced,
                    format!("`{}` is not a valid header name", name.value),
                );
            }
        }
        let joined = names
            .iter()
            .map(|name| name.value.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        header_value(&joined)
    }
}

/// `text` (names already checked) as a field value.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::Config;

    fn service(cors: &str) -> String {
        format!(
            "services:\n  - name: web\n    upstream: http://127.0.0.1:9\n    routes: [{{name: r, paths: ['/*']}}]\n    cors:\n{cors}"
        )
    }

    #[test]
    fn a_policy_is_rendered_once() {
        let text = service(
            "      origins: [https://app.example.com, 'https://*.example.org']\n      methods: [GET, POST]\n      headers: [apikey, Content-Type]\n      expose_headers: [X-Request-Id]\n      credentials: true\n      max_age: 10m\n",
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        let cors = config.services[0].cors.as_ref().unwrap();
        assert_eq!(cors.methods.0, "GET, POST");
        assert_eq!(cors.headers.as_ref().unwrap(), "apikey, Content-Type");
        assert_eq!(cors.expose_headers.as_ref().unwrap(), "X-Request-Id");
        assert_eq!(cors.max_age, "600");
        assert!(cors.credentials);
        assert!(cors.allows("https://app.example.com"));
        assert!(cors.allows("https://shop.example.org"));
        assert!(!cors.allows("https://evil.test"));
    }

    #[test]
    fn defaults_are_listed_origins_without_credentials() {
        let config = Config::parse("t.yaml", &service("      origins: ['*']\n")).unwrap();
        let cors = config.services[0].cors.as_ref().unwrap();
        assert!(cors.allows("https://anything.test"));
        assert!(!cors.credentials);
        assert_eq!(cors.methods.0, "GET, HEAD, POST, PUT, PATCH, DELETE");
        assert!(cors.headers.is_none());
        assert_eq!(cors.max_age, "5");
    }

    #[test]
    fn mistakes_are_reported_at_their_position() {
        let text = service(
            "      origins: ['*', app.example.com]\n      methods: [get]\n      credentials: true\n      headers: ['bad header']\n",
        );
        let error = Config::parse("t.yaml", &text).unwrap_err().to_string();
        for expected in [
            "list it alone",
            "expected an origin such as",
            "expected a method in upper case",
            "`credentials: true` needs the origins listed",
            "`bad header` is not a valid header name",
        ] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
        let empty = Config::parse("t.yaml", &service("      origins: []\n")).unwrap_err();
        assert!(empty
            .to_string()
            .contains("`origins` lists the origins allowed"));
    }
}
