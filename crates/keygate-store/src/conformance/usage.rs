//! Checks of the hourly usage counts: deltas add up (as two nodes' would), buckets are
//! summed by hour or day, per key or per consumer, filters narrow, and old hours go.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{Store, UsageQuery, UsageRow, DAY_MS, HOUR_MS};

fn row(
    start: i64,
    consumer: &str,
    key: &str,
    service: &str,
    outcome: &str,
    count: i64,
) -> UsageRow {
    UsageRow {
        start,
        consumer: consumer.into(),
        key_id: key.into(),
        service: service.into(),
        outcome: outcome.into(),
        count,
    }
}

fn query(since: i64, until: i64, bucket_ms: i64, per_key: bool) -> UsageQuery {
    UsageQuery {
        since,
        until,
        bucket_ms,
        per_key,
        ..UsageQuery::default()
    }
}

/// `add_usage` adds to existing hours and creates missing ones, bumping no revision;
/// `usage` sums and groups; `delete_usage_before` drops whole hours.
pub(super) fn usage_adds_up(store: &dyn Store) {
    let revision = store.revision().unwrap();
    let day = 20_000 * DAY_MS;
    let h = |n: i64| day + n * HOUR_MS;
    store
        .add_usage(&[
            row(h(1), "alice", "k1", "echo", "allowed", 3),
            row(h(1), "alice", "k2", "echo", "forbidden", 1),
            row(h(2), "alice", "k1", "echo", "allowed", 1),
            row(h(1), "", "", "echo", "missing_key", 5),
            row(h(1), "bob", "k3", "other", "allowed", 2),
        ])
        .unwrap();
    // A second node's counts of the same hour add to the first's.
    store
        .add_usage(&[row(h(1), "alice", "k1", "echo", "allowed", 4)])
        .unwrap();
    store.add_usage(&[]).unwrap();
    assert_eq!(
        store.revision().unwrap(),
        revision,
        "bookkeeping: no revision"
    );

    let hourly = store.usage(&query(h(0), h(3), HOUR_MS, true)).unwrap();
    assert_eq!(
        hourly,
        vec![
            row(h(1), "", "", "", "missing_key", 5),
            row(h(1), "alice", "k1", "", "allowed", 7),
            row(h(1), "alice", "k2", "", "forbidden", 1),
            row(h(1), "bob", "k3", "", "allowed", 2),
            row(h(2), "alice", "k1", "", "allowed", 1),
        ]
    );
    let daily_alice = store
        .usage(&UsageQuery {
            consumer: Some("alice".into()),
            ..query(day, day + DAY_MS, DAY_MS, false)
        })
        .unwrap();
    assert_eq!(
        daily_alice,
        vec![
            row(day, "alice", "", "", "allowed", 8),
            row(day, "alice", "", "", "forbidden", 1),
        ]
    );
    let by_key_and_service = store
        .usage(&UsageQuery {
            key_id: Some("k3".into()),
            service: Some("other".into()),
            ..query(day, day + DAY_MS, DAY_MS, true)
        })
        .unwrap();
    assert_eq!(
        by_key_and_service,
        vec![row(day, "bob", "k3", "other", "allowed", 2)]
    );
    let per_service = store
        .usage(&UsageQuery {
            per_service: true,
            ..query(h(2), h(3), HOUR_MS, true)
        })
        .unwrap();
    assert_eq!(
        per_service,
        vec![row(h(2), "alice", "k1", "echo", "allowed", 1)]
    );
    let later = store.usage(&query(h(2), h(9), HOUR_MS, false)).unwrap();
    assert_eq!(later, vec![row(h(2), "alice", "", "", "allowed", 1)]);

    assert_eq!(store.delete_usage_before(h(2)).unwrap(), 4);
    let left = store.usage(&query(0, i64::MAX, HOUR_MS, true)).unwrap();
    assert_eq!(left, vec![row(h(2), "alice", "k1", "", "allowed", 1)]);
    assert_eq!(store.revision().unwrap(), revision);
}
