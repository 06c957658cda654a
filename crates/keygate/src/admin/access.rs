//! Who may do what through the admin API: the rules of the three roles, one function
//! per resource, and [`check`], which maps every `/v1/` endpoint to them. An endpoint
//! with no rule here is for admins only, so that a new endpoint is closed until it is
//! given one.
//!
//! - **admin**: everything.
//! - **publisher**: the services it owns (their plans, and the subscriptions to them,
//!   with their keys); reads a shared key but never changes, renews or revokes it. It
//!   reads the consumers subscribed to its services.
//! - **owner** (application owner): the consumers it owns, their keys (shared ones
//!   included) and subscriptions; reads the services published to the portal.
//!
//! What a caller may not see is `404`, as if it did not exist; what it sees but may not
//! do is `403`.

use std::collections::HashMap;

use axum::http::Method;
use keygate_store::{KeyMode, KeyRecord, OwnedKind, Role, Store, StoreError, SubscriptionRecord};
use serde_json::Value;

use super::caller::Caller;
use super::error::ApiError;
use super::every_page;

/// Whether a call reads or changes its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reads.
    Read,
    /// Changes (or deletes).
    Write,
}

/// What a key call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNeed {
    /// Reads it.
    Read,
    /// Changes, reactivates or deletes it.
    Change,
    /// Renews or revokes it.
    RenewOrRevoke,
}

/// What [`check`] decided for an allowed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead; when the call creates the entity (`201`), the caller owns it.
    AllowAndOwn(OwnedKind),
    /// Go ahead, then keep only the listed items the caller may see.
    Filter(Listed),
}

/// The kind of items a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Services.
    Services,
    /// Consumers.
    Consumers,
    /// Keys.
    Keys,
    /// Subscriptions.
    Subscriptions,
}

fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::NotFound(format!("{kind} `{name}` not found"))
}

/// The owner of an entity; `Ok(None)` for none, `Err` when the entity is absent.
fn owner_of(store: &dyn Store, kind: OwnedKind, name: &str) -> Result<Option<String>, ApiError> {
    match store.owner(kind, name) {
        Ok(owner) => Ok(owner),
        Err(StoreError::NotFound { .. }) => Err(not_found(noun(kind), name)),
        Err(other) => Err(other.into()),
    }
}

fn noun(kind: OwnedKind) -> &'static str {
    match kind {
        OwnedKind::Consumer => "consumer",
        OwnedKind::Service => "service",
    }
}

fn owns(store: &dyn Store, caller: &Caller, kind: OwnedKind, name: &str) -> Result<bool, ApiError> {
    Ok(caller.is(owner_of(store, kind, name)?.as_deref()))
}

/// Whether a service is published to the portal (`published: true` in its document).
pub fn published(store: &dyn Store, name: &str) -> Result<bool, ApiError> {
    let Some(record) = store.service(name)? else {
        return Ok(false);
    };
    let document: Value = serde_json::from_str(&record.document).unwrap_or(Value::Null);
    Ok(document["published"] == Value::Bool(true))
}

/// May `caller` read or change service `name` (and its plans)?
pub fn service(store: &dyn Store, caller: &Caller, name: &str, need: Need) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Publisher if owns(store, caller, OwnedKind::Service, name)? => Ok(()),
        Role::Owner if published(store, name)? => match need {
            Need::Read => Ok(()),
            Need::Write => Err(ApiError::Forbidden(
                "an application owner reads the published services; their publishers change them"
                    .into(),
            )),
        },
        _ => Err(not_found("service", name)),
    }
}

/// Whether one of consumer `name`'s subscriptions (of `mode`, when given) is to a
/// service `caller` owns.
fn subscribes_to_callers_service(
    store: &dyn Store,
    caller: &Caller,
    name: &str,
    mode: Option<KeyMode>,
) -> Result<bool, ApiError> {
    let subscriptions = every_page(
        |page| store.subscriptions(Some(name), None, page),
        |s| s.id.clone(),
    )?;
    for subscription in subscriptions {
        if mode.is_some_and(|mode| subscription.key_mode != mode) {
            continue;
        }
        if let Ok(Some(owner)) = store.owner(OwnedKind::Service, &subscription.service) {
            if caller.is(Some(&owner)) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// May `caller` read or change consumer `name` (and create its keys)?
pub fn consumer(
    store: &dyn Store,
    caller: &Caller,
    name: &str,
    need: Need,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Owner if owns(store, caller, OwnedKind::Consumer, name)? => Ok(()),
        Role::Publisher if subscribes_to_callers_service(store, caller, name, None)? => {
            match need {
                Need::Read => Ok(()),
                Need::Write => Err(ApiError::Forbidden(
                    "a publisher reads the consumers subscribed to its services; their \
                     application owners change them"
                        .into(),
                )),
            }
        }
        _ => Err(not_found("consumer", name)),
    }
}

/// May `caller` do `need` to `key`?
pub fn key(
    store: &dyn Store,
    caller: &Caller,
    key: &KeyRecord,
    need: KeyNeed,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => return Ok(()),
        Role::Owner if owns(store, caller, OwnedKind::Consumer, &key.consumer)? => return Ok(()),
        Role::Owner => return Err(not_found("key", &key.id)),
        Role::Publisher => {}
    }
    let related = match &key.subscription {
        Some(id) => match store.subscription(id)? {
            Some(subscription) => caller.is(store
                .owner(OwnedKind::Service, &subscription.service)
                .ok()
                .flatten()
                .as_deref()),
            None => false,
        },
        None if key.shared => {
            subscribes_to_callers_service(store, caller, &key.consumer, Some(KeyMode::Shared))?
        }
        None => false,
    };
    if !related {
        return Err(not_found("key", &key.id));
    }
    if key.shared && need != KeyNeed::Read {
        return Err(ApiError::Forbidden(
            "only the application's owner can renew or revoke a shared key (or change it); \
             a publisher can read it"
                .into(),
        ));
    }
    Ok(())
}

/// May `caller` do `action` (`None`: read; `Some("delete")`; or a transition such as
/// `accept`) to `subscription`?
pub fn subscription(
    store: &dyn Store,
    caller: &Caller,
    subscription: &SubscriptionRecord,
    action: Option<&str>,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Publisher if owns(store, caller, OwnedKind::Service, &subscription.service)? => {
            Ok(())
        }
        Role::Owner if owns(store, caller, OwnedKind::Consumer, &subscription.consumer)? => {
            match action {
                None | Some("close") => Ok(()),
                Some(other) => Err(ApiError::Forbidden(format!(
                    "`{other}` on a subscription is for the service's publisher; its \
                     application owner may read or close it"
                ))),
            }
        }
        _ => Err(not_found("subscription", &subscription.id)),
    }
}

/// May `caller` subscribe `consumer_name` to a plan of `service_name`?
fn new_subscription(
    store: &dyn Store,
    caller: &Caller,
    consumer_name: &str,
    service_name: &str,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Publisher => service(store, caller, service_name, Need::Write),
        Role::Owner => {
            consumer(store, caller, consumer_name, Need::Write)?;
            service(store, caller, service_name, Need::Read)
        }
    }
}

fn admin_only(caller: &Caller) -> Result<Verdict, ApiError> {
    if caller.is_admin() {
        Ok(Verdict::Allow)
    } else {
        Err(ApiError::Forbidden("only an admin may do this".into()))
    }
}

fn stored_key(store: &dyn Store, id: &str) -> Result<KeyRecord, ApiError> {
    store.key(id)?.ok_or_else(|| not_found("key", id))
}

fn stored_subscription(store: &dyn Store, id: &str) -> Result<SubscriptionRecord, ApiError> {
    store
        .subscription(id)?
        .ok_or_else(|| not_found("subscription", id))
}

/// Creating a consumer or a service by name: allowed to the role that owns that kind
/// (which then owns it), else the entity's own rule for a change.
fn put_owned(
    store: &dyn Store,
    caller: &Caller,
    kind: OwnedKind,
    name: &str,
) -> Result<Verdict, ApiError> {
    let creator = match kind {
        OwnedKind::Consumer => Role::Owner,
        OwnedKind::Service => Role::Publisher,
    };
    match store.owner(kind, name) {
        Err(StoreError::NotFound { .. }) if caller.role == creator => {
            Ok(Verdict::AllowAndOwn(kind))
        }
        Err(StoreError::NotFound { .. }) => admin_only(caller),
        Err(other) => Err(other.into()),
        Ok(_) => {
            match kind {
                OwnedKind::Consumer => consumer(store, caller, name, Need::Write)?,
                OwnedKind::Service => service(store, caller, name, Need::Write)?,
            }
            Ok(Verdict::Allow)
        }
    }
}

/// The decision for one call: `method` on the route `pattern` (as routed, such as
/// `/v1/keys/{id}/revoke`), with its path parameters and, for `POST /v1/subscriptions`,
/// its body.
pub fn check(
    store: &dyn Store,
    caller: &Caller,
    method: &Method,
    pattern: &str,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<Verdict, ApiError> {
    if caller.is_admin() {
        return Ok(Verdict::Allow);
    }
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let read = *method == Method::GET || *method == Method::HEAD;
    let route = pattern.strip_prefix("/v1").unwrap_or(pattern);
    match route {
        "/services" if read => Ok(Verdict::Filter(Listed::Services)),
        "/services/{name}" if *method == Method::PUT => {
            put_owned(store, caller, OwnedKind::Service, param("name"))
        }
        "/services/{name}"
        | "/services/{name}/health"
        | "/services/{name}/plans"
        | "/services/{name}/plans/{plan}" => {
            let need = if read { Need::Read } else { Need::Write };
            service(store, caller, param("name"), need).map(|()| Verdict::Allow)
        }
        "/consumers" if read => Ok(Verdict::Filter(Listed::Consumers)),
        "/consumers" if caller.role == Role::Owner => Ok(Verdict::AllowAndOwn(OwnedKind::Consumer)),
        "/consumers/{name}" if *method == Method::PUT => {
            put_owned(store, caller, OwnedKind::Consumer, param("name"))
        }
        "/consumers/{name}" | "/consumers/{name}/keys" => {
            let need = if read { Need::Read } else { Need::Write };
            consumer(store, caller, param("name"), need).map(|()| Verdict::Allow)
        }
        "/keys" if read => Ok(Verdict::Filter(Listed::Keys)),
        "/keys/{id}" | "/keys/{id}/reactivate" | "/keys/{id}/revoke" | "/keys/{id}/renew" => {
            let need = match route {
                _ if read => KeyNeed::Read,
                "/keys/{id}/revoke" | "/keys/{id}/renew" => KeyNeed::RenewOrRevoke,
                _ => KeyNeed::Change,
            };
            let record = stored_key(store, param("id"))?;
            key(store, caller, &record, need).map(|()| Verdict::Allow)
        }
        "/subscriptions" if read => Ok(Verdict::Filter(Listed::Subscriptions)),
        "/subscriptions" => {
            let wanted: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let consumer_name = wanted["consumer"].as_str().unwrap_or_default();
            let service_name = wanted["service"].as_str().unwrap_or_default();
            new_subscription(store, caller, consumer_name, service_name).map(|()| Verdict::Allow)
        }
        "/subscriptions/{id}" | "/subscriptions/{id}/{action}" => {
            let record = stored_subscription(store, param("id"))?;
            let action = match route {
                _ if read => None,
                "/subscriptions/{id}" => Some("delete"),
                _ => Some(param("action")),
            };
            subscription(store, caller, &record, action).map(|()| Verdict::Allow)
        }
        "/usage" if read => usage(
            store,
            caller,
            param("consumer"),
            param("key_id"),
            param("service"),
        )
        .map(|()| Verdict::Allow),
        "/services/{name}/routes/{route}/callers" if read => match caller.role {
            // Who can call lists every consumer let through: for the service's publisher,
            // not for the application owners whose consumers it lists.
            Role::Publisher => service(store, caller, param("name"), Need::Write),
            _ => Err(not_found("service", param("name"))),
        }
        .map(|()| Verdict::Allow),
        _ => admin_only(caller),
    }
}

/// May `caller` read the usage figures the query names? An application owner names one
/// of its consumers (`?consumer=`) or keys (`?key_id=`); a publisher one of its services
/// (`?service=`).
fn usage(
    store: &dyn Store,
    caller: &Caller,
    consumer_name: &str,
    key_id: &str,
    service_name: &str,
) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Owner if !consumer_name.is_empty() => {
            consumer(store, caller, consumer_name, Need::Write)
                .map_err(|_| not_found("consumer", consumer_name))
        }
        Role::Owner if !key_id.is_empty() => {
            let record = stored_key(store, key_id)?;
            key(store, caller, &record, KeyNeed::Change).map_err(|_| not_found("key", key_id))
        }
        Role::Owner => Err(ApiError::Forbidden(
            "an application owner reads the usage of its own consumers and keys: name one with ?consumer= or ?key_id=".into(),
        )),
        Role::Publisher if !service_name.is_empty() => {
            service(store, caller, service_name, Need::Write)
        }
        Role::Publisher => Err(ApiError::Forbidden(
            "a publisher reads the usage of its own services: name one with ?service=".into(),
        )),
    }
}

/// Whether `caller` may see one item of a listing.
pub fn visible(
    store: &dyn Store,
    caller: &Caller,
    listed: Listed,
    item: &Value,
) -> Result<bool, ApiError> {
    let field = |name: &str| item[name].as_str().unwrap_or_default().to_owned();
    let outcome = match listed {
        Listed::Services => service(store, caller, &field("name"), Need::Read),
        Listed::Consumers => consumer(store, caller, &field("name"), Need::Read),
        Listed::Keys => match store.key(&field("id"))? {
            Some(record) => key(store, caller, &record, KeyNeed::Read),
            None => return Ok(false),
        },
        Listed::Subscriptions => match store.subscription(&field("id"))? {
            Some(record) => subscription(store, caller, &record, None),
            None => return Ok(false),
        },
    };
    match outcome {
        Ok(()) => Ok(true),
        Err(ApiError::NotFound(_) | ApiError::Forbidden(_)) => Ok(false),
        Err(other) => Err(other),
    }
}
