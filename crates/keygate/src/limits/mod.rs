//! Rate limits: what a limit is ([`Limit`], as the configuration defines it), and the
//! counters of this node ([`Limiter`], GCRA in sharded maps). The proxy's
//! `limit_check` decides per request which limits apply and what they count by;
//! docs/limits.md describes the behaviour.
//!
//! [`redis_sync`] shares the counters across nodes through Redis, off the request path.
//!
//! Quotas (a [`Limit`] with a calendar `quota` period) and credits count in
//! [`Counters`], kept durably in the store by [`flush`].

pub mod calendar;
pub mod consumer_doc;
pub mod counters;
pub mod credits;
pub mod exact;
pub mod flush;
mod gcra;
pub mod key_doc;
pub mod redis_sync;
mod table;

use std::sync::Arc;

use http::header::HeaderName;

pub use calendar::Period;
pub use counters::Counters;
pub use credits::{Credits, Refill};
pub use gcra::{Outcome, Rate};
pub use table::{Limiter, SubjectKind, SyncMode};

/// The window of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// One second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3600 seconds.
    Hour,
    /// 86 400 seconds.
    Day,
    /// 30 days (a rate limit has no calendar: the month is 2 592 000 seconds).
    Month,
}

impl Window {
    /// The window's name as written in the file.
    pub fn named(name: &str) -> Option<Window> {
        Some(match name {
            "second" => Window::Second,
            "minute" => Window::Minute,
            "hour" => Window::Hour,
            "day" => Window::Day,
            "month" => Window::Month,
            _ => return None,
        })
    }

    /// Its length in seconds.
    pub fn seconds(self) -> u64 {
        match self {
            Window::Second => 1,
            Window::Minute => 60,
            Window::Hour => 3600,
            Window::Day => 86_400,
            Window::Month => 30 * 86_400,
        }
    }
}

/// What a limit counts by: each distinct value has its own count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitBy {
    /// The key (its id); a call without a key counts by client address.
    Key,
    /// The key's consumer; a call without a key counts by client address.
    Consumer,
    /// The subscription the call was let through by; without one, the key; without a
    /// key, the client address.
    Subscription,
    /// The client's IP address.
    ClientAddress,
    /// A request header's value; a call without the header counts by client address.
    Header(HeaderName),
}

/// Which callers a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// Every call (default).
    All,
    /// Calls without a key only (anonymous calls on `auth: optional` or `none` routes).
    Anonymous,
    /// Calls with a valid key only.
    Keyed,
}

/// One rate limit, attached to a service, a route or a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Its name in headers, the access log and metrics.
    pub name: Arc<str>,
    /// Requests (units of cost) per window.
    pub count: u64,
    /// The window.
    pub per: Window,
    /// What it counts by.
    pub by: LimitBy,
    /// Who it applies to.
    pub callers: Callers,
    /// Stable id of the limit (from its owner, place, count and window), so that a
    /// reload that leaves it as it was keeps its counters.
    pub id: u64,
    /// The rate GCRA checks against.
    pub rate: Rate,
    /// For a quota: its calendar period. A quota counts durably (in [`Counters`], kept in
    /// the store and shared by every node) instead of in the rate limiter.
    pub quota: Option<Period>,
}

impl Limit {
    /// A limit of `count` per `per`; `owner` names where it is defined
    /// (`service/route/…`, its place in the list, its count and window), for its id.
    pub fn new(
        name: Arc<str>,
        count: u64,
        per: Window,
        by: LimitBy,
        callers: Callers,
        owner: &str,
    ) -> Limit {
        use std::hash::BuildHasher as _;
        let id = foldhash::fast::FixedState::with_seed(0x6b67_6c69_6d69_7473).hash_one(owner);
        Limit {
            rate: Rate::new(count, per.seconds() * 1_000_000_000),
            name,
            count,
            per,
            by,
            callers,
            id,
            quota: None,
        }
    }

    /// A quota of `count` per calendar `period`; `owner` names where it is defined (its
    /// count left out, so a changed count keeps what was used).
    pub fn quota(
        name: Arc<str>,
        count: u64,
        period: Period,
        by: LimitBy,
        callers: Callers,
        owner: &str,
    ) -> Limit {
        let per = match period {
            Period::Day => Window::Day,
            Period::Month => Window::Month,
        };
        let mut limit = Limit::new(name, count, per, by, callers, owner);
        limit.quota = Some(period);
        limit
    }
}

/// Which rate-limit headers a route's answers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers; default).
    Ietf,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (as APISIX and Kong name them).
    Legacy,
    /// Both sets.
    Both,
    /// None (the `429` keeps its `Retry-After`).
    Off,
}

impl HeaderMode {
    /// The mode named as in the file.
    pub fn named(name: &str) -> Option<HeaderMode> {
        Some(match name {
            "ietf" => HeaderMode::Ietf,
            "legacy" => HeaderMode::Legacy,
            "both" => HeaderMode::Both,
            "off" => HeaderMode::Off,
            _ => return None,
        })
    }
}
