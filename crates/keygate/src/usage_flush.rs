//! Keeps the hourly usage counts in the store: every `usage.flush_interval` the counts
//! this node noted ([`crate::state::usage_counts`]) are added to `usage_hours` (an upsert
//! that adds, so the nodes of a cluster sum up), and once an hour the hours older than
//! `usage.retention_days` are deleted.
//!
//! A failed write keeps its rows for the next flush; a crash loses at most one interval
//! of counts. Counting never waits for the store.

use std::sync::Arc;

use keygate_store::{Store, StoreError, DAY_MS, HOUR_MS};

use crate::config::UsageSettings;
use crate::proxy::error::Denial;
use crate::state::usage_counts::UsageCounts;

/// The wall clock in milliseconds since the epoch.
fn now_ms() -> i64 {
    crate::state::millis(std::time::SystemTime::now())
}

/// One flush: adds the counts noted since the last one to the store; on a failure they
/// wait for the next.
pub fn flush_once(store: &dyn Store, counts: &UsageCounts) -> Result<(), StoreError> {
    let rows = counts.take(Denial::usage_outcome_name);
    if rows.is_empty() {
        return Ok(());
    }
    store.add_usage(&rows).inspect_err(|_| counts.restore(rows))
}

/// Deletes the hours older than `retention_days` before `now`.
pub fn sweep_once(store: &dyn Store, retention_days: u64, now: i64) -> Result<u64, StoreError> {
    let days = i64::try_from(retention_days).unwrap_or(i64::MAX);
    let keep_from = now - now.rem_euclid(HOUR_MS) - days.saturating_mul(DAY_MS);
    store.delete_usage_before(keep_from)
}

/// Flushes every `settings.flush_interval` and sweeps old hours once an hour, forever;
/// failures are logged and retried at the next tick.
pub async fn run(store: Arc<dyn Store>, counts: Arc<UsageCounts>, settings: UsageSettings) {
    let mut ticker = tokio::time::interval(settings.flush_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut swept_at: Option<i64> = None;
    loop {
        ticker.tick().await;
        flush(store.clone(), counts.clone()).await;
        let now = now_ms();
        if swept_at.is_none_or(|at| now - at >= HOUR_MS) {
            swept_at = Some(now);
            let store = store.clone();
            let days = settings.retention_days;
            let swept = tokio::task::spawn_blocking(move || sweep_once(&*store, days, now)).await;
            if let Ok(Err(error)) = swept {
                tracing::warn!(%error, "could not delete usage counts past their retention; will try again in an hour");
            }
        }
    }
}

/// One flush off the async threads.
pub async fn flush(store: Arc<dyn Store>, counts: Arc<UsageCounts>) {
    let outcome = tokio::task::spawn_blocking(move || flush_once(&*store, &counts)).await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not write usage counts; they stay pending for the next flush");
        }
        Err(error) => tracing::warn!(%error, "the usage flush task failed"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use keygate_store::sqlite::SqliteStore;
    use keygate_store::UsageQuery;

    #[test]
    fn flushes_add_and_sweeps_keep_the_retention() {
        let store = SqliteStore::open_in_memory().unwrap();
        let counts = UsageCounts::default();
        let now = 100 * DAY_MS + 30 * 60_000;
        counts.note(now, None, None, None, Denial::usage_outcome(None));
        counts.note(
            now - 3 * DAY_MS,
            None,
            None,
            None,
            Denial::usage_outcome(Some(Denial::MissingKey)),
        );
        flush_once(&store, &counts).unwrap();
        counts.note(now, None, None, None, Denial::usage_outcome(None));
        flush_once(&store, &counts).unwrap();
        let all = UsageQuery {
            since: 0,
            until: i64::MAX,
            bucket_ms: HOUR_MS,
            ..UsageQuery::default()
        };
        let rows = store.usage(&all).unwrap();
        let seen: Vec<(&str, i64)> = rows.iter().map(|r| (r.outcome.as_str(), r.count)).collect();
        assert_eq!(seen, vec![("missing_key", 1), ("allowed", 2)]);
        assert_eq!(sweep_once(&store, 2, now).unwrap(), 1);
        assert_eq!(store.usage(&all).unwrap().len(), 1);
    }

    #[test]
    fn outcome_names_follow_the_reasons() {
        for (index, denial) in Denial::ALL.iter().enumerate() {
            assert_eq!(*denial as usize, index);
            assert_eq!(
                Denial::usage_outcome_name(Denial::usage_outcome(Some(*denial))),
                denial.as_str()
            );
        }
        assert_eq!(Denial::usage_outcome_name(0), "allowed");
    }
}
