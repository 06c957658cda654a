//! The rate-limit phase: after the key, the plan and the `allow` expression, every limit
//! of the route, its service and the selected plan takes the route's `cost` from the
//! caller's count; the first that has too little left refuses the call (`429`) and the
//! limits taken before it give their share back, so a refused call counts nowhere.
//!
//! Quotas take from the durable [`Counters`] instead of the rate limiter, and a key with
//! credits has them taken last ([`super::quota_check`]); both give back the same way.
//!
//! A route without limits costs one branch here. With limits, nothing is allocated: the
//! subjects are hashes of values the request already holds (key id, consumer name,
//! subscription id, client address, a header's bytes).

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;

use super::quota_check;
use crate::config::Route;
use crate::limits::{Callers, Counters, HeaderMode, Limit, LimitBy, Limiter, Outcome, SubjectKind};
use crate::state::{ConsumerEntry, KeyEntry};

/// What the rate-limit headers tell: the limit closest to refusing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitReport {
    /// The limit's name.
    pub name: Arc<str>,
    /// Its count per window.
    pub count: u64,
    /// Its window in seconds.
    pub window: u64,
    /// Calls of cost 1 left now.
    pub remaining: u64,
    /// Seconds until the whole count is back.
    pub reset: u64,
}

/// What refused a call; each has its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A rate limit: "API rate limit exceeded".
    Rate,
    /// A quota: "API quota exceeded".
    Quota,
    /// The key's credits: "API credits exhausted".
    Credits,
}

/// A call a limit refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRefusal {
    /// A rate limit, a quota or the key's credits.
    pub kind: Refused,
    /// The limit that refused, and where it stands.
    pub report: LimitReport,
    /// Seconds until the call would be admitted (`Retry-After`), at least 1.
    pub retry_after: u64,
    /// Which headers the answer carries.
    pub headers: HeaderMode,
}

/// Who is calling, as the limits count it.
pub struct Caller<'r> {
    /// The key, when the call has a valid one.
    pub key: Option<&'r KeyEntry>,
    /// The consumer: the key's, or the service's anonymous consumer for a call without a
    /// key; `None` for an anonymous call without identity.
    pub consumer: Option<&'r ConsumerEntry>,
    /// The subscription the call was let through by.
    pub subscription: Option<&'r str>,
    /// The client's address.
    pub client: IpAddr,
    /// The request's fields.
    pub headers: &'r HeaderMap,
}

/// Takes the route's cost from every limit of the route (its own and its service's), of
/// the selected plan (`plan`), of the key's consumer and of the key, then from the key's
/// credits. `Ok(None)` when no limit applies. With `rates` false the rate limits are left
/// out (exact mode takes them in Redis afterwards: [`super::exact_check`]), and only
/// quotas and credits are taken.
pub fn check(
    limiter: &Limiter,
    counters: &Counters,
    route: &Route,
    plan: &[Limit],
    caller: &Caller<'_>,
    rates: bool,
) -> Result<Option<LimitReport>, LimitRefusal> {
    let extras = caller.key.and_then(|key| key.extras.as_deref());
    let own = extras.map_or(&[][..], |extras| &extras.limits[..]);
    let consumer = consumer_limits(caller.consumer);
    let credits = extras.and_then(|extras| extras.credits.as_ref());
    if (route.limits.is_empty()
        && plan.is_empty()
        && consumer.is_empty()
        && own.is_empty()
        && credits.is_none())
        || route.cost == 0
    {
        return Ok(None);
    }
    let now = limiter.now();
    let cost = route.cost;
    let mut closest: Option<LimitReport> = None;
    let limits = || {
        route
            .limits
            .iter()
            .chain(plan)
            .chain(consumer)
            .chain(own)
            .filter(|l| applies(l, caller) && (rates || l.quota.is_some()))
    };
    let now_ms = quota_check::now_ms();
    let give_back = |taken: usize| {
        for earlier in limits().take(taken) {
            match earlier.quota {
                Some(_) => quota_check::give_back(counters, earlier, caller, cost, now_ms),
                None => limiter.give_back(subject(limiter, earlier, caller), earlier.rate, cost),
            }
        }
    };
    let mut taken = 0;
    for limit in limits() {
        let report = if limit.quota.is_some() {
            quota_check::take(counters, limit, caller, cost, now_ms)
        } else {
            let outcome = limiter.take(subject(limiter, limit, caller), limit.rate, cost, now);
            if outcome.admitted {
                Ok(report(limit, &outcome))
            } else {
                Err(LimitRefusal {
                    kind: Refused::Rate,
                    report: report(limit, &outcome),
                    retry_after: seconds(outcome.retry_after_ns).max(1),
                    headers: route.rate_limit_headers,
                })
            }
        };
        match report {
            Err(mut refusal) => {
                give_back(taken);
                refusal.headers = route.rate_limit_headers;
                return Err(refusal);
            }
            Ok(report) => {
                if closest
                    .as_ref()
                    .is_none_or(|best| report.remaining < best.remaining)
                {
                    closest = Some(report);
                }
            }
        }
        taken += 1;
    }
    if let (Some(credits), Some(key)) = (credits, caller.key) {
        match quota_check::take_credits(counters, credits, key, cost, now_ms) {
            Ok(report) => {
                if closest
                    .as_ref()
                    .is_none_or(|best| report.remaining < best.remaining)
                {
                    closest = Some(report);
                }
            }
            Err(mut refusal) => {
                give_back(taken);
                refusal.headers = route.rate_limit_headers;
                return Err(refusal);
            }
        }
    }
    Ok(closest)
}

/// Gives back what [`check`] took with `rates` false (every quota that applies, and the
/// key's credits): exact mode's Redis refused the call afterwards.
pub fn give_back_durable(counters: &Counters, route: &Route, plan: &[Limit], caller: &Caller<'_>) {
    if route.cost == 0 {
        return;
    }
    let now_ms = quota_check::now_ms();
    let extras = caller.key.and_then(|key| key.extras.as_deref());
    let own = extras.map_or(&[][..], |extras| &extras.limits[..]);
    let quotas = route
        .limits
        .iter()
        .chain(plan)
        .chain(consumer_limits(caller.consumer))
        .chain(own)
        .filter(|l| l.quota.is_some() && applies(l, caller));
    for quota in quotas {
        quota_check::give_back(counters, quota, caller, route.cost, now_ms);
    }
    if let (Some(credits), Some(key)) = (extras.and_then(|e| e.credits.as_ref()), caller.key) {
        quota_check::give_back_credits(counters, credits, key, route.cost, now_ms);
    }
}

/// The limits of the caller's consumer (a key's, or the anonymous consumer), shared by
/// all its keys; none for an anonymous call without identity.
pub fn consumer_limits(consumer: Option<&ConsumerEntry>) -> &[Limit] {
    consumer
        .and_then(|consumer| consumer.profile.limits.as_deref())
        .map_or(&[][..], |limits| &limits.limits[..])
}

/// What `limit` counts for this caller now, without taking anything (`/v1/verify`).
pub fn peek(
    limiter: &Limiter,
    counters: &Counters,
    limit: &Limit,
    caller: &Caller<'_>,
) -> LimitReport {
    if limit.quota.is_some() {
        return quota_check::peek(counters, limit, caller, quota_check::now_ms());
    }
    let outcome = limiter.peek(subject(limiter, limit, caller), limit.rate, limiter.now());
    report(limit, &outcome)
}

/// Whether `limit` applies to this caller.
pub fn applies(limit: &Limit, caller: &Caller<'_>) -> bool {
    match limit.callers {
        Callers::All => true,
        Callers::Anonymous => caller.key.is_none(),
        Callers::Keyed => caller.key.is_some(),
    }
}

/// The subject `limit` counts this caller under; a value the caller lacks falls back
/// (subscription → key → client address; consumer, header → client address), as Kong's
/// `limit_by` falls back to the IP.
pub(super) fn subject(limiter: &Limiter, limit: &Limit, caller: &Caller<'_>) -> u64 {
    subject_with(limit, caller, |kind, value| {
        limiter.subject(limit.id, kind, value)
    })
}

/// The subject `limit` counts this caller under, as `hash` makes it of the value's kind
/// and bytes (the rate limiter's per-process hash, or the counters' stable one).
pub(super) fn subject_with(
    limit: &Limit,
    caller: &Caller<'_>,
    hash: impl Fn(SubjectKind, &[u8]) -> u64,
) -> u64 {
    let by_key = |key: &KeyEntry| hash(SubjectKind::Key, key.id.as_bytes());
    let found = match &limit.by {
        LimitBy::Key => caller.key.map(by_key),
        LimitBy::Consumer => caller
            .consumer
            .map(|consumer| hash(SubjectKind::Consumer, consumer.name.as_bytes())),
        LimitBy::Subscription => match caller.subscription {
            Some(id) => Some(hash(SubjectKind::Subscription, id.as_bytes())),
            None => caller.key.map(by_key),
        },
        LimitBy::ClientAddress => None,
        LimitBy::Header(name) => caller
            .headers
            .get(name)
            .map(|value| hash(SubjectKind::Header, value.as_bytes())),
    };
    found.unwrap_or_else(|| match caller.client {
        IpAddr::V4(v4) => hash(SubjectKind::ClientAddress, &v4.octets()),
        IpAddr::V6(v6) => hash(SubjectKind::ClientAddress, &v6.octets()),
    })
}

pub(super) fn report(limit: &Limit, outcome: &Outcome) -> LimitReport {
    LimitReport {
        name: limit.name.clone(),
        count: limit.count,
        window: limit.per.seconds(),
        remaining: outcome.remaining,
        reset: seconds(outcome.reset_ns),
    }
}

/// Nanoseconds as whole seconds, rounded up (a client that waits that long is admitted).
pub(super) fn seconds(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}
