//! Checks of consumers and services: create, read, list in pages, delete, and a
//! consumer with keys kept.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fixtures::{
    bare_consumer, consumer, is_conflict, is_not_found, key, names, page, service,
};
use crate::{ConsumerRecord, Page, ServiceRecord, Store, Written};

/// Consumers: create, read, list by pages, update, delete.
pub(super) fn consumers_crud_and_pages(s: &dyn Store) {
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
pub(super) fn consumer_with_keys_is_kept(s: &dyn Store) {
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

/// Services: create, read, list by pages, update, delete.
pub(super) fn services_crud(s: &dyn Store) {
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
