//! Why the gateway answered a request itself instead of forwarding it: one typed error per
//! cause. `proxy::respond` is the one place that turns these into HTTP responses.

/// Why a presented key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidKey {
    /// No key has this hash.
    NotFound,
    /// The key is marked inactive.
    Disabled,
    /// The key is past its expiry.
    Expired,
    /// The key was revoked.
    Revoked,
}

/// Why a valid key found no way through a service's plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanRefusal {
    /// The consumer has no subscription to any plan of the service with this key.
    NoSubscription,
    /// The key's subscriptions are to plans whose selection rule is false.
    RuleFalse,
    /// The subscription waits for approval.
    Pending,
    /// The subscription is paused.
    Paused,
    /// The subscription was rejected.
    Rejected,
    /// The subscription is closed, or past its end.
    Closed,
}

impl PlanRefusal {
    /// How telling the refusal is: when several plans refuse, the log names the most
    /// specific cause (a subscription's status over a false rule over no subscription).
    pub fn weight(self) -> u8 {
        match self {
            PlanRefusal::NoSubscription => 0,
            PlanRefusal::RuleFalse => 1,
            PlanRefusal::Closed | PlanRefusal::Rejected => 2,
            PlanRefusal::Pending => 3,
            PlanRefusal::Paused => 4,
        }
    }
}

/// A request the gateway answers itself.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProxyError {
    /// No service and route match host and path.
    #[error("no route matched the request")]
    NoRoute,
    /// A route has the path but not the method.
    #[error("method not allowed, allowed: {allow:?}")]
    MethodNotAllowed {
        /// Value for the `Allow` header.
        allow: http::HeaderValue,
    },
    /// The path has `.` or `..` segments, plain or percent-encoded.
    #[error("the request path has dot segments")]
    BadPath,
    /// The request head breaks HTTP/1.1's grammar, or frames its body ambiguously.
    #[error("malformed request head")]
    MalformedRequest,
    /// The request body uses a transfer coding other than a final `chunked`.
    #[error("unsupported transfer coding")]
    UnsupportedTransferCoding,
    /// The request header section is over the configured limit.
    #[error("request headers are larger than allowed")]
    HeadersTooLarge,
    /// The route requires a key and none was sent.
    #[error("no API key in the request")]
    MissingKey,
    /// A key source held two different keys.
    #[error("two different API keys in one source")]
    DuplicateKey,
    /// The key is unknown, inactive or expired.
    #[error("invalid API key: {0:?}")]
    InvalidKey(InvalidKey),
    /// The route's `allow` expression is false. For an anonymous call this is answered
    /// like a missing key, since a key could change the answer.
    #[error("the route's allow expression is false")]
    Forbidden {
        /// Whether the call had no key.
        anonymous: bool,
    },
    /// The service has plans and none lets this key through.
    #[error("no accepted subscription: {0:?}")]
    NotSubscribed(PlanRefusal),
    /// No connection to the upstream could be made.
    #[error("could not connect to the upstream")]
    UpstreamConnect,
    /// The upstream did not answer in time.
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    /// The upstream connection failed while the request was being exchanged.
    #[error("the upstream failed during the exchange")]
    UpstreamBroken,
}

impl ProxyError {
    /// Short, stable name of the cause, for the access log and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ProxyError::NoRoute => "no_route",
            ProxyError::MethodNotAllowed { .. } => "method_not_allowed",
            ProxyError::BadPath => "bad_path",
            ProxyError::MalformedRequest => "malformed_request",
            ProxyError::UnsupportedTransferCoding => "unsupported_transfer_coding",
            ProxyError::HeadersTooLarge => "headers_too_large",
            ProxyError::MissingKey => "missing_key",
            ProxyError::DuplicateKey => "duplicate_key",
            ProxyError::InvalidKey(InvalidKey::NotFound) => "key_not_found",
            ProxyError::InvalidKey(InvalidKey::Disabled) => "key_disabled",
            ProxyError::InvalidKey(InvalidKey::Expired) => "key_expired",
            ProxyError::InvalidKey(InvalidKey::Revoked) => "key_revoked",
            ProxyError::Forbidden { .. } => "forbidden",
            ProxyError::NotSubscribed(PlanRefusal::NoSubscription) => "no_subscription",
            ProxyError::NotSubscribed(PlanRefusal::RuleFalse) => "plan_rule_false",
            ProxyError::NotSubscribed(PlanRefusal::Pending) => "subscription_pending",
            ProxyError::NotSubscribed(PlanRefusal::Paused) => "subscription_paused",
            ProxyError::NotSubscribed(PlanRefusal::Rejected) => "subscription_rejected",
            ProxyError::NotSubscribed(PlanRefusal::Closed) => "subscription_closed",
            ProxyError::UpstreamConnect => "upstream_connect",
            ProxyError::UpstreamTimeout => "upstream_timeout",
            ProxyError::UpstreamBroken => "upstream_broken",
        }
    }
}
