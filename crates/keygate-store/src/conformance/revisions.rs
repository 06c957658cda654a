//! Checks of revisions and the change log: one revision per effective write (batches
//! all or nothing), none for identical puts, the changes logged in order, and `load`.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fixtures::{bare_consumer, change, consumer, key, key_change, service};
use crate::{BatchOp, ChangeKind, Entity, Origin, Page, Store, StoreError, Written};

/// `apply_batch`: one transaction, a no-op when repeated, all or nothing, and the file never
/// takes over what the API created.
pub(super) fn batches_are_all_or_nothing(store: &dyn Store) {
    let mut owner = consumer("filed");
    owner.origin = Origin::File;
    let mut first = key("k-one", "filed", 1);
    first.origin = Origin::File;
    let mut second = key("k-two", "filed", 2);
    second.origin = Origin::File;
    let ops = [
        BatchOp::PutConsumer(&owner),
        BatchOp::PutKey(&first),
        BatchOp::PutKey(&second),
    ];
    let revision = store.apply_batch(&ops, Some(("file", "v1"))).unwrap();
    assert_eq!(revision, 3, "one revision per effective put");
    assert_eq!(store.setting("file").unwrap().as_deref(), Some("v1"));
    assert_eq!(store.setting("other").unwrap(), None);
    assert_eq!(
        store.apply_batch(&ops, Some(("file", "v1"))).unwrap(),
        3,
        "repeated: nothing"
    );

    let api_key = key("k-api", "filed", 3);
    store.insert_key(&api_key).unwrap();
    let before = store.revision().unwrap();
    let mut takeover = key("k-api", "filed", 3);
    takeover.origin = Origin::File;
    let mut third = key("k-three", "filed", 4);
    third.origin = Origin::File;
    let refused = store.apply_batch(
        &[BatchOp::PutKey(&third), BatchOp::PutKey(&takeover)],
        Some(("file", "v2")),
    );
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(
        store.revision().unwrap(),
        before,
        "nothing of the failed batch stays"
    );
    assert!(store.key("k-three").unwrap().is_none());
    assert_eq!(store.setting("file").unwrap().as_deref(), Some("v1"));
}

// ---- checks --------------------------------------------------------------------------

/// 0 at first, then +1 per effective write, and nothing for a failed one.
pub(super) fn revision_counts_effective_writes(s: &dyn Store) {
    assert_eq!(s.revision().unwrap(), 0);
    assert!(s.changes_since(0).unwrap().is_empty());

    assert_eq!(
        s.put_consumer(&consumer("alice")).unwrap(),
        Written::Created(1)
    );
    assert_eq!(s.revision().unwrap(), 1);
    assert_eq!(s.insert_key(&key("k1", "alice", 1)).unwrap(), 2);
    assert_eq!(
        s.put_service(&service("orders", "{}")).unwrap(),
        Written::Created(3)
    );
    let mut k1 = key("k1", "alice", 1);
    k1.active = false;
    assert_eq!(s.update_key(&k1).unwrap(), 4);
    assert_eq!(s.renew_key("k1", 9_000, &key("k2", "alice", 2)).unwrap(), 5);
    assert_eq!(s.delete_key("k2").unwrap(), 6);
    assert_eq!(s.delete_service("orders").unwrap(), 7);
    assert_eq!(s.revision().unwrap(), 7);

    // Failed writes use no revision.
    assert!(s.insert_key(&key("k3", "nobody", 3)).is_err());
    assert!(s.insert_key(&key("k1", "alice", 4)).is_err());
    assert!(s.delete_consumer("alice").is_err());
    assert!(s.delete_key("ghost").is_err());
    assert!(s.delete_service("ghost").is_err());
    assert!(s.update_key(&key("ghost", "alice", 5)).is_err());
    assert!(s.renew_key("ghost", 1, &key("k5", "alice", 5)).is_err());
    assert_eq!(s.revision().unwrap(), 7);
    assert_eq!(s.changes_since(0).unwrap().last().unwrap().revision, 7);

    assert_eq!(s.delete_key("k1").unwrap(), 8);
    assert_eq!(s.delete_consumer("alice").unwrap(), 9);
    assert_eq!(s.revision().unwrap(), 9);
}

/// Putting what is stored (timestamps aside) writes nothing and uses no revision.
pub(super) fn identical_puts_change_nothing(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_key(&key("k1", "alice", 1)).unwrap();
    s.put_service(&service("orders", r#"{"routes":[]}"#))
        .unwrap();
    s.record_last_used(&[("k1".to_owned(), 7_000)]).unwrap();
    let revision = s.revision().unwrap();
    assert_eq!(revision, 3);

    let mut again = consumer("alice");
    again.created_at = 50_000;
    again.updated_at = 60_000;
    assert_eq!(s.put_consumer(&again).unwrap(), Written::Unchanged);
    let mut again = key("k1", "alice", 1);
    again.created_at = 50_000;
    again.last_used_at = Some(1);
    assert_eq!(s.put_key(&again).unwrap(), Written::Unchanged);
    let mut again = service("orders", r#"{"routes":[]}"#);
    again.updated_at = 60_000;
    assert_eq!(s.put_service(&again).unwrap(), Written::Unchanged);
    assert_eq!(s.update_key(&key("k1", "alice", 1)).unwrap(), revision);

    assert_eq!(s.revision().unwrap(), revision);
    assert!(s.changes_since(revision).unwrap().is_empty());
    // Nothing was overwritten.
    assert_eq!(s.consumer("alice").unwrap().unwrap(), consumer("alice"));
    assert_eq!(s.key("k1").unwrap().unwrap().created_at, 5_000);
    assert_eq!(s.key("k1").unwrap().unwrap().last_used_at, Some(7_000));
    assert_eq!(s.service("orders").unwrap().unwrap().updated_at, 3_000);

    // Any other difference is a write.
    let mut changed = consumer("alice");
    changed.groups.push("admins".to_owned());
    assert_eq!(
        s.put_consumer(&changed).unwrap(),
        Written::Updated(revision + 1)
    );
    let mut changed = key("k1", "alice", 1);
    changed.origin = Origin::File;
    assert_eq!(s.put_key(&changed).unwrap(), Written::Updated(revision + 2));
    let mut changed = service("orders", r#"{"routes":[]}"#);
    changed.origin = Origin::Api;
    assert_eq!(
        s.put_service(&changed).unwrap(),
        Written::Updated(revision + 3)
    );
}

/// `changes_since` returns the changes after a revision, oldest first.
pub(super) fn changes_are_logged(s: &dyn Store) {
    use ChangeKind::{Consumer, Service};

    s.put_consumer(&consumer("alice")).unwrap(); // 1
    s.put_consumer(&bare_consumer("bob")).unwrap(); // 2
    s.insert_key(&key("k1", "alice", 1)).unwrap(); // 3
    s.put_service(&service("orders", "{}")).unwrap(); // 4
    s.renew_key("k1", 9_000, &key("k2", "alice", 2)).unwrap(); // 5
    let mut moved = key("k1", "bob", 11);
    moved.expires_at = Some(9_000);
    s.put_key(&moved).unwrap(); // 6: new consumer and hash
    let mut edited = key("k2", "alice", 2);
    edited.description = Some("renewed".to_owned());
    s.update_key(&edited).unwrap(); // 7
    s.delete_key("k2").unwrap(); // 8
    s.delete_service("orders").unwrap(); // 9
    s.delete_consumer("alice").unwrap(); // 10
    s.put_consumer(&consumer("bob")).unwrap(); // 11

    let expected = vec![
        change(1, Consumer, "alice", false),
        change(2, Consumer, "bob", false),
        key_change(3, "k1", 1, false),
        change(4, Service, "orders", false),
        key_change(5, "k1", 1, false),
        key_change(5, "k2", 2, false),
        key_change(6, "k1", 1, true),
        key_change(6, "k1", 11, false),
        key_change(7, "k2", 2, false),
        key_change(8, "k2", 2, true),
        change(9, Service, "orders", true),
        change(10, Consumer, "alice", true),
        change(11, Consumer, "bob", false),
    ];
    assert_eq!(s.changes_since(0).unwrap(), expected);
    assert_eq!(s.changes_since(5).unwrap(), expected[6..].to_vec());
    assert_eq!(s.changes_since(10).unwrap(), expected[12..].to_vec());
    assert!(s.changes_since(11).unwrap().is_empty());
    assert!(s.changes_since(u64::MAX).unwrap().is_empty());
}

/// `load` hands over every entity, consumers then keys then services, and the revision.
pub(super) fn load_streams_everything(s: &dyn Store) {
    let mut count = 0;
    assert_eq!(s.load(&mut |_| count += 1).unwrap(), 0);
    assert_eq!(count, 0);

    for name in ["carol", "alice", "bob"] {
        s.put_consumer(&consumer(name)).unwrap();
    }
    for n in 0..5 {
        let owner = ["alice", "bob", "carol"][usize::from(n) % 3];
        s.insert_key(&key(&format!("k{n}"), owner, n)).unwrap();
    }
    s.put_service(&service("orders", "{}")).unwrap();
    s.put_service(&service("billing", "{}")).unwrap();
    s.record_last_used(&[("k0".to_owned(), 4_000)]).unwrap();

    let mut entities = Vec::new();
    let revision = s.load(&mut |e| entities.push(e)).unwrap();
    assert_eq!(revision, 10);
    assert_eq!(revision, s.revision().unwrap());

    let rank = |e: &Entity| match e {
        Entity::Consumer(_) => 0,
        Entity::Key(_) => 1,
        Entity::Service(_) => 2,
        Entity::Subscription(_) => 3,
    };
    let ranks: Vec<_> = entities.iter().map(rank).collect();
    let mut sorted = ranks.clone();
    sorted.sort_unstable();
    assert_eq!(ranks, sorted, "consumers, then keys, then services");

    let mut consumers = Vec::new();
    let mut keys = Vec::new();
    let mut services = Vec::new();
    for entity in entities {
        match entity {
            Entity::Consumer(c) => consumers.push(c),
            Entity::Key(k) => keys.push(k),
            Entity::Service(s) => services.push(s),
            Entity::Subscription(_) => panic!("no subscription was written"),
        }
    }
    consumers.sort_by(|a, b| a.name.cmp(&b.name));
    keys.sort_by(|a, b| a.id.cmp(&b.id));
    services.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(consumers, s.consumers(&Page::default()).unwrap());
    assert_eq!(keys, s.keys(None, &Page::default()).unwrap());
    assert_eq!(services, s.services(&Page::default()).unwrap());
    assert_eq!(consumers.len(), 3);
    assert_eq!(keys.len(), 5);
    assert_eq!(services.len(), 2);
    assert_eq!(keys[0].last_used_at, Some(4_000));
}
