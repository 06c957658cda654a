//! Why the gateway answered a request itself instead of forwarding it: one typed error per
//! cause. `proxy::respond` is the one place that turns these into HTTP responses.

use super::limit_check::LimitRefusal;

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
    /// The path cannot be made unambiguous (`proxy::path_normal::PathError` says why).
    #[error("the request path is ambiguous")]
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
    /// The client's request body broke its framing (chunked) or broke off.
    #[error("the request body is malformed or incomplete")]
    BadRequestBody,
    /// The client sent nothing of its request body for the upstream's `send_timeout`.
    #[error("the request body did not arrive in time")]
    RequestBodyTimeout,
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
    /// A rate limit has too little left for the call.
    #[error("rate limit `{}` exceeded", .0.report.name)]
    RateLimited(LimitRefusal),
    /// No connection to the upstream could be made.
    #[error("could not connect to the upstream")]
    UpstreamConnect,
    /// The upstream did not answer in time.
    #[error("the upstream did not answer in time")]
    UpstreamTimeout,
    /// The upstream connection failed while the request was being exchanged.
    #[error("the upstream failed during the exchange")]
    UpstreamBroken,
    /// The service is served over HTTPS only (`https_redirect`) and the request came
    /// over plain HTTP: answered with a redirect to this URL.
    #[error("plain HTTP on a service that redirects to HTTPS")]
    HttpsRedirect {
        /// The same URL over HTTPS, for `Location`.
        location: http::HeaderValue,
    },
    /// No target has an address: the upstream's host name has not resolved yet.
    #[error("the upstream's host name did not resolve")]
    UpstreamUnresolved,
    /// The target had `max_connections` requests under way and none ended within
    /// `queue_timeout`.
    #[error("the upstream target is at its connection limit")]
    UpstreamBusy,
    /// The TLS handshake with an `https://` target failed: its certificate was refused
    /// (expired, for another name, from an unknown issuer) or it does not speak TLS.
    #[error("the TLS handshake with the upstream failed")]
    UpstreamTls,
    /// The call was to go on as the service's anonymous consumer, which does not exist.
    #[error("the service's anonymous consumer does not exist")]
    AnonymousConsumerMissing,
    /// A body to be read whole for the key in it (a route with `body` key sources) is
    /// longer than `proxy.max_key_body_bytes`.
    #[error("the request body is larger than the gateway reads for a key")]
    RequestBodyTooLarge,
}

/// Why the gateway answered a request itself: the access log's `denial` and the `reason`
/// label of `keygate_denials_total`. An enum rather than text so that metrics find the
/// reason's counter by index, without hashing a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// No route matched the request.
    NoRoute,
    /// A route has the path but not the method.
    MethodNotAllowed,
    /// The path is not absolute or has dot segments.
    BadPath,
    /// The request head breaks HTTP's grammar.
    MalformedRequest,
    /// A transfer coding other than a final `chunked`.
    UnsupportedTransferCoding,
    /// The header section is over the limit.
    HeadersTooLarge,
    /// The request body is malformed or broke off: the client's error.
    BadRequestBody,
    /// The client stopped sending its request body.
    RequestBodyTimeout,
    /// No key where the route looks for one.
    MissingKey,
    /// More than one key in the request.
    DuplicateKey,
    /// A key no consumer has.
    KeyNotFound,
    /// A disabled key.
    KeyDisabled,
    /// An expired key.
    KeyExpired,
    /// A revoked key.
    KeyRevoked,
    /// The route's `allow` expression is false.
    Forbidden,
    /// No subscription of the key to a plan of the service.
    NoSubscription,
    /// Every plan subscribed to has a false selection rule.
    PlanRuleFalse,
    /// The subscription waits for acceptance.
    SubscriptionPending,
    /// The subscription is paused.
    SubscriptionPaused,
    /// The subscription was rejected.
    SubscriptionRejected,
    /// The subscription is closed or ended.
    SubscriptionClosed,
    /// Plain HTTP on a service that redirects to HTTPS.
    HttpsRedirect,
    /// A rate limit refused the call (the access log's `limit` says which).
    RateLimited,
    /// The upstream could not be reached.
    UpstreamConnect,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The upstream failed during the exchange.
    UpstreamBroken,
    /// The upstream's host name did not resolve.
    UpstreamUnresolved,
    /// The target was at its connection limit for `queue_timeout`.
    UpstreamBusy,
    /// The TLS handshake with the upstream failed.
    UpstreamTls,
    /// The service's anonymous consumer does not exist.
    AnonymousConsumerMissing,
    /// A body read for its key was over `proxy.max_key_body_bytes`.
    RequestBodyTooLarge,
}

// Every outcome has a counter of its own.
const _: () = assert!(Denial::COUNT < crate::state::usage_counts::OUTCOMES);

impl Denial {
    /// How many reasons there are: the size of a table indexed by `reason as usize`.
    pub const COUNT: usize = Denial::RequestBodyTooLarge as usize + 1;

    /// Every reason, in the order of their indexes.
    pub const ALL: [Denial; Denial::COUNT] = [
        Denial::NoRoute,
        Denial::MethodNotAllowed,
        Denial::BadPath,
        Denial::MalformedRequest,
        Denial::UnsupportedTransferCoding,
        Denial::HeadersTooLarge,
        Denial::BadRequestBody,
        Denial::RequestBodyTimeout,
        Denial::MissingKey,
        Denial::DuplicateKey,
        Denial::KeyNotFound,
        Denial::KeyDisabled,
        Denial::KeyExpired,
        Denial::KeyRevoked,
        Denial::Forbidden,
        Denial::NoSubscription,
        Denial::PlanRuleFalse,
        Denial::SubscriptionPending,
        Denial::SubscriptionPaused,
        Denial::SubscriptionRejected,
        Denial::SubscriptionClosed,
        Denial::HttpsRedirect,
        Denial::RateLimited,
        Denial::UpstreamConnect,
        Denial::UpstreamTimeout,
        Denial::UpstreamBroken,
        Denial::UpstreamUnresolved,
        Denial::UpstreamBusy,
        Denial::UpstreamTls,
        Denial::AnonymousConsumerMissing,
        Denial::RequestBodyTooLarge,
    ];

    /// The outcome a usage count is kept under ([`crate::state::usage_counts`]): 0 for a
    /// call let through, 1 + the reason's index for one the gateway answered itself.
    pub fn usage_outcome(denial: Option<Denial>) -> usize {
        denial.map_or(0, |denial| denial as usize + 1)
    }

    /// The name of a [`Denial::usage_outcome`]: `allowed`, or the reason's.
    pub fn usage_outcome_name(outcome: usize) -> &'static str {
        match outcome.checked_sub(1) {
            None => "allowed",
            Some(index) => Denial::ALL.get(index).map_or("other", |d| d.as_str()),
        }
    }

    /// Short, stable name of the reason (`key_not_found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Denial::NoRoute => "no_route",
            Denial::MethodNotAllowed => "method_not_allowed",
            Denial::BadPath => "bad_path",
            Denial::MalformedRequest => "malformed_request",
            Denial::UnsupportedTransferCoding => "unsupported_transfer_coding",
            Denial::HeadersTooLarge => "headers_too_large",
            Denial::BadRequestBody => "bad_request_body",
            Denial::RequestBodyTimeout => "request_body_timeout",
            Denial::MissingKey => "missing_key",
            Denial::DuplicateKey => "duplicate_key",
            Denial::KeyNotFound => "key_not_found",
            Denial::KeyDisabled => "key_disabled",
            Denial::KeyExpired => "key_expired",
            Denial::KeyRevoked => "key_revoked",
            Denial::Forbidden => "forbidden",
            Denial::NoSubscription => "no_subscription",
            Denial::PlanRuleFalse => "plan_rule_false",
            Denial::SubscriptionPending => "subscription_pending",
            Denial::SubscriptionPaused => "subscription_paused",
            Denial::SubscriptionRejected => "subscription_rejected",
            Denial::SubscriptionClosed => "subscription_closed",
            Denial::HttpsRedirect => "https_redirect",
            Denial::RateLimited => "rate_limited",
            Denial::UpstreamConnect => "upstream_connect",
            Denial::UpstreamTimeout => "upstream_timeout",
            Denial::UpstreamBroken => "upstream_broken",
            Denial::UpstreamUnresolved => "upstream_unresolved",
            Denial::UpstreamBusy => "upstream_busy",
            Denial::UpstreamTls => "upstream_tls",
            Denial::AnonymousConsumerMissing => "anonymous_consumer_missing",
            Denial::RequestBodyTooLarge => "request_body_too_large",
        }
    }
}

impl ProxyError {
    /// Why the gateway answers this error itself, for the access log and metrics.
    pub fn reason(&self) -> Denial {
        match self {
            ProxyError::NoRoute => Denial::NoRoute,
            ProxyError::MethodNotAllowed { .. } => Denial::MethodNotAllowed,
            ProxyError::BadPath => Denial::BadPath,
            ProxyError::MalformedRequest => Denial::MalformedRequest,
            ProxyError::UnsupportedTransferCoding => Denial::UnsupportedTransferCoding,
            ProxyError::HeadersTooLarge => Denial::HeadersTooLarge,
            ProxyError::BadRequestBody => Denial::BadRequestBody,
            ProxyError::RequestBodyTimeout => Denial::RequestBodyTimeout,
            ProxyError::MissingKey => Denial::MissingKey,
            ProxyError::DuplicateKey => Denial::DuplicateKey,
            ProxyError::InvalidKey(InvalidKey::NotFound) => Denial::KeyNotFound,
            ProxyError::InvalidKey(InvalidKey::Disabled) => Denial::KeyDisabled,
            ProxyError::InvalidKey(InvalidKey::Expired) => Denial::KeyExpired,
            ProxyError::InvalidKey(InvalidKey::Revoked) => Denial::KeyRevoked,
            ProxyError::Forbidden { .. } => Denial::Forbidden,
            ProxyError::NotSubscribed(PlanRefusal::NoSubscription) => Denial::NoSubscription,
            ProxyError::NotSubscribed(PlanRefusal::RuleFalse) => Denial::PlanRuleFalse,
            ProxyError::NotSubscribed(PlanRefusal::Pending) => Denial::SubscriptionPending,
            ProxyError::NotSubscribed(PlanRefusal::Paused) => Denial::SubscriptionPaused,
            ProxyError::NotSubscribed(PlanRefusal::Rejected) => Denial::SubscriptionRejected,
            ProxyError::NotSubscribed(PlanRefusal::Closed) => Denial::SubscriptionClosed,
            ProxyError::RateLimited(_) => Denial::RateLimited,
            ProxyError::UpstreamConnect => Denial::UpstreamConnect,
            ProxyError::UpstreamTimeout => Denial::UpstreamTimeout,
            ProxyError::UpstreamBroken => Denial::UpstreamBroken,
            ProxyError::HttpsRedirect { .. } => Denial::HttpsRedirect,
            ProxyError::UpstreamUnresolved => Denial::UpstreamUnresolved,
            ProxyError::UpstreamBusy => Denial::UpstreamBusy,
            ProxyError::UpstreamTls => Denial::UpstreamTls,
            ProxyError::AnonymousConsumerMissing => Denial::AnonymousConsumerMissing,
            ProxyError::RequestBodyTooLarge => Denial::RequestBodyTooLarge,
        }
    }
}
