//! Writing subscriptions, each inside a transaction opened by [`super::PostgresStore`]'s
//! `write`: insert, update (alone, or with the key change that goes with it), delete —
//! statement for statement as the SQLite store's `sqlite/subscriptions.rs`.

use super::codec::{self, subscription_columns};
use super::errors::{not_found, OrStore};
use super::writes::{
    bump_revision, fetch_consumer, fetch_key, fetch_subscription, insert_key_row, log_change,
    log_key, Tx,
};
use crate::{
    ChangeKind, KeyRecord, Millis, Result, StoreError, SubscriptionRecord, SubscriptionStatus,
};

/// `insert_subscription`.
pub(super) fn insert_subscription_in(
    tx: &mut Tx<'_>,
    subscription: &SubscriptionRecord,
    key: Option<&KeyRecord>,
) -> Result<u64> {
    if fetch_consumer(&mut tx.inner, &subscription.consumer)?.is_none() {
        return Err(not_found("consumer", &subscription.consumer));
    }
    if fetch_subscription(&mut tx.inner, &subscription.id)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "a subscription with id `{}` already exists",
            subscription.id
        )));
    }
    tx.inner
        .execute(
            concat!(
                "INSERT INTO subscriptions (",
                subscription_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &subscription.id,
                &subscription.consumer,
                &subscription.service,
                &subscription.plan,
                &subscription.status.as_str(),
                &subscription.key_mode.as_str(),
                &subscription.ends_at,
                &subscription.created_at,
                &subscription.updated_at,
                &subscription.reason,
            ],
        )
        .or_store()?;
    if let Some(key) = key {
        insert_key_row(tx, key)?;
    }
    let revision = bump_revision(tx)?;
    log_subscription(tx, revision, 0, subscription)?;
    if let Some(key) = key {
        log_key(tx, revision, 1, key, false)?;
    }
    Ok(revision)
}

/// `update_subscription`: unchanged fields use no revision.
pub(super) fn update_subscription_in(
    tx: &mut Tx<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<u64> {
    if !write_subscription_fields(tx, subscription, expected)? {
        return Ok(tx.start);
    }
    let revision = bump_revision(tx)?;
    log_subscription(tx, revision, 0, subscription)?;
    Ok(revision)
}

/// `update_subscription_with_key`.
pub(super) fn update_subscription_with_key_in(
    tx: &mut Tx<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
    ended: &[String],
    ended_at: Millis,
    new: &KeyRecord,
) -> Result<u64> {
    let changed = write_subscription_fields(tx, subscription, expected)?;
    let mut ended_keys = Vec::with_capacity(ended.len());
    for id in ended {
        let mut key = fetch_key(&mut tx.inner, id)?.ok_or_else(|| not_found("key", id))?;
        tx.inner
            .execute(
                "UPDATE keys SET expires_at = $2 WHERE id = $1",
                &[id, &ended_at],
            )
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
    tx: &mut Tx<'_>,
    subscription: &SubscriptionRecord,
    expected: SubscriptionStatus,
) -> Result<bool> {
    let stored = fetch_subscription(&mut tx.inner, &subscription.id)?
        .ok_or_else(|| not_found("subscription", &subscription.id))?;
    crate::stored_forms::expect_status(&stored, expected)?;
    if codec::same_mutable_subscription_fields(&stored, subscription) {
        return Ok(false);
    }
    tx.inner
        .execute(
            "UPDATE subscriptions SET status = $2, ends_at = $3, updated_at = $4, reason = $5 \
             WHERE id = $1",
            &[
                &subscription.id,
                &subscription.status.as_str(),
                &subscription.ends_at,
                &subscription.updated_at,
                &subscription.reason,
            ],
        )
        .or_store()?;
    Ok(true)
}

/// Appends the change-log row of a changed subscription.
fn log_subscription(
    tx: &mut Tx<'_>,
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

/// `delete_subscription`.
pub(super) fn delete_subscription_in(tx: &mut Tx<'_>, id: &str) -> Result<u64> {
    let deleted = tx
        .inner
        .execute("DELETE FROM subscriptions WHERE id = $1", &[&id])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("subscription", id));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Subscription, id, true, None)?;
    Ok(revision)
}
