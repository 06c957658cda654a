//! Phase 5½, the limit phase: the rate limits, quotas and credits that apply to a call
//! ([`limit_check`]), or in exact mode its quotas and credits now and its rate limits
//! left for Redis ([`exact_check`], awaited by `Gateway::settle`).

use http::request::Parts;

use super::{Caller, Identity, Selected};
use crate::access_record::AccessRecord;
use crate::config::Route;
use crate::proxy::error::ProxyError;
use crate::proxy::exact_check::{self, PendingLimits};
use crate::proxy::limit_check::{self, LimitReport};
use crate::state::SharedState;

/// Rate limits waiting for Redis, and what giving back the call's quotas needs.
pub(in crate::proxy) struct Pending {
    pub(super) limits: PendingLimits,
    /// The selected plan's place in its service, if any.
    pub(super) plan: Option<usize>,
}

/// What the limit phase decided.
pub(super) enum Limited {
    /// Every limit was taken: the closest to refusing, if any applies.
    Done(Option<LimitReport>),
    /// Exact mode: the quotas and credits were taken; the rate limits wait for Redis.
    Waiting(PendingLimits),
}

/// Phase 5½: the rate limits of the route, its service, the selected plan, the consumer
/// and the key ([`limit_check`]). A route without limits passes at the cost of one
/// branch. In exact mode, rate limits are left for [`Gateway::settle`] ([`exact_check`]).
pub(super) fn limit(
    state: &SharedState,
    route: &Route,
    caller: &Caller,
    selected: Option<&Selected<'_>>,
    request: &Parts,
    record: &AccessRecord,
) -> Result<Limited, ProxyError> {
    let plan = selected.map_or(&[][..], |selected| &selected.plan.limits[..]);
    let unlimited_key = caller.as_ref().is_none_or(|caller| {
        caller.key().is_none_or(|key| key.extras.is_none())
            && caller.consumer().profile.limits.is_none()
    });
    if route.limits.is_empty() && plan.is_empty() && unlimited_key {
        return Ok(Limited::Done(None));
    }
    let who = limit_check::Caller {
        key: caller.as_ref().and_then(Identity::key),
        consumer: caller.as_ref().map(Identity::consumer),
        subscription: selected.map(|selected| &*selected.subscription.id),
        client: record
            .client
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        headers: &request.headers,
    };
    let (limiter, counters) = (&state.limiter, &state.counters);
    if let Some(pending) = exact_check::collect(limiter, route, plan, &who) {
        let durable = limit_check::check(limiter, counters, route, plan, &who, false)
            .map_err(ProxyError::RateLimited)?;
        return Ok(Limited::Waiting(pending.with_durable(durable)));
    }
    limit_check::check(limiter, counters, route, plan, &who, true)
        .map(Limited::Done)
        .map_err(ProxyError::RateLimited)
}
