//! The audit log: every successful write through the admin API, recorded in the store
//! with who made it, when, the endpoint, the entity, and the entity before (read just
//! before the call) and after (what the call answered; nothing for a deletion) — as
//! JSON without secrets: no key or token plaintext, no hashes, no passwords. Readable by
//! admins with `GET /v1/audit?entity_kind=&entity=&since=&before=&limit=`, newest first.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::extract::State;
use axum::Json;
use keygate_store::{AuditQuery, AuditRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{ApiError, Params};
use super::AdminState;
use super::{accounts, consumers, keys, parse_rfc3339, rfc3339, services, subscriptions};
use crate::state::millis;

/// The entity a write touches: its kind, and its name or id when the path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `consumer`, `key`, `service`, `plan`, `subscription`, `account` or `token`.
    pub kind: &'static str,
    /// Its name or id; `None` for a creation whose answer names it.
    pub id: Option<String>,
}

/// The entity that a write to the route `pattern` touches.
pub fn target(pattern: &str, params: &HashMap<String, String>) -> Option<Target> {
    let param = |name: &str| params.get(name).cloned();
    let route = pattern.strip_prefix("/v1").unwrap_or(pattern);
    let (kind, id) = match route {
        "/consumers" => ("consumer", None),
        "/consumers/{name}" | "/consumers/{name}/owner" => ("consumer", param("name")),
        "/consumers/{name}/keys" => ("key", None),
        "/keys/{id}" | "/keys/{id}/revoke" | "/keys/{id}/renew" | "/keys/{id}/reactivate" => {
            ("key", param("id"))
        }
        "/services/{name}" | "/services/{name}/owner" => ("service", param("name")),
        "/services/{name}/plans/{plan}" => (
            "plan",
            Some(format!("{}/{}", param("name")?, param("plan")?)),
        ),
        "/subscriptions" => ("subscription", None),
        "/subscriptions/{id}" | "/subscriptions/{id}/{action}" => ("subscription", param("id")),
        "/accounts" => ("account", None),
        "/accounts/{name}" => ("account", param("name")),
        "/accounts/{name}/tokens" => ("token", None),
        "/tokens/{id}/revoke" => ("token", param("id")),
        _ => return None,
    };
    Some(Target { kind, id })
}

fn json<T: Serialize>(value: T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// The entity as the API shows it now, without secrets; `None` when absent.
pub fn snapshot(store: &dyn Store, kind: &str, id: &str) -> Option<Value> {
    let shown = match kind {
        "consumer" => json(consumers::view(store.consumer(id).ok()??)),
        "key" => json(keys::view(store.key(id).ok()??)),
        "service" => Some(services::shown(store.service(id).ok()??)),
        "plan" => {
            let (service, plan) = id.split_once('/')?;
            let document = services::shown(store.service(service).ok()??);
            document["plans"]
                .as_array()?
                .iter()
                .find(|p| p["name"] == plan)
                .cloned()
        }
        "subscription" => json(subscriptions::view(store.subscription(id).ok()??)),
        "account" => json(accounts::view(store.account(id).ok()??)),
        "token" => json(accounts::token_view(store.account_token(id).ok()??)),
        _ => None,
    };
    shown.map(scrub)
}

/// Removes secrets, at any depth: plaintext keys and tokens, hashes, passwords.
pub fn scrub(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(fields) => {
                fields.retain(|name, field| match name.as_str() {
                    "hash" | "key_hash" | "password" | "password_hash" | "csrf_token" => false,
                    "key" | "token" => !field.is_string(),
                    _ => true,
                });
                fields.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut value);
    value
}

/// Appends one record; a failure is logged (the write itself has been committed).
pub fn append(
    store: &dyn Store,
    actor: String,
    action: String,
    target: &Target,
    entity: String,
    before: Option<Value>,
    after: Option<Value>,
) {
    let record = AuditRecord {
        id: 0,
        at: millis(SystemTime::now()),
        actor,
        action,
        entity_kind: target.kind.to_owned(),
        entity,
        before: before.map(|v| v.to_string()),
        after: after.map(|v| v.to_string()),
    };
    if let Err(error) = store.append_audit(&record) {
        tracing::error!(%error, action = %record.action, entity = %record.entity, "the audit log could not record a write");
    }
}

/// `?entity_kind=&entity=&since=&before=&limit=` of `GET /v1/audit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditParams {
    entity_kind: Option<String>,
    entity: Option<String>,
    since: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

/// One record as the API shows it.
#[derive(Debug, Serialize)]
pub struct AuditView {
    id: String,
    at: String,
    actor: String,
    action: String,
    entity_kind: String,
    entity: String,
    before: Option<Value>,
    after: Option<Value>,
}

fn view(record: AuditRecord) -> AuditView {
    let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
    AuditView {
        id: record.id.to_string(),
        at: rfc3339(record.at),
        actor: record.actor,
        action: record.action,
        entity_kind: record.entity_kind,
        entity: record.entity,
        before: parse(record.before),
        after: parse(record.after),
    }
}

/// `GET /v1/audit`: newest first, `{data, next}`; `next` is the `before` of the next page.
pub async fn list(
    State(state): State<AdminState>,
    Params(params): Params<AuditParams>,
) -> Result<Json<super::Listing<AuditView>>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be from 1 to 1000, found {limit}"
        )));
    }
    let before_id = params
        .before
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| ApiError::Invalid(format!("before is a record id, found `{b}`")))
        })
        .transpose()?;
    let query = AuditQuery {
        entity_kind: params.entity_kind,
        entity: params.entity,
        since: params
            .since
            .map(|s| parse_rfc3339(&s, "since"))
            .transpose()?,
        before_id,
        limit,
    };
    let records = state.read(move |store| store.audit(&query)).await?;
    Ok(Json(super::listing(
        records,
        limit,
        |r| r.id.to_string(),
        view,
    )))
}
