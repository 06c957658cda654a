//! What an expression can ask about a request: the `Facts` trait and a plain implementation.

/// The questions an expression may ask about the caller and the request.
///
/// The gateway implements this over its own request and consumer data, so nothing is copied
/// per request; answers are borrowed. An anonymous caller (no key) answers `None` for
/// client type, consumer, key id, metadata and labels, and `false` for every group and
/// permission.
pub trait Facts {
    /// The caller's client type (Mia-Platform's `clientType`), if known.
    fn client_type(&self) -> Option<&str>;
    /// The name of the consumer that owns the key, if any.
    fn consumer(&self) -> Option<&str>;
    /// Whether the consumer belongs to `group` (exact, case-sensitive name).
    fn in_group(&self, group: &str) -> bool;
    /// Whether the consumer has `permission` (exact, case-sensitive name).
    fn has_permission(&self, permission: &str) -> bool;
    /// A consumer metadata value by name, if set.
    fn metadata(&self, name: &str) -> Option<&str>;
    /// The id of the API key used, if any.
    fn key_id(&self) -> Option<&str>;
    /// A label of the API key used, by name, if set.
    fn key_label(&self, name: &str) -> Option<&str>;
    /// The name of the plan being considered or selected, if any.
    fn plan(&self) -> Option<&str>;
    /// The id of the subscription the key is used through, if any (known once a plan has
    /// been selected).
    fn subscription(&self) -> Option<&str>;
    /// The request method, such as `GET`.
    fn method(&self) -> &str;
    /// The request path, without the query string.
    fn path(&self) -> &str;
    /// The request host, without the port.
    fn host(&self) -> &str;
    /// A request header by name; the name is always passed lowercase, so an implementation
    /// can match case-insensitively without allocating.
    fn header(&self, lowercase_name: &str) -> Option<&str>;
    /// A query-string parameter by exact name (the first one, if repeated).
    fn query(&self, name: &str) -> Option<&str>;
    /// Whether the request came through the back-office entry point.
    fn is_backoffice(&self) -> bool;
    /// Whether the request came over TLS (HTTPS).
    fn tls(&self) -> bool;
    /// Whether the client presented a certificate in its TLS handshake (one that the
    /// gateway checked; never true without TLS).
    fn client_certificate(&self) -> bool;
    /// The key's credits left before this call, if it has credits.
    fn credits(&self) -> Option<u64> {
        None
    }
    /// The least left, before this call, of the quotas that apply to it, if any does.
    fn quota_remaining(&self) -> Option<u64> {
        None
    }
}

/// A plain, owned set of facts: for tests, dry runs of an expression and benchmarks.
///
/// Lookups are linear scans, which is fine for the handful of entries such uses have.
/// `Default` is an anonymous `GET /` with nothing set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticFacts {
    /// The client type, if any.
    pub client_type: Option<String>,
    /// The consumer name, if any.
    pub consumer: Option<String>,
    /// The groups the consumer belongs to.
    pub groups: Vec<String>,
    /// The permissions the consumer has.
    pub permissions: Vec<String>,
    /// Consumer metadata as (name, value) pairs.
    pub metadata: Vec<(String, String)>,
    /// The key id, if any.
    pub key_id: Option<String>,
    /// Key labels as (name, value) pairs.
    pub key_labels: Vec<(String, String)>,
    /// The plan name, if any.
    pub plan: Option<String>,
    /// The subscription id, if any.
    pub subscription: Option<String>,
    /// The request method; empty means `GET`.
    pub method: String,
    /// The request path; empty means `/`.
    pub path: String,
    /// The request host.
    pub host: String,
    /// Request headers as (name, value) pairs; names are matched case-insensitively.
    pub headers: Vec<(String, String)>,
    /// Query parameters as (name, value) pairs.
    pub query: Vec<(String, String)>,
    /// Whether the request is a back-office one.
    pub is_backoffice: bool,
    /// Whether the request came over TLS.
    pub tls: bool,
    /// Whether the client presented a certificate.
    pub client_certificate: bool,
    /// The key's credits left, if it has credits.
    pub credits: Option<u64>,
    /// The least left of the call's quotas, if any applies.
    pub quota_remaining: Option<u64>,
}

fn lookup<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Facts for StaticFacts {
    fn client_type(&self) -> Option<&str> {
        self.client_type.as_deref()
    }
    fn consumer(&self) -> Option<&str> {
        self.consumer.as_deref()
    }
    fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
    fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
    fn metadata(&self, name: &str) -> Option<&str> {
        lookup(&self.metadata, name)
    }
    fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
    fn key_label(&self, name: &str) -> Option<&str> {
        lookup(&self.key_labels, name)
    }
    fn plan(&self) -> Option<&str> {
        self.plan.as_deref()
    }
    fn subscription(&self) -> Option<&str> {
        self.subscription.as_deref()
    }
    fn method(&self) -> &str {
        if self.method.is_empty() {
            "GET"
        } else {
            &self.method
        }
    }
    fn path(&self) -> &str {
        if self.path.is_empty() {
            "/"
        } else {
            &self.path
        }
    }
    fn host(&self) -> &str {
        &self.host
    }
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(lowercase_name))
            .map(|(_, v)| v.as_str())
    }
    fn query(&self, name: &str) -> Option<&str> {
        lookup(&self.query, name)
    }
    fn is_backoffice(&self) -> bool {
        self.is_backoffice
    }
    fn tls(&self) -> bool {
        self.tls
    }
    fn client_certificate(&self) -> bool {
        self.client_certificate
    }
    fn credits(&self) -> Option<u64> {
        self.credits
    }
    fn quota_remaining(&self) -> Option<u64> {
        self.quota_remaining
    }
}
