//! What is known about one request when its response head is ready: filled by the
//! proxy, counted by [`crate::metrics`] and written by [`crate::access_log`]. Its own
//! module so that those two depend on it and not on each other.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderValue, Method, Uri, Version};

use crate::proxy::authz::Shape;
use crate::proxy::error::Denial;
use crate::proxy::request_id::RequestId;
use crate::state::{ConsumerEntry, KeyEntry};

/// What is known about one request when its response head is ready.
#[derive(Debug)]
pub struct AccessRecord {
    /// When the request arrived.
    pub time: SystemTime,
    /// Request method.
    pub method: Method,
    /// Request URI (the query string is not logged); `/` when the access log is off,
    /// the only reader.
    pub uri: Uri,
    /// The protocol the request came in (HTTP/1.0, HTTP/1.1 or HTTP/2.0).
    pub version: Version,
    /// The client's address.
    pub client: Option<IpAddr>,
    /// The request's `Host` (which holds an absolute target's authority).
    pub host: Option<HeaderValue>,
    /// The request id (`proxy.request_id_header`), unless ids are off.
    pub request_id: Option<RequestId>,
    /// Status sent to the client.
    pub status: u16,
    /// Indexes of the matched service and route in the snapshot.
    pub matched: Option<(usize, usize)>,
    /// Matched service.
    pub service: Option<Arc<str>>,
    /// Matched route.
    pub route: Option<Arc<str>>,
    /// The key presented, when it was known (valid or not), with its consumer.
    pub key: Option<Arc<KeyEntry>>,
    /// The service's anonymous consumer, when the call went on as it (without a key).
    pub anonymous: Option<Arc<ConsumerEntry>>,
    /// The plan the key was let through by, on a service with plans.
    pub plan: Option<Arc<str>>,
    /// The subscription the key was let through by, on a service with plans.
    pub subscription: Option<Arc<str>>,
    /// Why the gateway answered itself, if it did.
    pub denial: Option<Denial>,
    /// The rate limit that refused the call, if one did.
    pub limit: Option<Arc<str>>,
    /// Status the upstream answered.
    pub upstream_status: Option<u16>,
    /// Microseconds from arrival to response head.
    pub total_us: u64,
    /// Microseconds spent waiting for the upstream's response head.
    pub upstream_us: u64,
    /// Upstream targets tried (0 when the request went to none; above 1 when retried).
    pub tries: u32,
    /// Which listener answered: the proxy, or a front proxy's check.
    pub mode: Mode,
}

/// Which listener answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The proxy: the request was forwarded, or refused.
    Proxy,
    /// The authorization service: a front proxy's check of a request, in this shape;
    /// nothing was forwarded.
    Authz(Shape),
}

impl Mode {
    /// How the access log names the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Proxy => "proxy",
            Mode::Authz(_) => "authz",
        }
    }

    /// The shape of the check, in authz mode.
    pub fn shape(self) -> Option<Shape> {
        match self {
            Mode::Proxy => None,
            Mode::Authz(shape) => Some(shape),
        }
    }
}

impl AccessRecord {
    /// Whose call it was: the key's consumer, or the anonymous consumer.
    pub fn consumer(&self) -> Option<&ConsumerEntry> {
        match (&self.key, &self.anonymous) {
            (Some(key), _) => Some(&key.consumer),
            (None, anonymous) => anonymous.as_deref(),
        }
    }

    /// Starts a record for a request that arrived at `time`. Inlined: the record is built
    /// where its caller keeps it, not copied there.
    #[inline]
    pub fn new(method: Method, uri: Uri, time: SystemTime) -> AccessRecord {
        AccessRecord {
            time,
            method,
            uri,
            version: Version::HTTP_11,
            client: None,
            host: None,
            request_id: None,
            status: 0,
            matched: None,
            service: None,
            route: None,
            key: None,
            anonymous: None,
            plan: None,
            subscription: None,
            denial: None,
            limit: None,
            upstream_status: None,
            total_us: 0,
            upstream_us: 0,
            tries: 0,
            mode: Mode::Proxy,
        }
    }
}
