//! Rows to records and back: column lists, JSON columns, origins, change kinds.

use postgres::types::FromSql;
use postgres::Row;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::errors::corrupt;
use crate::{
    ConsumerRecord, KeyMode, KeyRecord, Origin, Result, ServiceRecord, SubscriptionRecord,
    SubscriptionStatus,
};

pub(super) use crate::stored_forms::{
    consumer_columns, key_columns, service_columns, subscription_columns,
};

/// Reads column `index` of a row of the entity `kind`; a value of the wrong type or a
/// NULL where none belongs is corruption.
fn get<'a, T: FromSql<'a>>(row: &'a Row, index: usize, kind: &str) -> Result<T> {
    row.try_get(index)
        .map_err(|e| corrupt(format!("a {kind} row: column {index}: {e}")))
}

/// Reads a consumer row selected with [`consumer_columns`].
pub(super) fn consumer(row: &Row) -> Result<ConsumerRecord> {
    let name: String = get(row, 0, "consumer")?;
    Ok(ConsumerRecord {
        client_type: get(row, 1, "consumer")?,
        groups: json(row, 2, "consumer", &name)?,
        permissions: json(row, 3, "consumer", &name)?,
        description: get(row, 4, "consumer")?,
        metadata: json(row, 5, "consumer", &name)?,
        origin: origin(row, 6, "consumer", &name)?,
        created_at: get(row, 7, "consumer")?,
        updated_at: get(row, 8, "consumer")?,
        limits: get(row, 9, "consumer")?,
        name,
    })
}

/// Reads a key row selected with [`key_columns`].
pub(super) fn key(row: &Row) -> Result<KeyRecord> {
    let id: String = get(row, 0, "key")?;
    Ok(KeyRecord {
        consumer: get(row, 1, "key")?,
        hash: hash(get(row, 2, "key")?)
            .ok_or_else(|| corrupt(format!("key `{id}` has a malformed hash")))?,
        prefix: get(row, 3, "key")?,
        active: get(row, 4, "key")?,
        description: get(row, 5, "key")?,
        labels: json(row, 6, "key", &id)?,
        origin: origin(row, 7, "key", &id)?,
        created_at: get(row, 8, "key")?,
        expires_at: get(row, 9, "key")?,
        revoked_at: get(row, 10, "key")?,
        last_used_at: get(row, 11, "key")?,
        subscription: get(row, 12, "key")?,
        shared: get(row, 13, "key")?,
        limits: get(row, 14, "key")?,
        id,
    })
}

/// Reads a service row selected with [`service_columns`].
pub(super) fn service(row: &Row) -> Result<ServiceRecord> {
    let name: String = get(row, 0, "service")?;
    Ok(ServiceRecord {
        document: get(row, 1, "service")?,
        origin: origin(row, 2, "service", &name)?,
        updated_at: get(row, 3, "service")?,
        name,
    })
}

/// Reads a subscription row selected with [`subscription_columns`].
pub(super) fn subscription(row: &Row) -> Result<SubscriptionRecord> {
    let id: String = get(row, 0, "subscription")?;
    let status = SubscriptionStatus::parse(get(row, 4, "subscription")?)
        .ok_or_else(|| corrupt(format!("subscription `{id}` has an unknown status")))?;
    let key_mode = KeyMode::parse(get(row, 5, "subscription")?)
        .ok_or_else(|| corrupt(format!("subscription `{id}` has an unknown key mode")))?;
    Ok(SubscriptionRecord {
        consumer: get(row, 1, "subscription")?,
        service: get(row, 2, "subscription")?,
        plan: get(row, 3, "subscription")?,
        status,
        key_mode,
        ends_at: get(row, 6, "subscription")?,
        created_at: get(row, 7, "subscription")?,
        updated_at: get(row, 8, "subscription")?,
        reason: get(row, 9, "subscription")?,
        id,
    })
}

/// A 32-byte hash; `None` when it has another length.
pub(super) fn hash(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// Encodes a JSON column.
pub(super) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| corrupt(format!("cannot encode a value: {e}")))
}

/// Decodes a JSON text column of the entity `kind` `name`.
fn json<T: DeserializeOwned>(row: &Row, index: usize, kind: &str, name: &str) -> Result<T> {
    let text: &str = get(row, index, kind)?;
    serde_json::from_str(text).map_err(|e| {
        corrupt(format!(
            "{kind} `{name}`: column {index} is not valid JSON: {e}"
        ))
    })
}

/// Decodes the origin column of the entity `kind` `name`.
fn origin(row: &Row, index: usize, kind: &str, name: &str) -> Result<Origin> {
    match get::<&str>(row, index, kind)? {
        "file" => Ok(Origin::File),
        "api" => Ok(Origin::Api),
        _ => Err(corrupt(format!("{kind} `{name}` has an unknown origin"))),
    }
}

pub(super) use crate::stored_forms::{
    kind, kind_text, origin_text, same_consumer, same_key, same_mutable_key_fields,
    same_mutable_subscription_fields, same_service,
};
