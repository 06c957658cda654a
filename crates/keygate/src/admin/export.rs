//! `GET /v1/export`: everything the store holds, in the configuration file's shape, with
//! key hashes (`key_hash: sha256:…`) and never plaintext — for backups, for `keygate
//! apply` on another gateway, and for `keygate serve` on an empty store. The answer holds
//! only fields the configuration file knows, so `keygate validate` accepts it; the store's
//! revision is in the `X-Keygate-Revision` header, and `?origin=true` adds each entity's
//! `origin` (`file` or `api`) for tools such as `keygate apply` (that answer is not a
//! configuration file).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keygate_store::{Entity, KeyMode, Origin, SubscriptionStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::Params;
use super::{rfc3339, AdminState, ApiError};

/// The response header that carries the revision the export was read at.
const REVISION_HEADER: HeaderName = HeaderName::from_static("x-keygate-revision");

/// `?origin=true` of `GET /v1/export`.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    /// Add each entity's `origin`.
    #[serde(default)]
    origin: bool,
}

#[derive(Serialize)]
struct ExportedKey {
    id: String,
    key_hash: String,
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    limits: Vec<crate::limits::key_doc::LimitDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    credits: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refill: Option<crate::limits::key_doc::RefillDoc>,
}

#[derive(Serialize)]
struct ExportedSubscription {
    id: String,
    consumer: String,
    service: String,
    plan: String,
    status: SubscriptionStatus,
    key_mode: KeyMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct ExportedConsumer {
    name: String,
    client_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    permissions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    limits: Vec<crate::limits::key_doc::LimitDoc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<Origin>,
    keys: Vec<ExportedKey>,
}

/// What `/v1/export` answers.
#[derive(Serialize)]
pub struct Export {
    consumers: Vec<ExportedConsumer>,
    services: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions: Vec<ExportedSubscription>,
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /v1/export[?origin=true]`.
pub async fn export(
    State(state): State<AdminState>,
    Params(query): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let with_origin = query.origin;
    let origin = move |origin: Origin| with_origin.then_some(origin);
    let (revision, export) = state
        .read(move |store| {
            let mut consumers: Vec<ExportedConsumer> = Vec::new();
            let mut index: BTreeMap<String, usize> = BTreeMap::new();
            let mut services = Vec::new();
            let mut subscriptions = Vec::new();
            let revision = store.load(&mut |entity| match entity {
                Entity::Consumer(c) => {
                    index.insert(c.name.clone(), consumers.len());
                    consumers.push(ExportedConsumer {
                        client_type: c.client_type.unwrap_or_else(|| c.name.clone()),
                        name: c.name,
                        groups: c.groups,
                        permissions: c.permissions,
                        description: c.description,
                        metadata: c.metadata,
                        limits: crate::limits::consumer_doc::limits_of(c.limits.as_deref()),
                        origin: origin(c.origin),
                        keys: Vec::new(),
                    });
                }
                Entity::Key(k) => {
                    if let Some(&slot) = index.get(&k.consumer) {
                        let doc = super::key_credits::document(&k);
                        consumers[slot].keys.push(ExportedKey {
                            limits: doc.limits,
                            credits: doc.credits.map(|c| c.amount),
                            refill: doc.credits.and_then(|c| c.refill),
                            key_hash: format!("sha256:{}", hex(&k.hash)),
                            id: k.id,
                            active: k.active,
                            description: k.description,
                            expires_at: k.expires_at.map(rfc3339),
                            revoked_at: k.revoked_at.map(rfc3339),
                            labels: k.labels,
                            origin: origin(k.origin),
                            subscription: k.subscription,
                            shared: k.shared,
                        });
                    }
                }
                Entity::Service(s) => {
                    let mut document: Value =
                        serde_json::from_str(&s.document).unwrap_or(Value::Null);
                    if let (Value::Object(fields), true) = (&mut document, with_origin) {
                        fields.insert(
                            "origin".into(),
                            serde_json::to_value(s.origin).unwrap_or(Value::Null),
                        );
                    }
                    services.push(document);
                }
                Entity::Subscription(s) => subscriptions.push(ExportedSubscription {
                    id: s.id,
                    consumer: s.consumer,
                    service: s.service,
                    plan: s.plan,
                    status: s.status,
                    key_mode: s.key_mode,
                    ends_at: s.ends_at.map(rfc3339),
                    created_at: rfc3339(s.created_at),
                    updated_at: rfc3339(s.updated_at),
                    reason: s.reason,
                }),
            })?;
            Ok((
                revision,
                Export {
                    consumers,
                    services,
                    subscriptions,
                },
            ))
        })
        .await?;
    let mut response = Json(export).into_response();
    response
        .headers_mut()
        .insert(REVISION_HEADER, HeaderValue::from(revision));
    Ok(response)
}
