//! The durable part of the limit phase: quotas (limits with a calendar period) and a
//! key's credits take the call's cost from this node's [`Counters`], which a background
//! task keeps in the store ([`crate::limits::flush`]). Nothing here touches the store:
//! a take is a lock, a map lookup and an add.
//!
//! A quota's window is its UTC day or UTC calendar month; its counter's subject is a
//! stable hash of the quota's id and the value counted by, so every node (and the next
//! start) counts the same subject in the same stored row.

use std::time::SystemTime;

use super::limit_check::{subject_with, Caller, LimitRefusal, LimitReport, Refused};
use crate::limits::credits::CreditWindow;
use crate::limits::{counters, Counters, Credits, Limit, Period};
use crate::state::KeyEntry;

/// The wall clock in milliseconds since the epoch (calendar windows follow UTC).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The name credits show in headers, the access log and metrics.
pub const CREDITS_NAME: &str = "credits";

fn quota_subject(limit: &Limit, caller: &Caller<'_>) -> u64 {
    subject_with(limit, caller, |kind, value| {
        counters::subject(limit.id, kind as u8, value)
    })
}

fn period(limit: &Limit) -> Period {
    limit.quota.unwrap_or(Period::Day)
}

/// Milliseconds as whole seconds, rounded up.
fn seconds_ms(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

fn quota_report(limit: &Limit, remaining: u64, start: i64, end: i64, now: i64) -> LimitReport {
    LimitReport {
        name: limit.name.clone(),
        count: limit.count,
        window: seconds_ms(end - start),
        remaining,
        reset: seconds_ms(end - now),
    }
}

/// Takes `cost` from the quota `limit` for this caller.
pub fn take(
    counters: &Counters,
    limit: &Limit,
    caller: &Caller<'_>,
    cost: u64,
    now: i64,
) -> Result<LimitReport, LimitRefusal> {
    let (start, end) = period(limit).bounds(now);
    let subject = quota_subject(limit, caller);
    let taken = counters.take(subject, start, end, limit.count, cost);
    let report = quota_report(limit, taken.remaining, start, end, now);
    if taken.admitted {
        return Ok(report);
    }
    Err(LimitRefusal {
        kind: Refused::Quota,
        retry_after: report.reset.max(1),
        report,
        headers: crate::limits::HeaderMode::Ietf,
    })
}

/// Gives back a take of `cost` from the quota `limit` (a later limit refused the call).
pub fn give_back(counters: &Counters, limit: &Limit, caller: &Caller<'_>, cost: u64, now: i64) {
    let (start, _) = period(limit).bounds(now);
    counters.give_back(quota_subject(limit, caller), start, cost);
}

/// What is left of the quota `limit` for this caller, without taking anything.
pub fn peek(counters: &Counters, limit: &Limit, caller: &Caller<'_>, now: i64) -> LimitReport {
    let (start, end) = period(limit).bounds(now);
    let remaining = counters.remaining(quota_subject(limit, caller), start, limit.count);
    quota_report(limit, remaining, start, end, now)
}

fn credits_report(window: &CreditWindow, remaining: u64, now: i64) -> LimitReport {
    let never = window.end == i64::MAX;
    LimitReport {
        name: CREDITS_NAME.into(),
        count: window.allowance,
        window: if never {
            0
        } else {
            seconds_ms(window.end - window.window)
        },
        remaining,
        reset: if never {
            0
        } else {
            seconds_ms(window.end - now)
        },
    }
}

/// Takes `cost` from `key`'s credits.
pub fn take_credits(
    counters: &Counters,
    credits: &Credits,
    key: &KeyEntry,
    cost: u64,
    now: i64,
) -> Result<LimitReport, LimitRefusal> {
    let window = credits.window(&key.id, now);
    let taken = counters.take(
        window.subject,
        window.window,
        window.end,
        window.allowance,
        cost,
    );
    let report = credits_report(&window, taken.remaining, now);
    if taken.admitted {
        return Ok(report);
    }
    Err(LimitRefusal {
        kind: Refused::Credits,
        // Without a refill there is no time to wait for: a day, as a hint to stop.
        retry_after: if report.reset == 0 {
            86_400
        } else {
            report.reset
        },
        report,
        headers: crate::limits::HeaderMode::Ietf,
    })
}

/// Gives back a take of `cost` from `key`'s credits (exact mode's Redis refused the call
/// after the credits were taken).
pub fn give_back_credits(
    counters: &Counters,
    credits: &Credits,
    key: &KeyEntry,
    cost: u64,
    now: i64,
) {
    let window = credits.window(&key.id, now);
    counters.give_back(window.subject, window.window, cost);
}

/// What is left of `key`'s credits now.
pub fn credits_left(
    counters: &Counters,
    credits: &Credits,
    key: &KeyEntry,
    now: i64,
) -> LimitReport {
    let window = credits.window(&key.id, now);
    let remaining = counters.remaining(window.subject, window.window, window.allowance);
    credits_report(&window, remaining, now)
}

/// What an `allow` expression reads of the caller's usage (`credits`, `quota.remaining`):
/// computed only when the expression asks, from this node's counters, before the call
/// is counted (the limit phase runs after `allow`).
pub struct UsageFacts<'r> {
    /// This node's counters.
    pub counters: &'r Counters,
    /// The route's limits (its own and its service's).
    pub route: &'r [Limit],
    /// The selected plan's limits.
    pub plan: &'r [Limit],
    /// Who is calling.
    pub caller: Caller<'r>,
}

impl UsageFacts<'_> {
    /// The key's credits left, if it has credits.
    pub fn credits(&self) -> Option<u64> {
        let key = self.caller.key?;
        let credits = key.extras.as_deref()?.credits.as_ref()?;
        Some(credits_left(self.counters, credits, key, now_ms()).remaining)
    }

    /// The least left of the quotas that apply to the call (route, service, plan,
    /// consumer, key).
    pub fn quota_remaining(&self) -> Option<u64> {
        let own = self
            .caller
            .key
            .and_then(|key| key.extras.as_deref())
            .map_or(&[][..], |extras| &extras.limits[..]);
        let now = now_ms();
        self.route
            .iter()
            .chain(self.plan)
            .chain(super::limit_check::consumer_limits(self.caller.consumer))
            .chain(own)
            .filter(|limit| limit.quota.is_some())
            .filter(|limit| super::limit_check::applies(limit, &self.caller))
            .map(|limit| peek(self.counters, limit, &self.caller, now).remaining)
            .min()
    }
}
