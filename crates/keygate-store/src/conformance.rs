//! A backend-independent test suite for [`Store`] implementations.
//!
//! Every backend runs the same checks, so the gateway sees one behaviour whatever keeps
//! its data. Beyond the trait's documentation, the checks pin down:
//!
//! - each effective write uses exactly one revision, and a failed or no-op write none
//!   (`update_key` with nothing to change returns the current revision);
//! - one change per touched entity, in order, all under the write's revision:
//!   `renew_key` logs the old key then the new one; a `put_key` that changes a key's hash
//!   logs the key deleted with its old hash, then the key with its new hash; key changes
//!   always carry the hash;
//! - `put_key` on an existing key keeps its `created_at` and `last_used_at`.
//!
//! The suite panics (with `assert!`) on the first difference. It is compiled in every
//! build, not only for tests, so that each backend's tests can call [`run_all`].

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::{
    BatchOp, Change, ChangeKind, ConsumerRecord, Entity, KeyMode, KeyRecord, Origin, Page,
    ServiceRecord, Store, StoreError, SubscriptionRecord, SubscriptionStatus, Written,
};

/// One check, run against a new, empty store.
type Check = fn(&dyn Store);

/// Every check, by name.
const CHECKS: &[(&str, Check)] = &[
    ("batches_are_all_or_nothing", batches_are_all_or_nothing),
    (
        "revision_counts_effective_writes",
        revision_counts_effective_writes,
    ),
    (
        "identical_puts_change_nothing",
        identical_puts_change_nothing,
    ),
    ("changes_are_logged", changes_are_logged),
    ("consumers_crud_and_pages", consumers_crud_and_pages),
    ("consumer_with_keys_is_kept", consumer_with_keys_is_kept),
    ("key_needs_its_consumer", key_needs_its_consumer),
    ("duplicate_keys_conflict", duplicate_keys_conflict),
    ("put_key_replaces", put_key_replaces),
    (
        "update_key_changes_mutable_fields",
        update_key_changes_mutable_fields,
    ),
    ("renew_key_is_atomic", renew_key_is_atomic),
    ("keys_listed_and_deleted", keys_listed_and_deleted),
    ("services_crud", services_crud),
    ("last_use_is_bookkeeping", last_use_is_bookkeeping),
    ("load_streams_everything", load_streams_everything),
    (
        "subscriptions_with_their_keys",
        subscriptions_with_their_keys,
    ),
    ("subscriptions_listed", subscriptions_listed),
];

/// Runs every check, each against a new, empty store from `make`, and panics at the first
/// failure. The name of each check is printed to standard error before it runs, so a
/// failure names its check.
pub fn run_all(make: &dyn Fn() -> Box<dyn Store>) {
    for (name, check) in CHECKS {
        eprintln!("store conformance: {name}");
        let store = make();
        check(store.as_ref());
    }
}

/// `apply_batch`: one transaction, a no-op when repeated, all or nothing, and the file never
/// takes over what the API created.
fn batches_are_all_or_nothing(store: &dyn Store) {
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

// ---- records -------------------------------------------------------------------------

/// A consumer with every field set.
fn consumer(name: &str) -> ConsumerRecord {
    ConsumerRecord {
        name: name.to_owned(),
        client_type: Some("partner".to_owned()),
        groups: vec!["readers".to_owned(), "writers".to_owned()],
        permissions: vec!["orders:read".to_owned()],
        description: Some(format!("the consumer {name}")),
        metadata: BTreeMap::from([("team".to_owned(), "blue".to_owned())]),
        origin: Origin::Api,
        created_at: 1_000,
        updated_at: 1_000,
    }
}

/// A consumer with every optional field empty.
fn bare_consumer(name: &str) -> ConsumerRecord {
    ConsumerRecord {
        name: name.to_owned(),
        client_type: None,
        groups: Vec::new(),
        permissions: Vec::new(),
        description: None,
        metadata: BTreeMap::new(),
        origin: Origin::File,
        created_at: 2_000,
        updated_at: 2_000,
    }
}

/// A key of `consumer` whose hash is derived from `n`.
fn key(id: &str, consumer: &str, n: u8) -> KeyRecord {
    KeyRecord {
        id: id.to_owned(),
        consumer: consumer.to_owned(),
        hash: hash(n),
        prefix: Some(format!("kg_{n:02x}")),
        active: true,
        description: None,
        labels: BTreeMap::from([("env".to_owned(), "test".to_owned())]),
        origin: Origin::Api,
        created_at: 5_000,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        subscription: None,
        shared: false,
    }
}

/// A hash that differs for each `n`.
fn hash(n: u8) -> [u8; 32] {
    let mut hash = [0xa5; 32];
    hash[0] = n;
    hash[31] = n.wrapping_mul(7);
    hash
}

/// A service.
fn service(name: &str, document: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.to_owned(),
        document: document.to_owned(),
        origin: Origin::File,
        updated_at: 3_000,
    }
}

/// A pending subscription of `consumer` to `service`'s plan `plan`.
fn subscription(id: &str, consumer: &str, service: &str, plan: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        id: id.to_owned(),
        consumer: consumer.to_owned(),
        service: service.to_owned(),
        plan: plan.to_owned(),
        status: SubscriptionStatus::Pending,
        key_mode: KeyMode::Own,
        ends_at: Some(50_000),
        created_at: 3_000,
        updated_at: 3_000,
    }
}

/// A change.
fn change(revision: u64, kind: ChangeKind, name: &str, deleted: bool) -> Change {
    Change {
        revision,
        kind,
        name: name.to_owned(),
        deleted,
        key_hash: None,
    }
}

/// The change of a key.
fn key_change(revision: u64, id: &str, n: u8, deleted: bool) -> Change {
    Change {
        key_hash: Some(hash(n)),
        ..change(revision, ChangeKind::Key, id, deleted)
    }
}

/// A page.
fn page(after: Option<&str>, limit: usize) -> Page {
    Page {
        after: after.map(str::to_owned),
        limit,
    }
}

/// Whether `err` is `NotFound` of `kind` `name`.
fn is_not_found(err: &StoreError, kind: &str, name: &str) -> bool {
    matches!(err, StoreError::NotFound { kind: k, name: n } if *k == kind && n == name)
}

/// Whether `err` is a `Conflict`.
fn is_conflict(err: &StoreError) -> bool {
    matches!(err, StoreError::Conflict(_))
}

/// The names in a listing.
fn names<T>(items: &[T], name: fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| name(item).to_owned()).collect()
}

// ---- checks --------------------------------------------------------------------------

/// 0 at first, then +1 per effective write, and nothing for a failed one.
fn revision_counts_effective_writes(s: &dyn Store) {
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
fn identical_puts_change_nothing(s: &dyn Store) {
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
fn changes_are_logged(s: &dyn Store) {
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

/// Consumers: create, read, list by pages, update, delete.
fn consumers_crud_and_pages(s: &dyn Store) {
    assert_eq!(s.consumer("alice").unwrap(), None);
    assert!(s.consumers(&Page::default()).unwrap().is_empty());

    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&bare_consumer("bob")).unwrap();
    assert_eq!(s.consumer("alice").unwrap().unwrap(), consumer("alice"));
    assert_eq!(s.consumer("bob").unwrap().unwrap(), bare_consumer("bob"));

    // Update: everything but `created_at` is replaced.
    let mut changed = bare_consumer("alice");
    changed.created_at = 40_000;
    changed.updated_at = 41_000;
    assert_eq!(s.put_consumer(&changed).unwrap(), Written::Updated(3));
    let stored = s.consumer("alice").unwrap().unwrap();
    assert_eq!(
        stored,
        ConsumerRecord {
            created_at: 1_000,
            ..changed
        }
    );

    // Pages: ordered by name, `after` excluded, limit 0 means 100, at most 1000.
    for i in 0..110 {
        s.put_consumer(&bare_consumer(&format!("c{i:03}"))).unwrap();
    }
    let all = s.consumers(&page(None, 5000)).unwrap();
    assert_eq!(all.len(), 112);
    let mut sorted = names(&all, |c| &c.name);
    sorted.sort();
    assert_eq!(names(&all, |c| &c.name), sorted);
    let first = s.consumers(&Page::default()).unwrap();
    assert_eq!(first.len(), 100);
    assert_eq!(first[0].name, "alice");
    assert_eq!(first[1].name, "bob");
    assert_eq!(first[2].name, "c000");
    let next = s.consumers(&page(Some("c050"), 3)).unwrap();
    assert_eq!(names(&next, |c| &c.name), ["c051", "c052", "c053"]);
    let last = s.consumers(&page(Some("c108"), 10)).unwrap();
    assert_eq!(names(&last, |c| &c.name), ["c109"]);
    assert!(s.consumers(&page(Some("c109"), 10)).unwrap().is_empty());
    assert_eq!(s.consumers(&page(Some("b"), 1)).unwrap()[0].name, "bob");

    // Delete.
    let revision = s.revision().unwrap();
    assert_eq!(s.delete_consumer("bob").unwrap(), revision + 1);
    assert_eq!(s.consumer("bob").unwrap(), None);
    let err = s.delete_consumer("bob").unwrap_err();
    assert!(is_not_found(&err, "consumer", "bob"), "{err:?}");
    assert_eq!(s.revision().unwrap(), revision + 1);
}

/// A consumer cannot be deleted while it has keys.
fn consumer_with_keys_is_kept(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();
    s.insert_key(&key("k2", "alice", 2)).unwrap();
    let err = s.delete_consumer("alice").unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    assert!(s.consumer("alice").unwrap().is_some());
    assert_eq!(s.revision().unwrap(), 3);

    s.delete_key("k1").unwrap();
    assert!(is_conflict(&s.delete_consumer("alice").unwrap_err()));
    s.delete_key("k2").unwrap();
    assert_eq!(s.delete_consumer("alice").unwrap(), 6);
}

/// A key's consumer must exist.
fn key_needs_its_consumer(s: &dyn Store) {
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
fn duplicate_keys_conflict(s: &dyn Store) {
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
fn put_key_replaces(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    assert_eq!(
        s.put_key(&key("k1", "alice", 1)).unwrap(),
        Written::Created(3)
    );
    s.record_last_used(&[("k1".to_owned(), 8_000)]).unwrap();

    let replaced = KeyRecord {
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
fn update_key_changes_mutable_fields(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    s.insert_key(&key("k1", "alice", 1)).unwrap();

    let update = KeyRecord {
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
fn renew_key_is_atomic(s: &dyn Store) {
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
fn keys_listed_and_deleted(s: &dyn Store) {
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

/// Services: create, read, list by pages, update, delete.
fn services_crud(s: &dyn Store) {
    assert_eq!(s.service("orders").unwrap(), None);
    assert_eq!(
        s.put_service(&service("orders", r#"{"upstream":"a"}"#))
            .unwrap(),
        Written::Created(1)
    );
    assert_eq!(
        s.put_service(&service("billing", "{}")).unwrap(),
        Written::Created(2)
    );
    assert_eq!(
        s.service("orders").unwrap().unwrap(),
        service("orders", r#"{"upstream":"a"}"#)
    );

    let mut changed = service("orders", r#"{"upstream":"b"}"#);
    changed.updated_at = 9_000;
    assert_eq!(s.put_service(&changed).unwrap(), Written::Updated(3));
    assert_eq!(s.service("orders").unwrap().unwrap(), changed);

    let name: fn(&ServiceRecord) -> &str = |s| &s.name;
    assert_eq!(
        names(&s.services(&Page::default()).unwrap(), name),
        ["billing", "orders"]
    );
    assert_eq!(
        names(&s.services(&page(Some("billing"), 0)).unwrap(), name),
        ["orders"]
    );
    assert_eq!(
        names(&s.services(&page(None, 1)).unwrap(), name),
        ["billing"]
    );

    assert_eq!(s.delete_service("orders").unwrap(), 4);
    assert_eq!(s.service("orders").unwrap(), None);
    let err = s.delete_service("orders").unwrap_err();
    assert!(is_not_found(&err, "service", "orders"), "{err:?}");
}

/// `record_last_used` keeps the latest time, ignores unknown keys, uses no revision.
fn last_use_is_bookkeeping(s: &dyn Store) {
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

/// `load` hands over every entity, consumers then keys then services, and the revision.
fn load_streams_everything(s: &dyn Store) {
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

/// A subscription and its key are written together, under one revision; updates touch
/// status and end only; the consumer cannot go while it has subscriptions.
fn subscriptions_with_their_keys(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    let sub = subscription("s1", "alice", "orders", "gold");
    let own = KeyRecord {
        subscription: Some("s1".to_owned()),
        ..key("k1", "alice", 1)
    };
    assert_eq!(s.insert_subscription(&sub, Some(&own)).unwrap(), 2);
    assert_eq!(s.subscription("s1").unwrap().unwrap(), sub);
    assert_eq!(s.key("k1").unwrap().unwrap(), own);
    assert_eq!(
        s.changes_since(1).unwrap(),
        vec![
            change(2, ChangeKind::Subscription, "s1", false),
            key_change(2, "k1", 1, false),
        ]
    );

    // A shared key without a subscription of its own; a subscription without a key.
    let shared = KeyRecord {
        shared: true,
        ..key("k2", "alice", 2)
    };
    let mut second = subscription("s2", "alice", "billing", "basic");
    second.key_mode = KeyMode::Shared;
    assert_eq!(s.insert_subscription(&second, Some(&shared)).unwrap(), 3);
    assert!(s.key("k2").unwrap().unwrap().shared);
    let mut third = subscription("s3", "alice", "orders", "silver");
    third.key_mode = KeyMode::Shared;
    assert_eq!(s.insert_subscription(&third, None).unwrap(), 4);

    // All or nothing: a used id, a used key hash, an absent consumer.
    let err = s.insert_subscription(&sub, None).unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    let err = s
        .insert_subscription(
            &subscription("s4", "alice", "orders", "gold"),
            Some(&key("k4", "alice", 1)),
        )
        .unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    assert!(s.subscription("s4").unwrap().is_none());
    let err = s
        .insert_subscription(&subscription("s5", "ghost", "orders", "gold"), None)
        .unwrap_err();
    assert!(is_not_found(&err, "consumer", "ghost"), "{err:?}");
    assert_eq!(s.revision().unwrap(), 4);

    // Updates write status, end and update time only; the same again uses no revision.
    let accepted = SubscriptionRecord {
        status: SubscriptionStatus::Accepted,
        ends_at: None,
        updated_at: 9_000,
        plan: "ignored".to_owned(),
        ..sub.clone()
    };
    let err = s
        .update_subscription(&accepted, SubscriptionStatus::Paused)
        .unwrap_err();
    assert!(
        is_conflict(&err),
        "the status is not the expected one: {err:?}"
    );
    assert_eq!(s.revision().unwrap(), 4);
    assert_eq!(
        s.update_subscription(&accepted, SubscriptionStatus::Pending)
            .unwrap(),
        5
    );
    assert_eq!(
        s.subscription("s1").unwrap().unwrap(),
        SubscriptionRecord {
            status: SubscriptionStatus::Accepted,
            ends_at: None,
            updated_at: 9_000,
            ..sub.clone()
        }
    );
    assert_eq!(
        s.update_subscription(&accepted, SubscriptionStatus::Accepted)
            .unwrap(),
        5
    );
    let err = s
        .update_subscription(
            &subscription("ghost", "alice", "orders", "gold"),
            SubscriptionStatus::Pending,
        )
        .unwrap_err();
    assert!(is_not_found(&err, "subscription", "ghost"), "{err:?}");

    // The consumer stays while it has subscriptions, even without keys.
    s.delete_key("k1").unwrap();
    s.delete_key("k2").unwrap();
    let err = s.delete_consumer("alice").unwrap_err();
    assert!(is_conflict(&err), "{err:?}");
    for id in ["s1", "s2", "s3"] {
        s.delete_subscription(id).unwrap();
    }
    assert_eq!(
        s.changes_since(9).unwrap(),
        vec![change(10, ChangeKind::Subscription, "s3", true)]
    );
    let err = s.delete_subscription("s1").unwrap_err();
    assert!(is_not_found(&err, "subscription", "s1"), "{err:?}");
    s.delete_consumer("alice").unwrap();
}

/// Listings filter by consumer and service and page by id; `load` streams subscriptions
/// last.
fn subscriptions_listed(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    s.put_consumer(&consumer("bob")).unwrap();
    s.put_service(&service("orders", "{}")).unwrap();
    for (id, owner, service) in [
        ("s3", "bob", "orders"),
        ("s1", "alice", "orders"),
        ("s2", "alice", "billing"),
        ("s4", "bob", "billing"),
    ] {
        s.insert_subscription(&subscription(id, owner, service, "gold"), None)
            .unwrap();
    }
    let ids = |consumer, service, after, limit| {
        names(
            &s.subscriptions(consumer, service, &page(after, limit))
                .unwrap(),
            |sub| &sub.id,
        )
    };
    assert_eq!(ids(None, None, None, 0), ["s1", "s2", "s3", "s4"]);
    assert_eq!(ids(Some("alice"), None, None, 0), ["s1", "s2"]);
    assert_eq!(ids(None, Some("billing"), None, 0), ["s2", "s4"]);
    assert_eq!(ids(Some("bob"), Some("orders"), None, 0), ["s3"]);
    assert_eq!(ids(None, None, Some("s1"), 2), ["s2", "s3"]);
    assert!(ids(Some("carol"), None, None, 0).is_empty());

    let mut kinds = Vec::new();
    s.load(&mut |e| {
        kinds.push(match e {
            Entity::Consumer(_) => 0,
            Entity::Key(_) => 1,
            Entity::Service(_) => 2,
            Entity::Subscription(_) => 3,
        })
    })
    .unwrap();
    assert_eq!(kinds, [0, 0, 2, 3, 3, 3, 3]);
}
