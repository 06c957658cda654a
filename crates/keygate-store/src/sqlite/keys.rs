//! Writing keys inside an open transaction: insert (naming the clash), put, delete.

use rusqlite::{params, Transaction};

use super::change_log::{bump_revision, log_key};
use super::codec;
use super::codec::key_columns;
use super::errors::{key_write, not_found, OrStore};
use super::reads::fetch_key;
use crate::{KeyRecord, Result, Written};

/// Inserts a key row, naming the clash when its id or hash is taken or its consumer
/// absent.
pub(super) fn insert_key_row(tx: &Transaction<'_>, key: &KeyRecord) -> Result<()> {
    tx.prepare_cached(concat!(
        "INSERT INTO keys (",
        key_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))
    .or_store()?
    .execute(params![
        key.id,
        key.consumer,
        &key.hash[..],
        key.prefix,
        key.active,
        key.description,
        codec::to_json(&key.labels)?,
        codec::origin_text(key.origin),
        key.created_at,
        key.expires_at,
        key.revoked_at,
        key.last_used_at,
        key.subscription,
        key.shared,
        key.limits,
    ])
    .map_err(|e| key_write(e, key))?;
    Ok(())
}

/// `put_key` inside an open transaction.
pub(super) fn put_key_in(tx: &Transaction<'_>, key: &KeyRecord) -> Result<Written> {
    let Some(stored) = fetch_key(tx, &key.id)? else {
        insert_key_row(tx, key)?;
        let revision = bump_revision(tx)?;
        log_key(tx, revision, 0, key, false)?;
        return Ok(Written::Created(revision));
    };
    if codec::same_key(&stored, key) {
        return Ok(Written::Unchanged);
    }
    tx.prepare_cached(
        "UPDATE keys SET consumer = ?2, hash = ?3, prefix = ?4, active = ?5, \
             description = ?6, labels = ?7, origin = ?8, expires_at = ?9, revoked_at = ?10, \
             subscription_id = ?11, shared = ?12, limits = ?13 WHERE id = ?1",
    )
    .or_store()?
    .execute(params![
        key.id,
        key.consumer,
        &key.hash[..],
        key.prefix,
        key.active,
        key.description,
        codec::to_json(&key.labels)?,
        codec::origin_text(key.origin),
        key.expires_at,
        key.revoked_at,
        key.subscription,
        key.shared,
        key.limits,
    ])
    .map_err(|e| key_write(e, key))?;
    let revision = bump_revision(tx)?;
    let mut seq = 0;
    if stored.hash != key.hash {
        log_key(tx, revision, seq, &stored, true)?;
        seq += 1;
    }
    log_key(tx, revision, seq, key, false)?;
    Ok(Written::Updated(revision))
}

/// `delete_key` inside an open transaction.
pub(super) fn delete_key_in(tx: &Transaction<'_>, id: &str) -> Result<u64> {
    let stored = fetch_key(tx, id)?.ok_or_else(|| not_found("key", id))?;
    tx.prepare_cached("DELETE FROM keys WHERE id = ?1")
        .or_store()?
        .execute([id])
        .or_store()?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, &stored, true)?;
    Ok(revision)
}
