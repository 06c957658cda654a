//! Writing services inside an open transaction: create or update, delete.

use rusqlite::{params, Transaction};

use super::change_log::{bump_revision, log_change};
use super::codec;
use super::codec::service_columns;
use super::errors::{not_found, OrStore};
use super::reads::fetch_service;
use crate::{ChangeKind, Result, ServiceRecord, Written};

/// `put_service` inside an open transaction.
pub(super) fn put_service_in(tx: &Transaction<'_>, service: &ServiceRecord) -> Result<Written> {
    let stored = fetch_service(tx, &service.name)?;
    let created = match &stored {
        Some(stored) if codec::same_service(stored, service) => return Ok(Written::Unchanged),
        Some(_) => false,
        None => true,
    };
    tx.prepare_cached(concat!(
        "INSERT INTO services (",
        service_columns!(),
        ") VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
             document = excluded.document, origin = excluded.origin, \
             updated_at = excluded.updated_at"
    ))
    .or_store()?
    .execute(params![
        service.name,
        service.document,
        codec::origin_text(service.origin),
        service.updated_at,
    ])
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

/// `delete_service` inside an open transaction.
pub(super) fn delete_service_in(tx: &Transaction<'_>, name: &str) -> Result<u64> {
    let deleted = tx
        .prepare_cached("DELETE FROM services WHERE name = ?1")
        .or_store()?
        .execute([name])
        .or_store()?;
    if deleted == 0 {
        return Err(not_found("service", name));
    }
    let revision = bump_revision(tx)?;
    log_change(tx, revision, 0, ChangeKind::Service, name, true, None)?;
    Ok(revision)
}
