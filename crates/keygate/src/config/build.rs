//! Checks a parsed file and builds the internal configuration, collecting every problem
//! with its line and column instead of stopping at the first.

mod health_check;
mod limit_sync;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use http::{Method, Uri};
use keygate_policy::Expr;
use keygate_store::postgres::PostgresStore;
use keygate_store::StoreError;
use serde_saphyr::Location;

use super::file::{
    At, FileConfig, FileDns, FileIdentityHeaders, FileKeySource, FileProxy, FileRoute, FileService,
    FileUpstream, FileUpstreamTargets,
};
use super::path_pattern::not_normal;
use super::Balance;
use super::{
    default_key_sources, is_valid_name, AdminSettings, AnonymousDefaults, AuthMode, Config,
    Failover, IdentityHeaders, KeySource, PathPattern, Plan, Problem, ProxySettings, Responses,
    RetryOn, Route, Service, ServiceDocument, Target, UpstreamSettings,
};
use super::{ClusterSettings, DnsSettings, PoolLimits, QuotaSettings, UsageSettings};
use balance::target_entry;

/// Fields an identity header may not be named after: the ones HTTP gives a meaning of its
/// own (framing, hop-by-hop) and the ones the gateway sets itself.
const RESERVED_FIELD_NAMES: [&str; 13] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// A target URL's path as the base of forwarded paths: one trailing slash at most (kept,
/// as a request for the bare prefix is sent to the base as written: `/team/` or `/team`),
/// and none for the root, which is no base at all.
fn base_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.len() < path.len() && !trimmed.is_empty() {
        true => format!("{trimmed}/"),
        false => trimmed.to_owned(),
    }
}

/// Parses and checks configuration text, a file for `keygate serve`.
pub(super) fn build(text: &str) -> Result<Config, Vec<Problem>> {
    build_for(text, FileUse::Serve)
}

/// What a file is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileUse {
    /// `keygate serve` (and `validate`): the file holds the consumers its services name.
    Serve,
    /// `keygate apply` and `diff`: entities for a running gateway, which may hold the
    /// consumers the file's services name.
    Entities,
}

/// Parses and checks configuration text read for `file_use`.
pub(super) fn build_for(text: &str, file_use: FileUse) -> Result<Config, Vec<Problem>> {
    let file: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_saphyr::from_str_with_options(text, file_options())
            .map_err(|error| vec![yaml_problem(&error)])?
    };
    let mut checker = Checker {
        problems: Vec::new(),
        source: text,
    };
    let mut config = checker.config(file, file_use);
    if !checker.problems.is_empty() {
        checker.problems.sort_by_key(|p| (p.line, p.column));
        return Err(checker.problems);
    }
    config.service_documents = service_documents(text, &config)?;
    Ok(config)
}

/// The file's services as JSON documents, in file order.
fn service_documents(text: &str, config: &Config) -> Result<Vec<ServiceDocument>, Vec<Problem>> {
    if config.services.is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value = serde_saphyr::from_str_with_options(text, file_options())
        .map_err(|error| vec![yaml_problem(&error)])?;
    let services = value["services"].as_array().cloned().unwrap_or_default();
    Ok(config
        .services
        .iter()
        .zip(services)
        .map(|(service, document)| ServiceDocument {
            name: service.name.to_string(),
            json: document.to_string(),
        })
        .collect())
}

/// Checks one service document; see [`super::service_from_document`].
pub(super) fn service_document(
    text: &str,
    default_key_sources: &Arc<[KeySource]>,
    default_responses: &Arc<Responses>,
    default_anonymous: &AnonymousDefaults,
) -> Result<Service, Vec<Problem>> {
    let file: At<FileService> =
        serde_saphyr::from_str(text).map_err(|error| vec![yaml_problem(&error)])?;
    let mut checker = Checker {
        problems: Vec::new(),
        source: text,
    };
    let defaults = (default_key_sources, default_responses, default_anonymous);
    let service = checker.service(&file.value, defaults);
    if checker.problems.is_empty() {
        Ok(service)
    } else {
        checker.problems.sort_by_key(|p| (p.line, p.column));
        Err(checker.problems)
    }
}

/// Parser options for the configuration file. The file is the operator's own, and may hold
/// a million keys: the parser's default size budget (made for untrusted input, such as
/// service bodies sent to the admin API) does not apply to it.
pub(crate) fn file_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.budget = None;
    options
}

fn yaml_problem(error: &serde_saphyr::Error) -> Problem {
    let location = error.location().unwrap_or(Location::UNKNOWN);
    let message = error.without_snippet().to_string();
    // The library appends its own position; ours is already in front.
    let message = match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    };
    let message = plain_yaml_message(&message).map_or(message, str::to_owned);
    Problem {
        line: location.line().max(1) as usize,
        column: location.column().max(1) as usize,
        message,
    }
}

/// The YAML parser's words for the shape errors people make most, in the file's terms.
fn plain_yaml_message(message: &str) -> Option<&'static str> {
    if message.contains("expected sequence start") {
        Some("expected a list here: `[a, b]`, or one `- item` per line below")
    } else if message.contains("expected mapping start") {
        Some("expected a mapping here: `field: value` lines, indented below")
    } else if message.contains("did not find expected key")
        || message.contains("did not find expected '-' indicator")
    {
        Some("this line is indented differently from the lines above it: the fields of one mapping, and the `-` items of one list, start in the same column")
    } else {
        None
    }
}

struct Checker<'t> {
    problems: Vec<Problem>,
    /// The file's text, to find where a string's content starts.
    source: &'t str,
}

impl Checker<'_> {
    fn report(&mut self, at: &Location, message: impl Into<String>) {
        self.problems.push(Problem {
            line: at.line().max(1) as usize,
            column: at.column().max(1) as usize,
            message: message.into(),
        });
    }

    fn config(&mut self, file: FileConfig, file_use: FileUse) -> Config {
        let proxy = self.proxy(&file.proxy);
        let authz = self.authz(&file.authz);
        if proxy.listen.is_empty() && authz.listen.is_empty() && authz.grpc_listen.is_none() {
            let at = file
                .proxy
                .listen
                .as_ref()
                .map_or(Location::UNKNOWN, |listen| listen.referenced);
            self.report(
                &at,
                "`proxy.listen` needs at least one listener unless `authz.listen` or `authz.grpc_listen` is set",
            );
        }
        let identity_headers = self.identity_headers(&file.defaults.identity_headers);
        let responses = Arc::new(match &file.defaults.responses {
            Some(defaults) => self.responses(defaults, &Responses::default()),
            None => Responses::default(),
        });
        let default_sources: Arc<[KeySource]> = match &file.defaults.key_sources {
            Some(sources) => self.key_sources(sources).into(),
            None => default_key_sources().into(),
        };
        let anonymous = self.anonymous_defaults(&file.defaults);
        let mut names = HashSet::new();
        let services: Vec<Service> = file
            .services
            .iter()
            .map(|service| {
                if !names.insert(service.value.name.value.as_str()) {
                    let name = &service.value.name;
                    self.report(
                        &name.referenced,
                        format!("service `{}` is defined twice", name.value),
                    );
                }
                self.service(&service.value, (&default_sources, &responses, &anonymous))
            })
            .collect();
        let consumers = self.consumers(&file.consumers);
        if file_use == FileUse::Serve {
            self.anonymous_in_file(&file);
        }
        let subscriptions = self.subscriptions(&file.subscriptions, &file.consumers, &services);
        let store_url = file.store.as_ref().and_then(|url| self.secret(url));
        let store = match &store_url {
            None => "sqlite://keygate.db".to_owned(),
            Some(url) => {
                let known = ["sqlite:", "postgres://", "postgresql://"];
                if !known.iter().any(|scheme| url.value.starts_with(scheme)) {
                    self.report(
                        &url.referenced,
                        format!(
                            "expected a store URL such as sqlite://keygate.db or sqlite::memory:, found `{}`",
                            url.value
                        ),
                    );
                } else if let Err(error) = check_store_url(&url.value) {
                    self.report(&url.referenced, error);
                }
                url.value.clone()
            }
        };
        let cache_file = match &file.cache_file {
            Some(path) if path.value == "off" => None,
            Some(path) if path.value.is_empty() => {
                self.report(&path.referenced, "expected a file path or `off`");
                None
            }
            Some(path) => Some(PathBuf::from(&path.value)),
            None => default_cache_file(&store),
        };
        let admin = AdminSettings {
            listen: self.address(file.admin.listen.as_ref(), 9180),
            token: file
                .admin
                .token
                .as_ref()
                .and_then(|token| self.secret(token))
                .map(|token| {
                    if token.value.len() < 16 {
                        self.report(
                            &token.referenced,
                            "an admin token needs at least 16 characters",
                        );
                    }
                    token.value.clone()
                }),
            token_file: file.admin.token_file.as_ref().map(|path| {
                // Read at start and on every reload: a missing file is found here, with
                // its position, rather than when the gateway is already half started.
                if let Err(error) = std::fs::metadata(&path.value) {
                    self.report(
                        &path.referenced,
                        format!("cannot read the admin token file `{}`: {error}", path.value),
                    );
                }
                PathBuf::from(&path.value)
            }),
            consumer_metrics: file.admin.consumer_metrics.unwrap_or(false),
            metrics_auth: file.admin.metrics_auth.unwrap_or(false),
            tls: file.admin.tls.as_ref().map(|tls| self.tls(tls)),
            readyz_requires_healthy_targets: file
                .admin
                .readyz_requires_healthy_targets
                .unwrap_or(false),
        };
        Config {
            proxy,
            identity_headers,
            responses,
            services,
            consumers,
            subscriptions,
            store,
            cache_file,
            admin,
            default_key_sources: default_sources,
            anonymous_defaults: anonymous,
            service_documents: Vec::new(),
            cluster: ClusterSettings {
                reconcile_interval: self.duration(file.cluster.reconcile_interval.as_ref(), 10),
                rate_limits: file
                    .cluster
                    .rate_limits
                    .as_ref()
                    .and_then(|sync| self.limit_sync(sync)),
            },
            dns: self.dns(&file.dns),
            quotas: QuotaSettings {
                flush_interval: self.duration(file.quotas.flush_interval.as_ref(), 1),
            },
            usage: UsageSettings {
                retention_days: self.retention_days(file.usage.retention_days.as_ref()),
                flush_interval: self.duration(file.usage.flush_interval.as_ref(), 10),
            },
            authz,
        }
    }

    fn address(&mut self, text: Option<&At<String>>, default_port: u16) -> SocketAddr {
        let default = SocketAddr::from(([127, 0, 0, 1], default_port));
        let Some(text) = text else {
            return default;
        };
        text.value.parse().unwrap_or_else(|_| {
            self.report(
                &text.referenced,
                format!(
                    "expected an address such as 127.0.0.1:{default_port}, found `{}`",
                    text.value
                ),
            );
            default
        })
    }

    fn proxy(&mut self, proxy: &FileProxy) -> ProxySettings {
        let (listen, tls) = self.proxy_listeners(proxy.listen.as_ref(), proxy.tls.as_ref());
        let max_header_bytes = match &proxy.max_header_bytes {
            None => 32 * 1024,
            Some(bytes) if (1024..=1024 * 1024).contains(&bytes.value) => bytes.value as usize,
            Some(bytes) => {
                self.report(
                    &bytes.referenced,
                    "max_header_bytes must be between 1024 and 1048576",
                );
                32 * 1024
            }
        };
        ProxySettings {
            listen,
            tls,
            header_timeout: self.duration(proxy.header_timeout.as_ref(), 30),
            send_timeout: self.duration(proxy.send_timeout.as_ref(), 60),
            shutdown_timeout: self.duration(proxy.shutdown_timeout.as_ref(), 30),
            max_header_bytes,
            underscores_in_headers: proxy.underscores_in_headers.unwrap_or(false),
            max_partial_head_bytes: self.partial_head_budget(proxy),
            request_id_header: self.request_id_header(proxy.request_id_header.as_ref()),
            generate_traceparent: self.traceparent(proxy.traceparent.as_ref()),
            http2: self.http2(&proxy.http2),
            strip_request_headers: self.strip_request_headers(&proxy.strip_request_headers),
            max_key_body_bytes: self.max_key_body_bytes(proxy.max_key_body_bytes.as_ref()),
        }
    }

    /// `proxy.traceparent`: `pass` (default, false) or `generate` (true).
    fn traceparent(&mut self, mode: Option<&At<String>>) -> bool {
        match mode.map(|mode| (mode, mode.value.as_str())) {
            None | Some((_, "pass")) => false,
            Some((_, "generate")) => true,
            Some((mode, other)) => {
                self.report(
                    &mode.referenced,
                    format!("expected `pass` or `generate`, found `{other}`"),
                );
                false
            }
        }
    }

    /// `proxy.request_id_header`: a field name, not one of [`RESERVED_FIELD_NAMES`] (default `x-request-id`), or `off`.
    fn request_id_header(&mut self, name: Option<&At<String>>) -> Option<HeaderName> {
        match name {
            Some(name) if name.value == "off" => None,
            Some(name)
                if RESERVED_FIELD_NAMES.contains(&name.value.to_ascii_lowercase().as_str()) =>
            {
                self.report(
                    &name.referenced,
                    format!("`{}` is reserved: not a request-id field", name.value),
                );
                None
            }
            name => Some(self.header_name(name, "x-request-id")),
        }
    }

    /// `proxy.max_partial_head_bytes`: any number of bytes up to 4 GiB (default 32 MiB).
    fn partial_head_budget(&mut self, proxy: &FileProxy) -> usize {
        const DEFAULT: usize = 32 * 1024 * 1024;
        match &proxy.max_partial_head_bytes {
            None => DEFAULT,
            Some(bytes) => match usize::try_from(bytes.value) {
                Ok(value) if bytes.value <= 1 << 32 => value,
                _ => {
                    self.report(
                        &bytes.referenced,
                        "max_partial_head_bytes must be between 0 and 4294967296",
                    );
                    DEFAULT
                }
            },
        }
    }

    /// `usage.retention_days`: 1 to 3650 (default 30).
    fn retention_days(&mut self, days: Option<&At<u64>>) -> u64 {
        match days {
            None => 30,
            Some(days) if (1..=3650).contains(&days.value) => days.value,
            Some(days) => {
                self.report(
                    &days.referenced,
                    "retention_days must be between 1 and 3650",
                );
                30
            }
        }
    }

    fn duration(&mut self, text: Option<&At<String>>, default_secs: u64) -> Duration {
        let Some(text) = text else {
            return Duration::from_secs(default_secs);
        };
        match humantime::parse_duration(&text.value) {
            Ok(duration) if !duration.is_zero() => duration,
            _ => {
                self.report(
                    &text.referenced,
                    format!(
                        "expected a duration above zero such as 2s, 500ms or 1m, found `{}`",
                        text.value
                    ),
                );
                Duration::from_secs(default_secs)
            }
        }
    }

    /// The identity header names: each valid, none a field that HTTP or the gateway
    /// itself sets (a second `Host` or `Content-Length` would confuse the upstream), none
    /// with an `_` (a CGI-style upstream reads `x_user` and a client's `x-user` alike),
    /// and no two the same. The consumer's ids may be `off`.
    fn identity_headers(&mut self, headers: &FileIdentityHeaders) -> IdentityHeaders {
        // The name, its default, and whether it may be `off`.
        let fields = [
            (headers.consumer.as_ref(), "x-consumer-username", false),
            (
                headers.credential.as_ref(),
                "x-credential-identifier",
                false,
            ),
            (headers.groups.as_ref(), "x-consumer-groups", false),
            (headers.client_type.as_ref(), "client-type", false),
            (headers.consumer_id.as_ref(), "x-consumer-id", true),
            (headers.custom_id.as_ref(), "x-consumer-custom-id", true),
        ];
        let mut taken: Vec<HeaderName> = Vec::with_capacity(fields.len());
        let [consumer, credential, groups, client_type, consumer_id, custom_id] =
            fields.map(|(name, default, optional)| {
                match name.filter(|name| name.value == "off") {
                    Some(_) if optional => return None,
                    Some(off) => self.report(
                        &off.referenced,
                        "only `consumer_id` and `custom_id` may be `off`: keygate always says who called",
                    ),
                    None => {}
                }
                let parsed = self.header_name(name, default);
                if let Some(name) = name {
                    if RESERVED_FIELD_NAMES.contains(&parsed.as_str()) {
                        self.report(
                            &name.referenced,
                            format!(
                                "`{}` cannot carry an identity: HTTP or the gateway itself sets it",
                                name.value
                            ),
                        );
                    } else if parsed.as_str().contains('_') {
                        self.report(
                            &name.referenced,
                            format!(
                                "`{}` cannot carry an identity: upstreams may read `_` as `-`",
                                name.value
                            ),
                        );
                    } else if taken.contains(&parsed) {
                        self.report(
                            &name.referenced,
                            format!("`{}` already carries another identity field", name.value),
                        );
                    }
                }
                taken.push(parsed.clone());
                Some(parsed)
            });
        let required = |name: Option<HeaderName>, default: &'static str| {
            name.unwrap_or_else(|| HeaderName::from_static(default))
        };
        let (consumer, credential, groups, client_type) = (
            required(consumer, "x-consumer-username"),
            required(credential, "x-credential-identifier"),
            required(groups, "x-consumer-groups"),
            required(client_type, "client-type"),
        );
        IdentityHeaders {
            consumer,
            credential,
            groups,
            client_type,
            consumer_id,
            custom_id,
        }
    }

    fn header_name(&mut self, name: Option<&At<String>>, default: &'static str) -> HeaderName {
        let Some(name) = name else {
            return HeaderName::from_static(default);
        };
        HeaderName::from_bytes(name.value.as_bytes()).unwrap_or_else(|_| {
            self.report(
                &name.referenced,
                format!("`{}` is not a valid header name", name.value),
            );
            HeaderName::from_static(default)
        })
    }

    fn key_sources(&mut self, sources: &At<Vec<At<FileKeySource>>>) -> Vec<KeySource> {
        if sources.value.is_empty() {
            self.report(&sources.referenced, "key_sources may not be empty");
        }
        self.body_sources_last(sources);
        sources
            .value
            .iter()
            .filter_map(|source| self.key_source(source))
            .collect()
    }

    fn key_source(&mut self, source: &At<FileKeySource>) -> Option<KeySource> {
        let FileKeySource {
            header,
            scheme,
            cookie,
            query,
            body,
        } = &source.value;
        let kinds = [
            header.is_some(),
            cookie.is_some(),
            query.is_some(),
            body.is_some(),
        ];
        if kinds.iter().filter(|set| **set).count() != 1 {
            self.report(
                &source.referenced,
                "a key source has exactly one of `header: NAME`, `cookie: NAME`, `query: NAME` or `body: NAME`",
            );
            return None;
        }
        if let (Some(scheme), None) = (scheme, header) {
            self.report(&scheme.referenced, "`scheme` goes with `header` only");
        }
        if let Some(header) = header {
            let name = HeaderName::from_bytes(header.value.as_bytes());
            let Ok(name) = name else {
                self.report(
                    &header.referenced,
                    format!("`{}` is not a valid header name", header.value),
                );
                return None;
            };
            let scheme = scheme.as_ref().and_then(|scheme| {
                let valid = !scheme.value.is_empty()
                    && scheme.value.chars().all(|c| c.is_ascii_alphanumeric());
                if !valid {
                    self.report(
                        &scheme.referenced,
                        format!("expected a scheme such as Bearer, found `{}`", scheme.value),
                    );
                }
                valid.then(|| scheme.value.clone())
            });
            return Some(KeySource::Header {
                name,
                scheme,
                separators_alike: false,
            });
        }
        if let Some(body) = body {
            return self.body_source(body);
        }
        let (name, is_cookie) = match (cookie, query) {
            (Some(cookie), _) => (cookie, true),
            (None, Some(query)) => (query, false),
            (None, None) => return None,
        };
        let valid = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_graphic() && !"=;,&?#%\"".contains(c));
        if !valid {
            self.report(
                &name.referenced,
                format!(
                    "expected a name of visible characters without = ; , & ? # % or quotes, found `{}`",
                    name.value
                ),
            );
            return None;
        }
        Some(if is_cookie {
            KeySource::Cookie {
                name: name.value.clone(),
            }
        } else {
            KeySource::Query {
                name: name.value.clone(),
            }
        })
    }

    /// A service, inheriting the defaults' key sources, responses and anonymous consumer.
    fn service(
        &mut self,
        service: &FileService,
        (defaults, default_responses, default_anonymous): (
            &Arc<[KeySource]>,
            &Arc<Responses>,
            &AnonymousDefaults,
        ),
    ) -> Service {
        self.check_name(&service.name, "service");
        let hosts = service
            .hosts
            .iter()
            .map(|host| {
                let lower = host.value.to_ascii_lowercase();
                let bare = lower.strip_prefix("*.").unwrap_or(&lower);
                let valid = !bare.is_empty()
                    && bare
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !valid {
                    self.report(
                        &host.referenced,
                        format!(
                            "expected a host name such as api.example.com or *.example.com (no port), found `{}`",
                            host.value
                        ),
                    );
                }
                lower
            })
            .collect();
        let path_prefix = match &service.path_prefix {
            None => String::new(),
            Some(prefix) => {
                let valid = prefix.value.starts_with('/')
                    && !prefix.value.contains(['*', '{', '}', '?', '#', ' ']);
                if !valid {
                    self.report(
                        &prefix.referenced,
                        format!(
                            "expected a path prefix such as /v1 (no `*`, `{{}}`, `?`), found `{}`",
                            prefix.value
                        ),
                    );
                } else if let Some(problem) = not_normal(&prefix.value) {
                    self.report(&prefix.referenced, problem);
                }
                prefix.value.trim_end_matches('/').to_owned()
            }
        };
        let sources: Arc<[KeySource]> = match &service.key_sources {
            Some(sources) => self.key_sources(sources).into(),
            None => defaults.clone(),
        };
        let alike = self.key_header_names(service.key_header_names.as_ref());
        let mut route_names = HashSet::new();
        let routes = service
            .routes
            .iter()
            .map(|route| {
                if !route_names.insert(route.value.name.value.as_str()) {
                    self.report(
                        &route.value.name.referenced,
                        format!(
                            "route `{}` is defined twice in service `{}`",
                            route.value.name.value, service.name.value
                        ),
                    );
                }
                let mut route = self.route(&route.value, &sources, &service.name.value);
                if alike {
                    route.key_sources = separators_alike(&route.key_sources);
                }
                route
            })
            .collect::<Vec<_>>();
        let limits = self.limits(&service.limits, &service.name.value);
        // Each route carries its own limits and its service's, checked in that order.
        let routes = routes
            .into_iter()
            .map(|mut route: Route| {
                if !limits.is_empty() {
                    route.limits = route.limits.iter().chain(limits.iter()).cloned().collect();
                }
                route
            })
            .collect::<Vec<_>>();
        let anonymous = self.anonymous(service, &routes, default_anonymous);
        let mut plan_names = HashSet::new();
        let plans = service
            .plans
            .iter()
            .map(|plan| {
                let plan = &plan.value;
                self.check_name(&plan.name, "plan");
                if !plan_names.insert(plan.name.value.as_str()) {
                    self.report(
                        &plan.name.referenced,
                        format!(
                            "plan `{}` is defined twice in service `{}`",
                            plan.name.value, service.name.value
                        ),
                    );
                }
                Plan {
                    name: plan.name.value.as_str().into(),
                    selection_rule: plan
                        .selection_rule
                        .as_ref()
                        .and_then(|rule| self.expression(rule)),
                    forward_key: plan.forward_key.unwrap_or(false),
                    auto_approve: plan.auto_approve.unwrap_or(true),
                    description: plan.description.clone(),
                    limits: self.limits(
                        &plan.limits,
                        &format!("{}/plan:{}", service.name.value, plan.name.value),
                    ),
                }
            })
            .collect();
        Service {
            name: service.name.value.as_str().into(),
            hosts,
            path_prefix,
            strip_prefix: service.strip_prefix.unwrap_or(true),
            preserve_host: service.preserve_host.unwrap_or(false),
            https_redirect: service.https_redirect.unwrap_or(false),
            upstream: self.upstream(&service.upstream),
            routes,
            plans,
            limits,
            cors: service.cors.as_ref().and_then(|cors| self.cors(cors)),
            responses: match &service.responses {
                Some(own) => Arc::new(self.responses(own, default_responses)),
                None => default_responses.clone(),
            },
            anonymous,
        }
    }

    fn check_name(&mut self, name: &At<String>, what: &str) {
        if !is_valid_name(&name.value) {
            self.report(
                &name.referenced,
                format!(
                    "a {what} name uses letters, digits, `.`, `_` and `-` only, found `{}`",
                    name.value
                ),
            );
        }
    }

    fn upstream(&mut self, upstream: &At<FileUpstream>) -> UpstreamSettings {
        let (urls, connect, read, send, failover, pool, health_check) = match &upstream.value {
            FileUpstream::Url(url) => (
                vec![(url.as_str(), upstream.referenced, None)],
                Duration::from_secs(5),
                Duration::from_secs(60),
                Duration::from_secs(60),
                Failover::default(),
                PoolLimits::default(),
                None,
            ),
            FileUpstream::Targets(long) => {
                if long.targets.is_empty() {
                    self.report(&upstream.referenced, "`targets` needs at least one URL");
                }
                (
                    long.targets.iter().map(target_entry).collect(),
                    self.duration(long.connect_timeout.as_ref(), 5),
                    self.duration(long.read_timeout.as_ref(), 60),
                    self.duration(long.send_timeout.as_ref(), 60),
                    self.failover(long),
                    self.pool_limits(long),
                    long.health_check
                        .as_ref()
                        .map(|check| self.health_check(check)),
                )
            }
        };
        let targets: Vec<Target> = urls
            .into_iter()
            .filter_map(|(url, at, weight)| {
                let weight = self.weight(weight);
                self.target(url, &at)
                    .map(|target| Target { weight, ..target })
            })
            .collect();
        let (tls, protocol) = match &upstream.value {
            FileUpstream::Url(_) => (None, None),
            FileUpstream::Targets(long) => (long.tls.as_ref(), long.protocol.as_ref()),
        };
        let protocol = self.upstream_protocol(protocol, &targets);
        let tls = self.upstream_tls(tls, &targets, protocol, &upstream.referenced);
        let (balance, slow_start) = match &upstream.value {
            FileUpstream::Url(_) => (Balance::default(), None),
            FileUpstream::Targets(long) => {
                let balance = self.balance(long, &targets, &upstream.referenced);
                let slow_start = self.slow_start(long, &balance);
                (balance, slow_start)
            }
        };
        UpstreamSettings {
            targets,
            balance,
            slow_start,
            connect_timeout: connect,
            read_timeout: read,
            send_timeout: send,
            failover,
            pool,
            health_check,
            tls,
            protocol,
        }
    }

    /// The keep-alive and connection limits of a long-form `upstream:`.
    fn pool_limits(&mut self, long: &FileUpstreamTargets) -> PoolLimits {
        let defaults = PoolLimits::default();
        let keepalive = long.keepalive.as_ref();
        let max_connections = long.max_connections.as_ref().map(|limit| limit.value);
        if let Some(limit) = long
            .max_connections
            .as_ref()
            .filter(|limit| limit.value == 0)
        {
            self.report(
                &limit.referenced,
                "`max_connections` is at least 1 (leave it out for no limit)",
            );
        }
        PoolLimits {
            max_idle: keepalive
                .and_then(|keepalive| keepalive.max_idle)
                .unwrap_or(defaults.max_idle),
            idle_timeout: self.duration(
                keepalive.and_then(|keepalive| keepalive.idle_timeout.as_ref()),
                defaults.idle_timeout.as_secs(),
            ),
            max_connections,
            queue_timeout: self.duration(
                long.queue_timeout.as_ref(),
                defaults.queue_timeout.as_secs(),
            ),
        }
    }

    /// `dns:`: name servers as `ip` (port 53) or `ip:port`, and the refresh bounds.
    fn dns(&mut self, dns: &FileDns) -> DnsSettings {
        let defaults = DnsSettings::default();
        let nameservers = dns.nameservers.iter().flatten().filter_map(|server| {
            let text = server.value.as_str();
            let parsed = text
                .parse::<SocketAddr>()
                .ok()
                .or_else(|| text.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 53)));
            if parsed.is_none() {
                self.report(
                    &server.referenced,
                    format!("expected a name server address such as 10.0.0.2 or 127.0.0.1:5353, found `{text}`"),
                );
            }
            parsed
        });
        let nameservers = nameservers.collect();
        let refresh_min = self.duration(dns.refresh_min.as_ref(), defaults.refresh_min.as_secs());
        let refresh_max = self.duration(dns.refresh_max.as_ref(), defaults.refresh_max.as_secs());
        if refresh_max < refresh_min {
            if let Some(at) = dns.refresh_max.as_ref().or(dns.refresh_min.as_ref()) {
                self.report(
                    &at.referenced,
                    "`refresh_max` is shorter than `refresh_min`",
                );
            }
        }
        DnsSettings {
            nameservers,
            refresh_min,
            refresh_max,
        }
    }

    /// The retry and passive-health settings of a long-form `upstream:`.
    fn failover(&mut self, long: &FileUpstreamTargets) -> Failover {
        let defaults = Failover::default();
        let retry_on = long.retry_on.as_ref().map_or(defaults.retry_on, |names| {
            names.iter().fold(RetryOn::NONE, |set, name| {
                match RetryOn::named(name.value.as_str()) {
                    Some(member) => set.with(member),
                    None => {
                        self.report(
                            &name.referenced,
                            format!(
                                "`retry_on` takes connect, reset, timeout, 502, 503 and 504, found `{}`",
                                name.value
                            ),
                        );
                        set
                    }
                }
            })
        });
        Failover {
            retries: long.retries,
            retry_on,
            retry_timeout: self.duration(long.retry_timeout.as_ref(), 10),
            max_fails: long.max_fails.unwrap_or(defaults.max_fails),
            fail_timeout: self.duration(long.fail_timeout.as_ref(), 10),
        }
    }

    fn target(&mut self, url: &str, at: &Location) -> Option<Target> {
        let parsed: Option<Uri> = url.parse().ok();
        let parts = parsed.map(|uri| uri.into_parts());
        let Some((Some(scheme), Some(authority), path)) =
            parts.map(|p| (p.scheme, p.authority, p.path_and_query))
        else {
            self.report(
                at,
                format!("expected an upstream URL such as http://127.0.0.1:9001, found `{url}`"),
            );
            return None;
        };
        if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
            self.report(
                at,
                format!("an upstream URL starts with http:// or https://, found `{url}`"),
            );
            return None;
        }
        if path.as_ref().and_then(|p| p.query()).is_some() {
            self.report(
                at,
                format!("an upstream URL may not have a query, found `{url}`"),
            );
            return None;
        }
        let base_path = path.map_or_else(String::new, |p| base_path(p.path()));
        Some(Target {
            scheme,
            authority,
            base_path,
            weight: 1,
        })
    }

    fn route(&mut self, route: &FileRoute, sources: &Arc<[KeySource]>, service: &str) -> Route {
        self.check_name(&route.name, "route");
        if route.paths.is_empty() {
            self.report(&route.name.referenced, "a route needs at least one path");
        }
        let mut paths: Vec<PathPattern> = route
            .paths
            .iter()
            .filter_map(|path| {
                PathPattern::parse(&path.value)
                    .map_err(|message| self.report(&path.referenced, message))
                    .ok()
            })
            .collect();
        paths.sort_by_key(PathPattern::precedence);
        let methods = route
            .methods
            .iter()
            .filter_map(|method| {
                let upper = method.value.to_ascii_uppercase();
                let valid = !upper.is_empty() && upper.chars().all(|c| c.is_ascii_alphabetic());
                let parsed = Method::from_bytes(upper.as_bytes()).ok().filter(|_| valid);
                if parsed.is_none() {
                    self.report(
                        &method.referenced,
                        format!(
                            "expected an HTTP method such as GET, found `{}`",
                            method.value
                        ),
                    );
                }
                parsed
            })
            .collect();
        let auth = match route
            .auth
            .as_ref()
            .map(|a| (a.value.as_str(), a.referenced))
        {
            None | Some(("required", _)) => AuthMode::Required,
            Some(("optional", _)) => AuthMode::Optional,
            Some(("none", _)) => AuthMode::None,
            Some((other, at)) => {
                self.report(
                    &at,
                    format!("expected `required`, `optional` or `none`, found `{other}`"),
                );
                AuthMode::Required
            }
        };
        let allow = route
            .allow
            .as_ref()
            .and_then(|allow| self.expression(allow));
        Route {
            name: route.name.value.as_str().into(),
            paths,
            methods,
            auth,
            forward_key: route.forward_key.unwrap_or(false),
            key_sources: match &route.key_sources {
                Some(own) => self.key_sources(own).into(),
                None => sources.clone(),
            },
            allow,
            limits: self.limits(
                &route.limits,
                &format!("{service}/route:{}", route.name.value),
            ),
            cost: route.cost.as_ref().map_or(1, |cost| cost.value),
            rate_limit_headers: self.header_mode(route.rate_limit_headers.as_ref()),
        }
    }

    /// Compiles an expression; its errors are reported at their place inside the YAML
    /// string, with the expression's own message and caret.
    fn expression(&mut self, text: &At<String>) -> Option<Arc<Expr>> {
        match Expr::compile(&text.value) {
            Ok(expr) => Some(Arc::new(expr)),
            Err(errors) => {
                for error in errors {
                    let (line, column) = error.line_col(&text.value);
                    let (line, column) =
                        position_in_file(self.source, &text.referenced, line, column);
                    self.problems.push(Problem {
                        line,
                        column,
                        message: format!("in expression: {}", error.message),
                    });
                }
                None
            }
        }
    }
}

/// Checks a PostgreSQL store URL without connecting (a malformed one, TLS settings that
/// could never work, a certificate file that cannot be read); the message never repeats
/// the URL.
fn check_store_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(());
    }
    PostgresStore::check_url(url).map_err(|error| match error {
        StoreError::Unavailable(message) => message,
        other => other.to_string(),
    })
}

/// The directory cache beside a SQLite database file: `keygate.db` → `keygate.db.cache`.
/// None for an in-memory database or PostgreSQL, which have no file to sit beside.
fn default_cache_file(store: &str) -> Option<PathBuf> {
    let path = store.strip_prefix("sqlite://").filter(|p| !p.is_empty())?;
    Some(PathBuf::from(format!("{path}.cache")))
}

/// Where line `line`, column `column` of a string's content is in the file, given where
/// the YAML scalar's content starts (for a block scalar, its first content line). A quoted
/// scalar's content starts one after the quote; lines below the first keep the scalar's
/// indentation. Escapes inside quoted strings can shift the column by a few characters;
/// the line is always right.
fn position_in_file(source: &str, at: &Location, line: usize, column: usize) -> (usize, usize) {
    let scalar_line = at.line().max(1) as usize;
    let scalar_column = at.column().max(1) as usize;
    let quoted = source
        .lines()
        .nth(scalar_line - 1)
        .and_then(|text| text.chars().nth(scalar_column - 1))
        .is_some_and(|c| c == '"' || c == '\'');
    match (line, quoted) {
        (1, true) => (scalar_line, scalar_column + column),
        (1, false) => (scalar_line, scalar_column + column - 1),
        (_, true) => (scalar_line + line - 1, column),
        (_, false) => (scalar_line + line - 1, scalar_column - 1 + column),
    }
}

mod anonymous;
mod authz;
mod balance;
mod consumers;
mod cors;
mod key_body;
mod key_header_names;
use key_header_names::separators_alike;
mod http2;
mod limits;
mod listeners;
mod responses;
mod secret_refs;
mod strip_headers;
mod subscriptions;
mod upstream_tls;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod upstream_tests;
