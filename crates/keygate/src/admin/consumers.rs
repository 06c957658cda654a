//! `/v1/consumers`: create, read, change, delete and list consumers.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::error::Params;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{ConsumerRecord, Origin, Written};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, Body};
use super::keys::present;
use super::{listing, rfc3339, AdminState, Listing, PageQuery};
use crate::config::{is_header_safe_word, is_valid_name};
use crate::limits::consumer_doc;
use crate::limits::key_doc::LimitDoc;
use crate::state::millis;

/// The writable fields of a consumer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerBody {
    client_type: Option<String>,
    groups: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
    description: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    /// The consumer's limits, shared by its keys; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    limits: Option<Option<Vec<LimitDoc>>>,
}

/// A consumer as the API shows it.
#[derive(Debug, Serialize)]
pub struct ConsumerView {
    name: String,
    client_type: String,
    groups: Vec<String>,
    permissions: Vec<String>,
    description: Option<String>,
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    limits: Vec<LimitDoc>,
    origin: Origin,
    created_at: String,
    updated_at: String,
}

pub(super) fn view(record: ConsumerRecord) -> ConsumerView {
    ConsumerView {
        client_type: record.client_type.unwrap_or_else(|| record.name.clone()),
        name: record.name,
        groups: record.groups,
        permissions: record.permissions,
        description: record.description,
        metadata: record.metadata,
        limits: consumer_doc::limits_of(record.limits.as_deref()),
        origin: record.origin,
        created_at: rfc3339(record.created_at),
        updated_at: rfc3339(record.updated_at),
    }
}

/// Refuses changes to what the configuration file owns.
pub(super) fn owned_by_api(kind: &str, name: &str, origin: Origin) -> Result<(), ApiError> {
    if origin == Origin::File {
        return Err(ApiError::Conflict(format!(
            "{kind} `{name}` comes from the configuration file; change it there"
        )));
    }
    Ok(())
}

/// The stored document of the body's `limits` (`None` for none), checked as the gateway
/// will read it; `Ok(None)` also when the body does not name them.
fn limits_document(body: &ConsumerBody) -> Result<Option<String>, ApiError> {
    let limits = body
        .limits
        .as_ref()
        .and_then(Option::as_deref)
        .unwrap_or(&[]);
    consumer_doc::document(limits).map_err(ApiError::Invalid)
}

fn check(name: &str, body: &ConsumerBody) -> Result<(), ApiError> {
    if !is_valid_name(name) {
        return Err(ApiError::Invalid(format!(
            "a consumer name uses letters, digits, `.`, `_` and `-` only, found `{name}`"
        )));
    }
    if let Some(client_type) = &body.client_type {
        if !is_header_safe_word(client_type) {
            return Err(ApiError::Invalid(format!(
                "client_type is visible characters without spaces or commas, found `{client_type}`"
            )));
        }
    }
    for group in body.groups.iter().flatten() {
        if !is_header_safe_word(group) {
            return Err(ApiError::Invalid(format!(
                "a group is visible characters without spaces or commas, found `{group}`"
            )));
        }
    }
    if body.permissions.iter().flatten().any(String::is_empty) {
        return Err(ApiError::Invalid("a permission may not be empty".into()));
    }
    Ok(())
}

/// `PUT /v1/consumers/{name}`: creates (201) or replaces (200).
pub async fn put(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<ConsumerBody>,
) -> Result<(StatusCode, Json<ConsumerView>), ApiError> {
    check(&name, &body)?;
    let limits = limits_document(&body)?;
    state
        .write(move |store| {
            if let Some(existing) = store.consumer(&name)? {
                owned_by_api("consumer", &name, existing.origin)?;
            }
            let now = millis(SystemTime::now());
            let record = ConsumerRecord {
                limits,
                client_type: body.client_type,
                groups: body.groups.unwrap_or_default(),
                permissions: body.permissions.unwrap_or_default(),
                description: body.description,
                metadata: body.metadata.unwrap_or_default(),
                origin: Origin::Api,
                created_at: now,
                updated_at: now,
                name,
            };
            let status = match store.put_consumer(&record)? {
                Written::Created(_) => StatusCode::CREATED,
                Written::Updated(_) | Written::Unchanged => StatusCode::OK,
            };
            let stored = store.consumer(&record.name)?.unwrap_or(record);
            Ok((status, Json(view(stored))))
        })
        .await
}

/// A new consumer: its name and its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConsumer {
    name: String,
    client_type: Option<String>,
    groups: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
    description: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    limits: Option<Option<Vec<LimitDoc>>>,
}

/// `POST /v1/consumers`: creates a consumer (201); `409` when one of that name exists,
/// as Kong's `POST /consumers` — unlike `PUT`, it never replaces.
pub async fn create(
    State(state): State<AdminState>,
    Body(body): Body<NewConsumer>,
) -> Result<(StatusCode, Json<ConsumerView>), ApiError> {
    let NewConsumer {
        name,
        client_type,
        groups,
        permissions,
        description,
        metadata,
        limits,
    } = body;
    let fields = ConsumerBody {
        client_type,
        groups,
        permissions,
        description,
        metadata,
        limits,
    };
    check(&name, &fields)?;
    let limits = limits_document(&fields)?;
    state
        .write(move |store| {
            if store.consumer(&name)?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "consumer `{name}` exists; change it with PATCH (keygate consumers update)"
                )));
            }
            let now = millis(SystemTime::now());
            let record = ConsumerRecord {
                limits,
                client_type: fields.client_type,
                groups: fields.groups.unwrap_or_default(),
                permissions: fields.permissions.unwrap_or_default(),
                description: fields.description,
                metadata: fields.metadata.unwrap_or_default(),
                origin: Origin::Api,
                created_at: now,
                updated_at: now,
                name,
            };
            store.put_consumer(&record)?;
            let stored = store.consumer(&record.name)?.unwrap_or(record);
            Ok((StatusCode::CREATED, Json(view(stored))))
        })
        .await
}

/// `PATCH /v1/consumers/{name}`: changes the given fields only.
pub async fn patch(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<ConsumerBody>,
) -> Result<Json<ConsumerView>, ApiError> {
    check(&name, &body)?;
    let limits = limits_document(&body)?;
    state
        .write(move |store| {
            let Some(mut record) = store.consumer(&name)? else {
                return Err(ApiError::NotFound(format!("consumer `{name}` not found")));
            };
            owned_by_api("consumer", &name, record.origin)?;
            if body.client_type.is_some() {
                record.client_type = body.client_type;
            }
            if let Some(groups) = body.groups {
                record.groups = groups;
            }
            if let Some(permissions) = body.permissions {
                record.permissions = permissions;
            }
            if body.description.is_some() {
                record.description = body.description;
            }
            if let Some(metadata) = body.metadata {
                record.metadata = metadata;
            }
            if body.limits.is_some() {
                record.limits = limits;
            }
            record.updated_at = millis(SystemTime::now());
            store.put_consumer(&record)?;
            Ok(Json(view(record)))
        })
        .await
}

/// `GET /v1/consumers/{name}`.
pub async fn get(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ConsumerView>, ApiError> {
    let lookup = name.clone();
    match state.read(move |store| store.consumer(&lookup)).await? {
        Some(record) => Ok(Json(view(record))),
        None => Err(ApiError::NotFound(format!("consumer `{name}` not found"))),
    }
}

/// `?cascade=` of `DELETE /v1/consumers/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Delete the consumer's keys and subscriptions first (default false).
    cascade: Option<bool>,
}

/// `DELETE /v1/consumers/{name}`: 204; 409 while it has keys or subscriptions, unless
/// `?cascade=true`, which deletes them first (Kong's and APISIX's consumer deletion).
///
/// A cascade is one change per key and subscription, then the consumer's, as deleting a
/// subscription with its keys is: not one transaction. Nothing is deleted when the
/// consumer or one of its keys comes from the configuration file; a failure part way (the store gone)
/// leaves what was not deleted yet, and the same call finishes the job.
pub async fn delete(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Params(query): Params<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |store| {
            let Some(existing) = store.consumer(&name)? else {
                return Err(ApiError::NotFound(format!("consumer `{name}` not found")));
            };
            owned_by_api("consumer", &name, existing.origin)?;
            if query.cascade == Some(true) {
                // Subscription writes check the consumer's keys: none may run meanwhile.
                let _serialised = super::subscriptions::subscription_writes();
                let keys = super::subscriptions::keys_of(store, &name)?;
                let subscriptions = super::every_page(
                    |page| store.subscriptions(Some(&name), None, page),
                    |s| s.id.clone(),
                )?;
                for key in &keys {
                    owned_by_api("key", &key.id, key.origin)?;
                }
                for key in &keys {
                    store.delete_key(&key.id)?;
                }
                for subscription in &subscriptions {
                    store.delete_subscription(&subscription.id)?;
                }
            }
            store.delete_consumer(&name)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `GET /v1/consumers?after=&limit=`.
pub async fn list(
    State(state): State<AdminState>,
    Params(query): Params<PageQuery>,
) -> Result<Json<Listing<ConsumerView>>, ApiError> {
    let page = query.page()?;
    let limit = page.limit;
    let records = state.read(move |store| store.consumers(&page)).await?;
    Ok(Json(listing(records, limit, |c| c.name.clone(), view)))
}
