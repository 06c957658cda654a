//! The PostgreSQL store: the conformance suite, notifications, concurrent writers on two
//! stores, lost connections, schema versions and a bulk load.
//!
//! Needs a database: `KEYGATE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test`.
//! Without it (at build time) the tests that need one are ignored; with it, a database
//! that cannot be reached fails them. Each store gets a schema of its own, dropped at the
//! end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{consumer, key, subscription};
use keygate_store::postgres::PostgresStore;
use keygate_store::{
    conformance, Entity, Page, Store, StoreError, SubscriptionRecord, SubscriptionStatus,
};

/// The variable naming the test database.
const DATABASE_VARIABLE: &str = "KEYGATE_TEST_DATABASE_URL";

/// The test database's URL. The tests that call this are ignored unless the variable was
/// set when they were built (see the crate's build.rs); run without it (`--ignored`), or
/// with a database that cannot be reached, they fail rather than pass untested.
fn database_url() -> String {
    match std::env::var(DATABASE_VARIABLE) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{DATABASE_VARIABLE} is not set: it names the PostgreSQL database to test against"
        ),
    }
}

/// A schema of its own in the test database, dropped (with everything in it) on drop.
struct TestSchema {
    admin: postgres::Client,
    name: String,
    url: String,
}

impl TestSchema {
    fn new(base_url: &str, label: &str) -> TestSchema {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "kg_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = postgres::Client::connect(base_url, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .unwrap();
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-c%20search_path%3D{name}");
        TestSchema { admin, name, url }
    }

    fn store(&self) -> PostgresStore {
        PostgresStore::open(&self.url).unwrap()
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn conformance() {
    let base = database_url();
    let schemas = std::sync::Mutex::new(Vec::new());
    conformance::run_all(&|| {
        let schema = TestSchema::new(&base, "conf");
        let store = schema.store();
        schemas.lock().unwrap().push(schema);
        Box::new(store)
    });
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn writes_notify_listeners_of_the_same_schema_only() {
    let base = database_url();
    let schema = TestSchema::new(&base, "notify");
    let other = TestSchema::new(&base, "notify");
    let store = schema.store();
    let other_store = other.store();
    let mut listener = store.listen().unwrap();
    let mut other_listener = other_store.listen().unwrap();

    assert_eq!(listener.wait(Duration::from_millis(50)).unwrap(), None);
    store.put_consumer(&consumer("alice")).unwrap();
    store.insert_key(&key(1, "alice")).unwrap();
    let started = Instant::now();
    let mut highest = None;
    while highest != Some(2) && started.elapsed() < Duration::from_secs(5) {
        if let Some(revision) = listener.wait(Duration::from_millis(200)).unwrap() {
            highest = Some(revision);
        }
    }
    assert_eq!(highest, Some(2));
    // A write that changes nothing notifies nothing; a failed one neither.
    store.put_consumer(&consumer("alice")).unwrap();
    assert!(store.insert_key(&key(1, "alice")).is_err());
    assert_eq!(listener.wait(Duration::from_millis(100)).unwrap(), None);
    assert_eq!(
        other_listener.wait(Duration::from_millis(100)).unwrap(),
        None
    );
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn concurrent_writers_on_two_stores_commit_revisions_in_order() {
    let base = database_url();
    let schema = TestSchema::new(&base, "order");
    let first = schema.store();
    let second = schema.store();
    first.put_consumer(&consumer("alice")).unwrap();
    std::thread::scope(|scope| {
        for (t, store) in [&first, &second, &first, &second].into_iter().enumerate() {
            scope.spawn(move || {
                for n in 0..25 {
                    store.insert_key(&key(t as u64 * 100 + n, "alice")).unwrap();
                }
            });
        }
        // A reader that follows the log as it grows never sees a gap.
        scope.spawn(|| {
            let mut applied = 0;
            let deadline = Instant::now() + Duration::from_secs(30);
            while applied < 101 && Instant::now() < deadline {
                for change in second.changes_since(applied).unwrap() {
                    assert_eq!(change.revision, applied + 1, "no gap");
                    applied = change.revision;
                }
            }
            assert_eq!(applied, 101);
        });
    });
    assert_eq!(second.revision().unwrap(), 101);
    assert_eq!(
        first
            .keys(
                None,
                &Page {
                    after: None,
                    limit: 1000
                }
            )
            .unwrap()
            .len(),
        100
    );
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn terminated_connections_are_replaced() {
    let base = database_url();
    let schema = TestSchema::new(&base, "terminated");
    let application = format!("{}-app", schema.name);
    let url = format!("{}&application_name={application}", schema.url);
    let store = PostgresStore::open(&url).unwrap();
    let mut listener = store.listen().unwrap();
    store.put_consumer(&consumer("alice")).unwrap();
    assert!(store.consumer("alice").unwrap().is_some());

    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    let terminated: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&application],
        )
        .unwrap()
        .get(0);
    assert!(
        terminated >= 2,
        "pooled and listening connections: {terminated}"
    );

    // Reads and writes go on over new connections, at once.
    assert!(store.consumer("alice").unwrap().is_some());
    store.insert_key(&key(1, "alice")).unwrap();
    store.insert_key(&key(2, "alice")).unwrap();
    assert_eq!(store.revision().unwrap(), 3);
    // The listener reports its loss, and a new one hears the next write.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match listener.wait(Duration::from_millis(100)) {
            Err(StoreError::Unavailable(_)) => break,
            other => assert!(Instant::now() < deadline, "{other:?}"),
        }
    }
    let mut listener = store.listen().unwrap();
    store.insert_key(&key(3, "alice")).unwrap();
    assert_eq!(listener.wait(Duration::from_secs(5)).unwrap(), Some(4));
}

#[test]
fn unreachable_server_is_unavailable_without_the_password() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("postgres://keygate:secret@127.0.0.1:{port}/keygate");
    match PostgresStore::open(&url) {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("secret"), "{message}");
            assert!(message.contains("cannot connect"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn missing_schema_and_newer_schema_are_refused() {
    let base = database_url();
    let schema = TestSchema::new(&base, "versions");
    let missing = schema
        .url
        .replace(&schema.name, &format!("{}_absent", schema.name));
    match PostgresStore::open(&missing) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("search_path"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    drop(schema.store());
    // Opening again migrates nothing.
    drop(schema.store());
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    client
        .batch_execute("UPDATE keygate_schema SET version = 99")
        .unwrap();
    match PostgresStore::open(&schema.url) {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("schema version 99"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A schema from before reasons (version 5) gains the column: its subscriptions read back
/// without a reason, and a rejection then keeps one.
#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn subscriptions_stored_before_reasons_are_upgraded() {
    let base = database_url();
    let schema = TestSchema::new(&base, "reasons");
    {
        let store = schema.store();
        store.put_consumer(&consumer("alice")).unwrap();
        store
            .insert_subscription(&subscription("s1", "alice"), None)
            .unwrap();
    }
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "ALTER TABLE subscriptions DROP COLUMN reason; UPDATE keygate_schema SET version = 5",
        )
        .unwrap();
    let store = schema.store();
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
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn corrupt_values_are_reported() {
    let base = database_url();
    let schema = TestSchema::new(&base, "corrupt");
    let store = schema.store();
    store.put_consumer(&consumer("alice")).unwrap();
    store.put_consumer(&consumer("bob")).unwrap();
    store.insert_key(&key(1, "alice")).unwrap();
    let mut client = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    client
        .batch_execute(
            "UPDATE consumers SET groups = 'nope' WHERE name = 'alice'; \
             UPDATE consumers SET origin = 'moon' WHERE name = 'bob'; \
             UPDATE keys SET hash = '\\x0102'",
        )
        .unwrap();
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
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn messages_name_the_clash() {
    let base = database_url();
    let schema = TestSchema::new(&base, "messages");
    let store = schema.store();
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

/// Imports `keys` keys over 1000 consumers, then loads them back; reports the times.
fn import_and_load(keys: u64) {
    let base = database_url();
    let schema = TestSchema::new(&base, "scale");
    let store = schema.store();
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
    let orphan = vec![key(keys + 1, "nobody")];
    assert!(matches!(
        store.insert_keys_batch(&orphan),
        Err(StoreError::NotFound { .. })
    ));

    let started = Instant::now();
    let (mut c, mut k) = (0_u64, 0_u64);
    let revision = store
        .load(&mut |entity| match entity {
            Entity::Consumer(_) => c += 1,
            Entity::Key(_) => k += 1,
            _ => {}
        })
        .unwrap();
    let loaded = started.elapsed();
    assert_eq!((c, k), (consumers, keys));
    assert_eq!(revision, store.revision().unwrap());
    eprintln!(
        "{keys} keys in PostgreSQL: imported in {:.2} s, loaded in {:.2} s",
        imported.as_secs_f64(),
        loaded.as_secs_f64()
    );
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn load_20k_keys() {
    import_and_load(20_000);
}

/// Slow: run on demand, preferably in release mode.
#[test]
#[ignore = "slow: a million keys"]
fn load_1m_keys() {
    import_and_load(1_000_000);
}
