//! The writes, each inside a transaction opened by [`super::PostgresStore`]'s `write`.
//!
//! They mirror the SQLite store statement for statement, so both stores answer alike:
//! read what is stored, decide, write, bump the revision once, log one change per touched
//! entity. Writers are serialised by the `meta` row lock taken when the transaction
//! begins, so the reads here see every earlier write and revisions commit in order.

use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};

use super::codec::{self, consumer_columns, key_columns, service_columns, subscription_columns};
use super::errors::{corrupt, key_write, not_found, OrStore};
use crate::{
    ChangeKind, ConsumerRecord, KeyRecord, Result, ServiceRecord, StoreError, SubscriptionRecord,
    Written,
};

/// An open write transaction and the revisions it started at and reached.
pub(super) struct Tx<'a> {
    /// The transaction.
    pub(super) inner: Transaction<'a>,
    /// The revision when it began (read under the `meta` row lock).
    pub(super) start: u64,
    /// The last revision it bumped to; `start` when it bumped none.
    pub(super) last: u64,
}

/// A revision as stored.
fn stored_revision(revision: u64) -> Result<i64> {
    i64::try_from(revision).map_err(|_| corrupt("the revision overflowed"))
}

/// A stored revision as a `u64`.
pub(super) fn revision_of(revision: i64) -> Result<u64> {
    u64::try_from(revision).map_err(|_| corrupt("the revision is negative"))
}

/// Adds 1 to the revision and returns the new one.
pub(super) fn bump_revision(tx: &mut Tx<'_>) -> Result<u64> {
    let row = tx
        .inner
        .query_one(
            "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
            &[],
        )
        .or_store()?;
    let revision = revision_of(row.get(0))?;
    tx.last = revision;
    Ok(revision)
}

/// Appends one change-log row.
pub(super) fn log_change(
    tx: &mut Tx<'_>,
    revision: u64,
    seq: usize,
    kind: ChangeKind,
    name: &str,
    deleted: bool,
    key_hash: Option<&[u8; 32]>,
) -> Result<()> {
    let revision = stored_revision(revision)?;
    let seq = i32::try_from(seq).map_err(|_| corrupt("too many changes in one write"))?;
    let key_hash = key_hash.map(|h| &h[..]);
    tx.inner
        .execute(
            "INSERT INTO change_log (revision, seq, kind, name, deleted, key_hash) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &revision,
                &seq,
                &codec::kind_text(kind),
                &name,
                &deleted,
                &key_hash,
            ],
        )
        .or_store()?;
    Ok(())
}

/// Appends the change-log row of a key.
pub(super) fn log_key(
    tx: &mut Tx<'_>,
    revision: u64,
    seq: usize,
    key: &KeyRecord,
    deleted: bool,
) -> Result<()> {
    log_change(
        tx,
        revision,
        seq,
        ChangeKind::Key,
        &key.id,
        deleted,
        Some(&key.hash),
    )
}

/// One row decoded, if any.
pub(super) fn fetch_one<C: GenericClient, T>(
    client: &mut C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    decode: fn(&postgres::Row) -> Result<T>,
) -> Result<Option<T>> {
    match client.query_opt(sql, params).or_store()? {
        Some(row) => decode(&row).map(Some),
        None => Ok(None),
    }
}

/// One consumer.
pub(super) fn fetch_consumer<C: GenericClient>(
    client: &mut C,
    name: &str,
) -> Result<Option<ConsumerRecord>> {
    fetch_one(
        client,
        concat!(
            "SELECT ",
            consumer_columns!(),
            " FROM consumers WHERE name = $1"
        ),
        &[&name],
        codec::consumer,
    )
}

/// One key.
pub(super) fn fetch_key<C: GenericClient>(client: &mut C, id: &str) -> Result<Option<KeyRecord>> {
    fetch_one(
        client,
        concat!("SELECT ", key_columns!(), " FROM keys WHERE id = $1"),
        &[&id],
        codec::key,
    )
}

/// One service.
pub(super) fn fetch_service<C: GenericClient>(
    client: &mut C,
    name: &str,
) -> Result<Option<ServiceRecord>> {
    fetch_one(
        client,
        concat!(
            "SELECT ",
            service_columns!(),
            " FROM services WHERE name = $1"
        ),
        &[&name],
        codec::service,
    )
}

/// One subscription.
pub(super) fn fetch_subscription<C: GenericClient>(
    client: &mut C,
    id: &str,
) -> Result<Option<SubscriptionRecord>> {
    fetch_one(
        client,
        concat!(
            "SELECT ",
            subscription_columns!(),
            " FROM subscriptions WHERE id = $1"
        ),
        &[&id],
        codec::subscription,
    )
}

/// Inserts a key row, naming the clash when its id or hash is taken or its consumer
/// absent.
pub(super) fn insert_key_row(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<()> {
    let labels = codec::to_json(&key.labels)?;
    let hash = &key.hash[..];
    tx.inner
        .execute(
            concat!(
                "INSERT INTO keys (",
                key_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ),
            &[
                &key.id,
                &key.consumer,
                &hash,
                &key.prefix,
                &key.active,
                &key.description,
                &labels,
                &codec::origin_text(key.origin),
                &key.created_at,
                &key.expires_at,
                &key.revoked_at,
                &key.last_used_at,
                &key.subscription,
                &key.shared,
                &key.limits,
            ],
        )
        .map_err(|e| key_write(e, key))?;
    Ok(())
}

/// `insert_key`.
pub(super) fn insert_key_in(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<u64> {
    insert_key_row(tx, key)?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, key, false)?;
    Ok(revision)
}

/// `put_consumer`.
pub(super) fn put_consumer_in(tx: &mut Tx<'_>, consumer: &ConsumerRecord) -> Result<Written> {
    let groups = codec::to_json(&consumer.groups)?;
    let permissions = codec::to_json(&consumer.permissions)?;
    let metadata = codec::to_json(&consumer.metadata)?;
    let origin = codec::origin_text(consumer.origin);
    let stored = fetch_consumer(&mut tx.inner, &consumer.name)?;
    let created = match &stored {
        Some(stored) if codec::same_consumer(stored, consumer) => return Ok(Written::Unchanged),
        Some(_) => {
            tx.inner
                .execute(
                    "UPDATE consumers SET client_type = $2, groups = $3, permissions = $4, \
                     description = $5, metadata = $6, origin = $7, updated_at = $8, limits = $9 \
                     WHERE name = $1",
                    &[
                        &consumer.name,
                        &consumer.client_type,
                        &groups,
                        &permissions,
                        &consumer.description,
                        &metadata,
                        &origin,
                        &consumer.updated_at,
                        &consumer.limits,
                    ],
                )
                .or_store()?;
            false
        }
        None => {
            tx.inner
                .execute(
                    concat!(
                        "INSERT INTO consumers (",
                        consumer_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ),
                    &[
                        &consumer.name,
                        &consumer.client_type,
                        &groups,
                        &permissions,
                        &consumer.description,
                        &metadata,
                        &origin,
                        &consumer.created_at,
                        &consumer.updated_at,
                        &consumer.limits,
                    ],
                )
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

/// How many rows of `table` belong to the consumer `name`.
fn count_of(tx: &mut Tx<'_>, table: &str, name: &str) -> Result<i64> {
    let sql = format!("SELECT count(*) FROM {table} WHERE consumer = $1");
    Ok(tx.inner.query_one(&sql, &[&name]).or_store()?.get(0))
}

/// `delete_consumer`.
pub(super) fn delete_consumer_in(tx: &mut Tx<'_>, name: &str) -> Result<u64> {
    let keys = count_of(tx, "keys", name)?;
    if keys > 0 {
        let noun = if keys == 1 { "key" } else { "keys" };
        return Err(StoreError::Conflict(format!(
            "consumer `{name}` still has {keys} {noun}; delete them first"
        )));
    }
    let subscriptions = count_of(tx, "subscriptions", name)?;
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
        .inner
        .execute("DELETE FROM consumers WHERE name = $1", &[&name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("consumer", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Consumer, name, true, None)?;
    Ok(revision)
}

/// `put_key`.
pub(super) fn put_key_in(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<Written> {
    let Some(stored) = fetch_key(&mut tx.inner, &key.id)? else {
        return insert_key_in(tx, key).map(Written::Created);
    };
    if codec::same_key(&stored, key) {
        return Ok(Written::Unchanged);
    }
    let labels = codec::to_json(&key.labels)?;
    let hash = &key.hash[..];
    tx.inner
        .execute(
            "UPDATE keys SET consumer = $2, hash = $3, prefix = $4, active = $5, \
             description = $6, labels = $7, origin = $8, expires_at = $9, revoked_at = $10, \
             subscription_id = $11, shared = $12, limits = $13 WHERE id = $1",
            &[
                &key.id,
                &key.consumer,
                &hash,
                &key.prefix,
                &key.active,
                &key.description,
                &labels,
                &codec::origin_text(key.origin),
                &key.expires_at,
                &key.revoked_at,
                &key.subscription,
                &key.shared,
                &key.limits,
            ],
        )
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

/// `update_key`: a key whose mutable fields are already the given ones is left alone.
pub(super) fn update_key_in(tx: &mut Tx<'_>, key: &KeyRecord) -> Result<u64> {
    let stored = fetch_key(&mut tx.inner, &key.id)?.ok_or_else(|| not_found("key", &key.id))?;
    if codec::same_mutable_key_fields(&stored, key) {
        return Ok(tx.start);
    }
    let labels = codec::to_json(&key.labels)?;
    tx.inner
        .execute(
            "UPDATE keys SET active = $2, description = $3, labels = $4, expires_at = $5, \
             revoked_at = $6, limits = $7 WHERE id = $1",
            &[
                &key.id,
                &key.active,
                &key.description,
                &labels,
                &key.expires_at,
                &key.revoked_at,
                &key.limits,
            ],
        )
        .or_store()?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, &stored, false)?;
    Ok(revision)
}

/// `delete_key`.
pub(super) fn delete_key_in(tx: &mut Tx<'_>, id: &str) -> Result<u64> {
    let stored = fetch_key(&mut tx.inner, id)?.ok_or_else(|| not_found("key", id))?;
    tx.inner
        .execute("DELETE FROM keys WHERE id = $1", &[&id])
        .or_store()?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, &stored, true)?;
    Ok(revision)
}

/// `renew_key`.
pub(super) fn renew_key_in(
    tx: &mut Tx<'_>,
    old_id: &str,
    old_expires_at: i64,
    new: &KeyRecord,
) -> Result<u64> {
    let mut old = fetch_key(&mut tx.inner, old_id)?.ok_or_else(|| not_found("key", old_id))?;
    tx.inner
        .execute(
            "UPDATE keys SET expires_at = $2 WHERE id = $1",
            &[&old_id, &old_expires_at],
        )
        .or_store()?;
    old.expires_at = Some(old_expires_at);
    insert_key_row(tx, new)?;
    let revision = bump_revision(tx)?;
    log_key(tx, revision, 0, &old, false)?;
    log_key(tx, revision, 1, new, false)?;
    Ok(revision)
}

/// `put_service`.
pub(super) fn put_service_in(tx: &mut Tx<'_>, service: &ServiceRecord) -> Result<Written> {
    let stored = fetch_service(&mut tx.inner, &service.name)?;
    let created = match &stored {
        Some(stored) if codec::same_service(stored, service) => return Ok(Written::Unchanged),
        Some(_) => false,
        None => true,
    };
    tx.inner
        .execute(
            concat!(
                "INSERT INTO services (",
                service_columns!(),
                ") VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
                 document = excluded.document, origin = excluded.origin, \
                 updated_at = excluded.updated_at"
            ),
            &[
                &service.name,
                &service.document,
                &codec::origin_text(service.origin),
                &service.updated_at,
            ],
        )
        .or_store()?;
    let revision = bump_revision(tx)?;
    log_change(
        tx,
        revision,
        0,
        ChangeKind::Service,
        &service.name,
        false,
        None,
    )?;
    Ok(if created {
        Written::Created(revision)
    } else {
        Written::Updated(revision)
    })
}

/// `delete_service`.
pub(super) fn delete_service_in(tx: &mut Tx<'_>, name: &str) -> Result<u64> {
    let deleted = tx
        .inner
        .execute("DELETE FROM services WHERE name = $1", &[&name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("service", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Service, name, true, None)?;
    Ok(revision)
}

/// `setting` write of `apply_batch`.
pub(super) fn put_setting_in(tx: &mut Tx<'_>, name: &str, value: &str) -> Result<()> {
    tx.inner
        .execute(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&name, &value],
        )
        .or_store()?;
    Ok(())
}
