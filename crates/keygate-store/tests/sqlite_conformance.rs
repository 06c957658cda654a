//! The SQLite store: the conformance suite in memory and on files, durability, schema
//! versions, URLs and corrupt data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{consumer, key, subscription, TempDir};
use keygate_store::sqlite::SqliteStore;
use keygate_store::{
    conformance, Page, Store, StoreError, SubscriptionRecord, SubscriptionStatus, Written,
};

#[test]
fn conformance_in_memory() {
    conformance::run_all(&|| Box::new(SqliteStore::open_in_memory().unwrap()));
}

#[test]
fn conformance_on_files() {
    let dir = TempDir::new("conformance");
    let next = AtomicUsize::new(0);
    conformance::run_all(&|| {
        let n = next.fetch_add(1, Ordering::Relaxed);
        let path = dir.file(&format!("store-{n}.db"));
        Box::new(SqliteStore::open(&path).unwrap())
    });
}

#[test]
fn reopened_file_keeps_its_data() {
    let dir = TempDir::new("reopen");
    let path = dir.file("keygate.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_consumer(&consumer("alice")).unwrap();
        store.insert_key(&key(1, "alice")).unwrap();
        store.record_last_used(&[(key(1, "alice").id, 42)]).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revision().unwrap(), 2);
    assert_eq!(store.consumer("alice").unwrap().unwrap(), consumer("alice"));
    let stored = store.key(&key(1, "alice").id).unwrap().unwrap();
    assert_eq!(stored.hash, key(1, "alice").hash);
    assert_eq!(stored.last_used_at, Some(42));
    assert_eq!(store.changes_since(0).unwrap().len(), 2);
    // Opening again runs no migration and changes nothing.
    assert_eq!(
        store.put_consumer(&consumer("alice")).unwrap(),
        Written::Unchanged
    );
}

/// Set in the child process of [`killed_writer_keeps_committed_changes`]: the database
/// to write to.
const CHILD_DATABASE: &str = "KEYGATE_STORE_TEST_CHILD_DATABASE";
/// Printed by that child once its write has returned.
const CHILD_WROTE: &str = "child: write returned";

/// A write that has returned survives the process being killed (SIGKILL) right after.
#[test]
fn killed_writer_keeps_committed_changes() {
    if let Some(path) = std::env::var_os(CHILD_DATABASE) {
        let store = SqliteStore::open(Path::new(&path)).unwrap();
        store.put_consumer(&consumer("survivor")).unwrap();
        store.insert_key(&key(7, "survivor")).unwrap();
        // The test harness may print on the same line first.
        println!("{CHILD_WROTE}");
        // Wait to be killed; give up after a while should the parent have gone.
        std::thread::sleep(std::time::Duration::from_secs(60));
        std::process::exit(3);
    }

    let dir = TempDir::new("killed");
    let path = dir.file("keygate.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "killed_writer_keeps_committed_changes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DATABASE, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let wrote = BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
        .any(|line| line.ends_with(CHILD_WROTE));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wrote, "the child process did not write");

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.revision().unwrap(), 2);
    assert!(store.consumer("survivor").unwrap().is_some());
    assert!(store.key(&key(7, "survivor").id).unwrap().is_some());
}

#[test]
fn newer_schema_is_refused() {
    let dir = TempDir::new("newer");
    let path = dir.file("keygate.db");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
            assert!(message.contains("newer"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A database from before reasons (schema version 7) gains the column: its
/// subscriptions read back without a reason, and a rejection then keeps one.
#[test]
fn subscriptions_stored_before_reasons_are_upgraded() {
    let dir = TempDir::new("reasons");
    let path = dir.file("keygate.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.put_consumer(&consumer("alice")).unwrap();
        store
            .insert_subscription(&subscription("s1", "alice"), None)
            .unwrap();
    }
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("ALTER TABLE subscriptions DROP COLUMN reason")
            .unwrap();
        conn.pragma_update(None, "user_version", 7).unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.subscription("s1").unwrap().unwrap(),
        subscription("s1", "alice")
    );
    let rejected = SubscriptionRecord {
        status: SubscriptionStatus::Rejected,
        reason: Some("not for this plan".to_owned()),
        ..subscription("s1", "alice")
    };
    store
        .update_subscription(&rejected, SubscriptionStatus::Pending)
        .unwrap();
    assert_eq!(store.subscription("s1").unwrap().unwrap(), rejected);
}

#[test]
fn missing_directory_is_unavailable() {
    let dir = TempDir::new("missing");
    let path = dir.file("no/such/dir/keygate.db");
    match SqliteStore::open(&path) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("keygate.db"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn not_a_database_is_unavailable() {
    let dir = TempDir::new("garbage");
    let path = dir.file("keygate.db");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::Unavailable(_))
    ));
}

#[test]
fn urls_open_files_and_memory() {
    let memory = SqliteStore::from_url("sqlite::memory:").unwrap();
    memory.put_consumer(&consumer("alice")).unwrap();
    assert_eq!(memory.revision().unwrap(), 1);

    let dir = TempDir::new("url");
    let path = dir.file("keygate.db");
    assert!(path.is_absolute());
    let url = format!("sqlite://{}", path.display());
    SqliteStore::from_url(&url)
        .unwrap()
        .put_consumer(&consumer("alice"))
        .unwrap();
    assert!(path.exists());
    assert_eq!(SqliteStore::open(&path).unwrap().revision().unwrap(), 1);

    match SqliteStore::from_url("postgres://keygate:secret@db/keygate") {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("postgres"), "{message}");
            assert!(!message.contains("secret"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn corrupt_values_are_reported() {
    let dir = TempDir::new("corrupt");
    let path = dir.file("keygate.db");
    let store = SqliteStore::open(&path).unwrap();
    store.put_consumer(&consumer("alice")).unwrap();
    store.put_consumer(&consumer("bob")).unwrap();
    store.insert_key(&key(1, "alice")).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE consumers SET groups = 'nope' WHERE name = 'alice'",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE consumers SET origin = 'moon' WHERE name = 'bob'",
            [],
        )
        .unwrap();
        conn.execute("UPDATE keys SET hash = x'0102'", []).unwrap();
    }
    for result in [
        store.consumer("alice").map(drop),
        store.consumer("bob").map(drop),
        store.key(&key(1, "alice").id).map(drop),
        store.load(&mut |_| ()).map(drop),
    ] {
        assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
    }
}

#[test]
fn messages_name_the_clash() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_consumer(&consumer("alice")).unwrap();
    store.insert_key(&key(1, "alice")).unwrap();
    store.insert_key(&key(2, "alice")).unwrap();
    let message = |err: StoreError| err.to_string();

    let mut same_id = key(9, "alice");
    same_id.id = key(1, "alice").id;
    let err = store.insert_key(&same_id).unwrap_err();
    assert_eq!(message(err), "a key with id `key-0000001` already exists");
    let mut same_hash = key(3, "alice");
    same_hash.hash = key(1, "alice").hash;
    let err = store.insert_key(&same_hash).unwrap_err();
    assert_eq!(message(err), "this key is already in use");
    let err = store.delete_consumer("alice").unwrap_err();
    assert_eq!(
        message(err),
        "consumer `alice` still has 2 keys; delete them first"
    );
    let err = store.insert_key(&key(4, "nobody")).unwrap_err();
    assert_eq!(message(err), "consumer `nobody` not found");
}

#[test]
fn batches_are_all_or_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_consumer(&consumer("alice")).unwrap();
    assert_eq!(store.insert_keys_batch(&[]).unwrap(), 1);
    let batch: Vec<_> = (0..10).map(|n| key(n, "alice")).collect();
    assert_eq!(store.insert_keys_batch(&batch).unwrap(), 2);
    assert_eq!(store.changes_since(1).unwrap().len(), 10);
    assert_eq!(store.keys(None, &Page::default()).unwrap().len(), 10);

    let clashing = vec![key(10, "alice"), key(3, "alice")];
    let err = store.insert_keys_batch(&clashing).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let orphan = vec![key(11, "alice"), key(12, "nobody")];
    let err = store.insert_keys_batch(&orphan).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.revision().unwrap(), 2);
    assert_eq!(store.keys(None, &Page::default()).unwrap().len(), 10);
}

#[test]
fn threads_share_a_store() {
    let store = SqliteStore::open_in_memory().unwrap();
    store.put_consumer(&consumer("alice")).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let store = &store;
            scope.spawn(move || {
                for n in 0..25 {
                    store.insert_key(&key(t * 100 + n, "alice")).unwrap();
                }
            });
        }
    });
    assert_eq!(store.revision().unwrap(), 101);
    assert_eq!(store.changes_since(0).unwrap().len(), 101);
}
