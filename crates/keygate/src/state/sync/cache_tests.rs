//! Starting from the directory cache: used only when it is of this store and this file,
//! and the changes after it are caught up from the change log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keygate_store::sqlite::SqliteStore;
use keygate_store::Store;

use super::tests::works;
use super::StoreSync;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::state::test_records;

fn scratch(name: &str) -> PathBuf {
    crate::state::scratch_dir(name)
}

fn config(dir: &Path, extra: &str) -> Config {
    let text = format!(
        "store: sqlite://{db}\ncache_file: {cache}\nservices: []\n{extra}",
        db = dir.join("keygate.db").display(),
        cache = dir.join("keygate.db.cache").display(),
    );
    Config::parse("t.yaml", &text).unwrap()
}

fn start(dir: &Path, extra: &str) -> StoreSync {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("keygate.db")).unwrap());
    StoreSync::start(store, config(dir, extra), Arc::new(Metrics::new(false))).unwrap()
}

fn add_key(sync: &StoreSync, id: &str, plaintext: &str) {
    sync.store()
        .insert_key(&test_records::key(id, "c", plaintext))
        .unwrap();
}

#[test]
fn a_restart_reads_the_cache_and_catches_up_after_it() {
    let dir = scratch("restart");
    let first = start(&dir, "");
    assert!(!first.started_from_cache(), "no cache yet");
    first
        .store()
        .put_consumer(&test_records::consumer("c", "A"))
        .unwrap();
    add_key(&first, "k1", "secret-1");
    first.catch_up().unwrap();
    assert!(first.cache_is_behind());
    first.write_cache().unwrap();
    assert!(!first.cache_is_behind());
    // Written after the cache, as if the node died before writing it again.
    add_key(&first, "k2", "secret-2");
    first.store().delete_key("k1").unwrap();
    drop(first);

    let second = start(&dir, "");
    assert!(second.started_from_cache());
    assert!(works(&second, "secret-2"), "caught up after the cache");
    assert!(!works(&second, "secret-1"), "the deletion too");
    assert!(second.cache_is_behind(), "the cache is one revision behind");
    second.write_cache().unwrap();
    drop(second);

    // A changed file means a full read: what it no longer defines must be found.
    let third = start(&dir, "consumers:\n  - name: from-file\n");
    assert!(!third.started_from_cache());
    assert!(works(&third, "secret-2"));
    drop(third);

    // A cache written for another store is not used.
    let other = scratch("other");
    std::fs::copy(dir.join("keygate.db.cache"), other.join("keygate.db.cache")).unwrap();
    let fresh = start(&other, "consumers:\n  - name: from-file\n");
    assert!(!fresh.started_from_cache());
    assert!(!works(&fresh, "secret-2"));
}

#[test]
fn a_revision_outside_the_change_log_costs_a_full_read() {
    let dir = scratch("unlogged");
    let first = start(&dir, "");
    first.write_cache().unwrap();
    drop(first);
    // A bulk import straight into the database: rows and a revision, no change log.
    let db = rusqlite::Connection::open(dir.join("keygate.db")).unwrap();
    db.execute_batch(
        "INSERT INTO consumers (name, client_type, groups, permissions, description, metadata, \
         origin, created_at, updated_at) VALUES ('c', 'A', '[]', '[]', NULL, '{}', 'api', 0, 0); \
         UPDATE meta SET revision = revision + 1;",
    )
    .unwrap();
    drop(db);
    let second = start(&dir, "");
    assert!(!second.started_from_cache());
    assert_eq!(second.state().directory.consumer_count(), 1);
}

#[test]
fn a_damaged_cache_costs_only_a_full_read() {
    let dir = scratch("damaged");
    let first = start(&dir, "");
    first.write_cache().unwrap();
    drop(first);
    let cache = dir.join("keygate.db.cache");
    let whole = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &whole[..whole.len() - 3]).unwrap();
    let second = start(&dir, "");
    assert!(!second.started_from_cache());
}
