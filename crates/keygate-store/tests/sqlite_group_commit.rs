//! Group commit on a file store: many threads insert keys at once, some with hashes that
//! clash on purpose. Every write must keep its own revision, change and result, whatever
//! batch it shared; the file reopened afterwards holds exactly the successful writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{consumer, key, TempDir};
use keygate_store::sqlite::SqliteStore;
use keygate_store::{ChangeKind, Entity, KeyRecord, Store, StoreError};

/// Writer threads.
const THREADS: u64 = 16;
/// Keys each thread inserts.
const PER_THREAD: u64 = 40;
/// Every `CONTESTED`-th key of a thread takes a hash that every other thread also
/// tries: exactly one of them may win it.
const CONTESTED: u64 = 4;

/// Key `j` of thread `t`: its own id; its own hash, or the hash contested by key `j` of
/// every thread.
fn key_of(t: u64, j: u64) -> KeyRecord {
    let mut record = key(t * PER_THREAD + j, "team");
    if j.is_multiple_of(CONTESTED) {
        record.hash = [0xc0; 32];
        record.hash[..8].copy_from_slice(&j.to_le_bytes());
    }
    record
}

#[test]
fn concurrent_inserts_keep_their_own_revisions_changes_and_errors() {
    let dir = TempDir::new("group-commit");
    let path = dir.file("keygate.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    store.put_consumer(&consumer("team")).unwrap();
    let base = store.revision().unwrap();

    let start = Arc::new(Barrier::new(usize::try_from(THREADS).unwrap()));
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, start) = (store.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                (0..PER_THREAD)
                    .map(|j| {
                        let record = key_of(t, j);
                        let result = store.insert_key(&record);
                        (j, record, result)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<(u64, KeyRecord, Result<u64, StoreError>)> = writers
        .into_iter()
        .flat_map(|writer| writer.join().unwrap())
        .collect();

    // Every success has a revision of its own; every failure is its own conflict.
    let mut stored: BTreeMap<u64, KeyRecord> = BTreeMap::new();
    let mut conflicts = 0;
    for (j, record, result) in results {
        match result {
            Ok(revision) => {
                let clash = stored.insert(revision, record.clone());
                assert!(clash.is_none(), "revision {revision} given twice");
            }
            Err(StoreError::Conflict(message)) => {
                assert_eq!(j % CONTESTED, 0, "{} clashed: {message}", record.id);
                assert!(message.contains("already in use"), "{message}");
                conflicts += 1;
            }
            Err(other) => panic!("{}: {other}", record.id),
        }
    }

    // One winner per contested hash, every uncontested key stored.
    let contested = PER_THREAD.div_ceil(CONTESTED);
    let expected = THREADS * (PER_THREAD - contested) + contested;
    assert_eq!(stored.len() as u64, expected);
    assert_eq!(conflicts, THREADS * PER_THREAD - expected);
    let hashes: BTreeSet<[u8; 32]> = stored.values().map(|k| k.hash).collect();
    assert_eq!(hashes.len() as u64, expected, "a hash was stored twice");

    // The revisions are contiguous: failed writes took none.
    let revisions: Vec<u64> = stored.keys().copied().collect();
    let contiguous: Vec<u64> = (base + 1..=base + expected).collect();
    assert_eq!(revisions, contiguous);
    assert_eq!(store.revision().unwrap(), base + expected);

    // Every change once, under the revision its writer was given.
    let changes = store.changes_since(base).unwrap();
    assert_eq!(changes.len() as u64, expected);
    for change in &changes {
        let record = &stored[&change.revision];
        assert_eq!(change.kind, ChangeKind::Key);
        assert_eq!(change.name, record.id);
        assert!(!change.deleted);
        assert_eq!(change.key_hash, Some(record.hash));
    }

    // A reopened file holds exactly the successful writes.
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    let mut keys = BTreeMap::new();
    let revision = reopened
        .load(&mut |entity| {
            if let Entity::Key(k) = entity {
                keys.insert(k.id.clone(), k);
            }
        })
        .unwrap();
    assert_eq!(revision, base + expected);
    let written: BTreeMap<String, KeyRecord> =
        stored.into_values().map(|k| (k.id.clone(), k)).collect();
    assert_eq!(keys, written);
}
