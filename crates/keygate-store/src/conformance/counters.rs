//! Checks of the durable usage counters: deltas add up (as two nodes' would), totals are
//! read back, and counters past their `keep_until` are not.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{CounterRow, Store};

fn row(subject: i64, window: i64, used: i64, keep_until: i64) -> CounterRow {
    CounterRow {
        subject,
        window,
        used,
        keep_until,
    }
}

/// `add_counts` adds deltas (negative ones too), creates missing counters, bumps no
/// revision; `counts` reads what changed since a time and is still of use.
pub(super) fn counters_add_up(store: &dyn Store) {
    let revision = store.revision().unwrap();
    store
        .add_counts(&[row(7, 1000, 3, 5000), row(-9, 0, 2, i64::MAX)], 100)
        .unwrap();
    store.add_counts(&[row(7, 1000, 4, 5000)], 200).unwrap();
    store.add_counts(&[row(-9, 0, -1, i64::MAX)], 300).unwrap();
    store.add_counts(&[row(7, 2000, 1, 3000)], 300).unwrap();
    assert_eq!(
        store.revision().unwrap(),
        revision,
        "bookkeeping: no revision"
    );

    let mut all = store.counts(0, 150).unwrap();
    all.sort_by_key(|r| (r.subject, r.window));
    assert_eq!(
        all,
        vec![
            row(-9, 0, 1, i64::MAX),
            row(7, 1000, 7, 5000),
            row(7, 2000, 1, 3000)
        ]
    );
    let mut recent = store.counts(250, 150).unwrap();
    recent.sort_by_key(|r| (r.subject, r.window));
    assert_eq!(recent, vec![row(-9, 0, 1, i64::MAX), row(7, 2000, 1, 3000)]);
    let live = store.counts(0, 4000).unwrap();
    assert_eq!(
        live.len(),
        2,
        "the counter kept until 3000 is over: {live:?}"
    );
    store.add_counts(&[], 400).unwrap();
}
