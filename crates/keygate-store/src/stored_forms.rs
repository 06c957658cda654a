//! How entities are written and compared the same way by every backend: the stored
//! text of origins and change kinds, the column lists, and what makes a write a no-op.

use crate::{
    ChangeKind, ConsumerRecord, KeyRecord, Origin, Result, ServiceRecord, StoreError,
    SubscriptionRecord, SubscriptionStatus,
};

/// The consumer columns, in the order each backend's codec reads them.
macro_rules! consumer_columns {
    () => {
        "name, client_type, groups, permissions, description, metadata, origin, created_at, \
         updated_at, limits"
    };
}

/// The key columns, in the order each backend's codec reads them.
macro_rules! key_columns {
    () => {
        "id, consumer, hash, prefix, active, description, labels, origin, created_at, \
         expires_at, revoked_at, last_used_at, subscription_id, shared, limits"
    };
}

/// The service columns, in the order each backend's codec reads them.
macro_rules! service_columns {
    () => {
        "name, document, origin, updated_at"
    };
}

/// The subscription columns, in the order each backend's codec reads them.
macro_rules! subscription_columns {
    () => {
        "id, consumer, service, plan, status, key_mode, ends_at, created_at, updated_at, reason"
    };
}

pub(crate) use {consumer_columns, key_columns, service_columns, subscription_columns};

/// How an origin is stored.
pub(crate) fn origin_text(origin: Origin) -> &'static str {
    match origin {
        Origin::File => "file",
        Origin::Api => "api",
    }
}

/// How a change kind is stored.
pub(crate) fn kind_text(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Consumer => "consumer",
        ChangeKind::Key => "key",
        ChangeKind::Service => "service",
        ChangeKind::Subscription => "subscription",
    }
}

/// Reads a stored change kind.
pub(crate) fn kind(text: &str) -> Result<ChangeKind> {
    match text {
        "consumer" => Ok(ChangeKind::Consumer),
        "key" => Ok(ChangeKind::Key),
        "service" => Ok(ChangeKind::Service),
        "subscription" => Ok(ChangeKind::Subscription),
        other => Err(StoreError::Corrupt(format!(
            "the change log has an unknown kind `{other}`"
        ))),
    }
}

/// Whether two consumers are the same apart from their timestamps.
pub(crate) fn same_consumer(stored: &ConsumerRecord, new: &ConsumerRecord) -> bool {
    *stored
        == ConsumerRecord {
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            ..new.clone()
        }
}

/// Whether two keys are the same apart from their timestamps of creation and last use.
pub(crate) fn same_key(stored: &KeyRecord, new: &KeyRecord) -> bool {
    *stored
        == KeyRecord {
            created_at: stored.created_at,
            last_used_at: stored.last_used_at,
            ..new.clone()
        }
}

/// Whether two keys have the same fields that `update_key` writes.
pub(crate) fn same_mutable_key_fields(stored: &KeyRecord, new: &KeyRecord) -> bool {
    stored.active == new.active
        && stored.description == new.description
        && stored.labels == new.labels
        && stored.expires_at == new.expires_at
        && stored.revoked_at == new.revoked_at
        && stored.limits == new.limits
}

/// Whether two services are the same apart from their timestamp.
pub(crate) fn same_service(stored: &ServiceRecord, new: &ServiceRecord) -> bool {
    *stored
        == ServiceRecord {
            updated_at: stored.updated_at,
            ..new.clone()
        }
}

/// Whether two subscriptions have the same fields that `update_subscription` writes.
pub(crate) fn same_mutable_subscription_fields(
    stored: &SubscriptionRecord,
    new: &SubscriptionRecord,
) -> bool {
    stored.status == new.status && stored.ends_at == new.ends_at && stored.reason == new.reason
}

/// `Conflict` unless the stored subscription still has the status a transition expects.
pub(crate) fn expect_status(
    stored: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<()> {
    if stored.status == expected {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "subscription `{}` is {} now, not {}",
        stored.id,
        stored.status.as_str(),
        expected.as_str()
    )))
}
