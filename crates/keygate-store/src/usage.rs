//! The hourly usage counts that the gateway keeps per key, consumer and service: what
//! the store holds ([`UsageRow`]) and how it is read back ([`UsageQuery`]). Counting is
//! bookkeeping: it bumps no revision and appends no change.

use crate::Millis;

/// One hour (UTC) in milliseconds.
pub const HOUR_MS: Millis = 3_600_000;
/// One day (UTC) in milliseconds.
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// How many calls of one hour ended with one outcome, for one key on one service.
///
/// Calls refused before a key was known (no key, an unknown key) have an empty `key_id`
/// and `consumer`; calls refused before a route matched have an empty `service`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// Start of the bucket, in milliseconds since the epoch (a whole hour when written; a
    /// whole hour or day when read, by [`UsageQuery::bucket_ms`]).
    pub start: Millis,
    /// The consumer of the key, or empty.
    pub consumer: String,
    /// The key's id, or empty (also when read with [`UsageQuery::per_key`] false).
    pub key_id: String,
    /// The service the call matched, or empty (also when read without a service filter
    /// and with [`UsageQuery::per_service`] false).
    pub service: String,
    /// `allowed` for a call let through to the upstream, else the reason of the refusal
    /// (`missing_key`, `key_not_found`, `forbidden`, `rate_limited`, ...).
    pub outcome: String,
    /// How many calls; when written, a delta added to what is stored.
    pub count: i64,
}

/// Which usage counts to read, and how to group them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only this consumer's counts.
    pub consumer: Option<String>,
    /// Only this key's counts.
    pub key_id: Option<String>,
    /// Only the counts of calls to this service.
    pub service: Option<String>,
    /// Hours starting at or after this time (ms).
    pub since: Millis,
    /// Hours starting before this time (ms).
    pub until: Millis,
    /// Width of a bucket: [`HOUR_MS`] or [`DAY_MS`] (buckets start at whole multiples of
    /// it since the epoch, so days are UTC days).
    pub bucket_ms: Millis,
    /// One row per key (`true`) or per consumer (`false`, `key_id` empty).
    pub per_key: bool,
    /// One row per service (`true`) or summed over services (`false`, `service` empty).
    pub per_service: bool,
}
