//! The rate-limit phase: after the key, the plan and the `allow` expression, every limit
//! of the route, its service and the selected plan takes the route's `cost` from the
//! caller's count; the first that has too little left refuses the call (`429`) and the
//! limits taken before it give their share back, so a refused call counts nowhere.
//!
//! A route without limits costs one branch here. With limits, nothing is allocated: the
//! subjects are hashes of values the request already holds (key id, consumer name,
//! subscription id, client address, a header's bytes).

use std::net::IpAddr;
use std::sync::Arc;

use http::HeaderMap;

use crate::config::Route;
use crate::limits::{Callers, HeaderMode, Limit, LimitBy, Limiter, Outcome, SubjectKind};
use crate::state::KeyEntry;

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

/// A call a limit refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitRefusal {
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
    /// The subscription the call was let through by.
    pub subscription: Option<&'r str>,
    /// The client's address.
    pub client: IpAddr,
    /// The request's fields.
    pub headers: &'r HeaderMap,
}

/// Takes the route's cost from every limit of the route (its own and its service's) and
/// of the selected plan (`plan`). `Ok(None)` when no limit applies.
pub fn check(
    limiter: &Limiter,
    route: &Route,
    plan: &[Limit],
    caller: &Caller<'_>,
) -> Result<Option<LimitReport>, LimitRefusal> {
    if (route.limits.is_empty() && plan.is_empty()) || route.cost == 0 {
        return Ok(None);
    }
    let now = limiter.now();
    let cost = route.cost;
    let mut closest: Option<(&Limit, Outcome)> = None;
    let limits = || {
        route
            .limits
            .iter()
            .chain(plan)
            .filter(|l| applies(l, caller))
    };
    for (taken, limit) in limits().enumerate() {
        let outcome = limiter.take(subject(limiter, limit, caller), limit.rate, cost, now);
        if !outcome.admitted {
            for earlier in limits().take(taken) {
                limiter.give_back(subject(limiter, earlier, caller), earlier.rate, cost);
            }
            return Err(LimitRefusal {
                report: report(limit, &outcome),
                retry_after: seconds(outcome.retry_after_ns).max(1),
                headers: route.rate_limit_headers,
            });
        }
        if closest.is_none_or(|(_, best)| outcome.remaining < best.remaining) {
            closest = Some((limit, outcome));
        }
    }
    Ok(closest.map(|(limit, outcome)| report(limit, &outcome)))
}

/// What `limit` counts for this caller now, without taking anything (`/v1/verify`).
pub fn peek(limiter: &Limiter, limit: &Limit, caller: &Caller<'_>) -> LimitReport {
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
fn subject(limiter: &Limiter, limit: &Limit, caller: &Caller<'_>) -> u64 {
    let by_key = |key: &KeyEntry| limiter.subject(limit.id, SubjectKind::Key, key.id.as_bytes());
    let found = match &limit.by {
        LimitBy::Key => caller.key.map(by_key),
        LimitBy::Consumer => caller.key.map(|key| {
            let name = key.consumer.name.as_bytes();
            limiter.subject(limit.id, SubjectKind::Consumer, name)
        }),
        LimitBy::Subscription => match caller.subscription {
            Some(id) => Some(limiter.subject(limit.id, SubjectKind::Subscription, id.as_bytes())),
            None => caller.key.map(by_key),
        },
        LimitBy::ClientAddress => None,
        LimitBy::Header(name) => caller
            .headers
            .get(name)
            .map(|value| limiter.subject(limit.id, SubjectKind::Header, value.as_bytes())),
    };
    found.unwrap_or_else(|| match caller.client {
        IpAddr::V4(v4) => limiter.subject(limit.id, SubjectKind::ClientAddress, &v4.octets()),
        IpAddr::V6(v6) => limiter.subject(limit.id, SubjectKind::ClientAddress, &v6.octets()),
    })
}

fn report(limit: &Limit, outcome: &Outcome) -> LimitReport {
    LimitReport {
        name: limit.name.clone(),
        count: limit.count,
        window: limit.per.seconds(),
        remaining: outcome.remaining,
        reset: seconds(outcome.reset_ns),
    }
}

/// Nanoseconds as whole seconds, rounded up (a client that waits that long is admitted).
fn seconds(nanos: u64) -> u64 {
    nanos.div_ceil(1_000_000_000)
}
