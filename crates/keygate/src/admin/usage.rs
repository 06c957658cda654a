//! `GET /v1/usage`: the hourly usage counts the gateway keeps (`usage_hours`), summed
//! into buckets of an hour or a day, per key or per consumer, optionally of one consumer,
//! key or service. Each bucket says how many calls there were, how many were let through,
//! and how many were refused for each reason.
//!
//! The rows are read by [`read_usage`], the one function the role checks wrap (an
//! application owner's query is narrowed to its own consumers there).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use keygate_store::{UsageQuery, UsageRow, DAY_MS, HOUR_MS};
use serde::{Deserialize, Serialize};

use super::error::Params;
use super::{parse_rfc3339, rfc3339, AdminState, ApiError};
use crate::state::millis;

/// The longest span one read covers, in buckets: 31 days of hours, 10 years of days.
const MAX_BUCKETS: i64 = 31 * 24;
const MAX_DAYS: i64 = 3650;

/// `?consumer=&key_id=&service=&since=&until=&granularity=&group=`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    consumer: Option<String>,
    key_id: Option<String>,
    service: Option<String>,
    /// RFC 3339; default: `until` minus a day (hours) or 30 days (days).
    since: Option<String>,
    /// RFC 3339; default: now.
    until: Option<String>,
    /// `hour` (default) or `day`.
    granularity: Option<String>,
    /// `key` (default) or `consumer`.
    group: Option<String>,
}

/// One bucket of one key (or consumer).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct UsageBucket {
    /// Start of the bucket (RFC 3339, UTC).
    start: String,
    /// The consumer; empty for calls refused before a key was known.
    consumer: String,
    /// The key; absent when grouped per consumer, empty for calls without a known key.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
    /// The service, when the read was of one service.
    #[serde(skip_serializing_if = "Option::is_none")]
    service: Option<String>,
    /// Every call counted.
    requests: i64,
    /// Calls let through to the upstream.
    allowed: i64,
    /// Calls the gateway answered itself, by reason.
    refused: BTreeMap<String, i64>,
}

/// The answer of `GET /v1/usage`.
#[derive(Debug, Serialize)]
pub struct UsageView {
    granularity: &'static str,
    since: String,
    until: String,
    data: Vec<UsageBucket>,
}

/// The store query of `params`, checked, at `now` (ms).
fn store_query(params: UsageParams, now: i64) -> Result<UsageQuery, ApiError> {
    let (bucket_ms, default_span) = match params.granularity.as_deref() {
        None | Some("hour") => (HOUR_MS, DAY_MS),
        Some("day") => (DAY_MS, 30 * DAY_MS),
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "granularity is `hour` or `day`, found `{other}`"
            )))
        }
    };
    let per_key = match params.group.as_deref() {
        None | Some("key") => true,
        Some("consumer") => false,
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "group is `key` or `consumer`, found `{other}`"
            )))
        }
    };
    let until = match &params.until {
        Some(text) => parse_rfc3339(text, "until")?,
        None => now,
    };
    let since = match &params.since {
        Some(text) => parse_rfc3339(text, "since")?,
        None => until - default_span,
    };
    // Whole buckets: from the one `since` falls in to the one `until` falls in.
    let since = since - since.rem_euclid(bucket_ms);
    let until = match until.rem_euclid(bucket_ms) {
        0 => until,
        part => until - part + bucket_ms,
    };
    if until <= since {
        return Err(ApiError::Invalid("since must be before until".into()));
    }
    let most = if bucket_ms == HOUR_MS {
        MAX_BUCKETS
    } else {
        MAX_DAYS
    };
    if (until - since) / bucket_ms > most {
        return Err(ApiError::Invalid(format!(
            "at most {most} buckets of a {} in one read",
            if bucket_ms == HOUR_MS { "hour" } else { "day" }
        )));
    }
    let nonempty = |value: Option<String>| value.filter(|v| !v.is_empty());
    Ok(UsageQuery {
        consumer: nonempty(params.consumer),
        key_id: nonempty(params.key_id),
        service: nonempty(params.service),
        since,
        until,
        bucket_ms,
        per_key,
        per_service: false,
    })
}

/// The rows of `query`: the one read of usage counts, which the role checks wrap.
pub(crate) async fn read_usage(
    state: &AdminState,
    query: UsageQuery,
) -> Result<Vec<UsageRow>, ApiError> {
    state.read(move |store| store.usage(&query)).await
}

/// Folds the store's rows (one per outcome) into buckets (one per key or consumer).
fn buckets(rows: Vec<UsageRow>, query: &UsageQuery) -> Vec<UsageBucket> {
    let mut out: Vec<UsageBucket> = Vec::new();
    for row in rows {
        let key_id = query.per_key.then_some(row.key_id);
        let service = query.service.as_ref().map(|_| row.service);
        let start = rfc3339(row.start);
        let same = out.last().is_some_and(|last| {
            last.start == start
                && last.consumer == row.consumer
                && last.key_id == key_id
                && last.service == service
        });
        if !same {
            out.push(UsageBucket {
                start,
                consumer: row.consumer,
                key_id,
                service,
                requests: 0,
                allowed: 0,
                refused: BTreeMap::new(),
            });
        }
        if let Some(bucket) = out.last_mut() {
            bucket.requests += row.count;
            match row.outcome.as_str() {
                "allowed" => bucket.allowed += row.count,
                _ => *bucket.refused.entry(row.outcome).or_default() += row.count,
            }
        }
    }
    out
}

/// `GET /v1/usage`.
pub async fn list(
    State(state): State<AdminState>,
    Params(params): Params<UsageParams>,
) -> Result<Json<UsageView>, ApiError> {
    let query = store_query(params, millis(std::time::SystemTime::now()))?;
    let rows = read_usage(&state, query.clone()).await?;
    Ok(Json(UsageView {
        granularity: if query.bucket_ms == DAY_MS {
            "day"
        } else {
            "hour"
        },
        since: rfc3339(query.since),
        until: rfc3339(query.until),
        data: buckets(rows, &query),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(start: i64, consumer: &str, key: &str, outcome: &str, count: i64) -> UsageRow {
        UsageRow {
            start,
            consumer: consumer.into(),
            key_id: key.into(),
            service: String::new(),
            outcome: outcome.into(),
            count,
        }
    }

    #[test]
    fn queries_cover_whole_buckets_and_refuse_bad_values() {
        let now = 10 * DAY_MS + 90 * 60_000;
        let query = store_query(UsageParams::default(), now).unwrap();
        assert_eq!(
            (query.since, query.until),
            (9 * DAY_MS + HOUR_MS, 10 * DAY_MS + 2 * HOUR_MS)
        );
        assert!(query.per_key);
        let daily = UsageParams {
            granularity: Some("day".into()),
            group: Some("consumer".into()),
            consumer: Some(String::new()),
            ..UsageParams::default()
        };
        let query = store_query(daily, now).unwrap();
        assert_eq!(
            (query.bucket_ms, query.per_key, query.consumer),
            (DAY_MS, false, None)
        );
        for bad in [
            UsageParams {
                granularity: Some("week".into()),
                ..UsageParams::default()
            },
            UsageParams {
                group: Some("service".into()),
                ..UsageParams::default()
            },
            UsageParams {
                since: Some("yesterday".into()),
                ..UsageParams::default()
            },
            UsageParams {
                since: Some("2030-01-01T00:00:00Z".into()),
                ..UsageParams::default()
            },
            UsageParams {
                since: Some("2000-01-01T00:00:00Z".into()),
                ..UsageParams::default()
            },
        ] {
            assert!(matches!(store_query(bad, now), Err(ApiError::Invalid(_))));
        }
    }

    #[test]
    fn rows_fold_into_buckets() {
        let query = store_query(UsageParams::default(), DAY_MS).unwrap();
        let rows = vec![
            row(0, "", "", "missing_key", 2),
            row(0, "alice", "k1", "allowed", 5),
            row(0, "alice", "k1", "forbidden", 1),
            row(0, "alice", "k1", "rate_limited", 3),
            row(HOUR_MS, "alice", "k1", "allowed", 1),
        ];
        let folded = buckets(rows, &query);
        assert_eq!(folded.len(), 3);
        assert_eq!((folded[0].requests, folded[0].allowed), (2, 0));
        assert_eq!(folded[1].requests, 9);
        assert_eq!(folded[1].allowed, 5);
        assert_eq!(
            folded[1].refused,
            BTreeMap::from([("forbidden".into(), 1), ("rate_limited".into(), 3)])
        );
        assert_eq!(folded[2].start, "1970-01-01T01:00:00Z");
    }
}
