//! Checks of keys: their consumer required, duplicates refused, put, update, renew,
//! listing, deletion, and last use as bookkeeping.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::fixtures::{consumer, hash, is_conflict, is_not_found, key, key_change, names, page};
use crate::{KeyRecord, Origin, Page, Store, Written};

/// A key's consumer must exist.
pub(super) fn key_needs_its_consumer(s: &dyn Store) {
    let err = s.insert_key(&key("k1", "nobody", 1)).unwrap_err();
    assert!(is_not_found(&err, "consumer", "nobody"), "{err:?}");
    let err = s.put_key(&key("k1", "nobody", 1)).unwrap_err();
    assert!(is_not_found(&err, "consumer", "nobody"), "{err:?}");

    s.put_consumer(&consumer("alice")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();
    let err = s.put_key(&key("k1", "nobody", 1)).unwrap_err();
    assert!(is_not_found(&err, "consumer", "nobody"), "{err:?}");
    assert_eq!(s.key("k1").unwrap().unwrap(), key("k1", "alice", 1));
    assert_eq!(s.revision().unwrap(), 2);
}

/// Ids and hashes are unique.
pub(super) fn duplicate_keys_conflict(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();
    s.insert_key(&key("k2", "alice", 2)).unwrap();

    let err = s.insert_key(&key("k1", "bob", 3)).unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    let err = s.insert_key(&key("k3", "bob", 1)).unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    let err = s.put_key(&key("k3", "bob", 1)).unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    let err = s.put_key(&key("k2", "alice", 1)).unwrap_err();
    assert!(is_conflict(&err), "{err:?}");

    assert_eq!(s.revision().unwrap(), 4);
    assert_eq!(s.key("k1").unwrap().unwrap(), key("k1", "alice", 1));
    assert_eq!(s.key("k2").unwrap().unwrap(), key("k2", "alice", 2));
    assert_eq!(s.key("k3").unwrap(), None);
}

/// `put_key` creates, or replaces everything but `created_at` and `last_used_at`.
pub(super) fn put_key_replaces(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    assert_eq!(
        s.put_key(&key("k1", "alice", 1)).unwrap(),
        Written::Created(3)
    );
    s.record_last_used(&[("k1".to_owned(), 8_000)]).unwrap();

    let replaced = KeyRecord {
        limits: None,
        id: "k1".to_owned(),
        consumer: "bob".to_owned(),
        hash: hash(9),
        prefix: None,
        active: false,
        description: Some("moved".to_owned()),
        labels: BTreeMap::new(),
        origin: Origin::File,
        created_at: 77_000,
        expires_at: Some(90_000),
        revoked_at: Some(80_000),
        last_used_at: None,
        subscription: Some("sub-1".to_owned()),
        shared: true,
    };
    assert_eq!(s.put_key(&replaced).unwrap(), Written::Updated(4));
    assert_eq!(
        s.key("k1").unwrap().unwrap(),
        KeyRecord {
            created_at: 5_000,
            last_used_at: Some(8_000),
            ..replaced
        }
    );
    // The old hash is free again.
    s.insert_key(&key("k2", "alice", 1)).unwrap();
}

/// `update_key` writes `active`, `description`, `labels`, `expires_at` and `revoked_at`
/// only.
pub(super) fn update_key_changes_mutable_fields(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();

    let update = KeyRecord {
        limits: None,
        id: "k1".to_owned(),
        consumer: "bob".to_owned(),
        hash: hash(9),
        prefix: Some("other".to_owned()),
        active: false,
        description: Some("paused".to_owned()),
        labels: BTreeMap::from([("tier".to_owned(), "gold".to_owned())]),
        origin: Origin::File,
        created_at: 1,
        expires_at: Some(70_000),
        revoked_at: Some(60_000),
        last_used_at: Some(2),
        subscription: Some("ignored".to_owned()),
        shared: true,
    };
    assert_eq!(s.update_key(&update).unwrap(), 4);
    let stored = s.key("k1").unwrap().unwrap();
    assert_eq!(
        stored,
        KeyRecord {
            active: false,
            description: Some("paused".to_owned()),
            labels: update.labels.clone(),
            expires_at: Some(70_000),
            revoked_at: Some(60_000),
            ..key("k1", "alice", 1)
        }
    );
    assert_eq!(
        s.changes_since(3).unwrap(),
        vec![key_change(4, "k1", 1, false)]
    );

    let err = s.update_key(&key("ghost", "alice", 5)).unwrap_err();
    assert!(is_not_found(&err, "key", "ghost"), "{err:?}");
    assert_eq!(s.revision().unwrap(), 4);
}

/// `renew_key` expires the old key and adds the new one, both or neither.
pub(super) fn renew_key_is_atomic(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();

    assert_eq!(s.renew_key("k1", 9_000, &key("k2", "alice", 2)).unwrap(), 3);
    assert_eq!(s.key("k1").unwrap().unwrap().expires_at, Some(9_000));
    assert_eq!(s.key("k2").unwrap().unwrap(), key("k2", "alice", 2));

    // A new key whose hash is taken: nothing happens.
    let err = s
        .renew_key("k2", 12_000, &key("k3", "alice", 1))
        .unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    // A new key whose id is taken.
    let err = s
        .renew_key("k2", 12_000, &key("k1", "alice", 3))
        .unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    // A new key of an unknown consumer.
    let err = s
        .renew_key("k2", 12_000, &key("k3", "nobody", 3))
        .unwrap_err();
    assert!(is_not_found(&err, "consumer", "nobody"), "{err:?}");
    // An unknown old key.
    let err = s
        .renew_key("ghost", 12_000, &key("k3", "alice", 3))
        .unwrap_err();
    assert!(is_not_found(&err, "key", "ghost"), "{err:?}");

    assert_eq!(s.key("k2").unwrap().unwrap(), key("k2", "alice", 2));
    assert_eq!(s.key("k3").unwrap(), None);
    assert_eq!(s.revision().unwrap(), 3);
    assert!(s.changes_since(3).unwrap().is_empty());
}

/// Keys: listing by id, optionally by consumer, by pages; deleting.
pub(super) fn keys_listed_and_deleted(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    for (i, id) in ["k5", "k1", "k4", "k2", "k3"].iter().enumerate() {
        let owner = if i % 2 == 0 { "alice" } else { "bob" };
        s.insert_key(&key(id, owner, u8::try_from(i).unwrap()))
            .unwrap();
    }
    let id: fn(&KeyRecord) -> &str = |k| &k.id;
    let all = s.keys(None, &Page::default()).unwrap();
    assert_eq!(names(&all, id), ["k1", "k2", "k3", "k4", "k5"]);
    assert_eq!(all[0], key("k1", "bob", 1));
    let alice = s.keys(Some("alice"), &Page::default()).unwrap();
    assert_eq!(names(&alice, id), ["k3", "k4", "k5"]);
    let bob = s.keys(Some("bob"), &page(Some("k1"), 10)).unwrap();
    assert_eq!(names(&bob, id), ["k2"]);
    let some = s.keys(None, &page(Some("k2"), 2)).unwrap();
    assert_eq!(names(&some, id), ["k3", "k4"]);
    let some = s.keys(Some("alice"), &page(Some("k3"), 1)).unwrap();
    assert_eq!(names(&some, id), ["k4"]);
    assert!(s.keys(Some("nobody"), &Page::default()).unwrap().is_empty());

    assert_eq!(s.delete_key("k3").unwrap(), 8);
    assert_eq!(s.key("k3").unwrap(), None);
    assert_eq!(
        s.changes_since(7).unwrap(),
        vec![key_change(8, "k3", 4, true)]
    );
    let err = s.delete_key("k3").unwrap_err();
    assert!(is_not_found(&err, "key", "k3"), "{err:?}");
    assert_eq!(s.keys(None, &Page::default()).unwrap().len(), 4);
    // Its hash is free again.
    s.insert_key(&key("k6", "bob", 4)).unwrap();
}

/// `record_last_used` keeps the latest time, ignores unknown keys, uses no revision.
pub(super) fn last_use_is_bookkeeping(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();
    s.insert_key(&key("k2", "alice", 2)).unwrap();

    s.record_last_used(&[
        ("k1".to_owned(), 100),
        ("k2".to_owned(), 50),
        ("ghost".to_owned(), 10),
    ])
    .unwrap();
    assert_eq!(s.key("k1").unwrap().unwrap().last_used_at, Some(100));
    assert_eq!(s.key("k2").unwrap().unwrap().last_used_at, Some(50));

    s.record_last_used(&[("k1".to_owned(), 80), ("k2".to_owned(), 90)])
        .unwrap();
    assert_eq!(s.key("k1").unwrap().unwrap().last_used_at, Some(100));
    assert_eq!(s.key("k2").unwrap().unwrap().last_used_at, Some(90));
    s.record_last_used(&[("k1".to_owned(), 300), ("k1".to_owned(), 200)])
        .unwrap();
    assert_eq!(s.key("k1").unwrap().unwrap().last_used_at, Some(300));
    s.record_last_used(&[]).unwrap();

    assert_eq!(s.revision().unwrap(), 3);
    assert!(s.changes_since(3).unwrap().is_empty());
}
