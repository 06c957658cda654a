//! Rows to records and back: column lists, JSON columns, origins, change kinds.

use rusqlite::types::ValueRef;
use rusqlite::Row;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::errors::{corrupt, from_sqlite};
use crate::{
    ConsumerRecord, KeyMode, KeyRecord, Origin, Result, ServiceRecord, SubscriptionRecord,
    SubscriptionStatus,
};

pub(super) use crate::stored_forms::{
    consumer_columns, key_columns, service_columns, subscription_columns,
};

/// Reads a consumer row selected with [`consumer_columns`].
pub(super) fn consumer(row: &Row<'_>) -> Result<ConsumerRecord> {
    let name: String = row.get(0).map_err(from_sqlite)?;
    Ok(ConsumerRecord {
        client_type: row.get(1).map_err(from_sqlite)?,
        groups: json(row, 2, "consumer", &name)?,
        permissions: json(row, 3, "consumer", &name)?,
        description: row.get(4).map_err(from_sqlite)?,
        metadata: json(row, 5, "consumer", &name)?,
        origin: origin(row, 6, "consumer", &name)?,
        created_at: row.get(7).map_err(from_sqlite)?,
        updated_at: row.get(8).map_err(from_sqlite)?,
        limits: row.get(9).map_err(from_sqlite)?,
        name,
    })
}

/// Reads a key row selected with [`key_columns`].
pub(super) fn key(row: &Row<'_>) -> Result<KeyRecord> {
    let id: String = row.get(0).map_err(from_sqlite)?;
    Ok(KeyRecord {
        consumer: row.get(1).map_err(from_sqlite)?,
        hash: hash(row.get_ref(2).map_err(from_sqlite)?)
            .ok_or_else(|| corrupt(format!("key `{id}` has a malformed hash")))?,
        prefix: row.get(3).map_err(from_sqlite)?,
        active: row.get(4).map_err(from_sqlite)?,
        description: row.get(5).map_err(from_sqlite)?,
        labels: json(row, 6, "key", &id)?,
        origin: origin(row, 7, "key", &id)?,
        created_at: row.get(8).map_err(from_sqlite)?,
        expires_at: row.get(9).map_err(from_sqlite)?,
        revoked_at: row.get(10).map_err(from_sqlite)?,
        last_used_at: row.get(11).map_err(from_sqlite)?,
        subscription: row.get(12).map_err(from_sqlite)?,
        shared: row.get(13).map_err(from_sqlite)?,
        limits: row.get(14).map_err(from_sqlite)?,
        id,
    })
}

/// Reads a subscription row selected with [`subscription_columns`].
pub(super) fn subscription(row: &Row<'_>) -> Result<SubscriptionRecord> {
    let id: String = row.get(0).map_err(from_sqlite)?;
    let text = |index: usize| -> Result<&str> {
        row.get_ref(index)
            .map_err(from_sqlite)?
            .as_str()
            .map_err(|e| {
                corrupt(format!(
                    "subscription `{id}`: column {index} is not text: {e}"
                ))
            })
    };
    let status = SubscriptionStatus::parse(text(4)?)
        .ok_or_else(|| corrupt(format!("subscription `{id}` has an unknown status")))?;
    let key_mode = KeyMode::parse(text(5)?)
        .ok_or_else(|| corrupt(format!("subscription `{id}` has an unknown key mode")))?;
    Ok(SubscriptionRecord {
        consumer: row.get(1).map_err(from_sqlite)?,
        service: row.get(2).map_err(from_sqlite)?,
        plan: row.get(3).map_err(from_sqlite)?,
        status,
        key_mode,
        ends_at: row.get(6).map_err(from_sqlite)?,
        created_at: row.get(7).map_err(from_sqlite)?,
        updated_at: row.get(8).map_err(from_sqlite)?,
        reason: row.get(9).map_err(from_sqlite)?,
        id,
    })
}

/// Reads a service row selected with [`service_columns`].
pub(super) fn service(row: &Row<'_>) -> Result<ServiceRecord> {
    let name: String = row.get(0).map_err(from_sqlite)?;
    Ok(ServiceRecord {
        document: row.get(1).map_err(from_sqlite)?,
        origin: origin(row, 2, "service", &name)?,
        updated_at: row.get(3).map_err(from_sqlite)?,
        name,
    })
}

/// A 32-byte hash column; `None` when it is anything else.
pub(super) fn hash(value: ValueRef<'_>) -> Option<[u8; 32]> {
    value.as_blob().ok()?.try_into().ok()
}

/// Encodes a JSON column.
pub(super) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("cannot encode a value: {e}")))
}

/// Decodes a JSON text column of the entity `kind` `name`.
fn json<T: DeserializeOwned>(row: &Row<'_>, index: usize, kind: &str, name: &str) -> Result<T> {
    let text = row
        .get_ref(index)
        .map_err(from_sqlite)?
        .as_str()
        .map_err(|e| corrupt(format!("{kind} `{name}`: column {index} is not text: {e}")))?;
    serde_json::from_str(text).map_err(|e| {
        corrupt(format!(
            "{kind} `{name}`: column {index} is not valid JSON: {e}"
        ))
    })
}

/// Decodes the origin column of the entity `kind` `name`.
fn origin(row: &Row<'_>, index: usize, kind: &str, name: &str) -> Result<Origin> {
    match row.get_ref(index).map_err(from_sqlite)?.as_str() {
        Ok("file") => Ok(Origin::File),
        Ok("api") => Ok(Origin::Api),
        _ => Err(corrupt(format!("{kind} `{name}` has an unknown origin"))),
    }
}

pub(super) use crate::stored_forms::{
    kind, kind_text, origin_text, same_consumer, same_key, same_mutable_key_fields,
    same_mutable_subscription_fields, same_service,
};
