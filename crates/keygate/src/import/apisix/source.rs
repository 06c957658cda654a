//! The two shapes APISIX's entities come in, made one: the standalone file
//! (`apisix.yaml`: `routes:`, `services:`, `upstreams:`, `consumers:`,
//! `consumer_groups:`, ending with `#END`) and Admin API list responses (`{"total": n,
//! "list": [{"key": "/apisix/routes/1", "value": {…}}]}`), alone, in a JSON array, or
//! under the kinds' names.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::import::ImportError;

/// The kinds of entity read.
pub(super) const KINDS: [&str; 6] = [
    "routes",
    "services",
    "upstreams",
    "consumers",
    "consumer_groups",
    "credentials",
];

/// Entities by kind.
pub(super) type Entities = BTreeMap<&'static str, Vec<Value>>;

/// Reads a standalone file or an Admin API dump.
pub(super) fn entities(file: &Value) -> Result<Entities, ImportError> {
    let mut found: Entities = KINDS.iter().map(|k| (*k, Vec::new())).collect();
    match file {
        Value::Array(responses) => {
            for response in responses {
                list_response(response, None, &mut found);
            }
        }
        Value::Object(fields) if fields.contains_key("list") => {
            list_response(file, None, &mut found);
        }
        Value::Object(fields) => {
            for kind in KINDS {
                match fields.get(kind) {
                    Some(Value::Array(items)) => {
                        if let Some(found) = found.get_mut(kind) {
                            found.extend(items.iter().cloned());
                        }
                    }
                    Some(response @ Value::Object(_)) => {
                        list_response(response, Some(kind), &mut found)
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    // Standalone 3.x credentials are consumers whose id is `name/credentials/id`.
    let (credentials, consumers): (Vec<Value>, Vec<Value>) =
        found["consumers"].iter().cloned().partition(|c| {
            c.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.contains("/credentials/"))
        });
    found.insert("consumers", consumers);
    if let Some(found) = found.get_mut("credentials") {
        found.extend(credentials);
    }
    if found.values().all(Vec::is_empty) {
        return Err(ImportError::Shape(
            "no APISIX routes, services, upstreams or consumers: expected apisix.yaml (standalone) or Admin API list responses".into(),
        ));
    }
    Ok(found)
}

/// Adds the items of `{"list": [{"key": …, "value": …}]}`; the kind comes from each
/// item's etcd key (`/apisix/routes/1`), else from `kind`.
fn list_response(response: &Value, kind: Option<&'static str>, found: &mut Entities) {
    let Some(items) = response.get("list").and_then(Value::as_array) else {
        return;
    };
    for item in items {
        let value = item.get("value").unwrap_or(item).clone();
        let key = item.get("key").and_then(Value::as_str).unwrap_or("");
        let from_key = if key.contains("/credentials/") {
            Some("credentials")
        } else {
            KINDS.into_iter().find(|k| key.contains(&format!("/{k}/")))
        };
        let Some(kind) = from_key.or(kind) else {
            continue;
        };
        let mut value = value;
        if kind == "credentials" {
            if let Some(object) = value.as_object_mut() {
                object.insert(ETCD_KEY.into(), Value::String(key.to_owned()));
            }
        }
        found.entry(kind).or_default().push(value);
    }
}

/// Where a credential of a list response keeps the etcd key it was listed under
/// (`/apisix/consumers/NAME/credentials/ID`): it names the consumer.
const ETCD_KEY: &str = "_etcd_key";

/// The consumer a credential belongs to: from its etcd key or id,
/// `…/consumers/NAME/credentials/…` or `NAME/credentials/…`.
pub(super) fn credential_owner(credential: &Value) -> Option<&str> {
    let id = credential
        .get(ETCD_KEY)
        .or_else(|| credential.get("id"))?
        .as_str()?;
    let before = &id[..id.find("/credentials/")?];
    Some(before.rsplit('/').next().unwrap_or(before))
}
