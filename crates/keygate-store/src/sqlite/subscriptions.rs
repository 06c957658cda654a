//! Writing subscriptions inside an open transaction: insert, update (alone, or with the
//! key change that goes with it), delete.

use rusqlite::{params, Transaction};

use super::change_log::{bump_revision, current_revision, log_change, log_key};
use super::codec;
use super::codec::subscription_columns;
use super::errors::{not_found, OrStore};
use super::keys::insert_key_row;
use super::reads::{fetch_consumer, fetch_key, fetch_subscription};
use crate::{
    ChangeKind, KeyRecord, Millis, Result, StoreError, SubscriptionRecord, SubscriptionStatus,
};

/// `insert_subscription` inside an open transaction.
pub(super) fn insert_subscription_in(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    key: Option<&KeyRecord>,
) -> Result<u64> {
    if fetch_consumer(tx, &subscription.consumer)?.is_none() {
        return Err(not_found("consumer", &subscription.consumer));
    }
    if fetch_subscription(tx, &subscription.id)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a subscription with id `{}` already exists",
            subscription.id
        )));
    }
    tx.prepare_cached(concat!(
        "INSERT INTO subscriptions (",
        subscription_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .or_store()?
    .execute(params![
        subscription.id,
        subscription.consumer,
        subscription.service,
        subscription.plan,
        subscription.status.as_str(),
        subscription.key_mode.as_str(),
        subscription.ends_at,
        subscription.created_at,
        subscription.updated_at,
        subscription.reason,
    ])
    .or_store()?;
    if let Some(key) = key {
        insert_key_row(tx, key)?;
    }
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Subscription,
        &subscription.id,
        false,
        None,
    )?;
    if let Some(key) = key {
        log_key(tx, revision, 1, key, false)?;
    }
    Ok(revision)
}

/// `update_subscription` inside an open transaction. Unchanged fields use no revision.
pub(super) fn update_subscription_in(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<u64> {
    if !write_subscription_fields(tx, subscription, expected)? {
        return current_revision(tx);
    }
    let revision = bump_revision(tx)?;
    log_subscription(tx, revision, 0, subscription)?;
    Ok(revision)
}

/// `update_subscription_with_key` inside an open transaction.
pub(super) fn update_subscription_with_key_in(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
    ended: &[String],
    ended_at: Millis,
    new: &KeyRecord,
) -> Result<u64> {
    let changed = write_subscription_fields(tx, subscription, expected)?;
    let mut ended_keys = Vec::with_capacity(ended.len());
    for id in ended {
        let mut key = fetch_key(tx, id)?.ok_or_else(|| not_found("key", id))?;
        tx.prepare_cached("UPDATE keys SET expires_at = ?2 WHERE id = ?1")
            .or_store()?
            .execute(params![id, ended_at])
            .or_store()?;
        key.expires_at = Some(ended_at);
        ended_keys.push(key);
    }
    insert_key_row(tx, new)?;
    let revision = bump_revision(tx)?;
    let mut seq = 0;
    if changed {
        log_subscription(tx, revision, seq, subscription)?;
        seq += 1;
    }
    for key in ended_keys.iter().chain([new]) {
        log_key(tx, revision, seq, key, false)?;
        seq += 1;
    }
    Ok(revision)
}

/// Writes the fields `update_subscription` changes, once the stored status is
/// `expected`; false when they are already as given (nothing written).
fn write_subscription_fields(
    tx: &Transaction<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<bool> {
    let stored = fetch_subscription(tx, &subscription.id)?
        .ok_or_else(|| not_found("subscription", &subscription.id))?;
    crate::stored_forms::expect_status(&stored, expected)?;
    if codec::same_mutable_subscription_fields(&stored, subscription) {
        return Ok(false);
    }
    tx.prepare_cached(
        "UPDATE subscriptions SET status = ?2, ends_at = ?3, updated_at = ?4, reason = ?5 \
         WHERE id = ?1",
    )
    .or_store()?
    .execute(params![
        subscription.id,
        subscription.status.as_str(),
        subscription.ends_at,
        subscription.updated_at,
        subscription.reason,
    ])
    .or_store()?;
    Ok(true)
}

/// Appends the change-log row of a changed subscription.
fn log_subscription(
    tx: &Transaction<'_>,
    revision: u64,
    seq: usize,
    subscription: &SubscriptionRecord,
) -> Result<()> {
    log_change(
        tx,
        revision,
        seq,
        ChangeKind::Subscription,
        &subscription.id,
        false,
        None,
    )
}

/// `delete_subscription` inside an open transaction.
pub(super) fn delete_subscription_in(tx: &Transaction<'_>, id: &str) -> Result<u64> {
    let deleted = tx
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1")
        .or_store()?
        .execute([id])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("subscription", id));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Subscription, id, true, None)?;
    Ok(revision)
}
