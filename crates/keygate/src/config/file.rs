//! The configuration file as written: serde types that mirror the YAML, with positions.
//!
//! Nothing outside `config` sees these types: `config::build` checks them and turns them
//! into the internal [`crate::config::Config`], so the file format can change without
//! touching the proxy.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

/// A value with the place in the file where it was written.
pub type At<T> = Spanned<T>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The proxy listener and its limits.
    #[serde(default)]
    pub proxy: FileProxy,
    /// Defaults that services and routes inherit.
    #[serde(default)]
    pub defaults: FileDefaults,
    /// The upstream APIs and their routes.
    #[serde(default)]
    pub services: Vec<At<FileService>>,
    /// The clients and their keys.
    #[serde(default)]
    pub consumers: Vec<At<FileConsumer>>,
    /// Subscriptions of the file's consumers to the plans of the file's services.
    #[serde(default)]
    pub subscriptions: Vec<At<FileSubscription>>,
    /// Where consumers, keys and services are stored: `sqlite://keygate.db` by default.
    pub store: Option<At<String>>,
    /// The directory cache file, or `off`; beside a SQLite database by default.
    pub cache_file: Option<At<String>>,
    /// The admin listener.
    #[serde(default)]
    pub admin: FileAdmin,
    /// Several nodes on one PostgreSQL store.
    #[serde(default)]
    pub cluster: FileCluster,
    /// How upstream host names are resolved.
    #[serde(default)]
    pub dns: FileDns,
    /// How quota and credit counts are kept in the store.
    #[serde(default)]
    pub quotas: FileQuotas,
    /// The authorization-service listeners (off by default).
    #[serde(default)]
    pub authz: FileAuthz,
    /// How the hourly usage counts are kept in the store.
    #[serde(default)]
    pub usage: FileUsage,
}

/// `usage:` — how often the usage counts are added to the store, and for how long.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUsage {
    /// How many days of hourly counts the store keeps (default 30).
    pub retention_days: Option<At<u64>>,
    /// How often this node adds its counts to the store (default 10 s).
    pub flush_interval: Option<At<String>>,
}

/// `authz:` — keygate as the authorization service of another proxy (nginx
/// `auth_request`, Envoy `ext_authz`, Caddy and Traefik forward auth).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAuthz {
    /// Where the HTTP checks are answered: one address, or a list of listeners (none by
    /// default).
    pub listen: Option<At<FileListen>>,
    /// The certificates of the TLS listeners of `authz.listen`.
    pub tls: Option<At<FileTls>>,
    /// Where Envoy's gRPC `Check` is answered (off by default).
    pub grpc_listen: Option<At<String>>,
    /// The nginx check's field with the original method (default `X-Original-Method`).
    pub method_header: Option<At<String>>,
    /// The nginx check's field with the original URI (default `X-Original-URI`).
    pub uri_header: Option<At<String>>,
    /// The path prefix of Envoy's HTTP checks (default `/envoy`).
    pub envoy_path_prefix: Option<At<String>>,
}

/// `quotas:` — how often the counts of quotas and credits are written to the store.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileQuotas {
    /// How often this node's counts are added to the store and the others' read back
    /// (default 1 s).
    pub flush_interval: Option<At<String>>,
}

/// `dns:` — the name servers and re-resolution bounds for upstream targets by name.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDns {
    /// Name servers as `ip` or `ip:port` (default: the system's).
    pub nameservers: Option<Vec<At<String>>>,
    /// Shortest time between two resolutions of a name (default 1s).
    pub refresh_min: Option<At<String>>,
    /// Longest time between two resolutions of a name (default 300s).
    pub refresh_max: Option<At<String>>,
}

/// `cluster:` — how a node on a PostgreSQL store keeps up with the other nodes' writes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    /// How often to catch up with the store even without a notification (default 10 s).
    pub reconcile_interval: Option<At<String>>,
    /// Rate limits shared by the nodes through Redis (off by default).
    pub rate_limits: Option<At<FileLimitSync>>,
}

/// `cluster.rate_limits:` — rate limits shared across nodes through Redis.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimitSync {
    /// The Redis URL (`redis://host:port/db`, `rediss://` for TLS); required.
    pub redis: Option<At<String>>,
    /// How often each node sends its counts and takes the others' (default 100 ms).
    pub sync_interval: Option<At<String>>,
    /// `local` (default: each node counts `count ÷ nodes`) or `refuse`.
    pub on_redis_down: Option<At<String>>,
    /// What every Redis key keygate writes starts with (default `keygate:`).
    pub key_prefix: Option<At<String>>,
    /// `sync` (default: counted on each node, synchronised every interval) or `exact`
    /// (one atomic Redis call per limited call).
    pub mode: Option<At<String>>,
}

/// `admin:` — the admin API listener and its token.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAdmin {
    /// Address to listen on, `host:port`.
    pub listen: Option<At<String>>,
    /// The admin token itself.
    pub token: Option<At<String>>,
    /// A file holding the admin token.
    pub token_file: Option<At<String>>,
    /// Label request metrics with the consumer name (off by default: unbounded labels).
    pub consumer_metrics: Option<bool>,
    /// `/metrics` asks for the admin token too (off by default).
    pub metrics_auth: Option<bool>,
    /// The admin API over HTTPS.
    pub tls: Option<At<FileTls>>,
    /// `/readyz` is 503 while a health-checked service has no healthy target (off by default).
    pub readyz_requires_healthy_targets: Option<bool>,
}

/// `proxy.tls:`, `admin.tls:` — certificates and TLS rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    /// The server certificates.
    pub certificates: At<Vec<At<FileCertificate>>>,
    /// `"1.2"` (default) or `"1.3"`.
    pub min_version: Option<At<String>>,
    /// Resumption with session tickets (default true).
    pub session_tickets: Option<bool>,
    /// CA certificates client certificates are checked against.
    pub client_ca_file: Option<At<String>>,
}

/// One entry of `tls.certificates:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCertificate {
    /// The certificate chain (PEM).
    pub cert_file: At<String>,
    /// The private key (PEM).
    pub key_file: At<String>,
    /// Server names this certificate answers for; none for the default certificate.
    #[serde(default)]
    pub hosts: Vec<At<String>>,
}

/// `proxy.listen:` — one address, or a list of listeners.
#[derive(Debug)]
pub enum FileListen {
    /// `listen: 127.0.0.1:8080`
    One(String),
    /// `listen: [127.0.0.1:8080, {address: 127.0.0.1:8443, tls: true}]`
    Many(Vec<At<FileListener>>),
}

/// One entry of a `proxy.listen:` list: an address, or `{address, tls}`.
#[derive(Debug)]
pub enum FileListener {
    /// `- 127.0.0.1:8080`
    Address(String),
    /// `- {address: 127.0.0.1:8443, tls: true}`
    Full(FileListenerFields),
}

/// The long form of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileListenerFields {
    /// `host:port`.
    pub address: String,
    /// HTTPS with `proxy.tls`'s certificates (default false).
    pub tls: Option<bool>,
}

impl<'de> Deserialize<'de> for FileListen {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListenVisitor;
        impl<'de> Visitor<'de> for ListenVisitor {
            type Value = FileListen;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address such as 127.0.0.1:8080, or a list of listeners")
            }
            fn visit_str<E: de::Error>(self, address: &str) -> Result<FileListen, E> {
                Ok(FileListen::One(address.to_owned()))
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<FileListen, S::Error> {
                let mut listeners = Vec::new();
                while let Some(listener) = seq.next_element()? {
                    listeners.push(listener);
                }
                Ok(FileListen::Many(listeners))
            }
        }
        deserializer.deserialize_any(ListenVisitor)
    }
}

impl<'de> Deserialize<'de> for FileListener {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListenerVisitor;
        impl<'de> Visitor<'de> for ListenerVisitor {
            type Value = FileListener;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an address such as 127.0.0.1:8080, or a map with `address` and `tls`")
            }
            fn visit_str<E: de::Error>(self, address: &str) -> Result<FileListener, E> {
                Ok(FileListener::Address(address.to_owned()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FileListener, M::Error> {
                FileListenerFields::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FileListener::Full)
            }
        }
        deserializer.deserialize_any(ListenerVisitor)
    }
}

/// `proxy:` — the data-plane listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProxy {
    /// Address to listen on, `host:port`, or several listeners.
    pub listen: Option<At<FileListen>>,
    /// The certificates of the TLS listeners.
    pub tls: Option<At<FileTls>>,
    /// How long a client may take to send the request headers.
    pub header_timeout: Option<At<String>>,
    /// How long a client may leave a response unread before it is disconnected.
    pub send_timeout: Option<At<String>>,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_timeout: Option<At<String>>,
    /// Largest accepted request header section, in bytes.
    pub max_header_bytes: Option<At<u64>>,
    /// Keep request fields whose names hold an `_` (dropped by default, as nginx does).
    pub underscores_in_headers: Option<bool>,
    /// Room all incomplete request heads may hold together beyond their first buffers.
    pub max_partial_head_bytes: Option<At<u64>>,
    /// The request-id field's name (default `x-request-id`); `off` turns ids off.
    pub request_id_header: Option<At<String>>,
    /// `pass` (default) or `generate`: what is done with W3C `traceparent`.
    pub traceparent: Option<At<String>>,
    /// Request fields never forwarded, besides the built-in identity families: names,
    /// and prefixes written `prefix-*`.
    #[serde(default)]
    pub strip_request_headers: Vec<At<String>>,
    /// HTTP/2 on the TLS listeners, and its limits.
    #[serde(default)]
    pub http2: FileHttp2,
    /// Largest request body read whole for a `body` key source, in bytes.
    pub max_key_body_bytes: Option<At<u64>>,
}

/// `proxy.http2:` — HTTP/2 on the TLS listeners.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHttp2 {
    /// Offer `h2` by ALPN (default true).
    pub enabled: Option<bool>,
    /// Serve HTTP/2 with prior knowledge on plain listeners (default false).
    pub h2c: Option<bool>,
    /// Streams open at once per connection.
    pub max_concurrent_streams: Option<At<u64>>,
    /// Flow-control window of each request body, in bytes.
    pub initial_window_size: Option<At<u64>>,
    /// Flow-control window of a connection's request bodies together, in bytes.
    pub connection_window_size: Option<At<u64>>,
    /// HPACK table size, in bytes.
    pub header_table_size: Option<At<u64>>,
    /// Streams a client may reset before they are taken up (rapid reset).
    pub max_pending_reset_streams: Option<At<u64>>,
    /// Streams keygate may reset for protocol errors before closing the connection.
    pub max_error_reset_streams: Option<At<u64>>,
}

/// `defaults:` — what services and routes inherit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDefaults {
    /// Where keys are read when neither the route nor the service says.
    pub key_sources: Option<At<Vec<At<FileKeySource>>>>,
    /// Names of the identity headers sent upstream.
    #[serde(default)]
    pub identity_headers: FileIdentityHeaders,
    /// How refusals are answered, for every service that does not say.
    pub responses: Option<At<FileResponses>>,
    /// The consumer calls without a key go on as, for every service that does not say.
    pub anonymous_consumer: Option<At<String>>,
    /// Whether calls with an invalid key go on as the anonymous consumer too.
    pub anonymous_on_invalid_key: Option<At<bool>>,
}

/// `responses:` of `defaults` or of a service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileResponses {
    /// `WWW-Authenticate` on `401`, or `off`.
    pub www_authenticate: Option<At<String>>,
    /// `seed` (default) or `apisix`: the words of keygate's own messages.
    pub wording: Option<At<String>>,
    /// Answers replacing keygate's, by refusal (`API_KEY_MISSING`, ...).
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, At<FileTemplate>>,
}

/// One response template.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTemplate {
    /// The status, 200 to 599.
    pub status: At<u16>,
    /// The body, as written (default empty).
    pub body: Option<String>,
    /// `Content-Type` of the body (default `application/json` when there is a body).
    pub content_type: Option<At<String>>,
    /// More fields.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, At<String>>,
}

/// `defaults.identity_headers:` — names of the headers that tell the upstream who called.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileIdentityHeaders {
    /// Carries the consumer name.
    pub consumer: Option<At<String>>,
    /// Carries the key id.
    pub credential: Option<At<String>>,
    /// Carries the consumer's groups, comma-separated.
    pub groups: Option<At<String>>,
    /// Carries the consumer's client type.
    pub client_type: Option<At<String>>,
    /// Carries the consumer's stable id (`metadata.id`, else its name), or `off`.
    pub consumer_id: Option<At<String>>,
    /// Carries the consumer's `metadata.custom_id` when it has one, or `off`.
    pub custom_id: Option<At<String>>,
}

/// One entry of `key_sources:`: exactly one of `header`, `cookie`, `query`, `body`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKeySource {
    /// Read the key from this request header.
    pub header: Option<At<String>>,
    /// With `header`: the value must start with this scheme (`Bearer`).
    pub scheme: Option<At<String>>,
    /// Read the key from this cookie.
    pub cookie: Option<At<String>>,
    /// Read the key from this query parameter.
    pub query: Option<At<String>>,
    /// Read the key from this field of a form, JSON or multipart request body.
    pub body: Option<At<String>>,
}

/// One entry of `services:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileService {
    /// Unique service name.
    pub name: At<String>,
    /// Host names this service answers for; empty = any host.
    #[serde(default)]
    pub hosts: Vec<At<String>>,
    /// Path prefix, such as `/v1`.
    pub path_prefix: Option<At<String>>,
    /// Remove the prefix before forwarding (default true).
    pub strip_prefix: Option<bool>,
    /// Send the client's Host header upstream instead of the target's (default false).
    pub preserve_host: Option<bool>,
    /// Answer plain-HTTP requests with a redirect to HTTPS (default false).
    pub https_redirect: Option<bool>,
    /// Listed in the developer portal's catalogue: application owners may read it and
    /// subscribe to its plans (default false). The gateway does not read it: the admin
    /// API's access rules read it from the stored document.
    #[allow(dead_code)]
    pub published: Option<bool>,
    /// Where calls go.
    pub upstream: At<FileUpstream>,
    /// Key sources for every route of the service.
    pub key_sources: Option<At<Vec<At<FileKeySource>>>>,
    /// `exact` (default) or `dash_or_underscore`: how header key sources' names compare.
    pub key_header_names: Option<At<String>>,
    /// The endpoints.
    #[serde(default)]
    pub routes: Vec<At<FileRoute>>,
    /// API key plans; a key passes only through an accepted subscription to one of them.
    #[serde(default)]
    pub plans: Vec<At<FilePlan>>,
    /// Rate limits on every call to the service.
    #[serde(default)]
    pub limits: Vec<At<FileLimit>>,
    /// Cross-origin requests from browsers: preflights answered by the gateway.
    pub cors: Option<At<FileCors>>,
    /// How this service's refusals are answered (over `defaults.responses`).
    pub responses: Option<At<FileResponses>>,
    /// The consumer calls without a key go on as on `auth: optional` routes, or `off`.
    pub anonymous_consumer: Option<At<String>>,
    /// Whether calls with an invalid key go on as the anonymous consumer too.
    pub anonymous_on_invalid_key: Option<At<bool>>,
}

/// A service's `cors:` policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCors {
    /// Origins allowed (`https://app.example.com`, `https://*.example.com`, or `*`).
    pub origins: At<Vec<At<String>>>,
    /// Methods a preflight may ask for (default: GET, HEAD, POST, PUT, PATCH, DELETE).
    pub methods: Option<Vec<At<String>>>,
    /// Request fields a preflight may ask for (default: the ones it asks for).
    pub headers: Option<Vec<At<String>>>,
    /// Response fields the browser's script may read.
    pub expose_headers: Option<Vec<At<String>>>,
    /// Allow cookies and credentials (default false; not with `*`).
    pub credentials: Option<bool>,
    /// How long a browser keeps a preflight's answer (default 5s, as browsers do).
    pub max_age: Option<At<String>>,
}

/// One entry of `limits:` (of a service, a route or a plan): `count` per `per`, counted
/// by `by`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimit {
    /// Requests (units of cost) per window.
    pub count: At<u64>,
    /// `second`, `minute`, `hour`, `day` or `month`.
    pub per: At<String>,
    /// `key`, `consumer` (default), `subscription`, `client_address` or `header:<name>`.
    pub by: Option<At<String>>,
    /// `all` (default), `anonymous` or `keyed`.
    pub callers: Option<At<String>>,
    /// The name headers, the access log and metrics show.
    pub name: Option<At<String>>,
    /// `rate` (default: GCRA, in memory) or `quota` (a calendar count kept in the store).
    pub kind: Option<At<String>>,
}

/// One entry of a service's `plans:` (a Gravitee API key plan).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePlan {
    /// Plan name, unique within its service.
    pub name: At<String>,
    /// An expression that must be true for the plan to be chosen.
    pub selection_rule: Option<At<String>>,
    /// Send the key upstream ("Propagate API key to upstream", default false).
    pub forward_key: Option<bool>,
    /// New subscriptions start accepted (default true), else pending.
    pub auto_approve: Option<bool>,
    /// What the plan offers.
    pub description: Option<String>,
    /// Rate limits on calls let through by this plan.
    #[serde(default)]
    pub limits: Vec<At<FileLimit>>,
}

/// `upstream:` — a URL, or a map with targets and timeouts.
#[derive(Debug)]
pub enum FileUpstream {
    /// `upstream: http://host:port`
    Url(String),
    /// `upstream: {targets: [...], connect_timeout, read_timeout, send_timeout}`
    Targets(Box<FileUpstreamTargets>),
}

/// The long form of `upstream:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstreamTargets {
    /// Target base URLs, each alone or with a weight.
    pub targets: Vec<At<FileTarget>>,
    /// `round_robin` (default), `least_outstanding` or `hash`.
    pub balance: Option<At<String>>,
    /// With `balance: hash`: `consumer` (default), `key`, `client_address` or `header`.
    pub hash_on: Option<At<String>>,
    /// With `hash_on: header`: the request field whose value is hashed.
    pub hash_on_header: Option<At<String>>,
    /// How long a target that comes back takes to get its full share (default: at once).
    pub slow_start: Option<At<String>>,
    /// Time allowed to open a connection.
    pub connect_timeout: Option<At<String>>,
    /// How long the upstream may stay silent while its response is awaited or read.
    pub read_timeout: Option<At<String>>,
    /// How long sending the request body upstream may make no progress.
    pub send_timeout: Option<At<String>>,
    /// Tries after the first (default: targets − 1).
    pub retries: Option<u32>,
    /// The failures a request is tried again on (default `[connect, reset]`).
    pub retry_on: Option<Vec<At<String>>>,
    /// No retry starts once this long has passed since the first try (default 10s).
    pub retry_timeout: Option<At<String>>,
    /// Failures in a row that put a target into its cool-down (default 1; 0 = never).
    pub max_fails: Option<u32>,
    /// The first cool-down of a failing target (default 10s).
    pub fail_timeout: Option<At<String>>,
    /// Active health checks of every target (none by default).
    pub health_check: Option<At<FileHealthCheck>>,
    /// Idle connections kept to each target.
    pub keepalive: Option<FileKeepalive>,
    /// Requests under way per target (default: no limit).
    pub max_connections: Option<At<u32>>,
    /// How long a request waits for a connection under `max_connections` (default 1s).
    pub queue_timeout: Option<At<String>>,
    /// TLS to `https://` targets: CA file, client certificate, server name.
    pub tls: Option<At<FileUpstreamTls>>,
    /// `http1` (default), `h2` (HTTP/2 over TLS) or `h2c` (HTTP/2 in clear text).
    pub protocol: Option<At<String>>,
}

/// `upstream.tls:` — how `https://` targets are checked and what keygate shows them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstreamTls {
    /// CA certificates (PEM) the targets' certificates are checked against (default:
    /// the system's).
    pub ca_file: Option<At<String>>,
    /// keygate's client certificate (PEM), for upstreams that ask for one (mTLS).
    pub cert_file: Option<At<String>>,
    /// The private key of `cert_file` (PEM).
    pub key_file: Option<At<String>>,
    /// The name sent as SNI and checked in the certificate (default: each target's host).
    pub server_name: Option<At<String>>,
    /// Whether the targets' certificates are checked (default true).
    pub verify: Option<bool>,
}

/// `upstream.health_check:` — a request to each target every `interval`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHealthCheck {
    /// The path asked for, such as `/health`.
    pub path: At<String>,
    /// The `Host` field sent (default: the target's `host:port`).
    pub host: Option<At<String>>,
    /// Time between checks (default 5s).
    pub interval: Option<At<String>>,
    /// Time one check may take (default 1s).
    pub timeout: Option<At<String>>,
    /// Good checks in a row that bring a target back (default 2).
    pub healthy_after: Option<At<u32>>,
    /// Failed checks in a row that take a target out (default 3).
    pub unhealthy_after: Option<At<u32>>,
    /// Timed-out checks in a row that take a target out (default 3).
    pub timeouts_after: Option<At<u32>>,
    /// Statuses of a good check: codes (`200`) or ranges (`"200-399"`); default 200-399.
    pub statuses: Option<At<Vec<At<FileStatus>>>>,
}

/// One entry of `statuses:`: a code or a range of codes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FileStatus {
    /// `200`
    Code(u32),
    /// `"200-399"` or `"204"`
    Text(String),
}

/// `upstream.keepalive:` — idle connections kept to each target.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKeepalive {
    /// Idle connections kept per target and worker thread (default 1024).
    pub max_idle: Option<usize>,
    /// How long an idle connection is kept (default 90s).
    pub idle_timeout: Option<At<String>>,
}

/// One entry of `targets:`: a URL, or a map with the URL and a weight.
#[derive(Debug)]
pub enum FileTarget {
    /// `- http://host:port`
    Url(String),
    /// `- {url: http://host:port, weight: 3}`
    Weighted(FileWeightedTarget),
}

/// The long form of a target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWeightedTarget {
    /// The target's base URL.
    pub url: At<String>,
    /// Its share of the requests relative to the other targets (default 1).
    pub weight: Option<At<u32>>,
}

impl<'de> Deserialize<'de> for FileTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TargetVisitor;
        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = FileTarget;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL such as http://127.0.0.1:9001, or a map with `url` and `weight`")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<FileTarget, E> {
                Ok(FileTarget::Url(url.to_owned()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FileTarget, M::Error> {
                let target =
                    FileWeightedTarget::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FileTarget::Weighted(target))
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

impl<'de> Deserialize<'de> for FileUpstream {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UpstreamVisitor;
        impl<'de> Visitor<'de> for UpstreamVisitor {
            type Value = FileUpstream;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL such as http://127.0.0.1:9001, or a map with `targets`")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<FileUpstream, E> {
                Ok(FileUpstream::Url(url.to_owned()))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<FileUpstream, M::Error> {
                let targets =
                    FileUpstreamTargets::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FileUpstream::Targets(Box::new(targets)))
            }
        }
        deserializer.deserialize_any(UpstreamVisitor)
    }
}

/// One entry of `routes:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRoute {
    /// Route name, unique within its service.
    pub name: At<String>,
    /// Path patterns: exact `/json`, prefix `/files/*`, parameters `/users/{id}`.
    pub paths: Vec<At<String>>,
    /// Allowed methods; empty = all.
    #[serde(default)]
    pub methods: Vec<At<String>>,
    /// `required` (default), `optional` or `none`.
    pub auth: Option<At<String>>,
    /// Send the key upstream instead of removing it (default false).
    pub forward_key: Option<bool>,
    /// Key sources for this route only.
    pub key_sources: Option<At<Vec<At<FileKeySource>>>>,
    /// An expression that must be true for the call to pass ("User Group Permission").
    pub allow: Option<At<String>>,
    /// Rate limits on every call to the route.
    #[serde(default)]
    pub limits: Vec<At<FileLimit>>,
    /// What one call counts against every limit that applies (default 1).
    pub cost: Option<At<u64>>,
    /// `ietf` (default), `legacy`, `both` or `off`: the rate-limit headers of answers.
    pub rate_limit_headers: Option<At<Switch>>,
}

/// A word, or a YAML boolean where a word may read as one: `off` unquoted is `false` to
/// a YAML 1.1 reader (and in the JSON document the store keeps of a service).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Switch {
    /// `true`, `false`, `on`, `off`, `yes`, `no`.
    Bool(bool),
    /// Any other word.
    Word(String),
}

/// One entry of `consumers:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConsumer {
    /// Unique name, `[A-Za-z0-9._-]`.
    pub name: At<String>,
    /// Client type; defaults to the name.
    pub client_type: Option<At<String>>,
    /// Group names.
    #[serde(default)]
    pub groups: Vec<At<String>>,
    /// Permission names, for `permissions['x']` in expressions.
    #[serde(default)]
    pub permissions: Vec<At<String>>,
    /// Free-form description.
    pub description: Option<String>,
    /// Free-form string map.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The consumer's rate limits and quotas, shared by all its keys.
    #[serde(default)]
    pub limits: Vec<crate::limits::key_doc::LimitDoc>,
    /// The consumer's keys.
    #[serde(default)]
    pub keys: Vec<At<FileKey>>,
}

/// One entry of a consumer's `keys:`: `key` or `key_hash`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileKey {
    /// The plaintext key (for development).
    pub key: Option<At<String>>,
    /// `sha256:<64 hex>` of the key.
    pub key_hash: Option<At<String>>,
    /// Stable id; derived from the hash when absent.
    pub id: Option<At<String>>,
    /// Whether the key may be used (default true).
    pub active: Option<bool>,
    /// Free-form description.
    pub description: Option<String>,
    /// RFC 3339 instant after which the key is refused.
    pub expires_at: Option<At<String>>,
    /// Free-form string map, for `key.labels.x` in expressions.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// RFC 3339 instant the key was revoked at; a revoked key never works again.
    pub revoked_at: Option<At<String>>,
    /// The id of the subscription (in this file) whose own key this is.
    pub subscription: Option<At<String>>,
    /// The consumer's shared key, serving its `key_mode: shared` subscriptions.
    pub shared: Option<bool>,
    /// The key's own rate limits and quotas.
    #[serde(default)]
    pub limits: Vec<crate::limits::key_doc::LimitDoc>,
    /// Calls the key has (its credits).
    pub credits: Option<u64>,
    /// The credits' refill.
    pub refill: Option<crate::limits::key_doc::RefillDoc>,
}

/// One entry of `subscriptions:` — a consumer subscribed to a plan, as `keygate export`
/// writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSubscription {
    /// Unique id.
    pub id: At<String>,
    /// A consumer of this file.
    pub consumer: At<String>,
    /// A service of this file.
    pub service: At<String>,
    /// A plan of that service.
    pub plan: At<String>,
    /// `pending`, `accepted` (default), `paused`, `rejected` or `closed`.
    pub status: Option<At<String>>,
    /// `own` (default) or `shared`.
    pub key_mode: Option<At<String>>,
    /// RFC 3339 instant the subscription ends at.
    pub ends_at: Option<At<String>>,
    /// RFC 3339 instant it was made (default: when it is first stored).
    pub created_at: Option<At<String>>,
    /// RFC 3339 instant of its last change (default: when it is first stored).
    pub updated_at: Option<At<String>>,
    /// Why it was rejected, for its application's owner (a `rejected` one only).
    pub reason: Option<At<String>>,
}
