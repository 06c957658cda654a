//! Keeps the durable counters in the store: every `limits.flush_interval` the deltas
//! counted on this node are added to the store (`used = used + delta`, so several nodes'
//! add up) and the totals changed since the last flush — every node's — are read back.
//! At start the totals of every counter still of use are read before the proxy serves.
//!
//! What a crash can lose is what was counted since the last flush that reached the store:
//! at most one `flush_interval` of admitted calls (docs/limits.md gives the measured
//! figure). A failed write keeps its deltas pending for the next flush.

use std::sync::Arc;
use std::time::Duration;

use keygate_store::{Store, StoreError};

use super::Counters;

/// How far back a refresh reads beyond the last one: rows are stamped with the writing
/// node's clock, so clocks that disagree by less than this lose no update.
const CLOCK_MARGIN_MS: i64 = 60_000;

/// The wall clock in milliseconds since the epoch.
fn now_ms() -> i64 {
    crate::proxy::quota_check::now_ms()
}

/// Reads the totals of every counter still of use into `counters` (at start).
pub fn load(store: &dyn Store, counters: &Counters) -> Result<i64, StoreError> {
    let now = now_ms();
    let totals = store.counts(0, now)?;
    counters.settle(&totals);
    Ok(now)
}

/// One flush: hands this node's deltas to the store and reads back what changed since
/// `since` (ms). Returns when this read began, for the next; on a failure the deltas
/// are pending again.
pub fn flush_once(store: &dyn Store, counters: &Counters, since: i64) -> Result<i64, StoreError> {
    let deltas = counters.drain();
    let now = now_ms();
    if let Err(error) = store.add_counts(&deltas, now) {
        counters.restore(&deltas);
        return Err(error);
    }
    let totals = store.counts(since.saturating_sub(CLOCK_MARGIN_MS), now)?;
    counters.settle(&totals);
    counters.sweep(now);
    Ok(now)
}

/// Flushes every `interval`, forever; failures are logged and retried at the next tick.
pub async fn run(
    store: Arc<dyn Store>,
    counters: Arc<Counters>,
    interval: Duration,
    mut since: i64,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        since = flush(store.clone(), counters.clone(), since).await;
    }
}

/// One flush off the async threads; the `since` for the next.
pub async fn flush(store: Arc<dyn Store>, counters: Arc<Counters>, since: i64) -> i64 {
    let outcome =
        tokio::task::spawn_blocking(move || flush_once(store.as_ref(), &counters, since)).await;
    match outcome {
        Ok(Ok(next)) => next,
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not write quota and credit counts; they stay pending for the next flush");
            since
        }
        Err(error) => {
            tracing::warn!(%error, "the quota flush task failed");
            since
        }
    }
}
