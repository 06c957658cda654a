//! One request, phase by phase. Each phase is a function that either hands the request on
//! or returns a [`ProxyError`], which `respond` renders:
//!
//! 1. [`check_request`] — header size limit (`431`); the path normalised, or refused when
//!    it cannot be made unambiguous (`400`);
//! 2. [`route`] — host, path, method (`404`, `405`); plain HTTP to a service with
//!    `https_redirect` is sent to HTTPS (`308`, [`super::https_redirect`]). A route with
//!    `body` key sources has the body read whole first (`413`, `400`, `408`;
//!    `body_phase.rs`);
//! 3. [`authenticate`] — find the key, hash, look up (`401`); a call without a key (or
//!    with an invalid one, where the service says so) on an `auth: optional` route goes
//!    on as the service's anonymous consumer (`anonymous_phase`; `500` when it is missing);
//! 4. [`select_plan`] — on a service with plans, an accepted subscription of the key
//!    (or of the anonymous consumer) to a plan whose selection rule is true (`403`);
//! 5. [`authorize`] — the route's `allow` expression (`403`; `401` for anonymous calls);
//!    then [`limit`] — the rate limits of the route, service and plan (`429`);
//! 6. [`forward`] — rewrite headers and URI, send upstream, stream back (`502`, `504`);
//! 7. log — the access record goes to the metrics and the log writer.
//!
//! Phases 1–5 never wait: [`Gateway::check`] runs them and answers a refusal at once;
//! [`Gateway::forward`] runs 6 and 7 for a request let through. There are two
//! exceptions, both opt-in. One is exact mode across nodes (`cluster.rate_limits.mode: exact`): a call that rate limits
//! apply to comes back from [`Gateway::check`] as [`Checking::Limiting`], and
//! [`Gateway::settle`] awaits Redis's count of it (`settle.rs`). The other is a request
//! on a route with `body` key sources: it comes back as [`Checking::ReadingBody`], and
//! [`Gateway::check_body`] reads its body and decides (`body_phase.rs`). Every other
//! call is decided without waiting, as before. On an `authz.listen` listener
//! ([`super::authz`]) the same phases 1–5 run on the original request a front proxy's
//! check describes, and 7 logs the answer to the check: nothing is forwarded.

mod anonymous_phase;
mod body_phase;
mod limit_phase;
mod settle;

use anonymous_phase::anonymous;
pub use body_phase::BodyWait;
use body_phase::BodyWanted;
pub(in crate::proxy) use limit_phase::Pending;
use limit_phase::{limit, Limited};

use std::borrow::Cow;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::HOST;
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, Response, Uri};
use http_body_util::Either;

use super::admission::{request_id_field, Admitted, Caller, Identity};
pub use super::admission::{Admission, Checked, Checking};
use super::authz::{self, Shape};
use super::body_key::{self, KeyBody};
use super::error::{Denial, InvalidKey, PlanRefusal, ProxyError};
use super::facts::RequestFacts;
use super::forward::{drop_hop_by_hop, ClientAddress, ForwardedFields};
use super::forward_path;
use super::health_checks::HealthChecks;
use super::key_source::{self, Extracted};
use super::limit_check;
use super::limit_headers;
use super::path_normal::normalise;
use super::refusal::refusal_response;
use super::request_id::RequestId;
use super::trace_context::TraceParent;
use super::turn_clock;
use super::upstream::{ForwardBody, HashInputs, RequestPath, ServiceUpstream, Tries};
use super::upstreams;
use super::ProxyBody;
use crate::access_log::AccessLog;
use crate::access_record::{AccessRecord, Mode};
use crate::config::{AuthMode, Plan, Route, Service};
use crate::key::plausible;
use crate::metrics::Metrics;
use crate::state::router::RouteMatch;
use crate::state::{
    millis, ConsumerEntry, KeyCheck, KeyEntry, SharedState, Snapshot, SubscriptionEntry,
};
use keygate_store::SubscriptionStatus;

/// The proxy's request handler, shared by every connection.
pub struct Gateway {
    state: SharedState,
    access_log: AccessLog,
    metrics: Arc<Metrics>,
    /// The port of the first TLS listener, where `https_redirect` sends clients.
    https_port: Option<u16>,
    health_checks: Arc<HealthChecks>,
    /// Whether this gateway answers front proxies' checks (`authz.listen`) instead of
    /// forwarding ([`super::authz`]).
    authz: bool,
}

/// The route a request matched.
struct Matched<'s> {
    /// Where the service and route are in the snapshot, to find them again after waiting.
    index: (usize, usize),
    service: &'s Service,
    route: &'s Route,
}

impl<'s> Matched<'s> {
    /// The service and route at `index` (service, route within it) in `snapshot`.
    fn at(snapshot: &'s Snapshot, index: (usize, usize)) -> Matched<'s> {
        let service = &snapshot.services[index.0];
        Matched {
            index,
            service,
            route: &service.routes[index.1],
        }
    }
}

/// The plan and subscription a key was let through by.
struct Selected<'s> {
    plan: &'s Plan,
    subscription: Arc<SubscriptionEntry>,
}

impl Gateway {
    /// A gateway reading `state`, counting in `metrics`, logging to `access_log`, and
    /// skipping the targets that `health_checks` hold down.
    pub fn new(
        state: SharedState,
        access_log: AccessLog,
        metrics: Arc<Metrics>,
        health_checks: Arc<HealthChecks>,
    ) -> Gateway {
        Gateway {
            state,
            access_log,
            metrics,
            health_checks,
            https_port: None,
            authz: false,
        }
    }

    /// The same gateway answering front proxies' checks, for the `authz.listen`
    /// listeners: one state, log and set of metrics for both.
    pub fn authz_twin(&self) -> Gateway {
        Gateway {
            state: self.state.clone(),
            access_log: self.access_log.clone(),
            metrics: self.metrics.clone(),
            https_port: None,
            health_checks: self.health_checks.clone(),
            authz: true,
        }
    }

    /// The state requests are checked against.
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// The same gateway, sending `https_redirect` clients to `port` (the first TLS
    /// listener's; `None` without one).
    pub fn with_https_port(self, port: Option<u16>) -> Gateway {
        Gateway {
            https_port: port,
            ..self
        }
    }

    /// The health checkers whose verdicts the upstreams read.
    pub fn health_checks(&self) -> &HealthChecks {
        &self.health_checks
    }

    /// Phases 1–5 for one request head, none of which waits: a request refused on any of
    /// them is answered, counted and logged here, and never builds the future that
    /// forwarding needs (a few kilobytes, moved into place for every request that
    /// awaits it). The head is borrowed, not taken, so that the connection can keep its
    /// field map for the next request. It is borrowed mutably for one change only: a
    /// path that is not in normal form has its target replaced by the normal one (see
    /// [`check_request`]), which every later phase and [`Gateway::forward`] then read.
    ///
    /// On an authz listener the request is a front proxy's check, answered at once in
    /// its protocol ([`super::authz::check`]), never `Admitted`; `source` is the head as
    /// read when the request's target and field values are slices of it (HTTP/1), else
    /// empty, and lets the check share the original request's target with it.
    pub fn check(&self, request: &mut Parts, source: &Bytes, client: &ClientAddress) -> Checking {
        if self.authz {
            return super::authz::check(self, request, source, client);
        }
        self.check_as(request, client, Mode::Proxy)
    }

    /// Phases 1–5 for `request`, logged under `mode`: [`Gateway::check`] for the proxy,
    /// and the one decision the authz checks reuse, run on the original request they
    /// describe.
    pub(crate) fn check_as(
        &self,
        request: &mut Parts,
        client: &ClientAddress,
        mode: Mode,
    ) -> Checking {
        // The turn's reading of the clocks (`turn_clock`): the request's start, and the
        // one time its key, plan and record are judged at.
        let now = turn_clock::now();
        let started = now.instant;
        // The request keeps this snapshot to the end, whatever reloads happen meanwhile.
        let snapshot = self.state.load();
        // Only the log line shows the URI and host: no copies when nothing is logged.
        let logged = self.access_log.enabled();
        let uri = match logged {
            true => request.uri.clone(),
            false => Uri::default(),
        };
        let mut record = AccessRecord::new(request.method.clone(), uri, now.wall);
        record.version = request.version;
        record.client = Some(client.ip);
        record.mode = mode;
        if logged {
            record.host = request.headers.get(HOST).cloned();
        }
        record.request_id = snapshot
            .config
            .proxy
            .request_id_header
            .as_ref()
            .map(|name| RequestId::of(&request.headers, name));
        // Preflights are the proxy's to answer (docs/config.md): a front proxy would take
        // the answer to a check for an allowed request and forward it.
        if request.method == http::Method::OPTIONS && mode == Mode::Proxy {
            if let Some(response) = super::cors::preflight(&snapshot, request, &mut record) {
                let request_id = request_id_field(&snapshot, &record);
                self.finish(&snapshot, started, &mut record, &response);
                let response = answered(record.mode, response);
                return Checking::Decided(Checked::Answered(response, request_id));
            }
        }
        self.decide(snapshot, started, record, request, client, None)
    }

    /// Phases 1–5 for `request` on the snapshot and access record [`Gateway::check_as`]
    /// began with; `body` is the request's body when it was read for a key
    /// ([`Gateway::check_body`]), `None` when it was not (and then a route with `body`
    /// key sources asks for it: [`Checking::ReadingBody`]).
    // Inlined into `check_as`, the common caller: 26 instructions fewer per request
    // (callgrind), the access record moved once less.
    #[inline(always)]
    fn decide(
        &self,
        snapshot: Arc<Snapshot>,
        started: Instant,
        mut record: AccessRecord,
        request: &mut Parts,
        client: &ClientAddress,
        body: Option<&KeyBody>,
    ) -> Checking {
        let connection = (client, self.https_port);
        match admit(
            &self.state,
            &snapshot,
            request,
            connection,
            &mut record,
            body,
        ) {
            Ok(Admit::ReadBody(wanted)) => Checking::ReadingBody(Box::new(BodyWait {
                snapshot,
                started,
                record,
                wanted,
            })),
            Ok(Admit::Through(route, admitted)) => {
                let waits = admitted.pending.is_some();
                let mut admission = Admission {
                    snapshot,
                    started,
                    record,
                    route,
                    admitted,
                };
                // An HTTP check is answered here in its front proxy's protocol, where the
                // admission lies, rather than moved (hundreds of bytes) through the
                // callers to be answered there. An Envoy gRPC check's answer is made by
                // its caller from the decision.
                match (waits, http_check(admission.record.mode)) {
                    (true, _) => Checking::Limiting(Box::new(admission)),
                    (false, Some(shape)) => Checking::Decided(authz::answer_allowed(
                        self,
                        shape,
                        &mut admission,
                        &request.headers,
                    )),
                    (false, None) => Checking::Decided(Checked::Admitted(Box::new(admission))),
                }
            }
            Err(error) => {
                let headers = &request.headers;
                Checking::Decided(self.refuse(&snapshot, started, &mut record, headers, &error))
            }
        }
    }

    /// Answers, counts and logs a request refused with `error`. The record is lent, not
    /// moved (hundreds of bytes).
    fn refuse(
        &self,
        snapshot: &Snapshot,
        started: Instant,
        record: &mut AccessRecord,
        headers: &HeaderMap,
        error: &ProxyError,
    ) -> Checked {
        record.denial = Some(error.reason());
        if let ProxyError::RateLimited(refusal) = error {
            record.limit = Some(refusal.report.name.clone());
        }
        let service = record
            .matched
            .map(|(service, _)| &snapshot.services[service]);
        let responses = service.map_or(&snapshot.config.responses, |s| &s.responses);
        let templates = record.mode == Mode::Proxy;
        let mut response = refusal_response(headers, error, responses, templates);
        if let Some(cors) = service.and_then(|service| service.cors.as_deref()) {
            super::cors::decorate(cors, headers, response.headers_mut());
        }
        let request_id = request_id_field(snapshot, record);
        self.finish(snapshot, started, record, &response);
        Checked::Answered(answered(record.mode, response), request_id)
    }

    /// Phases 6 and 7 for a request [`Gateway::check`] admitted: forward it with its
    /// `body`, and count and log the answer. Never fails: errors become JSON responses.
    /// The route's key sources are emptied in `request`'s fields unless the key is
    /// forwarded.
    pub async fn forward<B>(
        &self,
        mut admission: Box<Admission>,
        request: &mut Parts,
        body: B,
        client: &ClientAddress,
    ) -> Response<ProxyBody>
    where
        B: ForwardBody,
    {
        // Read in the box, not moved out of it.
        let Admission {
            snapshot,
            started,
            record,
            route,
            admitted,
        } = &mut *admission;
        let (snapshot, started, route) = (&**snapshot, *started, *route);
        let matched = Matched::at(snapshot, route);
        let limits = admitted.limits.take();
        let destination = Destination {
            snapshot,
            upstream: &upstreams::of(snapshot, &self.health_checks)[route.0],
        };
        let forwarded = forward(
            destination,
            &matched,
            admitted,
            request,
            body,
            client,
            record,
        );
        let mut response = match forwarded.await {
            Ok(response) => response,
            Err(error) => {
                record.denial = Some(error.reason());
                refusal_response(&request.headers, &error, &matched.service.responses, true)
            }
        };
        if let Some(report) = &limits {
            let mode = matched.route.rate_limit_headers;
            limit_headers::insert(response.headers_mut(), report, mode);
        }
        if let Some(cors) = &matched.service.cors {
            super::cors::decorate(cors, &request.headers, response.headers_mut());
        }
        self.finish(snapshot, started, record, &response);
        response
    }

    /// Phase 7 for a check that let `admission` through and answered the front proxy
    /// with `response` (authz mode: nothing is forwarded).
    pub(crate) fn finish_check(&self, admission: &mut Admission, response: &Response<ProxyBody>) {
        let record = &mut admission.record;
        self.finish(&admission.snapshot, admission.started, record, response);
    }

    /// Phase 7: the answer's status and time go into the record, the metrics, the usage
    /// counts and the access log. The record is lent, not moved: it is hundreds of
    /// bytes, and with the log off nothing needs it after this.
    fn finish(
        &self,
        snapshot: &Snapshot,
        started: Instant,
        record: &mut AccessRecord,
        response: &Response<ProxyBody>,
    ) {
        record.status = response.status().as_u16();
        record.total_us = micros(started);
        let counters = record
            .matched
            .and_then(|(service, route)| snapshot.route_counters.get(service)?.get(route));
        self.metrics.observe(counters.map(|c| &**c), record);
        self.state.usage_counts.note(
            millis(record.time),
            record.key.as_ref(),
            record.anonymous.as_ref(),
            record.service.as_ref(),
            Denial::usage_outcome(record.denial),
        );
        self.access_log.write(record);
    }
}

/// The shape of a front proxy's HTTP check in `mode`, which is answered in the front
/// proxy's protocol where it is decided; `None` on the proxy, and for an Envoy gRPC
/// check, whose answer its caller makes from the decision.
fn http_check(mode: Mode) -> Option<Shape> {
    mode.shape().filter(|&shape| shape != Shape::EnvoyGrpc)
}

/// keygate's own answer `response` (a refusal, or a CORS preflight's), as sent in
/// `mode`: reshaped for a front proxy's HTTP check ([`authz::answer::deny`]), after it
/// was counted and logged as keygate meant it.
fn answered(mode: Mode, mut response: Response<ProxyBody>) -> Response<ProxyBody> {
    if let Some(shape) = http_check(mode) {
        authz::answer::deny(shape, &mut response);
    }
    response
}

/// How [`admit`] let a request go on.
enum Admit {
    /// Through the route at this index, as `Admitted` says.
    Through((usize, usize), Admitted),
    /// Routed to a route with `body` key sources: its body is to be read first.
    ReadBody(BodyWanted),
}

/// Phases 1–5: the route, and who is let through it. `body`: the body read for a key, if
/// it was.
fn admit(
    state: &SharedState,
    snapshot: &Snapshot,
    request: &mut Parts,
    (client, https_port): (&ClientAddress, Option<u16>),
    record: &mut AccessRecord,
    body: Option<&KeyBody>,
) -> Result<Admit, ProxyError> {
    if check_request(request, snapshot.config.proxy.max_header_bytes, record.mode)? {
        // The log shows the path that was routed, not the one sent.
        record.uri = request.uri.clone();
    }
    let request = &*request;
    let matched = route(snapshot, request, record)?;
    record.service = Some(matched.service.name.clone());
    record.route = Some(matched.route.name.clone());
    super::https_redirect::check(matched.service, request, client, https_port)?;
    // Front proxies' checks carry no body: `body` sources are read by the proxy alone.
    if body.is_none() && record.mode == Mode::Proxy {
        if let Some(media) = body_key::wanted(matched.route, &request.headers) {
            return Ok(Admit::ReadBody(BodyWanted {
                media,
                limit: snapshot.config.proxy.max_key_body_bytes,
                piece_timeout: matched.service.upstream.send_timeout,
            }));
        }
    }
    let authenticated = authenticate(state, matched.route, request, body, record);
    // Services without an anonymous consumer (and keyed calls on most that have one) take
    // what `authenticate` found, at the cost of this branch.
    let caller = match matched.service.anonymous {
        None => authenticated?,
        Some(_) => anonymous(snapshot, &matched, authenticated, record)?,
    };
    // One reading of the clock serves the whole request: key expiry, subscription end,
    // the key's last use and the access record.
    let now = record.time;
    let selected = select_plan(matched.service, &caller, request, client, now)?;
    if let Some(selected) = &selected {
        record.plan = Some(selected.plan.name.clone());
        record.subscription = Some(selected.subscription.id.clone());
    }
    authorize(
        state,
        matched.route,
        &caller,
        selected.as_ref(),
        request,
        client,
        record,
    )?;
    let limited = limit(
        state,
        matched.route,
        &caller,
        selected.as_ref(),
        request,
        record,
    )?;
    let (limits, pending) = match limited {
        Limited::Done(report) => {
            // A use is a call the key was let through for, not one refused by plan, rule
            // or limit (in exact mode, noted once Redis admits it).
            if let Some(Identity::Key(key)) = &caller {
                state.usage.note(&state.directory.keys, key, millis(now));
            }
            (report, None)
        }
        Limited::Waiting(limits) => {
            let plan = selected.as_ref().and_then(|selected| {
                let plans = &matched.service.plans;
                plans.iter().position(|p| std::ptr::eq(p, selected.plan))
            });
            (None, Some(Box::new(Pending { limits, plan })))
        }
    };
    let forward_key = matched.route.forward_key
        || selected
            .as_ref()
            .is_some_and(|selected| selected.plan.forward_key);
    let admitted = Admitted {
        caller,
        forward_key,
        limits,
        pending,
    };
    Ok(Admit::Through(matched.index, admitted))
}

/// Phase 1: limits that hold whatever the route, and the path in normal form
/// ([`normalise`]; `docs/request-path.md`), or refused when it cannot be made
/// unambiguous. Returns whether the target was rewritten.
///
/// The normal path replaces the request's target (with the query as sent) rather than
/// travelling beside it, so that routing, `allow` expressions (which read the request),
/// forwarding and the access log cannot read two different paths: there is only one. An
/// already normal path — nearly every request — is checked in one scan and the target,
/// a slice of the connection's read buffer, stays as it is; only a path that changes
/// costs a new target.
///
/// A front proxy's check (`mode` authz) is decided on the path as the client wrote it
/// only: the front proxy forwards that spelling, not keygate's normal form, and an
/// upstream may read `/admin/../public` or `/admin//x` otherwise than keygate would. Such
/// a check is refused; one whose normal form differs only in the case of its escapes'
/// hex digits (`%c3` for `%C3`, the same bytes for every reader) is decided on the
/// normal form.
fn check_request(
    request: &mut Parts,
    max_header_bytes: usize,
    mode: Mode,
) -> Result<bool, ProxyError> {
    if header_bytes(&request.headers) > max_header_bytes {
        return Err(ProxyError::HeadersTooLarge);
    }
    let normal = match normalise(request.uri.path()) {
        Ok(Cow::Borrowed(_)) => return Ok(false),
        Ok(Cow::Owned(normal)) => normal,
        Err(_) => return Err(ProxyError::BadPath),
    };
    if mode != Mode::Proxy && !only_escape_case_differs(request.uri.path(), &normal) {
        return Err(ProxyError::BadPath);
    }
    request.uri = with_path(&request.uri, normal)?;
    Ok(true)
}

/// Whether the normal form `normal` of `path` differs from it in letter case alone:
/// `normalise` changes no other letter's case than the hex digits of escapes it keeps,
/// and every other change it makes (a decoded escape, a merged `/`, a removed segment)
/// changes the length.
fn only_escape_case_differs(path: &str, normal: &str) -> bool {
    path.len() == normal.len() && path.eq_ignore_ascii_case(normal)
}

/// `uri` with its path replaced by `path`, its query and any scheme and authority kept.
fn with_path(uri: &Uri, mut path: String) -> Result<Uri, ProxyError> {
    if let Some(query) = uri.query() {
        path.push('?');
        path.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query =
        Some(PathAndQuery::from_maybe_shared(Bytes::from(path)).map_err(|_| ProxyError::BadPath)?);
    Uri::from_parts(parts).map_err(|_| ProxyError::BadPath)
}

/// Size of the header section as sent: `name: value\r\n` per field.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

/// Phase 2: which service and route.
fn route<'s>(
    snapshot: &'s Snapshot,
    request: &Parts,
    record: &mut AccessRecord,
) -> Result<Matched<'s>, ProxyError> {
    let host = if snapshot.router.names_hosts() {
        request_host(request)
    } else {
        ""
    };
    match snapshot
        .router
        .find(host, request.uri.path(), &request.method)
    {
        RouteMatch::Found { service, route, .. } => {
            record.matched = Some((service, route));
            Ok(Matched::at(snapshot, (service, route)))
        }
        RouteMatch::MethodNotAllowed { allow } => Err(ProxyError::MethodNotAllowed { allow }),
        RouteMatch::NotFound => Err(ProxyError::NoRoute),
    }
}

/// The host the request is for: its `Host`, which holds an absolute target's authority
/// (`downstream::request_head`); empty for an HTTP/1.0 request without one.
pub(super) fn request_host(request: &Parts) -> &str {
    request
        .headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("")
}

/// Phase 3: the caller's key, checked. `auth: none` skips this; `optional` lets a request
/// without any key through as anonymous, but never one with an invalid key. The `body`
/// sources, last of the route's, are read in `body` when no other source holds a key.
fn authenticate(
    state: &SharedState,
    route: &Route,
    request: &Parts,
    body: Option<&KeyBody>,
    record: &mut AccessRecord,
) -> Result<Caller, ProxyError> {
    if route.auth == AuthMode::None {
        return Ok(None);
    }
    let mut extracted =
        key_source::extract(&route.key_sources, &request.headers, request.uri.query());
    if let (Extracted::Absent, Some(body)) = (&extracted, body) {
        extracted = body_key::extract(&route.key_sources, body);
    }
    let presented = match extracted {
        Extracted::Found { key, .. } => key,
        Extracted::Conflict => return Err(ProxyError::DuplicateKey),
        Extracted::Absent if route.auth == AuthMode::Optional => return Ok(None),
        Extracted::Absent => return Err(ProxyError::MissingKey),
    };
    // A key shaped like a generated one with a wrong checksum is a typo or a guess: it is
    // refused without a lookup.
    if !plausible(&presented) {
        return Err(ProxyError::InvalidKey(InvalidKey::NotFound));
    }
    let check = state.directory.check(&presented, record.time);
    let (entry, refusal) = match check {
        KeyCheck::Valid(entry) => (entry, None),
        KeyCheck::NotFound => return Err(ProxyError::InvalidKey(InvalidKey::NotFound)),
        KeyCheck::Disabled(entry) => (entry, Some(InvalidKey::Disabled)),
        KeyCheck::Revoked(entry) => (entry, Some(InvalidKey::Revoked)),
        KeyCheck::Expired(entry) => (entry, Some(InvalidKey::Expired)),
    };
    record.key = Some(entry.clone());
    if let Some(reason) = refusal {
        return Err(ProxyError::InvalidKey(reason));
    }
    Ok(Some(Identity::Key(entry)))
}

/// Phase 4: on a service with plans, the plan a key goes through. Plans are tried in
/// their order; a plan is taken when its selection rule is true and the consumer has an
/// accepted, unended subscription to it whose key this is (its own, or the shared key of
/// a shared-key subscription). The anonymous consumer, which has no key, goes through
/// its subscriptions like any consumer, whatever their key mode. Services without plans,
/// and anonymous calls without identity on routes where the key is optional, select
/// nothing and pass.
fn select_plan<'s>(
    service: &'s Service,
    caller: &Caller,
    request: &Parts,
    client: &ClientAddress,
    now: SystemTime,
) -> Result<Option<Selected<'s>>, ProxyError> {
    let Some(caller) = caller else {
        return Ok(None);
    };
    if service.plans.is_empty() {
        return Ok(None);
    }
    let mut refusal = PlanRefusal::NoSubscription;
    let (key, consumer) = (caller.key(), caller.consumer());
    for plan in &service.plans {
        let Some(subscription) = best_subscription(consumer, key, service, plan) else {
            continue;
        };
        if let Some(rule) = &plan.selection_rule {
            let facts = RequestFacts {
                request,
                key,
                consumer: Some(consumer),
                plan: Some(&plan.name),
                subscription: Some(&subscription.id),
                is_backoffice: false,
                tls: client.tls,
                usage: None,
            };
            if !rule.eval(&facts) {
                refusal = stronger(refusal, PlanRefusal::RuleFalse);
                continue;
            }
        }
        let ended = subscription.ends_at.is_some_and(|at| at <= now);
        let status_refusal = match subscription.status {
            SubscriptionStatus::Accepted if ended => PlanRefusal::Closed,
            SubscriptionStatus::Accepted => {
                return Ok(Some(Selected {
                    plan,
                    subscription: subscription.clone(),
                }))
            }
            SubscriptionStatus::Pending => PlanRefusal::Pending,
            SubscriptionStatus::Paused => PlanRefusal::Paused,
            SubscriptionStatus::Rejected => PlanRefusal::Rejected,
            SubscriptionStatus::Closed => PlanRefusal::Closed,
        };
        refusal = stronger(refusal, status_refusal);
    }
    Err(ProxyError::NotSubscribed(refusal))
}

/// The consumer's subscription to `plan` that `key` belongs to (any of them for the
/// anonymous consumer, which has no key); an accepted one first, then by how telling its
/// status is.
fn best_subscription<'c>(
    consumer: &'c ConsumerEntry,
    key: Option<&KeyEntry>,
    service: &Service,
    plan: &Plan,
) -> Option<&'c Arc<SubscriptionEntry>> {
    consumer
        .subscriptions()
        .iter()
        .filter(|s| s.service == service.name && s.plan == plan.name)
        .filter(|s| key.is_none_or(|key| s.is_key_of(key)))
        .max_by_key(|s| match s.status {
            SubscriptionStatus::Accepted => 5,
            SubscriptionStatus::Paused => 4,
            SubscriptionStatus::Pending => 3,
            SubscriptionStatus::Rejected => 2,
            SubscriptionStatus::Closed => 1,
        })
}

/// The more telling of two refusals.
fn stronger(a: PlanRefusal, b: PlanRefusal) -> PlanRefusal {
    if b.weight() > a.weight() {
        b
    } else {
        a
    }
}

/// Phase 5: the route's `allow` expression, over the caller, the selected plan and the
/// request as sent.
fn authorize(
    state: &SharedState,
    route: &Route,
    caller: &Caller,
    selected: Option<&Selected<'_>>,
    request: &Parts,
    client: &ClientAddress,
    record: &AccessRecord,
) -> Result<(), ProxyError> {
    let Some(allow) = &route.allow else {
        return Ok(());
    };
    let key = caller.as_ref().and_then(Identity::key);
    let consumer = caller.as_ref().map(Identity::consumer);
    let usage = super::quota_check::UsageFacts {
        counters: &state.counters,
        route: &route.limits,
        plan: selected.map_or(&[][..], |selected| &selected.plan.limits[..]),
        caller: limit_check::Caller {
            key,
            consumer,
            subscription: selected.map(|selected| &*selected.subscription.id),
            client: record
                .client
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            headers: &request.headers,
        },
    };
    let facts = RequestFacts {
        request,
        key,
        consumer,
        plan: selected.map(|selected| &*selected.plan.name),
        subscription: selected.map(|selected| &*selected.subscription.id),
        is_backoffice: false,
        tls: client.tls,
        usage: Some(usage),
    };
    if allow.eval(&facts) {
        return Ok(());
    }
    Err(ProxyError::Forbidden {
        anonymous: caller.is_none() && route.auth == AuthMode::Optional,
    })
}

/// Where an admitted request goes: the snapshot it was admitted on, and its service's
/// upstream there.
#[derive(Clone, Copy)]
struct Destination<'s> {
    snapshot: &'s Snapshot,
    upstream: &'s ServiceUpstream,
}

/// Phase 6: rewrite the request for the upstream, send it, and stream the answer back.
/// Every key source of the route is emptied unless the route or the selected plan
/// forwards the key.
async fn forward<B>(
    destination: Destination<'_>,
    matched: &Matched<'_>,
    admitted: &Admitted,
    parts: &mut Parts,
    body: B,
    client: &ClientAddress,
    record: &mut AccessRecord,
) -> Result<Response<ProxyBody>, ProxyError>
where
    B: ForwardBody,
{
    let Destination { snapshot, upstream } = destination;
    let upstream = upstream.current().await?;
    let sources = admitted.removed_key_sources(matched.route);
    let caller = &admitted.caller;
    // Read before any field is removed: `hash_on: header` may name a key source.
    let affinity = upstream.affinity(&HashInputs {
        consumer: caller.as_ref().map(|caller| &*caller.consumer().name),
        key_id: caller.as_ref().and_then(|caller| Some(&*caller.key()?.id)),
        client: client.ip,
        headers: &parts.headers,
    });
    let target = upstream.pick(affinity).ok_or(ProxyError::UpstreamConnect)?;
    let mut query = parts.uri.query().map(Cow::Borrowed);
    if let Some(rewritten) = key_source::strip(sources, &mut parts.headers, parts.uri.query()) {
        query = Some(Cow::Owned(rewritten));
    }
    drop_hop_by_hop(&mut parts.headers);
    let path = RequestPath {
        base: &target.base_path,
        path: forward_path::of(matched.service, parts.uri.path()),
        query: query.as_deref(),
    };
    let traceparent = match snapshot.config.proxy.generate_traceparent {
        true => TraceParent::needed(&parts.headers),
        false => None,
    };
    let mut fields = ForwardedFields::new(
        &parts.headers,
        (
            &snapshot.identity_headers,
            &snapshot.config.proxy.strip_request_headers,
        ),
        caller.as_ref(),
        client,
        &target.host_header,
        matched.service.preserve_host,
    );
    fields.carry_request_id(&snapshot.config.proxy.request_id_header, &record.request_id);
    fields.carry_traceparent(traceparent.as_ref());

    let sent = Instant::now();
    let mut tries = Tries::new(sent).at(affinity);
    let result = upstream
        .send(target, parts, path, &fields, body, &mut tries)
        .await;
    record.upstream_us = micros(sent);
    record.tries = tries.count();
    // The response's hop-by-hop fields were left out as its head was read.
    let response = result?;
    record.upstream_status = Some(response.status().as_u16());
    Ok(response.map(Either::Left))
}

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
