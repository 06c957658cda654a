//! The rate-limit phase in exact mode (`cluster.rate_limits.mode: exact`): the only
//! part of the request path that waits for something before forwarding.
//!
//! [`collect`] runs in the synchronous phase ([`super::handler`]): when the limiter is in
//! exact mode and rate limits apply, it notes them (subject, rate, name) without taking
//! anything; quotas and credits are taken there as always. [`settle`] then takes from
//! every rate limit in one atomic Redis call ([`ExactRedis::take`]): all or none. A call
//! Redis cannot answer is counted on this node in the fallback mode the limiter is now
//! in (`on_redis_down`), with the usual give-back. Routes without rate limits, and every
//! route while exact mode is off, never come here.

use std::sync::Arc;

use super::limit_check::{self, Caller, LimitRefusal, LimitReport, Refused};
use crate::config::Route;
use crate::limits::exact::{ExactAnswer, ExactRedis, ExactTake};
use crate::limits::{HeaderMode, Limit, Limiter, Outcome, SyncMode};

/// The rate limits of one call, waiting for Redis.
#[derive(Debug)]
pub struct PendingLimits {
    /// What to take, in the order the limits are checked.
    takes: Vec<ExactTake>,
    /// Each limit's name, count and window, for the headers.
    shown: Vec<Shown>,
    /// The route's cost.
    cost: u64,
    /// Which headers the answer carries.
    headers: HeaderMode,
    /// The closest of the quotas and credits already taken.
    durable: Option<LimitReport>,
}

#[derive(Debug)]
struct Shown {
    name: Arc<str>,
    count: u64,
    window: u64,
}

/// In exact mode, the rate limits of the route, its service, the plan, the consumer and
/// the key that apply to this caller; `None` when the mode is off or none applies (then
/// [`limit_check::check`] takes them locally as always).
pub fn collect(
    limiter: &Limiter,
    route: &Route,
    plan: &[Limit],
    caller: &Caller<'_>,
) -> Option<PendingLimits> {
    if limiter.mode() != SyncMode::Exact || limiter.exact().is_none() || route.cost == 0 {
        return None;
    }
    let own = caller
        .key
        .and_then(|key| key.extras.as_deref())
        .map_or(&[][..], |extras| &extras.limits[..]);
    let rates = route
        .limits
        .iter()
        .chain(plan)
        .chain(limit_check::consumer_limits(caller.consumer))
        .chain(own)
        .filter(|l| l.quota.is_none() && limit_check::applies(l, caller));
    let mut pending = PendingLimits {
        takes: Vec::new(),
        shown: Vec::new(),
        cost: route.cost,
        headers: route.rate_limit_headers,
        durable: None,
    };
    for limit in rates {
        pending.takes.push(ExactTake {
            subject: limit_check::subject(limiter, limit, caller),
            rate: limit.rate,
        });
        pending.shown.push(Shown {
            name: limit.name.clone(),
            count: limit.count,
            window: limit.per.seconds(),
        });
    }
    (!pending.takes.is_empty()).then_some(pending)
}

impl PendingLimits {
    /// Notes the closest of the quotas and credits the synchronous phase took.
    pub fn with_durable(mut self, report: Option<LimitReport>) -> PendingLimits {
        self.durable = report;
        self
    }
}

/// Takes the pending rate limits in Redis (or, when Redis fails, on this node in the
/// fallback mode), and answers as [`limit_check::check`] does. On a refusal nothing of
/// the rate limits is kept; the caller gives back the quotas and credits.
pub async fn settle(
    limiter: &Limiter,
    exact: &ExactRedis,
    pending: &PendingLimits,
) -> Result<Option<LimitReport>, LimitRefusal> {
    let outcomes = match exact.take(limiter, &pending.takes, pending.cost).await {
        Ok(ExactAnswer::Admitted(outcomes)) => outcomes,
        Ok(ExactAnswer::Refused(index, outcome)) => return Err(refusal(pending, index, &outcome)),
        Err(_) => take_locally(limiter, pending)?,
    };
    let mut closest = pending.durable.clone();
    for (index, outcome) in outcomes.iter().enumerate() {
        let report = report(pending, index, outcome);
        if closest
            .as_ref()
            .is_none_or(|best| report.remaining < best.remaining)
        {
            closest = Some(report);
        }
    }
    Ok(closest)
}

/// Redis failed: each limit is taken on this node, in the mode the limiter fell back to,
/// the ones taken given back when a later one refuses.
fn take_locally(limiter: &Limiter, pending: &PendingLimits) -> Result<Vec<Outcome>, LimitRefusal> {
    let now = limiter.now();
    let mut outcomes = Vec::with_capacity(pending.takes.len());
    for (index, take) in pending.takes.iter().enumerate() {
        let outcome = limiter.take(take.subject, take.rate, pending.cost, now);
        if !outcome.admitted {
            for earlier in &pending.takes[..index] {
                limiter.give_back(earlier.subject, earlier.rate, pending.cost);
            }
            return Err(refusal(pending, index, &outcome));
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn report(pending: &PendingLimits, index: usize, outcome: &Outcome) -> LimitReport {
    let shown = &pending.shown[index];
    LimitReport {
        name: shown.name.clone(),
        count: shown.count,
        window: shown.window,
        remaining: outcome.remaining,
        reset: limit_check::seconds(outcome.reset_ns),
    }
}

fn refusal(pending: &PendingLimits, index: usize, outcome: &Outcome) -> LimitRefusal {
    LimitRefusal {
        kind: Refused::Rate,
        report: report(pending, index, outcome),
        retry_after: limit_check::seconds(outcome.retry_after_ns).max(1),
        headers: pending.headers,
    }
}
