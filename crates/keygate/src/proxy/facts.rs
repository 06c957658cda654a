//! What an `allow` expression may ask about a request and its caller, answered by
//! borrowing from the request and from the key and consumer as the request checked them —
//! an expression copies nothing.

use http::header::HOST;
use http::request::Parts;
use keygate_policy::Facts;

use super::forward::TlsFacts;
use crate::state::router::strip_port;
use crate::state::{ConsumerEntry, KeyEntry};

/// The facts of one request; `key` is `None` for an anonymous call.
pub struct RequestFacts<'r> {
    /// The request's head as the client sent it.
    pub request: &'r Parts,
    /// The caller's key, when a valid one was presented.
    pub key: Option<&'r KeyEntry>,
    /// The key's consumer, as it was when the request was authenticated.
    pub consumer: Option<&'r ConsumerEntry>,
    /// The plan being considered or selected, on a service with plans.
    pub plan: Option<&'r str>,
    /// The subscription the key is used through, once a plan is selected.
    pub subscription: Option<&'r str>,
    /// Whether the request came in on a back-office listener.
    pub is_backoffice: bool,
    /// What the connection's TLS handshake told; `None` for plain HTTP.
    pub tls: Option<TlsFacts>,
    /// The caller's usage (credits, quotas), where the expression may read it.
    pub usage: Option<super::quota_check::UsageFacts<'r>>,
}

impl Facts for RequestFacts<'_> {
    fn client_type(&self) -> Option<&str> {
        self.consumer.map(|consumer| &*consumer.profile.client_type)
    }

    fn consumer(&self) -> Option<&str> {
        self.consumer.map(|consumer| &*consumer.name)
    }

    fn in_group(&self, group: &str) -> bool {
        self.consumer
            .is_some_and(|consumer| consumer.profile.groups.iter().any(|g| g == group))
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.consumer
            .is_some_and(|consumer| consumer.profile.permissions.iter().any(|p| p == permission))
    }

    fn metadata(&self, name: &str) -> Option<&str> {
        self.consumer?
            .profile
            .metadata
            .get(name)
            .map(String::as_str)
    }

    fn key_id(&self) -> Option<&str> {
        self.key.map(|key| &*key.id)
    }

    fn key_label(&self, name: &str) -> Option<&str> {
        self.key?.labels.get(name).map(String::as_str)
    }

    fn plan(&self) -> Option<&str> {
        self.plan
    }

    fn subscription(&self) -> Option<&str> {
        self.subscription
    }

    fn method(&self) -> &str {
        self.request.method.as_str()
    }

    /// The path in normal form (`proxy::path_normal`; phase 1 put it in the request's
    /// target), before any prefix is removed.
    fn path(&self) -> &str {
        self.request.uri.path()
    }

    /// The host without its port, from `Host` (which holds an absolute target's
    /// authority, `downstream::request_head`).
    fn host(&self) -> &str {
        let host = self
            .request
            .headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or("");
        strip_port(host)
    }

    fn header(&self, lowercase_name: &str) -> Option<&str> {
        self.request.headers.get(lowercase_name)?.to_str().ok()
    }

    /// The first value of a query parameter, as sent (not percent-decoded).
    fn query(&self, name: &str) -> Option<&str> {
        self.request
            .uri
            .query()?
            .split('&')
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(param, _)| *param == name)
            .map(|(_, value)| value)
    }

    fn is_backoffice(&self) -> bool {
        self.is_backoffice
    }

    fn tls(&self) -> bool {
        self.tls.is_some()
    }

    fn client_certificate(&self) -> bool {
        self.tls.is_some_and(|tls| tls.client_certificate)
    }

    fn credits(&self) -> Option<u64> {
        self.usage.as_ref()?.credits()
    }

    fn quota_remaining(&self) -> Option<u64> {
        self.usage.as_ref()?.quota_remaining()
    }
}
