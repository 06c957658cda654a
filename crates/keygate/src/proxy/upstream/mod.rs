//! A service's upstream: its targets, chosen per request as `balance` says ([`balance`]),
//! a keep-alive connection pool per target, and the HTTP/1.1 exchange itself. The
//! exchange runs in the request's own task (no connection task, no channel between the
//! two): the request head leaves in one write, the response head is parsed from the first
//! read, and a small response whose body arrived with its head is answered from that read
//! alone, its connection already back in the pool. A refused connection is a `502`; a
//! connection not made within `connect_timeout`, and an upstream silent for
//! `read_timeout` before its response head or for `send_timeout` while taking the request
//! body, a `504`. Silence is timed, not the exchange (as nginx's `proxy_read_timeout` and
//! `proxy_send_timeout`): each wait for the upstream's next bytes, or for it to take the
//! next ones, starts the clock anew, so a long upload or download that keeps moving is
//! never cut.
//!
//! A try that fails goes on to another target within `retries` and `retry_timeout`:
//! after a failed connection whatever the method (nothing was sent), after a failure
//! once the request went out only for an idempotent request without a body, and only on
//! the failures `retry_on` names. Each target's passive health ([`health`]) skips one
//! that keeps failing, and so does its active health ([`active_health`]) when the service
//! has health checks: a target is skipped when either says it is down.
//!
//! A target named by host name stands for one target per address it resolves to
//! ([`named`], [`resolve`]); a target with `max_connections` holds a slot per request
//! under way ([`pool`]).

mod active_health;
mod balance;
mod body;
mod forward_body;
mod h2_client;
mod h2_exchange;
mod health;
mod named;
mod pool;
pub mod request_head;
mod resolve;
pub mod response_head;
mod stream;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http::{HeaderValue, Method, Response, StatusCode};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

pub use active_health::{ActiveHealth, CheckOutcome, Tally, Thresholds};
pub use balance::{Affinity, HashInputs};
pub use body::{UpstreamBody, UpstreamBodyError};
pub use forward_body::{ForwardBody, Undetachable};
pub use named::{CurrentUpstream, ServiceUpstream};

use super::error::ProxyError;
use crate::config::{Failover, RetryOn, Target, UpstreamProtocol, UpstreamSettings};
use crate::proxy::chunked::ChunkedDecoder;
use balance::{bit, Balancer};
use body::Delimiter;
use health::{now_ms, Availability, HealthPolicy, TargetHealth};
use pool::{Connection, ConnectionPool};
use request_head::{body_framing, write_body_end, write_body_piece, write_head};
pub use request_head::{AsSent, FieldRewrite, RequestPath};
use response_head::{Framing, ResponseHead};
pub use stream::{TlsTarget, UpstreamStream};

/// A response head larger than this is refused (`502`).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// One target as the proxy uses it.
#[derive(Debug)]
pub struct UpstreamTarget {
    /// Path put in front of the forwarded path.
    pub base_path: String,
    /// `Host` header value for this target.
    pub host_header: HeaderValue,
    /// `host:port` to connect to (port 80 when the URL has none).
    address: String,
    pool: Arc<ConnectionPool>,
    /// Its place among the service's targets.
    index: usize,
    /// The place among the service's configured targets of the one it comes from (a
    /// target by name stands for several addresses).
    configured: usize,
    /// Whether it is skipped for now, shared by every worker thread (and kept when a
    /// name's addresses change and this one stays).
    health: Arc<TargetHealth>,
    /// Its health checker's verdict, when the service has health checks. The addresses
    /// of a target named by host name share the name's checker.
    active: Option<Arc<ActiveHealth>>,
    /// For an `https://` target: how its TLS connections are made.
    tls: Option<TlsTarget>,
    /// With `protocol: h2` or `h2c`: the target's HTTP/2 connection.
    h2: Option<Arc<h2_client::H2Connection>>,
}

impl UpstreamTarget {
    /// Whether its health checker, if any, holds it up.
    fn checked_up(&self) -> bool {
        self.active.as_ref().is_none_or(|active| active.is_up())
    }
}

/// One target as an upstream is built from it: its configured target, that target's
/// place in the settings, the address connected to, and its health checker's verdict.
struct Placed<'a> {
    target: &'a Target,
    configured: usize,
    address: String,
    active: Option<Arc<ActiveHealth>>,
}

/// The targets and timeouts of one service.
pub struct Upstream {
    targets: Vec<UpstreamTarget>,
    /// Which target each request goes to.
    balancer: Balancer,
    connect_timeout: Duration,
    read_timeout: Duration,
    send_timeout: Duration,
    /// Tries after the first.
    retries: u32,
    retry_on: RetryOn,
    retry_timeout: Duration,
    health: HealthPolicy,
}

/// The tries of one request: when the first began, how many targets were tried, and
/// where the request sits on the hash ring (retries go on along it).
#[derive(Debug, Clone, Copy)]
pub struct Tries {
    started: Instant,
    count: u32,
    affinity: Option<Affinity>,
}

impl Tries {
    /// No try yet; the first begins at `started`.
    pub fn new(started: Instant) -> Tries {
        Tries {
            started,
            count: 0,
            affinity: None,
        }
    }

    /// The same, for a request at `affinity` on the hash ring ([`Upstream::affinity`]).
    #[must_use]
    pub fn at(self, affinity: Option<Affinity>) -> Tries {
        Tries { affinity, ..self }
    }

    /// Targets tried (a stale pooled connection sent again counts as one try).
    pub fn count(&self) -> u32 {
        self.count
    }
}

/// Whose a failed try was, which decides whether it is tried again and whether it
/// counts against the target's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// No connection could be made: nothing was sent.
    Connect,
    /// The connection broke after (part of) the request went out, before a response.
    Reset,
    /// The upstream stayed silent for `read_timeout` or `send_timeout`.
    Timeout,
    /// A reused connection the upstream had closed while it sat idle: the pool's race,
    /// not the target's health.
    Stale,
    /// The upstream answered something malformed.
    Broken,
    /// The client's request body failed.
    Client,
    /// The target was at `max_connections` for `queue_timeout`: nothing was sent.
    Busy,
}

impl Fault {
    /// Whether the failure counts against the target's health.
    fn is_the_targets(self) -> bool {
        matches!(self, Fault::Connect | Fault::Reset | Fault::Timeout)
    }

    /// Whether a request may go on to another target after this failure, as `retry_on`
    /// says: after `connect` whatever it is (`body_kept`: nothing of its body was read),
    /// after the others only when `resendable` (idempotent, without a body).
    fn may_go_on(self, retry_on: RetryOn, resendable: bool, body_kept: bool) -> bool {
        match self {
            Fault::Connect | Fault::Busy => retry_on.has(RetryOn::CONNECT) && body_kept,
            Fault::Reset => retry_on.has(RetryOn::RESET) && resendable,
            Fault::Timeout => retry_on.has(RetryOn::TIMEOUT) && resendable,
            Fault::Stale | Fault::Broken | Fault::Client => false,
        }
    }
}

/// How an exchange failed, and whether it may be tried again on a new connection.
#[derive(Debug)]
struct Failure {
    error: ProxyError,
    /// Nothing of a response arrived on a reused connection: the upstream most likely
    /// closed it while it was idle.
    stale_connection: bool,
    fault: Fault,
}

impl Failure {
    /// The upstream broke the exchange (a malformed answer, a body the client did not
    /// finish): never retried.
    fn broken(error: impl std::fmt::Display) -> Failure {
        tracing::debug!(%error, "upstream exchange failed");
        Failure {
            error: ProxyError::UpstreamBroken,
            stale_connection: false,
            fault: Fault::Broken,
        }
    }

    /// A failure of the client's: `error` as it is, never retried.
    fn client(error: ProxyError) -> Failure {
        Failure {
            error,
            stale_connection: false,
            fault: Fault::Client,
        }
    }

    /// The upstream stayed silent too long.
    fn timeout() -> Failure {
        Failure {
            error: ProxyError::UpstreamTimeout,
            stale_connection: false,
            fault: Fault::Timeout,
        }
    }

    /// No slot of the target came free in time.
    fn busy() -> Failure {
        Failure {
            error: ProxyError::UpstreamBusy,
            stale_connection: false,
            fault: Fault::Busy,
        }
    }

    /// No connection could be made.
    fn connect(error: ProxyError) -> Failure {
        Failure {
            error,
            stale_connection: false,
            fault: Fault::Connect,
        }
    }

    /// The client's request body broke off or broke its framing: the client's error.
    fn bad_request_body(error: impl std::fmt::Display) -> Failure {
        tracing::debug!(%error, "the request body could not be read");
        Failure::client(ProxyError::BadRequestBody)
    }

    /// The connection failed or closed; `stale` when nothing of a response had arrived.
    fn connection_lost(what: &str, error: impl std::fmt::Display, stale: bool) -> Failure {
        tracing::debug!(%error, "{what} the upstream failed");
        Failure {
            error: ProxyError::UpstreamBroken,
            stale_connection: stale,
            fault: Fault::Reset,
        }
    }
}

impl Upstream {
    /// The targets and timeouts of a service's upstream settings, each target connected
    /// to by its `host:port` as written, without active health. Needs no runtime until
    /// used.
    pub fn new(settings: &UpstreamSettings) -> Upstream {
        Upstream::checked(settings, &[])
    }

    /// [`Upstream::new`] with each target's health checker verdict: `active[i]` for the
    /// `i`th target of the settings, if it has one.
    pub fn checked(settings: &UpstreamSettings, active: &[Option<Arc<ActiveHealth>>]) -> Upstream {
        let targets = settings
            .targets
            .iter()
            .enumerate()
            .map(|(configured, target)| {
                let address = format!("{}:{}", target.authority.host(), target.port());
                let active = active.get(configured).cloned().flatten();
                Placed {
                    target,
                    configured,
                    address,
                    active,
                }
            })
            .collect::<Vec<_>>();
        Upstream::with_targets(settings, targets, None)
    }

    /// The upstream of `settings` with one target per [`Placed`], in that order. A
    /// target whose configured target and address `previous` had keeps its pool and
    /// passive health there.
    fn with_targets(
        settings: &UpstreamSettings,
        addresses: Vec<Placed<'_>>,
        previous: Option<&Upstream>,
    ) -> Upstream {
        // The balancer sees each address as a target of its own, with the weight of the
        // target it comes from and the address as its identity on the hash ring.
        let balanced: Vec<Target> = addresses
            .iter()
            .map(|placed| Target {
                authority: placed
                    .address
                    .parse()
                    .unwrap_or_else(|_| placed.target.authority.clone()),
                ..placed.target.clone()
            })
            .collect();
        let targets = addresses
            .into_iter()
            .enumerate()
            .map(|(index, placed)| {
                let Placed {
                    target,
                    configured,
                    address,
                    active,
                } = placed;
                let host_header = HeaderValue::from_str(target.authority.as_str())
                    .unwrap_or_else(|_| HeaderValue::from_static(""));
                let tls = tls_target(settings, target);
                let kept = previous.and_then(|previous| {
                    previous.targets.iter().find(|old| {
                        old.address == address
                            && old.host_header == host_header
                            && old.base_path == target.base_path
                    })
                });
                UpstreamTarget {
                    base_path: target.base_path.clone(),
                    host_header,
                    address,
                    pool: kept.map_or_else(
                        || Arc::new(ConnectionPool::new(&settings.pool)),
                        |old| old.pool.clone(),
                    ),
                    index,
                    health: kept.map_or_else(Arc::default, |old| old.health.clone()),
                    active,
                    configured,
                    tls,
                    h2: (settings.protocol != UpstreamProtocol::Http1)
                        .then(|| kept.and_then(|old| old.h2.clone()).unwrap_or_default()),
                }
            })
            .collect::<Vec<_>>();
        let Failover {
            retries,
            retry_on,
            retry_timeout,
            max_fails,
            fail_timeout,
        } = settings.failover;
        let others = u32::try_from(targets.len().saturating_sub(1)).unwrap_or(u32::MAX);
        Upstream {
            targets,
            balancer: Balancer::new(&settings.balance, &balanced)
                .with_slow_start(settings.slow_start),
            connect_timeout: settings.connect_timeout,
            read_timeout: settings.read_timeout,
            send_timeout: settings.send_timeout,
            retries: retries.unwrap_or(others),
            retry_on,
            retry_timeout,
            health: HealthPolicy {
                max_fails,
                fail_timeout,
                max_cool_down: fail_timeout.saturating_mul(Failover::MAX_COOL_DOWN_FACTOR),
            },
        }
    }

    /// For each of the `configured` targets of the settings: whether its passive health
    /// has it cooling down (or probed) now; a target by name when every one of its
    /// addresses is (one without an address yet is not).
    pub fn cooling_down(&self, configured: usize) -> Vec<bool> {
        let now = now_ms();
        let mut down = vec![None; configured];
        for target in &self.targets {
            if let Some(place) = down.get_mut(target.configured) {
                let this = target.health.is_down(now);
                *place = Some(place.unwrap_or(true) && this);
            }
        }
        down.into_iter().map(|down| down.unwrap_or(false)).collect()
    }

    /// Closes this thread's idle connections to every target that are past their time
    /// or closed by the upstream.
    pub fn sweep_idle(&self) {
        for target in &self.targets {
            target.pool.sweep();
        }
    }

    /// Where a request sits on the hash ring, for `balance: hash`: `None` for other
    /// policies (at no cost) and for a request without what `hash_on` names.
    pub fn affinity(&self, inputs: &HashInputs<'_>) -> Option<Affinity> {
        self.balancer.affinity(inputs)
    }

    /// A request's first target as `balance` says, skipping those cooling down; when
    /// every target is, the policy's choice anyway. `None` only for a service without
    /// targets.
    pub fn pick(&self, affinity: Option<Affinity>) -> Option<&UpstreamTarget> {
        let mut now = None;
        let index = self
            .balancer
            .first(affinity, |index| self.usable(index, &mut now))?;
        self.targets.get(index)
    }

    /// Whether the target at `index` may take a request now: its health checker, if
    /// any, holds it up and its passive health does not skip it; `now` holds the clock
    /// once read (a healthy target needs none).
    fn usable(&self, index: usize, now: &mut Option<u64>) -> bool {
        self.targets.get(index).is_some_and(|target| {
            let now = || *now.get_or_insert_with(now_ms);
            target.checked_up()
                && target.health.availability(&self.health, now) != Availability::Down
        })
    }

    /// The target a request tries after failing on `failed`: the policy's choice among
    /// those not tried yet (`tried` has a bit per target index) and not cooling down;
    /// else the next one not tried yet; else the next.
    fn next_target<'t>(
        &'t self,
        failed: &'t UpstreamTarget,
        tried: u64,
        affinity: Option<Affinity>,
    ) -> &'t UpstreamTarget {
        let count = self.targets.len();
        let after = |step: usize| self.targets.get((failed.index + step) % count);
        let mut now = None;
        self.balancer
            .after(failed.index, affinity, tried, |index| {
                self.usable(index, &mut now)
            })
            .and_then(|index| self.targets.get(index))
            .or_else(|| {
                (1..=count)
                    .filter_map(after)
                    .find(|target| tried & bit(target.index) == 0)
            })
            .or_else(|| after(1))
            .unwrap_or(failed)
    }

    /// Whether one more try may start: fewer than `retries` retries so far, within
    /// `retry_timeout` of the first try.
    fn may_retry(&self, tries: &Tries) -> bool {
        tries.count <= self.retries && tries.started.elapsed() < self.retry_timeout
    }

    /// Sends a request to `target`: `head` with its hop-by-hop fields removed, `path` as
    /// the target should see it, and `rewrite`'s fields in place of the client's. Each
    /// write of the request waits at most `send_timeout` for the upstream to take it (and
    /// each piece of the request body as long for the client to send it); each read of
    /// the response, head and body, at most `read_timeout` for the next bytes.
    ///
    /// A request without a body whose method is idempotent is sent once more, on a new
    /// connection, when a reused connection turns out to have been closed by the
    /// upstream before any of the response arrived.
    ///
    /// A failed try goes on to another target as the service's `retry_on`, `retries`
    /// and `retry_timeout` allow (see the module's doc); each try is counted in `tries`.
    /// `path.base` and `rewrite`'s `Host`, when it gives one, are taken as `target`'s:
    /// another target gets its own base path and `Host`.
    pub async fn send<B>(
        &self,
        target: &UpstreamTarget,
        head: &Parts,
        path: RequestPath<'_>,
        rewrite: &(impl FieldRewrite + Sync + ?Sized),
        body: B,
        tries: &mut Tries,
    ) -> Result<Response<UpstreamBody>, ProxyError>
    where
        B: ForwardBody,
    {
        let has_body = !body.is_end_stream();
        let resendable = !has_body && is_idempotent(&head.method);
        let mut body = Some(body);
        let mut target = target;
        let mut tried = 0u64;
        loop {
            tries.count = tries.count.saturating_add(1);
            tried |= bit(target.index);
            let path = RequestPath {
                base: &target.base_path,
                ..path
            };
            let rewrite = TargetFields {
                fields: rewrite,
                host: rewrite.host().map(|_| &target.host_header),
            };
            let outgoing = Outgoing {
                head,
                path,
                rewrite: &rewrite,
            };
            let outstanding = self.balancer.start(target.index);
            let outcome = self
                .try_target(target, &outgoing, &mut body, resendable)
                .await;
            match outcome {
                Ok(mut response) if !self.retry_on.has_status(response.status().as_u16()) => {
                    if target.health.succeeded() {
                        self.balancer.came_back(target.index);
                    }
                    response.body_mut().hold(outstanding);
                    return Ok(response);
                }
                Ok(mut response) => {
                    target.health.failed(&self.health, now_ms());
                    if !(resendable && self.may_retry(tries)) {
                        response.body_mut().hold(outstanding);
                        return Ok(response);
                    }
                    let status = response.status();
                    tracing::debug!(%status, target = %target.address, "trying another target");
                }
                Err(failure) => {
                    if failure.fault.is_the_targets() {
                        target.health.failed(&self.health, now_ms());
                    }
                    let body_kept = !has_body || body.is_some();
                    let allowed = failure
                        .fault
                        .may_go_on(self.retry_on, resendable, body_kept);
                    if !(allowed && self.may_retry(tries)) {
                        return Err(failure.error);
                    }
                    let error = failure.error;
                    tracing::debug!(%error, target = %target.address, "trying another target");
                }
            }
            target = self.next_target(target, tried, tries.affinity);
        }
    }

    /// One try on `target`: a pooled connection or a new one, and once more on a new
    /// connection when a pooled one turns out stale and the request may be sent again.
    async fn try_target<B, R>(
        &self,
        target: &UpstreamTarget,
        outgoing: &Outgoing<'_, R>,
        body: &mut Option<B>,
        resendable: bool,
    ) -> Result<Response<UpstreamBody>, Failure>
    where
        B: ForwardBody,
        R: FieldRewrite + Sync + ?Sized,
    {
        if let Some(h2) = &target.h2 {
            return self.try_h2(target, h2, outgoing, body).await;
        }
        let mut fresh_only = false;
        loop {
            let slot = target.pool.admit().await.map_err(|_| Failure::busy())?;
            let (mut connection, reused) = match (!fresh_only).then(|| target.pool.take()).flatten()
            {
                Some(connection) => (connection, true),
                None => (self.connect(target).await?, false),
            };
            connection.hold(slot);
            match self.exchange(target, connection, outgoing, body).await {
                Ok(response) => return Ok(response),
                Err(failure) if failure.stale_connection && reused && resendable => {
                    fresh_only = true;
                }
                Err(mut failure) if failure.stale_connection && reused => {
                    failure.fault = Fault::Stale;
                    return Err(failure);
                }
                Err(failure) => return Err(failure),
            }
        }
    }

    /// One try on `target` over its HTTP/2 connection (made first if none is open): a
    /// stream of its own, the body sent as it comes alongside the response, which
    /// streams back with its trailers ([`h2_exchange`]).
    async fn try_h2<B, R>(
        &self,
        target: &UpstreamTarget,
        h2: &h2_client::H2Connection,
        outgoing: &Outgoing<'_, R>,
        body: &mut Option<B>,
    ) -> Result<Response<UpstreamBody>, Failure>
    where
        B: ForwardBody,
        R: FieldRewrite + Sync + ?Sized,
    {
        let sender = h2
            .sender(self.open_stream(target), self.connect_timeout)
            .await?;
        let request = h2_client::request_head(
            outgoing.head,
            outgoing.path,
            outgoing.rewrite,
            target.tls.is_some(),
        )?;
        let pending = body.take().filter(|body| !body.is_end_stream());
        h2_exchange::exchange(
            sender,
            request,
            pending,
            self.send_timeout,
            self.read_timeout,
        )
        .await
    }

    /// A new connection to `target` ([`Upstream::open_stream`]) with its buffers.
    async fn connect(&self, target: &UpstreamTarget) -> Result<Connection, Failure> {
        self.open_stream(target).await.map(Connection::new)
    }

    /// Opens a connection to `target`, trying each of its addresses in turn, and for an
    /// `https://` target makes the TLS handshake, all within `connect_timeout`. A refused
    /// handshake is logged as a warning with its reason (the certificate expired, names
    /// another host, comes from an unknown issuer).
    async fn open_stream(&self, target: &UpstreamTarget) -> Result<UpstreamStream, Failure> {
        let connecting = async {
            let mut last_error = None;
            let lookup = tokio::net::lookup_host(target.address.as_str()).await;
            for address in lookup.map_err(Refused::Tcp)? {
                match TcpStream::connect(address).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return match &target.tls {
                            None => Ok(UpstreamStream::Plain(stream)),
                            Some(tls) => tls.handshake(stream).await.map_err(Refused::Tls),
                        };
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            let error =
                last_error.unwrap_or_else(|| io::Error::other("the upstream host has no address"));
            Err(Refused::Tcp(error))
        };
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Err(_) => Err(Failure::connect(ProxyError::UpstreamTimeout)),
            Ok(Err(Refused::Tcp(error))) => {
                tracing::debug!(%error, target = %target.address, "upstream connect failed");
                Err(Failure::connect(ProxyError::UpstreamConnect))
            }
            Ok(Err(Refused::Tls(error))) => {
                let server_name = target.tls.as_ref().map(|tls| tls.server_name.to_str());
                tracing::warn!(
                    target = %target.address,
                    server_name = server_name.as_deref().unwrap_or(""),
                    reason = %error,
                    "upstream TLS handshake failed"
                );
                Err(Failure::connect(ProxyError::UpstreamTls))
            }
            Ok(Ok(stream)) => Ok(stream),
        }
    }
}

/// Why no connection was made.
enum Refused {
    /// The TCP connection (or the host's lookup) failed.
    Tcp(io::Error),
    /// The TLS handshake failed.
    Tls(io::Error),
}

/// How an `https://` target is spoken to: the service's TLS client configuration, and
/// `server_name` or else the target's host as the name its certificate must hold. `None`
/// for an `http://` target.
pub fn tls_target(settings: &UpstreamSettings, target: &Target) -> Option<TlsTarget> {
    if target.scheme != http::uri::Scheme::HTTPS {
        return None;
    }
    let tls = settings.tls.as_ref()?;
    let server_name = tls
        .server_name
        .clone()
        .or_else(|| crate::tls::upstream::server_name(target.authority.host()))?;
    Some(TlsTarget {
        connector: tokio_rustls::TlsConnector::from(tls.client.clone()),
        server_name,
    })
}

/// RFC 9110 §9.2.2: methods a client may repeat without changing the outcome.
fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A request's fields as sent to one target: `fields`, with that target's `Host` when
/// they replace the client's.
struct TargetFields<'a, R: ?Sized> {
    fields: &'a R,
    host: Option<&'a HeaderValue>,
}

impl<R: FieldRewrite + ?Sized> FieldRewrite for TargetFields<'_, R> {
    fn host(&self) -> Option<&HeaderValue> {
        self.host
    }

    fn replaces(&self, name: &http::HeaderName) -> bool {
        self.fields.replaces(name)
    }

    fn append_fields(&self, fields: &http::HeaderMap, out: &mut Vec<u8>) {
        self.fields.append_fields(fields, out);
    }
}

/// What of a request goes into its head on the upstream connection.
struct Outgoing<'a, R: ?Sized> {
    head: &'a Parts,
    path: RequestPath<'a>,
    rewrite: &'a R,
}

impl Upstream {
    /// One request and its response head on `connection`.
    async fn exchange<B, R>(
        &self,
        target: &UpstreamTarget,
        mut connection: Connection,
        outgoing: &Outgoing<'_, R>,
        body: &mut Option<B>,
    ) -> Result<Response<UpstreamBody>, Failure>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
        R: FieldRewrite + Sync + ?Sized,
    {
        let head = outgoing.head;
        let pending_body = body.take().filter(|body| !body.is_end_stream());
        let framing = body_framing(&head.headers, pending_body.is_some());
        connection.outgoing.clear();
        write_head(
            &mut connection.outgoing,
            &head.method,
            outgoing.path,
            &head.headers,
            outgoing.rewrite,
            framing,
        );
        let send_timeout = self.send_timeout;
        match pending_body {
            None => write_out(&mut connection, send_timeout).await?,
            Some(mut pending) => {
                // The body's first piece leaves with the head; the rest as it comes.
                while let Some(frame) =
                    next_piece(&mut connection, &mut pending, send_timeout).await?
                {
                    let frame = frame.map_err(Failure::bad_request_body)?;
                    if let Ok(data) = frame.into_data() {
                        write_body_piece(&mut connection.outgoing, framing, &data);
                        write_out(&mut connection, send_timeout).await?;
                    }
                }
                write_body_end(&mut connection.outgoing, framing);
                write_out(&mut connection, send_timeout).await?;
            }
        }
        let read_timeout = self.read_timeout;
        let (response, rest) = read_head(&mut connection, &head.method, read_timeout).await?;
        Ok(respond(target, connection, response, rest, read_timeout))
    }
}

/// The request body's next frame from the client, waited for at most `limit` (a client
/// that stops sending is answered `408`).
async fn next_piece<B>(
    connection: &mut Connection,
    body: &mut B,
    limit: Duration,
) -> Result<Option<Result<http_body::Frame<Bytes>, B::Error>>, Failure>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    poll_fn(|cx| match Pin::new(&mut *body).poll_frame(cx) {
        Poll::Ready(frame) => {
            connection.progressed();
            Poll::Ready(Ok(frame))
        }
        Poll::Pending => connection
            .poll_silence(cx, limit)
            .map(|()| Err(Failure::client(ProxyError::RequestBodyTimeout))),
    })
    .await
}

/// Writes what `outgoing` holds, each write waiting at most `limit` for the upstream to
/// take bytes. A failed write sent nothing usable: the exchange may be tried again
/// elsewhere.
async fn write_out(connection: &mut Connection, limit: Duration) -> Result<(), Failure> {
    if connection.outgoing.is_empty() {
        return Ok(());
    }
    let mut written = 0;
    let result = poll_fn(|cx| poll_write_out(connection, cx, &mut written, limit)).await;
    connection.outgoing.clear();
    result
}

/// Writes `outgoing` from `written` on, until all of it is written, the upstream fails,
/// or it takes nothing for `limit`.
fn poll_write_out(
    connection: &mut Connection,
    cx: &mut Context<'_>,
    written: &mut usize,
    limit: Duration,
) -> Poll<Result<(), Failure>> {
    while *written < connection.outgoing.len() {
        let rest = &connection.outgoing[*written..];
        match Pin::new(&mut connection.stream).poll_write(cx, rest) {
            Poll::Ready(Ok(0)) => {
                let error = io::Error::from(io::ErrorKind::WriteZero);
                return Poll::Ready(Err(Failure::connection_lost("writing to", error, true)));
            }
            Poll::Ready(Ok(count)) => {
                *written += count;
                connection.progressed();
            }
            Poll::Ready(Err(error)) => {
                return Poll::Ready(Err(Failure::connection_lost("writing to", error, true)))
            }
            Poll::Pending => {
                return connection.poll_silence(cx, limit).map(|()| {
                    tracing::debug!("the upstream took no request bytes for send_timeout");
                    Err(Failure::timeout())
                });
            }
        }
    }
    // TLS may hold records back until flushed; for plain TCP this is a no-op.
    if connection.stream.is_tls() {
        match Pin::new(&mut connection.stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => {
                return Poll::Ready(Err(Failure::connection_lost("writing to", error, true)))
            }
            Poll::Pending => {
                return connection.poll_silence(cx, limit).map(|()| {
                    tracing::debug!("the upstream took no request bytes for send_timeout");
                    Err(Failure::timeout())
                });
            }
        }
    }
    Poll::Ready(Ok(()))
}

/// Reads until a final (non-1xx) response head is complete, each read waiting at most
/// `limit` for the upstream's next bytes. Returns the head with the bytes that followed
/// it in the same reads.
async fn read_head(
    connection: &mut Connection,
    method: &Method,
    limit: Duration,
) -> Result<(ResponseHead, Bytes), Failure> {
    let mut received_any = false;
    loop {
        if !connection.buffer.is_empty() {
            let read = connection.buffer.split().freeze();
            match response_head::parse(&read, method).map_err(Failure::broken)? {
                Some((head, length)) if head.status.is_informational() => {
                    if head.status == StatusCode::SWITCHING_PROTOCOLS {
                        return Err(Failure::broken("the upstream switched protocols unasked"));
                    }
                    // 100 Continue, 103 Early Hints: the final response follows.
                    connection.buffer.extend_from_slice(&read[length..]);
                    continue;
                }
                Some((head, length)) => return Ok((head, read.slice(length..))),
                None if read.len() >= MAX_HEAD_BYTES => {
                    return Err(Failure::broken("the upstream's response head is too large"))
                }
                None => {
                    connection.buffer = read
                        .try_into_mut()
                        .unwrap_or_else(|shared| shared.as_ref().into());
                }
            }
        }
        let filled = poll_fn(|cx| match connection.poll_fill(cx) {
            Poll::Ready(filled) => {
                connection.progressed();
                Poll::Ready(Some(filled))
            }
            Poll::Pending => connection.poll_silence(cx, limit).map(|()| None),
        });
        let error = match filled.await {
            None => {
                tracing::debug!("the upstream sent nothing for read_timeout");
                return Err(Failure::timeout());
            }
            Some(Ok(0)) => io::Error::from(io::ErrorKind::UnexpectedEof),
            Some(Ok(_)) => {
                received_any = true;
                continue;
            }
            Some(Err(error)) => error,
        };
        return Err(Failure::connection_lost(
            "reading from",
            error,
            !received_any,
        ));
    }
}

/// The response for the client. A body that arrived whole with the head is answered from
/// memory and the connection goes back to the pool at once; otherwise the body streams
/// from the connection.
fn respond(
    target: &UpstreamTarget,
    mut connection: Connection,
    head: ResponseHead,
    rest: Bytes,
    read_timeout: Duration,
) -> Response<UpstreamBody> {
    let ResponseHead {
        status,
        mut headers,
        framing,
        keep_alive,
    } = head;
    let body = match framing {
        Framing::Empty => {
            if keep_alive && rest.is_empty() {
                target.pool.give_back(connection);
            }
            UpstreamBody::whole(None)
        }
        Framing::Length(length) if rest.len() as u64 >= length => {
            if keep_alive && rest.len() as u64 == length {
                target.pool.give_back(connection);
            }
            UpstreamBody::whole(Some(
                rest.slice(
                    ..rest
                        .len()
                        .min(usize::try_from(length).unwrap_or(usize::MAX)),
                ),
            ))
        }
        framing => {
            connection.buffer.extend_from_slice(&rest);
            let delimiter = match framing {
                Framing::Length(length) => Delimiter::Length(length),
                Framing::Chunked => Delimiter::Chunked(ChunkedDecoder::new()),
                _ => Delimiter::UntilClose,
            };
            if !matches!(framing, Framing::Length(_)) {
                // The body is re-framed for the client; its length is not this one.
                headers.remove(CONTENT_LENGTH);
            }
            let pool = target.pool.clone();
            UpstreamBody::streamed(connection, delimiter, pool, keep_alive, read_timeout)
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod failover_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod h2_exchange_tests;
