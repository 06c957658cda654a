//! The SQLite store with many keys: a bulk import, then a full load. Reports times; asserts
//! counts only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::{consumer, key, TempDir};
use keygate_store::sqlite::SqliteStore;
use keygate_store::{Entity, Store};

/// Imports `keys` keys spread over 1000 consumers into a new file store, loads them back
/// and counts them.
fn import_and_load(keys: u64) {
    let dir = TempDir::new("scale");
    let store = SqliteStore::open(&dir.file("keygate.db")).unwrap();
    let consumers = 1000;
    for c in 0..consumers {
        store
            .put_consumer(&consumer(&format!("consumer-{c:04}")))
            .unwrap();
    }

    let started = Instant::now();
    let chunk = 100_000;
    let mut next = 0;
    while next < keys {
        let end = (next + chunk).min(keys);
        let batch: Vec<_> = (next..end)
            .map(|n| key(n, &format!("consumer-{:04}", n % consumers)))
            .collect();
        store.insert_keys_batch(&batch).unwrap();
        next = end;
    }
    let imported = started.elapsed();

    let started = Instant::now();
    let (mut c, mut k, mut s) = (0_u64, 0_u64, 0_u64);
    let revision = store
        .load(&mut |entity| match entity {
            Entity::Consumer(_) => c += 1,
            Entity::Key(_) => k += 1,
            Entity::Service(_) | Entity::Subscription(_) => s += 1,
        })
        .unwrap();
    let loaded = started.elapsed();

    assert_eq!((c, k, s), (consumers, keys, 0));
    assert_eq!(revision, store.revision().unwrap());
    eprintln!(
        "{keys} keys: imported in {:.2} s, loaded in {:.2} s",
        imported.as_secs_f64(),
        loaded.as_secs_f64()
    );
}

#[test]
fn load_200k_keys() {
    import_and_load(200_000);
}

/// Slow: run on demand, preferably in release mode.
#[test]
#[ignore = "slow: a million keys"]
fn load_1m_keys() {
    import_and_load(1_000_000);
}
