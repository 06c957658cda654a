//! `/v1/keys` and `/v1/consumers/{name}/keys`: the key lifecycle — create (generated or
//! custom), read, change, revoke, renew with a grace period, delete — and `/v1/verify`.
//! A key's plaintext is in the answer of the call that creates it and nowhere else.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::error::Params;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{KeyMode, KeyRecord, Origin, SubscriptionRecord, SubscriptionStatus};
use serde::{Deserialize, Deserializer, Serialize};

use super::consumers::owned_by_api;
use super::error::{ApiError, Body};
use super::key_credits::{self, LimitFields};
use super::subscriptions::{all_of, is_live, keys_of, subscription_writes};
use super::{listing, parse_rfc3339, rfc3339, AdminState, Listing, PageQuery};
use crate::config::is_valid_name;
use crate::key::{check_custom, display_prefix, generate, plausible, KeyHash};
use crate::limits::key_doc::{KeyLimits, LimitDoc, RefillDoc};
use crate::state::{millis, KeyCheck};

/// `POST /v1/consumers/{name}/keys` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// A custom key (Gravitee's rule); generated when absent.
    key: Option<String>,
    /// Instead of `key`: the key's `sha256:<hex>`, for imports. No plaintext is returned.
    key_hash: Option<String>,
    /// An id; derived from the key when absent.
    id: Option<String>,
    description: Option<String>,
    active: Option<bool>,
    expires_at: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    limits: Option<Option<Vec<LimitDoc>>>,
    #[serde(default, deserialize_with = "present")]
    credits: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    refill: Option<Option<RefillDoc>>,
}

/// `PATCH /v1/keys/{id}` body; `expires_at: null` removes the expiry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    active: Option<bool>,
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expires_at: Option<Option<String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    limits: Option<Option<Vec<LimitDoc>>>,
    #[serde(default, deserialize_with = "present")]
    credits: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    refill: Option<Option<RefillDoc>>,
}

/// `POST /v1/keys/{id}/renew` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Renewal {
    /// How long the old key keeps working: `2h` by default, `0s` ends it at once.
    grace: Option<String>,
    /// A custom key for the new one; generated when absent.
    key: Option<String>,
    description: Option<String>,
    expires_at: Option<String>,
}

/// `POST /v1/verify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    key: String,
    /// A service whose own limits are reported too (beside those of the key's plans).
    service: Option<String>,
}

/// Tells a field given as `null` from a field not given.
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A key as the API shows it; `key` only in the answer that created it.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// The plaintext, in the answer that created the key only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
    id: String,
    consumer: String,
    prefix: Option<String>,
    status: &'static str,
    active: bool,
    description: Option<String>,
    labels: BTreeMap<String, String>,
    origin: Origin,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
    /// The key's own limits and credits (`credits.amount` as set; `/v1/verify` tells what
    /// is left).
    #[serde(flatten)]
    limits: KeyLimits,
}

fn status(record: &KeyRecord, now: i64) -> &'static str {
    if record.revoked_at.is_some() {
        "revoked"
    } else if !record.active {
        "disabled"
    } else if record.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    }
}

/// The API's view of a stored key.
pub(super) fn view(record: KeyRecord) -> KeyView {
    KeyView {
        limits: key_credits::document(&record),
        status: status(&record, millis(SystemTime::now())),
        id: record.id,
        consumer: record.consumer,
        key: None,
        prefix: record.prefix,
        active: record.active,
        description: record.description,
        labels: record.labels,
        origin: record.origin,
        created_at: rfc3339(record.created_at),
        expires_at: record.expires_at.map(rfc3339),
        revoked_at: record.revoked_at.map(rfc3339),
        last_used_at: record.last_used_at.map(rfc3339),
        subscription: record.subscription,
        shared: record.shared,
    }
}

/// The plaintext of a new key: the custom one, checked, or a generated one.
pub(super) fn new_plaintext(custom: Option<String>) -> Result<String, ApiError> {
    match custom {
        Some(key) => {
            check_custom(&key).map_err(ApiError::Invalid)?;
            Ok(key)
        }
        None => generate().map_err(|error| ApiError::Internal(format!("no randomness: {error}"))),
    }
}

/// A new key record of the API, active, without description, labels or expiry.
pub(super) fn new_record(
    consumer: String,
    hash: KeyHash,
    prefix: Option<String>,
    id: Option<String>,
    now: i64,
) -> Result<KeyRecord, ApiError> {
    let id = match id {
        Some(id) if is_valid_name(&id) => id,
        Some(id) => {
            return Err(ApiError::Invalid(format!(
                "a key id uses letters, digits, `.`, `_` and `-` only, found `{id}`"
            )))
        }
        None => hash.derived_id(),
    };
    Ok(KeyRecord {
        limits: None,
        id,
        consumer,
        hash: hash.0,
        prefix,
        active: true,
        description: None,
        labels: BTreeMap::new(),
        origin: Origin::Api,
        created_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        subscription: None,
        shared: false,
    })
}

/// `POST /v1/consumers/{name}/keys` → 201 with the plaintext.
pub async fn create(
    State(state): State<AdminState>,
    Path(consumer): Path<String>,
    Body(body): Body<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let now = millis(SystemTime::now());
    let (plaintext, mut record) = match (body.key_hash, body.key) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(
                "give `key` or `key_hash`, not both".into(),
            ));
        }
        (Some(hash), None) => {
            let hash =
                KeyHash::parse(&hash).map_err(|m| ApiError::Invalid(format!("key_hash: {m}")))?;
            (None, new_record(consumer, hash, None, body.id, now)?)
        }
        (None, custom) => {
            let plaintext = new_plaintext(custom)?;
            let hash = KeyHash::of(plaintext.as_bytes());
            let prefix = Some(display_prefix(&plaintext));
            let record = new_record(consumer, hash, prefix, body.id, now)?;
            (Some(plaintext), record)
        }
    };
    record.description = body.description;
    record.active = body.active.unwrap_or(true);
    record.labels = body.labels.unwrap_or_default();
    record.expires_at = body
        .expires_at
        .map(|t| parse_rfc3339(&t, "expires_at"))
        .transpose()?;
    let fields = LimitFields {
        limits: body.limits,
        credits: body.credits,
        refill: body.refill,
    };
    key_credits::apply(&mut record, fields, now)?;
    state
        .write(move |store| {
            store.insert_key(&record)?;
            let mut shown = view(record);
            shown.key = plaintext;
            Ok((StatusCode::CREATED, Json(shown)))
        })
        .await
}

/// Reads a key that the API may change.
fn api_key(store: &dyn keygate_store::Store, id: &str) -> Result<KeyRecord, ApiError> {
    let record = store
        .key(id)?
        .ok_or_else(|| ApiError::NotFound(format!("key `{id}` not found")))?;
    owned_by_api("key", id, record.origin)?;
    Ok(record)
}

/// `PATCH /v1/keys/{id}`: `active`, `description`, `expires_at`, `labels`.
pub async fn patch(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Body(body): Body<KeyPatch>,
) -> Result<Json<KeyView>, ApiError> {
    let expires_at = match &body.expires_at {
        Some(Some(text)) => Some(Some(parse_rfc3339(text, "expires_at")?)),
        Some(None) => Some(None),
        None => None,
    };
    state
        .write(move |store| {
            let mut record = api_key(store, &id)?;
            if body.active == Some(true) && record.revoked_at.is_some() {
                return Err(ApiError::Conflict(format!(
                    "key `{id}` is revoked and cannot be made active again; create a new key \
                     (a subscription's key can be reactivated with POST \
                     /v1/keys/{id}/reactivate)"
                )));
            }
            if let Some(active) = body.active {
                record.active = active;
            }
            if body.description.is_some() {
                record.description = body.description;
            }
            if let Some(expires_at) = expires_at {
                record.expires_at = expires_at;
            }
            if let Some(labels) = body.labels {
                record.labels = labels;
            }
            let fields = LimitFields {
                limits: body.limits,
                credits: body.credits,
                refill: body.refill,
            };
            key_credits::apply(&mut record, fields, millis(SystemTime::now()))?;
            store.update_key(&record)?;
            Ok(Json(view(record)))
        })
        .await
}

/// `POST /v1/keys/{id}/revoke`: the key stops working for good.
pub async fn revoke(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    state
        .write(move |store| {
            let mut record = api_key(store, &id)?;
            if record.revoked_at.is_none() {
                record.revoked_at = Some(millis(SystemTime::now()));
                store.update_key(&record)?;
            }
            Ok(Json(view(record)))
        })
        .await
}

/// `POST /v1/keys/{id}/reactivate`: undoes a revocation, for a subscription's key only,
/// and only while that subscription (for the shared key: one of the consumer's
/// shared-key subscriptions) is accepted or paused. Other revoked keys stay revoked.
pub async fn reactivate(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    state
        .write(move |store| {
            let _serialised = subscription_writes();
            let mut record = api_key(store, &id)?;
            if record.revoked_at.is_none() {
                return Err(ApiError::Conflict(format!("key `{id}` is not revoked")));
            }
            let serving = |s: &SubscriptionRecord| {
                matches!(
                    s.status,
                    SubscriptionStatus::Accepted | SubscriptionStatus::Paused
                )
            };
            let allowed = if let Some(subscription) = &record.subscription {
                store
                    .subscription(subscription)?
                    .is_some_and(|s| serving(&s))
            } else if record.shared {
                // A shared key replaced by a newer one (renewed) stays revoked.
                let newer = keys_of(store, &record.consumer)?.into_iter().find(|k| {
                    k.shared && k.revoked_at.is_none() && k.created_at > record.created_at
                });
                if let Some(newer) = newer {
                    return Err(ApiError::Conflict(format!(
                        "consumer `{}` has a newer shared key, `{}`; a replaced shared key \
                         stays revoked",
                        record.consumer, newer.id
                    )));
                }
                all_of(store, &record.consumer)?
                    .iter()
                    .any(|s| s.key_mode == KeyMode::Shared && serving(s))
            } else {
                return Err(ApiError::Conflict(format!(
                    "key `{id}` belongs to no subscription; a revoked key stays revoked"
                )));
            };
            if !allowed {
                return Err(ApiError::Conflict(format!(
                    "key `{id}` can be reactivated only while its subscription is accepted \
                     or paused"
                )));
            }
            // Back to how it was before the revocation: enabled or disabled as it was.
            record.revoked_at = None;
            store.update_key(&record)?;
            Ok(Json(view(record)))
        })
        .await
}

/// `POST /v1/keys/{id}/renew` → 201 with the new key's plaintext; the old key keeps
/// working for the grace period (default 2h; `0s` ends it at once).
pub async fn renew(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    // The body is optional: an empty one means the defaults.
    let body: Renewal = if body.trim().is_empty() {
        Renewal::default()
    } else {
        serde_json::from_str(&body).map_err(|error| ApiError::Invalid(error.to_string()))?
    };
    let grace = match &body.grace {
        None => Duration::from_secs(2 * 3600),
        Some(text) => humantime::parse_duration(text).map_err(|_| {
            ApiError::Invalid(format!(
                "grace must be a duration such as 2h, 30m or 0s, found `{text}`"
            ))
        })?,
    };
    let now = millis(SystemTime::now());
    let plaintext = new_plaintext(body.key)?;
    let new_expiry = body
        .expires_at
        .map(|t| parse_rfc3339(&t, "expires_at"))
        .transpose()?;
    state
        .write(move |store| {
            let old = api_key(store, &id)?;
            if old.revoked_at.is_some() {
                return Err(ApiError::Conflict(format!(
                    "key `{id}` is revoked; create a new key instead"
                )));
            }
            // A subscription that ended keeps its key from being renewed into a new one.
            if let Some(subscription) = &old.subscription {
                let ended = store
                    .subscription(subscription)?
                    .is_none_or(|s| !is_live(s.status));
                if ended {
                    return Err(ApiError::Conflict(format!(
                        "key `{id}` belongs to subscription `{subscription}`, which is closed, \
                         rejected or deleted; it cannot be renewed"
                    )));
                }
            }
            let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
            let old_expires_at = now.saturating_add(grace_ms);
            let old_expires_at = old
                .expires_at
                .map_or(old_expires_at, |at| at.min(old_expires_at));
            let hash = KeyHash::of(plaintext.as_bytes());
            let prefix = Some(display_prefix(&plaintext));
            let mut record = new_record(old.consumer.clone(), hash, prefix, None, now)?;
            record.description = body.description.or(old.description);
            record.labels = old.labels;
            // A subscription's key keeps serving it: the new key belongs to the same
            // subscription, or is the consumer's shared key in turn, and ends when the
            // subscription does unless told otherwise.
            record.expires_at = match (new_expiry, &old.subscription) {
                (Some(at), _) => Some(at),
                (None, Some(subscription)) => {
                    store.subscription(subscription)?.and_then(|s| s.ends_at)
                }
                (None, None) => None,
            };
            record.subscription = old.subscription;
            record.shared = old.shared;
            store.renew_key(&id, old_expires_at, &record)?;
            let mut shown = view(record);
            shown.key = Some(plaintext);
            Ok((StatusCode::CREATED, Json(shown)))
        })
        .await
}

/// `GET /v1/keys/{id}`.
pub async fn get(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let lookup = id.clone();
    match state.read(move |store| store.key(&lookup)).await? {
        Some(record) => Ok(Json(view(record))),
        None => Err(ApiError::NotFound(format!("key `{id}` not found"))),
    }
}

/// `DELETE /v1/keys/{id}` → 204.
pub async fn delete(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |store| {
            api_key(store, &id)?;
            store.delete_key(&id)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `?consumer=&after=&limit=` of `GET /v1/keys`. (Not a flattened [`PageQuery`]: query
/// values are text, and flattening loses the conversion of `limit` to a number.)
#[derive(Debug, Deserialize)]
pub struct KeyQuery {
    consumer: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/keys?consumer=NAME`: prefixes only, never plaintext or hash.
pub async fn list(
    State(state): State<AdminState>,
    Params(query): Params<KeyQuery>,
) -> Result<Json<Listing<KeyView>>, ApiError> {
    let page = PageQuery {
        after: query.after,
        limit: query.limit,
    }
    .page()?;
    let limit = page.limit;
    let consumer = query.consumer;
    let records = state
        .read(move |store| store.keys(consumer.as_deref(), &page))
        .await?;
    Ok(Json(listing(records, limit, |k| k.id.clone(), view)))
}

/// What `/v1/verify` answers.
#[derive(Debug, Serialize)]
pub struct Verdict {
    valid: bool,
    code: &'static str,
    consumer: Option<String>,
    client_type: Option<String>,
    key_id: Option<String>,
    expires_at: Option<String>,
    /// The key's rate limits with what is left of each (`RATE_LIMITED` when one has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    limits: Vec<super::key_limits::KeyLimit>,
}

/// `POST /v1/verify` `{"key": "…"}`: checks a key as the gateway would, without proxying.
pub async fn verify(
    State(state): State<AdminState>,
    Body(body): Body<Verification>,
) -> Json<Verdict> {
    let directory = &state.sync.state().directory;
    let check = if plausible(body.key.as_bytes()) {
        directory.check(body.key.as_bytes(), SystemTime::now())
    } else {
        KeyCheck::NotFound
    };
    let (code, entry) = match check {
        KeyCheck::Valid(entry) => ("VALID", Some(entry)),
        KeyCheck::NotFound => ("NOT_FOUND", None),
        KeyCheck::Disabled(entry) => ("DISABLED", Some(entry)),
        KeyCheck::Expired(entry) => ("EXPIRED", Some(entry)),
        KeyCheck::Revoked(entry) => ("REVOKED", Some(entry)),
    };
    let consumer = entry.as_ref().map(|e| e.consumer.clone());
    let limits = match (&entry, code) {
        (Some(entry), "VALID") => {
            super::key_limits::of(state.sync.state(), entry, body.service.as_deref())
        }
        _ => Vec::new(),
    };
    let spent = |kinds: &[&str]| {
        limits
            .iter()
            .any(|limit| limit.remaining == 0 && kinds.contains(&limit.kind))
    };
    let code = if spent(&["quota", "credits"]) {
        "USAGE_EXCEEDED"
    } else if spent(&["rate"]) {
        "RATE_LIMITED"
    } else {
        code
    };
    Json(Verdict {
        valid: code == "VALID",
        limits,
        code,
        consumer: consumer.as_ref().map(|c| c.name.to_string()),
        client_type: consumer.as_ref().map(|c| c.profile.client_type.to_string()),
        key_id: entry.as_ref().map(|e| e.id.to_string()),
        expires_at: entry
            .and_then(|e| e.expires_at)
            .map(|at| rfc3339(millis(at))),
    })
}
