//! `GET /v1/export`: everything the store holds, in the configuration file's shape, with
//! key hashes (`key_hash: sha256:…`) and never plaintext — for backups and for
//! `keygate apply` on another gateway.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use keygate_store::{Entity, KeyMode, Origin, SubscriptionStatus};
use serde::Serialize;
use serde_json::Value;

use super::{rfc3339, AdminState, ApiError};

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
    origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    shared: bool,
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
    origin: Origin,
    keys: Vec<ExportedKey>,
}

/// What `/v1/export` answers.
#[derive(Serialize)]
pub struct Export {
    revision: u64,
    consumers: Vec<ExportedConsumer>,
    services: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions: Vec<ExportedSubscription>,
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /v1/export`.
pub async fn export(State(state): State<AdminState>) -> Result<Json<Export>, ApiError> {
    let export = state
        .read(|store| {
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
                        origin: c.origin,
                        keys: Vec::new(),
                    });
                }
                Entity::Key(k) => {
                    if let Some(&slot) = index.get(&k.consumer) {
                        consumers[slot].keys.push(ExportedKey {
                            key_hash: format!("sha256:{}", hex(&k.hash)),
                            id: k.id,
                            active: k.active,
                            description: k.description,
                            expires_at: k.expires_at.map(rfc3339),
                            revoked_at: k.revoked_at.map(rfc3339),
                            labels: k.labels,
                            origin: k.origin,
                            subscription: k.subscription,
                            shared: k.shared,
                        });
                    }
                }
                Entity::Service(s) => {
                    let mut document: Value =
                        serde_json::from_str(&s.document).unwrap_or(Value::Null);
                    if let Value::Object(fields) = &mut document {
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
                }),
            })?;
            Ok(Export {
                revision,
                consumers,
                services,
                subscriptions,
            })
        })
        .await?;
    Ok(Json(export))
}
