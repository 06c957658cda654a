//! Records and checks the conformance checks share: a consumer, a key, a service, a
//! subscription, the changes they log, and the error kinds expected.

// A test suite: a failed `unwrap` is a failed check, reported with its location.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use crate::{
    Change, ChangeKind, ConsumerRecord, KeyMode, KeyRecord, Origin, Page, ServiceRecord,
    StoreError, SubscriptionRecord, SubscriptionStatus,
};

// ---- records -------------------------------------------------------------------------

/// A consumer with every field set.
pub(super) fn consumer(name: &str) -> ConsumerRecord {
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
        limits: Some(r#"{"limits":[{"count":5,"per":"minute"}]}"#.to_owned()),
    }
}

/// A consumer with every optional field empty.
pub(super) fn bare_consumer(name: &str) -> ConsumerRecord {
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
        limits: None,
    }
}

/// A key of `consumer` whose hash is derived from `n`.
pub(super) fn key(id: &str, consumer: &str, n: u8) -> KeyRecord {
    KeyRecord {
        limits: None,
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
pub(super) fn hash(n: u8) -> [u8; 32] {
    let mut hash = [0xa5; 32];
    hash[0] = n;
    hash[31] = n.wrapping_mul(7);
    hash
}

/// A service.
pub(super) fn service(name: &str, document: &str) -> ServiceRecord {
    ServiceRecord {
        name: name.to_owned(),
        document: document.to_owned(),
        origin: Origin::File,
        updated_at: 3_000,
    }
}

/// A pending subscription of `consumer` to `service`'s plan `plan`.
pub(super) fn subscription(
    id: &str,
    consumer: &str,
    service: &str,
    plan: &str,
) -> SubscriptionRecord {
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
        reason: None,
    }
}

/// A change.
pub(super) fn change(revision: u64, kind: ChangeKind, name: &str, deleted: bool) -> Change {
    Change {
        revision,
        kind,
        name: name.to_owned(),
        deleted,
        key_hash: None,
    }
}

/// The change of a key.
pub(super) fn key_change(revision: u64, id: &str, n: u8, deleted: bool) -> Change {
    Change {
        key_hash: Some(hash(n)),
        ..change(revision, ChangeKind::Key, id, deleted)
    }
}

/// A page.
pub(super) fn page(after: Option<&str>, limit: usize) -> Page {
    Page {
        after: after.map(str::to_owned),
        limit,
    }
}

/// Whether `err` is `NotFound` of `kind` `name`.
pub(super) fn is_not_found(err: &StoreError, kind: &str, name: &str) -> bool {
    matches!(err, StoreError::NotFound { kind: k, name: n } if *k == kind && n == name)
}

/// Whether `err` is a `Conflict`.
pub(super) fn is_conflict(err: &StoreError) -> bool {
    matches!(err, StoreError::Conflict(_))
}

/// The names in a listing.
pub(super) fn names<T>(items: &[T], name: fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| name(item).to_owned()).collect()
}
