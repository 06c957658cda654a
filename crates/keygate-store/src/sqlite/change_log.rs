//! The revision and the change log: every effective write bumps the revision once and
//! appends one `change_log` row per entity it touched.

use rusqlite::{params, Connection, Transaction};

use super::codec;
use super::errors::{corrupt, OrStore};
use crate::{ChangeKind, KeyRecord, Result};

/// The current revision.
pub(super) fn current_revision(conn: &Connection) -> Result<u64> {
    let revision: i64 = conn
        .prepare_cached("SELECT revision FROM meta WHERE id = 1")
        .or_store()?
        .query_row([], |row| row.get(0))
        .or_store()?;
    u64::try_from(revision).map_err(|_| corrupt("the revision is negative"))
}

/// Adds 1 to the revision and returns the new one.
pub(super) fn bump_revision(tx: &Transaction<'_>) -> Result<u64> {
    let revision: i64 = tx
        .prepare_cached("UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision")
        .or_store()?
        .query_row([], |row| row.get(0))
        .or_store()?;
    u64::try_from(revision).map_err(|_| corrupt("the revision is negative"))
}

/// Appends one change-log row.
pub(super) fn log_change(
    tx: &Transaction<'_>,
    revision: u64,
    seq: usize,
    kind: ChangeKind,
    name: &str,
    deleted: bool,
    key_hash: Option<&[u8; 32]>,
) -> Result<()> {
    let revision = i64::try_from(revision).map_err(|_| corrupt("the revision overflowed"))?;
    let seq = i64::try_from(seq).map_err(|_| corrupt("too many changes in one write"))?;
    tx.prepare_cached(
        "INSERT INTO change_log (revision, seq, kind, name, deleted, key_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .or_store()?
    .execute(params![
        revision,
        seq,
        codec::kind_text(kind),
        name,
        deleted,
        key_hash.map(|h| &h[..])
    ])
    .or_store()?;
    Ok(())
}

/// Appends the change-log row of a key.
pub(super) fn log_key(
    tx: &Transaction<'_>,
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
