//! Checks of subscriptions: created with their keys, changed (alone or with a key change),
//! their reasons kept, deleted, listed.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fixtures::{
    change, consumer, is_conflict, is_not_found, key, key_change, names, page, service,
    subscription,
};
use crate::{
    ChangeKind, Entity, KeyMode, KeyRecord, Store, StoreError, SubscriptionRecord,
    SubscriptionStatus,
};

/// A subscription and its key are written together, under one revision; updates touch
/// status and end only; the consumer cannot go while it has subscriptions.
pub(super) fn subscriptions_with_their_keys(s: &dyn Store) {
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

    // Updates write status, end, update time and reason only; the same again uses no
    // revision.
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
pub(super) fn subscriptions_listed(s: &dyn Store) {
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

/// A rejection's reason is stored with the subscription, read back as written (any
/// text: line breaks, quotes, non-ASCII), streamed by `load`, and changed by
/// `update_subscription` like its other mutable fields.
pub(super) fn subscription_reasons_are_kept(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    let reason = "Plan gold is for partners; write to sales@example.com.\n— Zoë's «team»";
    let rejected = SubscriptionRecord {
        status: SubscriptionStatus::Rejected,
        updated_at: 4_000,
        reason: Some(reason.to_owned()),
        ..subscription("s1", "alice", "orders", "gold")
    };
    s.update_subscription(&rejected, SubscriptionStatus::Pending)
        .unwrap_err();
    s.insert_subscription(&subscription("s1", "alice", "orders", "gold"), None)
        .unwrap();
    assert_eq!(
        s.update_subscription(&rejected, SubscriptionStatus::Pending)
            .unwrap(),
        3
    );
    assert_eq!(s.subscription("s1").unwrap().unwrap(), rejected);
    assert_eq!(
        s.changes_since(2).unwrap(),
        vec![change(3, ChangeKind::Subscription, "s1", false)]
    );
    // Only the reason differs: still a change.
    let reworded = SubscriptionRecord {
        reason: Some("reworded".to_owned()),
        ..rejected.clone()
    };
    assert_eq!(
        s.update_subscription(&reworded, SubscriptionStatus::Rejected)
            .unwrap(),
        4
    );
    assert_eq!(
        s.update_subscription(&reworded, SubscriptionStatus::Rejected)
            .unwrap(),
        4,
        "the same again changes nothing"
    );
    // Inserted with a reason (a file's rejected subscription), listed and loaded with it.
    let seeded = SubscriptionRecord {
        reason: Some(reason.to_owned()),
        ..rejected.clone()
    };
    let seeded = SubscriptionRecord {
        id: "s2".to_owned(),
        ..seeded
    };
    s.insert_subscription(&seeded, None).unwrap();
    let listed = s
        .subscriptions(Some("alice"), None, &page(None, 0))
        .unwrap();
    assert_eq!(listed, [reworded, seeded.clone()]);
    let mut loaded = Vec::new();
    s.load(&mut |e| {
        if let Entity::Subscription(sub) = e {
            loaded.push(sub);
        }
    })
    .unwrap();
    assert!(loaded.contains(&seeded), "{loaded:?}");
}

/// `update_subscription_with_key`: the subscription's change, its old keys ended and the
/// new key added under one revision, or nothing at all.
pub(super) fn subscription_update_with_key_is_atomic(s: &dyn Store) {
    s.put_consumer(&consumer("alice")).unwrap();
    let sub = subscription("s1", "alice", "orders", "gold");
    let own = |id: &str, n: u8| KeyRecord {
        subscription: Some("s1".to_owned()),
        ..key(id, "alice", n)
    };
    assert_eq!(s.insert_subscription(&sub, Some(&own("k1", 1))).unwrap(), 2);
    s.insert_key(&own("k2", 2)).unwrap(); // 3
    let accepted = SubscriptionRecord {
        status: SubscriptionStatus::Accepted,
        updated_at: 9_000,
        ..sub.clone()
    };
    let ended = ["k1".to_owned(), "k2".to_owned()];

    // Refused whole: the status moved on, the new key's hash or id is used, an ended key
    // or the subscription is absent, the new key's consumer is absent.
    let refusals: [(SubscriptionStatus, &[String], KeyRecord); 5] = [
        (SubscriptionStatus::Paused, &ended, own("k3", 3)),
        (SubscriptionStatus::Pending, &ended, own("k3", 1)),
        (SubscriptionStatus::Pending, &ended, own("k2", 3)),
        (
            SubscriptionStatus::Pending,
            &["ghost".to_owned()],
            own("k3", 3),
        ),
        (
            SubscriptionStatus::Pending,
            &ended,
            KeyRecord {
                consumer: "nobody".to_owned(),
                ..own("k3", 3)
            },
        ),
    ];
    for (expected, ended, new) in &refusals {
        let err = s
            .update_subscription_with_key(&accepted, *expected, ended, 8_000, new)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_) | StoreError::NotFound { .. }),
            "{err:?}"
        );
    }
    let err = s
        .update_subscription_with_key(
            &subscription("ghost", "alice", "orders", "gold"),
            SubscriptionStatus::Pending,
            &[],
            8_000,
            &own("k3", 3),
        )
        .unwrap_err();
    assert!(is_not_found(&err, "subscription", "ghost"), "{err:?}");
    assert_eq!(s.revision().unwrap(), 3, "nothing was written");
    assert_eq!(s.subscription("s1").unwrap().unwrap(), sub);
    assert_eq!(s.key("k1").unwrap().unwrap(), own("k1", 1));
    assert_eq!(s.key("k3").unwrap(), None);

    assert_eq!(
        s.update_subscription_with_key(
            &accepted,
            SubscriptionStatus::Pending,
            &ended,
            8_000,
            &own("k3", 3)
        )
        .unwrap(),
        4
    );
    assert_eq!(s.subscription("s1").unwrap().unwrap(), accepted);
    for id in ["k1", "k2"] {
        assert_eq!(s.key(id).unwrap().unwrap().expires_at, Some(8_000), "{id}");
    }
    assert_eq!(s.key("k3").unwrap().unwrap(), own("k3", 3));
    assert_eq!(
        s.changes_since(3).unwrap(),
        vec![
            change(4, ChangeKind::Subscription, "s1", false),
            key_change(4, "k1", 1, false),
            key_change(4, "k2", 2, false),
            key_change(4, "k3", 3, false),
        ]
    );
    // With nothing to end, and fields already as given: the key is still a change.
    assert_eq!(
        s.update_subscription_with_key(
            &accepted,
            SubscriptionStatus::Accepted,
            &[],
            8_500,
            &own("k4", 4)
        )
        .unwrap(),
        5
    );
    assert_eq!(
        s.changes_since(4).unwrap(),
        vec![key_change(5, "k4", 4, false)]
    );
}
