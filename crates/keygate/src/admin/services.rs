//! `/v1/services`: services with their routes, in the configuration file's shape (JSON).
//! A service is checked in full — paths, upstreams, `allow` expressions — before it is
//! stored; a bad one is `422` with every problem and its position in the body.

use std::time::SystemTime;

use super::error::Params;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{Origin, ServiceRecord, Written};
use serde_json::Value;

use super::consumers::owned_by_api;
use super::plans::{live_subscription, plan_names, still_subscribed};
use super::{listing, AdminState, ApiError, Listing, PageQuery};
use crate::config::service_from_document;
use crate::proxy::health_checks::ServiceHealth;
use crate::state::millis;

/// A stored service as the API shows it: its document with its origin.
pub(super) fn shown(record: ServiceRecord) -> Value {
    let mut document: Value = serde_json::from_str(&record.document).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut document {
        fields.insert(
            "origin".into(),
            serde_json::to_value(record.origin).unwrap_or(Value::Null),
        );
    }
    document
}

/// Checks a service body for `name`; returns the document to store.
pub(super) fn checked_document(
    name: &str,
    body: &str,
    state: &AdminState,
) -> Result<String, ApiError> {
    let mut value: Value = serde_json::from_str(body)
        .map_err(|error| ApiError::BadRequest(format!("the body is not JSON: {error}")))?;
    let Value::Object(fields) = &mut value else {
        return Err(ApiError::Invalid("a service is a JSON object".into()));
    };
    // The body is checked as sent, so positions point into it; a body without a name gets
    // the one from the path.
    let text = match fields.get("name") {
        Some(Value::String(given)) if given == name => body.to_owned(),
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "the body names service {other}, the path `{name}`"
            )))
        }
        None => {
            fields.insert("name".into(), Value::String(name.to_owned()));
            value.to_string()
        }
    };
    let config = state.sync.config();
    service_from_document(&text, &config).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
            .collect();
        ApiError::Invalid(lines.join("\n"))
    })?;
    let compact: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(compact.to_string())
}

/// `PUT /v1/services/{name}`: creates (201) or replaces (200).
pub async fn put(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let document = checked_document(&name, &body, &state)?;
    state
        .write(move |store| {
            if let Some(existing) = store.service(&name)? {
                owned_by_api("service", &name, existing.origin)?;
                // Plans that go must have no live subscriptions, as with the plans API.
                let kept = plan_names(&document);
                let dropped = |plan: &str| !kept.iter().any(|k| k == plan);
                if let Some(live) = live_subscription(store, &name, dropped)? {
                    return Err(still_subscribed(&live));
                }
            }
            let record = ServiceRecord {
                name,
                document,
                origin: Origin::Api,
                updated_at: millis(SystemTime::now()),
            };
            let status = match store.put_service(&record)? {
                Written::Created(_) => StatusCode::CREATED,
                _ => StatusCode::OK,
            };
            Ok((status, Json(shown(record))))
        })
        .await
}

/// `GET /v1/services/{name}`.
pub async fn get(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let lookup = name.clone();
    match state.read(move |store| store.service(&lookup)).await? {
        Some(record) => Ok(Json(shown(record))),
        None => Err(ApiError::NotFound(format!("service `{name}` not found"))),
    }
}

/// `DELETE /v1/services/{name}` → 204.
pub async fn delete(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |store| {
            let existing = store
                .service(&name)?
                .ok_or_else(|| ApiError::NotFound(format!("service `{name}` not found")))?;
            owned_by_api("service", &name, existing.origin)?;
            if let Some(live) = live_subscription(store, &name, |_| true)? {
                return Err(still_subscribed(&live));
            }
            store.delete_service(&name)?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}

/// `GET /v1/services?after=&limit=`.
pub async fn list(
    State(state): State<AdminState>,
    Params(query): Params<PageQuery>,
) -> Result<Json<Listing<Value>>, ApiError> {
    let page = query.page()?;
    let limit = page.limit;
    let records = state.read(move |store| store.services(&page)).await?;
    Ok(Json(listing(records, limit, |s| s.name.clone(), shown)))
}

/// `GET /v1/services/{name}/health`: each target's state, and which health (active checks
/// or passive failures) holds a down one down, as this node sees it now.
pub async fn health(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<ServiceHealth>, ApiError> {
    let snapshot = state.sync.state().load();
    let index = snapshot
        .services
        .iter()
        .position(|service| *service.name == *name);
    index
        .and_then(|index| state.health_checks.report(&snapshot, index))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("service `{name}` not found")))
}
