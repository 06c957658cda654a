//! How refusals are answered (`responses:` in `defaults` and per service): the
//! `WWW-Authenticate` challenge, the wording of keygate's own messages, and templates that
//! replace a refusal's status, body and fields — Gravitee's response templates, keyed by
//! the refusal as Gravitee keys them where it has a name for it.

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderValue, StatusCode};

/// The answers to refusals of a service (or of requests no service took).
#[derive(Debug, Clone)]
pub struct Responses {
    /// `WWW-Authenticate` on `401`; `None` sends none (`www_authenticate: off`).
    pub challenge: Option<HeaderValue>,
    /// The wording of keygate's own messages.
    pub wording: Wording,
    /// Templates by refusal; few, so a list.
    pub templates: Vec<(RefusalKey, Arc<Template>)>,
}

impl Default for Responses {
    fn default() -> Responses {
        Responses {
            challenge: Some(HeaderValue::from_static(DEFAULT_CHALLENGE)),
            wording: Wording::Seed,
            templates: Vec::new(),
        }
    }
}

impl Responses {
    /// The template for `key`, when one is set.
    pub fn template(&self, key: RefusalKey) -> Option<&Arc<Template>> {
        self.templates
            .iter()
            .find_map(|(k, template)| (*k == key).then_some(template))
    }
}

/// The challenge sent unless configured otherwise.
pub const DEFAULT_CHALLENGE: &str = "Key realm=\"keygate\"";

/// Which words keygate's own refusals use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// The seed's (APISIX's before 3.10): `Missing API key found in request`.
    Seed,
    /// APISIX 3.10 and later: `Missing API key in request`.
    Apisix,
}

/// A refusal a template can replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKey {
    /// No key where the route reads one.
    ApiKeyMissing,
    /// A key that is unknown, disabled, revoked or expired.
    ApiKeyInvalid,
    /// Two different keys in one request.
    ApiKeyDuplicate,
    /// The route's `allow` expression said no.
    AccessDenied,
    /// No accepted subscription to a plan of the service lets the key through.
    NotSubscribed,
    /// A rate limit.
    RateLimited,
    /// A quota.
    QuotaExceeded,
    /// No credits left.
    CreditsExhausted,
}

impl RefusalKey {
    /// Every key, with its name in the file.
    pub const ALL: [(&'static str, RefusalKey); 8] = [
        ("API_KEY_MISSING", RefusalKey::ApiKeyMissing),
        ("API_KEY_INVALID", RefusalKey::ApiKeyInvalid),
        ("API_KEY_DUPLICATE", RefusalKey::ApiKeyDuplicate),
        ("ACCESS_DENIED", RefusalKey::AccessDenied),
        ("NOT_SUBSCRIBED", RefusalKey::NotSubscribed),
        ("RATE_LIMIT_TOO_MANY_REQUESTS", RefusalKey::RateLimited),
        ("QUOTA_TOO_MANY_REQUESTS", RefusalKey::QuotaExceeded),
        ("CREDITS_EXHAUSTED", RefusalKey::CreditsExhausted),
    ];

    /// The key named `name` in the file.
    pub fn named(name: &str) -> Option<RefusalKey> {
        RefusalKey::ALL
            .iter()
            .find_map(|(n, key)| (*n == name).then_some(*key))
    }
}

/// What a refusal is answered with instead of keygate's own answer.
#[derive(Debug, Clone)]
pub struct Template {
    /// The status.
    pub status: StatusCode,
    /// The body, as written.
    pub body: Bytes,
    /// `Content-Type` of the body (none for an empty body without one).
    pub content_type: Option<HeaderValue>,
    /// More fields, in the order written.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}
