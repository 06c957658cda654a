//! `GET /v1/services/{name}/routes/{route}/callers`: who can call one route — the
//! consumers, keys and client types its auth mode, `allow` expression, plans and
//! subscriptions let through, from the state the proxy reads ([`crate::state::callers`]).
//! A key that may call whatever the request is `yes`; one that may call some requests
//! only is `depends`, with the request facts and the parts of the expressions that
//! decide.
//!
//! The report is made by [`callers_of`], the one function the role checks wrap (a
//! publisher's call is refused for a service it does not own; an application owner's
//! report keeps its own consumers only).

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::Json;
use keygate_policy::Verdict;
use serde::Serialize;
use serde_json::{json, Value};

use super::error::Params;
use super::{AdminState, ApiError};
use crate::config::AuthMode;
use crate::state::callers::{callers, Callers};

/// `?limit=`: how many consumers the answer lists at most (default 1000, up to 10,000).
#[derive(Debug, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CallersParams {
    limit: Option<usize>,
}

/// A verdict as the API shows it: `{"verdict": "yes"}`, or `"depends"` with `on` (the
/// request facts), `parts` and `rest` (the expression left to decide).
fn verdict(verdict: &Verdict) -> Value {
    match verdict {
        Verdict::Depends(rest) => json!({
            "verdict": "depends",
            "on": rest.facts,
            "parts": rest.parts,
            "rest": rest.expression,
        }),
        other => json!({"verdict": other.as_str()}),
    }
}

/// The answer's body.
#[derive(Debug, Serialize)]
pub struct CallersView {
    service: String,
    route: String,
    auth: &'static str,
    allow: Option<String>,
    plans: Vec<String>,
    anonymous: Value,
    client_types: Vec<Value>,
    consumers: Vec<Value>,
    keys_checked: usize,
    truncated: bool,
}

/// Who can call `route` of `service`, now: the one read the role checks wrap.
pub(crate) fn callers_of(
    state: &AdminState,
    service: &str,
    route: &str,
) -> Result<Callers, ApiError> {
    let shared = state.sync.state();
    let snapshot = shared.load();
    callers(
        &snapshot,
        &shared.directory,
        service,
        route,
        SystemTime::now(),
    )
    .ok_or_else(|| ApiError::NotFound(format!("service {service} has no route named {route}")))
}

/// The view of `found`, listing at most `limit` consumers.
fn view(service: String, route: String, found: Callers, limit: usize) -> CallersView {
    let truncated = found.consumers.len() > limit;
    let consumers = found.consumers.into_iter().take(limit).map(|consumer| {
        let keys: Vec<Value> = consumer
            .keys
            .iter()
            .map(|key| {
                let mut shown = verdict(&key.verdict);
                shown["id"] = json!(key.id);
                if !key.plans.is_empty() {
                    shown["plans"] = json!(key.plans);
                }
                shown
            })
            .collect();
        json!({
            "name": consumer.name,
            "client_type": consumer.client_type,
            "verdict": if consumer.always { "yes" } else { "depends" },
            "keys": keys,
        })
    });
    CallersView {
        service,
        route,
        auth: match found.auth {
            AuthMode::Required => "required",
            AuthMode::Optional => "optional",
            AuthMode::None => "none",
        },
        allow: found.allow,
        plans: found.plans,
        anonymous: {
            let mut anonymous = verdict(&found.anonymous);
            if let Some(consumer) = found.anonymous_consumer {
                anonymous["consumer"] = json!(consumer);
            }
            anonymous
        },
        client_types: found
            .client_types
            .into_iter()
            .map(|(name, always)| {
                json!({"client_type": name, "verdict": if always { "yes" } else { "depends" }})
            })
            .collect(),
        consumers: consumers.collect(),
        keys_checked: found.keys_checked,
        truncated,
    }
}

/// `GET /v1/services/{name}/routes/{route}/callers`.
pub async fn list(
    State(state): State<AdminState>,
    Path((service, route)): Path<(String, String)>,
    Params(params): Params<CallersParams>,
) -> Result<Json<CallersView>, ApiError> {
    let limit = params.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::Invalid(format!(
            "limit must be from 1 to 10000, found {limit}"
        )));
    }
    let found = {
        let (state, service, route) = (state.clone(), service.clone(), route.clone());
        tokio::task::spawn_blocking(move || callers_of(&state, &service, &route))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))??
    };
    Ok(Json(view(service, route, found, limit)))
}
