//! `/v1/services/{service}/plans`: a service's API key plans. Plans are part of their
//! service's document (as in the configuration file), so a plan change is a service
//! change: checked in full, stored in one write, and live on every node at once. Plans of
//! a service from the configuration file are changed in the file.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use keygate_store::{Origin, ServiceRecord, Store, SubscriptionRecord};
use serde_json::{Map, Value};

use super::consumers::owned_by_api;
use super::services::checked_document;
use super::subscriptions::is_live;
use super::{every_page, AdminState, ApiError};
use crate::state::millis;

/// The stored service `name`, or `404`.
fn stored_service(store: &dyn Store, name: &str) -> Result<ServiceRecord, ApiError> {
    store
        .service(name)?
        .ok_or_else(|| ApiError::NotFound(format!("service `{name}` not found")))
}

/// The service's document and its plans.
fn document_and_plans(
    record: &ServiceRecord,
) -> Result<(Map<String, Value>, Vec<Value>), ApiError> {
    let Ok(Value::Object(mut document)) = serde_json::from_str::<Value>(&record.document) else {
        return Err(ApiError::Internal(format!(
            "service `{}` is stored in a shape this version cannot read",
            record.name
        )));
    };
    let plans = match document.remove("plans") {
        Some(Value::Array(plans)) => plans,
        _ => Vec::new(),
    };
    Ok((document, plans))
}

/// The first pending, accepted or paused subscription to a plan of `service` whose name
/// `dropped` picks.
pub(super) fn live_subscription(
    store: &dyn Store,
    service: &str,
    dropped: impl Fn(&str) -> bool,
) -> keygate_store::Result<Option<SubscriptionRecord>> {
    let all = every_page(
        |page| store.subscriptions(None, Some(service), page),
        |s| s.id.clone(),
    )?;
    Ok(all
        .into_iter()
        .find(|s| dropped(&s.plan) && is_live(s.status)))
}

/// The `409` for a plan that would go while `live` still uses it.
pub(super) fn still_subscribed(live: &SubscriptionRecord) -> ApiError {
    ApiError::Conflict(format!(
        "plan `{}` of service `{}` still has subscription `{}` ({}); close its subscriptions \
         first",
        live.plan,
        live.service,
        live.id,
        live.status.as_str()
    ))
}

/// The names of the plans in a service document.
pub(super) fn plan_names(document: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(document).unwrap_or(Value::Null);
    value["plans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|plan| plan_name(plan).map(str::to_owned))
        .collect()
}

fn plan_name(plan: &Value) -> Option<&str> {
    plan.get("name")?.as_str()
}

/// `GET /v1/services/{service}/plans`: the plans in the order they are tried.
pub async fn list(
    State(state): State<AdminState>,
    Path(service): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .read(move |store| Ok(store.service(&service)?.ok_or(service)))
        .await?
        .map_err(|name| ApiError::NotFound(format!("service `{name}` not found")))?;
    let (_, plans) = document_and_plans(&record)?;
    Ok(Json(serde_json::json!({ "data": plans })))
}

/// `GET /v1/services/{service}/plans/{plan}`.
pub async fn get(
    State(state): State<AdminState>,
    Path((service, plan)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let lookup = service.clone();
    let record = state
        .read(move |store| store.service(&lookup))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("service `{service}` not found")))?;
    let (_, plans) = document_and_plans(&record)?;
    plans
        .into_iter()
        .find(|p| plan_name(p) == Some(&plan))
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("service `{service}` has no plan `{plan}`")))
}

/// `PUT /v1/services/{service}/plans/{plan}`: creates (201, tried after the existing
/// plans) or replaces (200, in its place) a plan: `selection_rule`, `forward_key`,
/// `auto_approve`, `description`.
pub async fn put(
    State(state): State<AdminState>,
    Path((service, plan)): Path<(String, String)>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut fields = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return Err(ApiError::Invalid("a plan is a JSON object".into())),
        Err(error) => {
            return Err(ApiError::BadRequest(format!(
                "the body is not JSON: {error}"
            )))
        }
    };
    match fields.get("name") {
        Some(Value::String(given)) if *given == plan => {}
        Some(other) => {
            return Err(ApiError::Invalid(format!(
                "the body names plan {other}, the path `{plan}`"
            )))
        }
        None => {
            fields.insert("name".into(), Value::String(plan.clone()));
        }
    }
    let new_plan = Value::Object(fields);
    let checker = state.clone();
    state
        .write(move |store| {
            let record = stored_service(store, &service)?;
            owned_by_api("service", &service, record.origin)?;
            let (mut document, mut plans) = document_and_plans(&record)?;
            let status = match plans.iter_mut().find(|p| plan_name(p) == Some(&plan)) {
                Some(slot) => {
                    *slot = new_plan.clone();
                    StatusCode::OK
                }
                None => {
                    plans.push(new_plan.clone());
                    StatusCode::CREATED
                }
            };
            document.insert("plans".into(), Value::Array(plans));
            let text = Value::Object(document).to_string();
            let checked = checked_document(&service, &text, &checker)?;
            store.put_service(&ServiceRecord {
                name: service,
                document: checked,
                origin: Origin::Api,
                updated_at: millis(SystemTime::now()),
            })?;
            Ok((status, Json(new_plan)))
        })
        .await
}

/// `DELETE /v1/services/{service}/plans/{plan}` → 204; `409` while the plan has pending,
/// accepted or paused subscriptions (close them first).
pub async fn delete(
    State(state): State<AdminState>,
    Path((service, plan)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .write(move |store| {
            let record = stored_service(store, &service)?;
            owned_by_api("service", &service, record.origin)?;
            let (mut document, mut plans) = document_and_plans(&record)?;
            let before = plans.len();
            plans.retain(|p| plan_name(p) != Some(&plan));
            if plans.len() == before {
                return Err(ApiError::NotFound(format!(
                    "service `{service}` has no plan `{plan}`"
                )));
            }
            if let Some(live) = live_subscription(store, &service, |name| name == plan)? {
                return Err(still_subscribed(&live));
            }
            if !plans.is_empty() {
                document.insert("plans".into(), Value::Array(plans));
            }
            store.put_service(&ServiceRecord {
                name: service,
                document: Value::Object(document).to_string(),
                origin: Origin::Api,
                updated_at: millis(SystemTime::now()),
            })?;
            Ok(StatusCode::NO_CONTENT)
        })
        .await
}
