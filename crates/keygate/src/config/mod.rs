//! The gateway's configuration: loaded from a YAML file, checked in full, and turned into
//! the internal types below that the rest of the program uses.

mod build;
mod cors;
mod error;
pub mod field_patterns;
mod file;
mod path_pattern;
mod responses;
mod schema;
mod sections;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::HeaderName;
use http::uri::{Authority, Scheme};
use http::Method;
use keygate_policy::Expr;

pub(crate) use build::file_options;
pub use cors::{Cors, OriginPattern};
pub use error::{ConfigError, Problem};
pub use field_patterns::{FieldPattern, FieldPatterns};
pub use path_pattern::{PathPattern, Segment};
pub use responses::{RefusalKey, Responses, Template, Wording, DEFAULT_CHALLENGE};
pub use schema::SCHEMA;
pub use sections::ENTITY_SECTIONS;

use crate::key::KeyHash;
use crate::limits::{HeaderMode, Limit};

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The proxy listener and its limits.
    pub proxy: ProxySettings,
    /// Names of the identity headers set on forwarded requests.
    pub identity_headers: IdentityHeaders,
    /// How refusals are answered where no service's `responses:` applies
    /// (`defaults.responses`).
    pub responses: Arc<Responses>,
    /// The upstream APIs, in file order.
    pub services: Vec<Service>,
    /// The clients and their keys, in file order.
    pub consumers: Vec<Consumer>,
    /// Subscriptions the file seeds, in file order.
    pub subscriptions: Vec<SubscriptionConfig>,
    /// Store URL (`sqlite://keygate.db` by default).
    pub store: String,
    /// Where the directory of consumers and keys is cached between runs (see
    /// `state::directory_cache`); `None` for no cache. By default `FILE.cache` beside a
    /// SQLite database `FILE`, none for PostgreSQL or an in-memory database.
    pub cache_file: Option<PathBuf>,
    /// The admin listener and its token.
    pub admin: AdminSettings,
    /// Key sources of services and routes that name none.
    pub default_key_sources: Arc<[KeySource]>,
    /// The anonymous consumer of services that name none (`defaults`).
    pub anonymous_defaults: AnonymousDefaults,
    /// Each file service as a JSON document in the file's shape, as the store keeps it.
    pub service_documents: Vec<ServiceDocument>,
    /// How a node on a PostgreSQL store follows the other nodes.
    pub cluster: ClusterSettings,
    /// How upstream host names are resolved.
    pub dns: DnsSettings,
    /// How quota and credit counts are kept in the store.
    pub quotas: QuotaSettings,
    /// The authorization-service listeners.
    pub authz: AuthzSettings,
    /// How the hourly usage counts are kept.
    pub usage: UsageSettings,
}

/// `authz:` — keygate as the authorization service of a front proxy: listeners that
/// answer the front proxy's check of a request (`crate::proxy::authz`,
/// docs/authz.md). Off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthzSettings {
    /// Where the HTTP checks are answered, in file order; empty = off.
    pub listen: Vec<Listener>,
    /// `authz.tls`: the certificates of the listeners marked `tls`.
    pub tls: Option<TlsSettings>,
    /// Where Envoy's gRPC `Check` is answered; `None` = off.
    pub grpc_listen: Option<SocketAddr>,
    /// nginx `auth_request`: the field with the original method (default
    /// `x-original-method`).
    pub method_header: HeaderName,
    /// nginx `auth_request`: the field with the original URI (default `x-original-uri`).
    pub uri_header: HeaderName,
    /// Envoy HTTP `ext_authz`: the prefix Envoy puts before the original path (default
    /// `/envoy`), without a trailing slash.
    pub envoy_path_prefix: String,
}

impl Default for AuthzSettings {
    fn default() -> AuthzSettings {
        AuthzSettings {
            listen: Vec::new(),
            tls: None,
            grpc_listen: None,
            method_header: HeaderName::from_static("x-original-method"),
            uri_header: HeaderName::from_static("x-original-uri"),
            envoy_path_prefix: "/envoy".to_owned(),
        }
    }
}

/// `dns:` — how upstream targets named by host name are resolved and kept up to date.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsSettings {
    /// Name servers to ask (`ip:port`); empty = the system's (`/etc/resolv.conf`, with
    /// `/etc/hosts` first).
    pub nameservers: Vec<SocketAddr>,
    /// A name is re-resolved no sooner than this after an answer, however short its TTL
    /// (default 1 s); also the first wait after a failed resolution.
    pub refresh_min: Duration,
    /// ... and no later than this, however long its TTL (default 300 s); also the
    /// longest wait between tries while resolution keeps failing.
    pub refresh_max: Duration,
}

impl Default for DnsSettings {
    fn default() -> DnsSettings {
        DnsSettings {
            nameservers: Vec::new(),
            refresh_min: Duration::from_secs(1),
            refresh_max: Duration::from_secs(300),
        }
    }
}

/// `cluster:` — how a node on a shared PostgreSQL store follows the other nodes' writes.
/// Ignored with SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// How often the node catches up with the store even when no notification came, so a
    /// lost notification costs at most this long (default 10 s).
    pub reconcile_interval: Duration,
    /// Rate limits shared by the nodes through Redis; `None`: each node counts alone.
    pub rate_limits: Option<LimitSyncSettings>,
}

/// `cluster.rate_limits:` — rate limits shared across nodes through Redis
/// (`limits::redis_sync`, docs/limits.md "Across nodes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSyncSettings {
    /// The Redis URL, checked when read.
    pub redis: String,
    /// How often a node sends its counts and takes the others' (default 100 ms).
    pub sync_interval: Duration,
    /// What the limits do while Redis cannot be reached.
    pub on_redis_down: RedisDown,
    /// The start of every Redis key (default `keygate:`).
    pub key_prefix: String,
    /// How the nodes share the counts (default [`LimitSyncMode::Sync`]).
    pub mode: LimitSyncMode,
}

/// How rate limits are shared through Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSyncMode {
    /// Counted on each node, synchronised every `sync_interval`; no Redis call on the
    /// request path (default).
    Sync,
    /// One atomic Redis call per limited call: no over-admission across nodes.
    Exact,
}

/// What rate limits shared through Redis do while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisDown {
    /// Each node counts `count ÷ nodes` of every limit (default).
    Local,
    /// Every call a limit applies to is refused (`429`).
    Refuse,
}

/// `quotas:` — how the durable counts of quotas and credits are kept in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaSettings {
    /// How often this node adds its counts to the store and reads every node's back
    /// (default 1 s): a crash loses at most this long of counts.
    pub flush_interval: Duration,
}

impl Default for QuotaSettings {
    fn default() -> QuotaSettings {
        QuotaSettings {
            flush_interval: Duration::from_secs(1),
        }
    }
}

/// `usage:` — how the hourly usage counts per key, consumer and service are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageSettings {
    /// How many days of counts the store keeps; older hours are deleted.
    pub retention_days: u64,
    /// How often this node adds its counts to the store (default 10 s).
    pub flush_interval: Duration,
}

impl Default for UsageSettings {
    fn default() -> UsageSettings {
        UsageSettings {
            retention_days: 30,
            flush_interval: Duration::from_secs(10),
        }
    }
}

/// `admin:` — where the admin API listens and how callers prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// Address (default `127.0.0.1:9180`).
    pub listen: SocketAddr,
    /// The token, when written in the file.
    pub token: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// Whether request metrics carry a consumer label.
    pub consumer_metrics: bool,
    /// Whether `/metrics` asks for the admin token like the rest of the admin API.
    pub metrics_auth: bool,
    /// `admin.tls`: the admin API over HTTPS only, when set.
    pub tls: Option<TlsSettings>,
    /// Whether `/readyz` answers `503` while a service with active health checks has no
    /// target they hold up (default false).
    pub readyz_requires_healthy_targets: bool,
}

/// A service as the JSON document the store keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDocument {
    /// The service name.
    pub name: String,
    /// The service, as JSON in the configuration file's shape.
    pub json: String,
}

/// One proxy listener: an address, plain HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// The address.
    pub address: SocketAddr,
    /// Whether connections on it begin with a TLS handshake.
    pub tls: bool,
}

/// `proxy.tls`, `admin.tls`: the server certificates and the TLS rules of a listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The certificates, in file order; never empty. The client's server name (SNI)
    /// picks one by its `hosts`; the one without `hosts` (else the first) answers the
    /// rest.
    pub certificates: Vec<CertificateFiles>,
    /// The oldest TLS version accepted (default 1.2).
    pub min_version: TlsVersion,
    /// Whether clients may resume sessions with tickets (default true).
    pub session_tickets: bool,
    /// CA certificates (PEM) that client certificates are checked against; when set,
    /// clients are asked for a certificate, and one that is sent must be valid.
    pub client_ca_file: Option<PathBuf>,
}

/// One certificate: its PEM files and the server names it answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert_file: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Lower-case names, exact (`api.example.com`) or one-label wildcards
    /// (`*.example.com`); empty for the default certificate.
    pub hosts: Vec<String>,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

/// `proxy:` — listener address and limits.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySettings {
    /// Where the proxy listens (default one plain listener on `127.0.0.1:8080`), in file
    /// order; empty only when `authz` listens (`listen: []`).
    pub listen: Vec<Listener>,
    /// `proxy.tls`: the certificates of the listeners marked `tls` (set exactly when one
    /// is).
    pub tls: Option<TlsSettings>,
    /// How long a client may take to send its request headers, and how long an idle
    /// keep-alive connection waits for its next request (default 30 s).
    pub header_timeout: Duration,
    /// How long a write to a client may make no progress before the connection is
    /// closed (default 60 s, as nginx's `send_timeout`).
    pub send_timeout: Duration,
    /// How long in-flight requests may take to finish at shutdown (default 30 s).
    pub shutdown_timeout: Duration,
    /// Largest request header section accepted, in bytes (default 32 KiB); larger is `431`.
    pub max_header_bytes: usize,
    /// Whether request fields whose names hold an `_` are kept (default: dropped, as
    /// nginx's `underscores_in_headers off`). Read when a connection opens.
    pub underscores_in_headers: bool,
    /// Room the incomplete request heads of all connections may hold together beyond
    /// their first 4 KiB buffers (default 32 MiB); a head that needs more is `431`.
    pub max_partial_head_bytes: usize,
    /// The field that carries the request id in, upstream and back (default
    /// `x-request-id`); `None` (`off`) sends and logs no id.
    pub request_id_header: Option<HeaderName>,
    /// `proxy.traceparent: generate`: a request without one valid `traceparent` gets a
    /// new one upstream (default `pass`: the client's, if any, goes untouched).
    pub generate_traceparent: bool,
    /// `proxy.http2`: HTTP/2 on the TLS listeners, and its limits.
    pub http2: Http2Settings,
    /// `proxy.strip_request_headers`: client fields never forwarded, besides the
    /// identity families that never are (`proxy::identity_fields`). Empty by default.
    pub strip_request_headers: FieldPatterns,
    /// `proxy.max_key_body_bytes`: the largest request body read whole on a route with a
    /// `body` key source (default 64 KiB); a larger one is `413`.
    pub max_key_body_bytes: u64,
}

/// `proxy.http2` — HTTP/2 on the TLS listeners (ALPN `h2`) and the limits each HTTP/2
/// connection is served under. Whether `h2` is offered is read at start; the limits
/// when a connection opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Settings {
    /// Whether TLS listeners offer `h2` (default true); without it every client speaks
    /// HTTP/1.1.
    pub enabled: bool,
    /// Whether plain listeners serve HTTP/2 to clients that open with its preface
    /// (h2c with prior knowledge; default false).
    pub h2c: bool,
    /// Streams a client may have open at once on one connection (default 128).
    pub max_concurrent_streams: u32,
    /// Flow-control window of each request body, in bytes (default 1 MiB).
    pub initial_window_size: u32,
    /// Flow-control window of all request bodies of a connection, in bytes (default
    /// 4 MiB).
    pub connection_window_size: u32,
    /// Size of the HPACK table the client may make keygate keep (default 4096).
    pub header_table_size: u32,
    /// Streams a client may reset before keygate took them up, before the connection
    /// is closed with `ENHANCE_YOUR_CALM` (rapid reset, CVE-2023-44487; default 20).
    pub max_pending_reset_streams: usize,
    /// Streams keygate may reset for the client's protocol errors before it closes the
    /// connection (default 1024).
    pub max_error_reset_streams: usize,
}

impl Default for Http2Settings {
    fn default() -> Http2Settings {
        Http2Settings {
            enabled: true,
            h2c: false,
            max_concurrent_streams: 128,
            initial_window_size: 1024 * 1024,
            connection_window_size: 4 * 1024 * 1024,
            header_table_size: 4096,
            max_pending_reset_streams: 20,
            max_error_reset_streams: 1024,
        }
    }
}

/// The headers that tell the upstream who called.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// Consumer name (default `X-Consumer-Username`).
    pub consumer: HeaderName,
    /// Key id (default `X-Credential-Identifier`).
    pub credential: HeaderName,
    /// Consumer groups, comma-separated (default `X-Consumer-Groups`).
    pub groups: HeaderName,
    /// Client type (default `client-type`).
    pub client_type: HeaderName,
    /// The consumer's stable id: its `metadata.id` (an id kept from another gateway),
    /// else its name (default `X-Consumer-ID`, as Kong; `None` for `off`).
    pub consumer_id: Option<HeaderName>,
    /// The consumer's external id, its `metadata.custom_id`, when it has one (default
    /// `X-Consumer-Custom-ID`, as Kong; `None` for `off`).
    pub custom_id: Option<HeaderName>,
}

/// One upstream API and its routes.
#[derive(Debug, Clone)]
pub struct Service {
    /// Unique name.
    pub name: Arc<str>,
    /// Lowercase host names (`*.example.com` allowed); empty = any host.
    pub hosts: Vec<String>,
    /// Path prefix without a trailing slash; empty = none.
    pub path_prefix: String,
    /// Whether the prefix is removed before forwarding.
    pub strip_prefix: bool,
    /// Whether the client's Host header is sent upstream.
    pub preserve_host: bool,
    /// Whether a request that came in over plain HTTP is answered with a redirect to
    /// the same URL over HTTPS instead of being forwarded (default false).
    pub https_redirect: bool,
    /// Where calls are forwarded.
    pub upstream: UpstreamSettings,
    /// The endpoints, in file order.
    pub routes: Vec<Route>,
    /// API key plans, in the order they are tried; empty = keys work as they are.
    pub plans: Vec<Plan>,
    /// Rate limits on every call to the service.
    pub limits: Arc<[Limit]>,
    /// Cross-origin requests from browsers (`cors:`), when the service allows them.
    pub cors: Option<Arc<Cors>>,
    /// How refusals on this service are answered (`responses:` over `defaults.responses`).
    pub responses: Arc<Responses>,
    /// Who a call its `auth: optional` routes let in without a key goes on as
    /// (`anonymous_consumer:` over `defaults.anonymous_consumer`); `None`: no one.
    pub anonymous: Option<AnonymousConsumer>,
}

/// A service's anonymous consumer (`anonymous_consumer`, APISIX's `anonymous_consumer`,
/// Kong's `anonymous`): the consumer a call without a key goes on as on the service's
/// `auth: optional` routes — its identity fields upstream, with
/// `X-Anonymous-Consumer: true`, its `allow` facts, limits and usage. Found by name when
/// a snapshot is built (`state::Snapshot`), never on the request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousConsumer {
    /// The consumer's name.
    pub name: Arc<str>,
    /// Whether a call with an invalid key (unknown, disabled, expired, revoked) goes on
    /// as the anonymous consumer too (`anonymous_on_invalid_key`, default false: `401`).
    pub on_invalid_key: bool,
}

/// `defaults.anonymous_consumer` and `defaults.anonymous_on_invalid_key`, which every
/// service (from the file or the admin API) inherits unless it says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnonymousDefaults {
    /// The consumer's name; `None`: no anonymous consumer.
    pub consumer: Option<Arc<str>>,
    /// Whether an invalid key falls back to it.
    pub on_invalid_key: bool,
}

/// An API key plan of a service.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Name, unique within the service.
    pub name: Arc<str>,
    /// Must be true for the plan to be chosen; `None` = always.
    pub selection_rule: Option<Arc<Expr>>,
    /// Whether the key is sent upstream through this plan.
    pub forward_key: bool,
    /// Whether new subscriptions start accepted (else pending).
    pub auto_approve: bool,
    /// What the plan offers.
    pub description: Option<String>,
    /// Rate limits on calls let through by this plan.
    pub limits: Arc<[Limit]>,
}

/// Targets and timeouts of a service's upstream.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    /// Target base URLs, in file order.
    pub targets: Vec<Target>,
    /// How a request's target is chosen among them (default round-robin).
    pub balance: Balance,
    /// How long a target that comes back after being skipped takes to get its full share
    /// of requests, its weight rising linearly (nginx Plus's and HAProxy's `slowstart`);
    /// `None` (default): at once. Not with `Balance::Hash`.
    pub slow_start: Option<Duration>,
    /// Time allowed to open a connection (default 5 s).
    pub connect_timeout: Duration,
    /// How long the upstream may stay silent while keygate waits for its response head
    /// or the next bytes of its body (default 60 s, as nginx's `proxy_read_timeout`).
    pub read_timeout: Duration,
    /// How long sending the request body may make no progress: the upstream takes
    /// nothing, or the client sends nothing more (default 60 s, as nginx's
    /// `proxy_send_timeout`).
    pub send_timeout: Duration,
    /// When a request goes on to another target, and when a target is skipped.
    pub failover: Failover,
    /// Active health checks of every target; `None` = none (passive health only).
    pub health_check: Option<HealthCheck>,
    /// Keep-alive and connection limits per target.
    pub pool: PoolLimits,
    /// How `https://` targets are spoken to; `None` when the service has none.
    pub tls: Option<UpstreamTls>,
    /// The HTTP version spoken to the targets (default HTTP/1.1).
    pub protocol: UpstreamProtocol,
}

/// `upstream.protocol`: the HTTP version spoken to a service's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum UpstreamProtocol {
    /// `http1`: HTTP/1.1, a pool of keep-alive connections per target.
    #[default]
    Http1,
    /// `h2`: HTTP/2 over TLS (ALPN `h2`), `https://` targets; one multiplexed
    /// connection per target.
    H2,
    /// `h2c`: HTTP/2 in clear text with prior knowledge, `http://` targets.
    H2c,
}

/// `upstream.tls`, read: how keygate speaks TLS to a service's `https://` targets.
#[derive(Debug, Clone)]
pub struct UpstreamTls {
    /// The rustls client configuration: the roots certificates are checked against,
    /// keygate's client certificate if any, the ALPN protocols offered.
    pub client: Arc<rustls::ClientConfig>,
    /// `server_name`: the name sent as SNI and looked for in the certificate instead of
    /// each target's host.
    pub server_name: Option<rustls_pki_types::ServerName<'static>>,
}

/// `upstream.health_check:` — a request to `path` on every target each `interval`, off
/// the request path (Kong's and APISIX's active health checks). A target is taken out
/// after `unhealthy_after` failed checks in a row (or `timeouts_after` timed-out ones),
/// and back in after `healthy_after` good ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HealthCheck {
    /// The path and query asked for, as sent (the target's base path is not put in front).
    pub path: String,
    /// The `Host` field sent; `None` = the target's own `host:port`.
    pub host: Option<String>,
    /// Time between the end of one check and the start of the next (default 5 s).
    pub interval: Duration,
    /// Time one check may take, connection included (default 1 s).
    pub timeout: Duration,
    /// Good checks in a row that bring a target that is down back (default 2).
    pub healthy_after: u32,
    /// Failed checks (a status outside `statuses`, or no connection) in a row that take
    /// a target out (default 3).
    pub unhealthy_after: u32,
    /// Timed-out checks in a row that take a target out (default 3).
    pub timeouts_after: u32,
    /// The statuses of a good check (default 200–399).
    pub statuses: StatusSet,
}

/// A set of HTTP status codes from 100 to 599, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusSet([u64; 8]);

impl StatusSet {
    /// No status.
    pub const EMPTY: StatusSet = StatusSet([0; 8]);

    /// 200 to 399, the default set of good answers.
    pub fn default_healthy() -> StatusSet {
        let mut set = StatusSet::EMPTY;
        set.insert_range(200, 399);
        set
    }

    /// Adds `first..=last`; codes outside 100–599 are ignored.
    pub fn insert_range(&mut self, first: u16, last: u16) {
        for code in first.max(100)..=last.min(599) {
            let bit = usize::from(code - 100);
            if let Some(word) = self.0.get_mut(bit / 64) {
                *word |= 1 << (bit % 64);
            }
        }
    }

    /// Whether `code` is in the set.
    pub fn contains(&self, code: u16) -> bool {
        let Some(bit) = code.checked_sub(100).map(usize::from) else {
            return false;
        };
        self.0
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    /// Whether the set has no status.
    pub fn is_empty(&self) -> bool {
        *self == StatusSet::EMPTY
    }
}

/// How many connections a service keeps and opens to each of its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLimits {
    /// Idle keep-alive connections kept per target and worker thread, as nginx's
    /// `keepalive` is per worker process (default 1024); 0 = none are kept.
    pub max_idle: usize,
    /// How long an idle connection is kept (default 90 s).
    pub idle_timeout: Duration,
    /// Requests under way per target, all worker threads together; `None` = no limit.
    pub max_connections: Option<u32>,
    /// How long a request waits for one of them to end before a `503` (default 1 s).
    pub queue_timeout: Duration,
}

impl Default for PoolLimits {
    fn default() -> PoolLimits {
        PoolLimits {
            max_idle: 1024,
            idle_timeout: Duration::from_secs(90),
            max_connections: None,
            queue_timeout: Duration::from_secs(1),
        }
    }
}

/// `balance:` — how a request's first target is chosen. Whatever the policy, a target
/// cooling down is passed over, and a retry goes on to another target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Balance {
    /// Smooth weighted round-robin (nginx's): each target in turn, `weight` turns each.
    #[default]
    RoundRobin,
    /// The target with the fewest requests under way for its weight; ties in weighted
    /// round-robin order.
    LeastOutstanding,
    /// Consistent hashing of what `HashOn` names: the same value goes to the same target,
    /// and removing one of N targets moves only the values that were on it (about 1/N).
    Hash(HashOn),
}

impl Balance {
    /// Points a hash ring gives each unit of a target's weight (nginx's and ketama's 160).
    pub const RING_POINTS_PER_WEIGHT: u32 = 160;
}

/// `hash_on:` — what of a request `balance: hash` hashes. A request without it (an
/// anonymous call, a missing field) is sent round-robin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashOn {
    /// The consumer's name.
    Consumer,
    /// The key's id.
    Key,
    /// The client's IP address (without the port).
    ClientAddress,
    /// The value of this request field (its first, when sent several times).
    Header(HeaderName),
}

/// When a request goes on to another target (retries) and when a failing target is
/// skipped for a while (passive health, as nginx's `max_fails` and `fail_timeout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failover {
    /// Tries after the first; `None` = one per other target (targets − 1).
    pub retries: Option<u32>,
    /// The failures a request is tried again on.
    pub retry_on: RetryOn,
    /// No retry starts once this long has passed since the first try (default 10 s).
    pub retry_timeout: Duration,
    /// Failures in a row that put a target into its cool-down; 0 = never (default 1).
    pub max_fails: u32,
    /// The first cool-down; it doubles each time the target fails again, up to
    /// [`Failover::MAX_COOL_DOWN_FACTOR`] times this (default 10 s).
    pub fail_timeout: Duration,
}

impl Failover {
    /// The longest cool-down, as a multiple of `fail_timeout`.
    pub const MAX_COOL_DOWN_FACTOR: u32 = 8;
}

impl Default for Failover {
    fn default() -> Failover {
        Failover {
            retries: None,
            retry_on: RetryOn::DEFAULT,
            retry_timeout: Duration::from_secs(10),
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
        }
    }
}

/// A set of the failures a request may be tried again on (`retry_on:`), as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn(u8);

impl RetryOn {
    /// No connection could be made (refused, reset, timed out): nothing was sent.
    pub const CONNECT: RetryOn = RetryOn(1);
    /// The connection broke after the request went out, before any of the response.
    pub const RESET: RetryOn = RetryOn(1 << 1);
    /// The upstream stayed silent for `read_timeout` (or `send_timeout`) before its
    /// response head.
    pub const TIMEOUT: RetryOn = RetryOn(1 << 2);
    /// The upstream answered `502`.
    pub const STATUS_502: RetryOn = RetryOn(1 << 3);
    /// The upstream answered `503`.
    pub const STATUS_503: RetryOn = RetryOn(1 << 4);
    /// The upstream answered `504`.
    pub const STATUS_504: RetryOn = RetryOn(1 << 5);
    /// Nothing.
    pub const NONE: RetryOn = RetryOn(0);
    /// `[connect, reset]`.
    pub const DEFAULT: RetryOn = RetryOn(1 | 1 << 1);
    /// The three statuses.
    const STATUSES: RetryOn = RetryOn(1 << 3 | 1 << 4 | 1 << 5);

    /// The member named `name` as written in the file.
    pub fn named(name: &str) -> Option<RetryOn> {
        Some(match name {
            "connect" => RetryOn::CONNECT,
            "reset" => RetryOn::RESET,
            "timeout" => RetryOn::TIMEOUT,
            "502" => RetryOn::STATUS_502,
            "503" => RetryOn::STATUS_503,
            "504" => RetryOn::STATUS_504,
            _ => return None,
        })
    }

    /// Both sets.
    #[must_use]
    pub const fn with(self, other: RetryOn) -> RetryOn {
        RetryOn(self.0 | other.0)
    }

    /// Whether every member of `other` is in this set.
    pub const fn has(self, other: RetryOn) -> bool {
        other.0 != 0 && self.0 & other.0 == other.0
    }

    /// Whether an upstream answer with `status` is a failure of the target, per this set.
    pub fn has_status(self, status: u16) -> bool {
        self.0 & RetryOn::STATUSES.0 != 0
            && match status {
                502 => self.has(RetryOn::STATUS_502),
                503 => self.has(RetryOn::STATUS_503),
                504 => self.has(RetryOn::STATUS_504),
                _ => false,
            }
    }
}

/// One upstream target: `http://authority/base-path`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// `host:port`.
    pub authority: Authority,
    /// Path put in front of the forwarded path, with the URL's trailing slash if it had
    /// one (`/team/`); empty for none or `/`. Joined to the forwarded path by
    /// `RequestPath` (`proxy::upstream::request_head`).
    pub base_path: String,
    /// Its share of the requests relative to the other targets, 1 to
    /// [`Target::MAX_WEIGHT`] (default 1).
    pub weight: u32,
}

impl Target {
    /// Its port: as written, else 443 for `https://` and 80 for `http://`.
    pub fn port(&self) -> u16 {
        self.authority
            .port_u16()
            .unwrap_or(if self.scheme == Scheme::HTTPS {
                443
            } else {
                80
            })
    }

    /// The largest weight (HAProxy's ceiling): a hash ring has 160 points per unit of
    /// weight, so weights bound its size.
    pub const MAX_WEIGHT: u32 = 256;
}

/// How a route treats API keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A valid key is required ("API Key required").
    Required,
    /// No key: anonymous call; a presented key must be valid.
    Optional,
    /// Keys are ignored.
    None,
}

/// One endpoint of a service.
#[derive(Debug, Clone)]
pub struct Route {
    /// Name, unique within the service.
    pub name: Arc<str>,
    /// Path patterns, relative to the service's prefix.
    pub paths: Vec<PathPattern>,
    /// Allowed methods; empty = all.
    pub methods: Vec<Method>,
    /// Key requirement.
    pub auth: AuthMode,
    /// Whether the key is forwarded upstream.
    pub forward_key: bool,
    /// Where the key is read, first match wins (route's, else service's, else defaults).
    pub key_sources: Arc<[KeySource]>,
    /// Must be true for the call to pass; `None` = any caller the `auth` mode lets in.
    pub allow: Option<Arc<Expr>>,
    /// Rate limits of this route, then of its service: every one must pass.
    pub limits: Arc<[Limit]>,
    /// What one call counts against each limit (default 1; 0 = not counted).
    pub cost: u64,
    /// Which rate-limit headers the route's answers carry.
    pub rate_limit_headers: HeaderMode,
}

/// A place in the request where a key may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A header; with `scheme`, the value must be `<scheme> <key>` (scheme case-insensitive).
    Header {
        /// Header name.
        name: HeaderName,
        /// Required scheme such as `Bearer`.
        scheme: Option<String>,
        /// Whether `_` and `-` in the name read alike (the service's
        /// `key_header_names: dash_or_underscore`, as Kong reads `key_names`); never set
        /// for a name with neither.
        separators_alike: bool,
    },
    /// A cookie.
    Cookie {
        /// Cookie name.
        name: String,
    },
    /// A query-string parameter.
    Query {
        /// Parameter name.
        name: String,
    },
    /// A field of the request body: a form field (`application/x-www-form-urlencoded`),
    /// a top-level member of a JSON object (`application/json`) or a part of
    /// `multipart/form-data`. Listed after every other kind: the body is read last
    /// (`proxy::body_key`).
    Body {
        /// Field name.
        name: String,
    },
}

/// A client of the gateway.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Unique name.
    pub name: String,
    /// Client type (Mia-Platform's `clientType`).
    pub client_type: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// Its limits, shared by its keys, as the store keeps them (`None` for none).
    pub limits: Option<String>,
    /// Keys.
    pub keys: Vec<KeyConfig>,
}

/// A key as configured: its hash, never its plaintext.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// Stable id.
    pub id: String,
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// First characters, when the plaintext was given.
    pub prefix: Option<String>,
    /// Whether the key may be used.
    pub active: bool,
    /// Description.
    pub description: Option<String>,
    /// When the key stops working.
    pub expires_at: Option<SystemTime>,
    /// Free-form string map.
    pub labels: BTreeMap<String, String>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<SystemTime>,
    /// The subscription whose own key this is.
    pub subscription: Option<String>,
    /// Whether this is the consumer's shared key.
    pub shared: bool,
    /// Its limits and credits, as the store keeps them (JSON), when it has any.
    pub limits: Option<String>,
}

/// A subscription of a file consumer to a plan of a file service. The file seeds it: it
/// is stored when the store lacks its id, and is managed through the admin API after that
/// (see docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionConfig {
    /// Unique id.
    pub id: String,
    /// The consumer's name.
    pub consumer: String,
    /// The service's name.
    pub service: String,
    /// The plan's name.
    pub plan: String,
    /// Where it stands.
    pub status: keygate_store::SubscriptionStatus,
    /// Its own key or the consumer's shared key.
    pub key_mode: keygate_store::KeyMode,
    /// When it ends.
    pub ends_at: Option<SystemTime>,
    /// When it was made; `None` = when it is stored.
    pub created_at: Option<SystemTime>,
    /// Its last change; `None` = when it is stored.
    pub updated_at: Option<SystemTime>,
    /// Why it was rejected (a `rejected` subscription only).
    pub reason: Option<String>,
}

impl Config {
    /// Reads and checks a configuration file; every problem found is reported.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&shown, &text)
    }

    /// Checks configuration text; `name` is used in error messages.
    pub fn parse(name: &str, text: &str) -> Result<Config, ConfigError> {
        build::build(text).map_err(|problems| ConfigError::Invalid {
            path: name.to_owned(),
            text: text.into(),
            problems,
        })
    }
}

/// Checks a service document (JSON or YAML in the configuration file's shape) as written
/// through the admin API or read back from the store. Problems carry positions in `text`.
/// The service inherits `config`'s defaults (key sources, responses, anonymous consumer).
pub fn service_from_document(text: &str, config: &Config) -> Result<Service, Vec<Problem>> {
    build::service_document(
        text,
        &config.default_key_sources,
        &config.responses,
        &config.anonymous_defaults,
    )
}

/// Whether a name (service, route, consumer, key id) uses letters, digits, `.`, `_` and
/// `-` only.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// Whether a word (client type, group) can travel in a header value and in a
/// comma-separated list.
pub fn is_header_safe_word(word: &str) -> bool {
    !word.is_empty()
        && !word.contains([',', ' '])
        && http::HeaderValue::from_str(word).is_ok()
        && word.chars().all(|c| !c.is_control())
}

/// The key sources used where neither route, service nor `defaults` names any.
pub fn default_key_sources() -> Vec<KeySource> {
    vec![
        KeySource::Header {
            name: HeaderName::from_static("apikey"),
            scheme: None,
            separators_alike: false,
        },
        KeySource::Header {
            name: HeaderName::from_static("client-key"),
            scheme: None,
            separators_alike: false,
        },
        KeySource::Header {
            name: HeaderName::from_static("secret"),
            scheme: None,
            separators_alike: false,
        },
        KeySource::Cookie {
            name: "mia_client_key".into(),
        },
    ]
}
