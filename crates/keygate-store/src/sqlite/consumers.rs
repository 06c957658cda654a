//! Writing consumers inside an open transaction: create or update, and delete with
//! their keys and subscriptions.

use rusqlite::{params, Transaction};

use super::change_log::{bump_revision, log_change};
use super::codec;
use super::codec::consumer_columns;
use super::errors::{not_found, OrStore};
use super::reads::fetch_consumer;
use crate::{ChangeKind, ConsumerRecord, Result, StoreError, Written};

/// `put_consumer` inside an open transaction.
pub(super) fn put_consumer_in(tx: &Transaction<'_>, consumer: &ConsumerRecord) -> Result<Written> {
    let groups = codec::to_json(&consumer.groups)?;
    let permissions = codec::to_json(&consumer.permissions)?;
    let metadata = codec::to_json(&consumer.metadata)?;
    let origin = codec::origin_text(consumer.origin);
    let stored = fetch_consumer(tx, &consumer.name)?;
    let created = match &stored {
        Some(stored) if codec::same_consumer(stored, consumer) => return Ok(Written::Unchanged),
        Some(_) => {
            tx.prepare_cached(
                "UPDATE consumers SET client_type = ?2, groups = ?3, permissions = ?4, \
                     description = ?5, metadata = ?6, origin = ?7, updated_at = ?8, limits = ?9 \
                     WHERE name = ?1",
            )
            .or_store()?
            .execute(params![
                consumer.name,
                consumer.client_type,
                groups,
                permissions,
                consumer.description,
                metadata,
                origin,
                consumer.updated_at,
                consumer.limits,
            ])
            .or_store()?;
            false
        }
        None => {
            tx.prepare_cached(concat!(
                "INSERT INTO consumers (",
                consumer_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))
            .or_store()?
            .execute(params![
                consumer.name,
                consumer.client_type,
                groups,
                permissions,
                consumer.description,
                metadata,
                origin,
                consumer.created_at,
                consumer.updated_at,
                consumer.limits,
            ])
            .or_store()?;
            true
        }
    };
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Consumer,
        &consumer.name,
        false,
        None,
    )?;
    Ok(if created {
        Written::Created(revision)
    } else {
        Written::Updated(revision)
    })
}

/// `delete_consumer` inside an open transaction.
pub(super) fn delete_consumer_in(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    let keys: i64 = tx
        .prepare_cached("SELECT count(*) FROM keys WHERE consumer = ?1")
        .or_store()?
        .query_row([name], |row| row.get(0))
        .or_store()?;
    if keys > 0 {
        let noun = if keys == 1 { "key" } else { "keys" };
        return Err(StoreError::Conflict(format!(
            "consumer `{name}` still has {keys} {noun}; delete them first"
        )));
    }
    let subscriptions: i64 = tx
        .prepare_cached("SELECT count(*) FROM subscriptions WHERE consumer = ?1")
        .or_store()?
        .query_row([name], |row| row.get(0))
        .or_store()?;
    if subscriptions > 0 {
        let noun = if subscriptions == 1 {
            "subscription"
        } else {
            "subscriptions"
        };
        return Err(StoreError::Conflict(format!(
            "consumer `{name}` still has {subscriptions} {noun}; delete them first"
        )));
    }
    let deleted = tx
        .prepare_cached("DELETE FROM consumers WHERE name = ?1")
        .or_store()?
        .execute([name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("consumer", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Consumer, name, true, None)?;
    Ok(revision)
}
