//! The middleware between a resolved caller and its handler: asks [`super::access`]
//! whether the call is allowed, runs it, then gives a created consumer or service to
//! the account that created it, keeps only the visible items of a listing, and records a
//! successful write in the audit log.

use std::collections::HashMap;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::access::{self, Verdict};
use super::audit;
use super::caller::Caller;
use super::error::ApiError;
use super::AdminState;

/// The most bytes of a body the guard reads (a subscription to check, an answer to
/// filter or record); larger ones are refused, as axum's own JSON limit does.
const MOST_BYTES: usize = 16 << 20;

/// Checks, runs and records one `/v1/` call; see the module documentation.
pub async fn guard(
    State(state): State<AdminState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or(ApiError::Unauthorized)?;
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().clone();
    let (mut parts, body) = request.into_parts();
    let mut params = Path::<HashMap<String, String>>::from_request_parts(&mut parts, &state)
        .await
        .map(|Path(params)| params)
        .unwrap_or_default();
    // The one rule that reads the query (`GET /v1/usage`: whose figures) gets its
    // parameters too; nothing else (the audit log names entities from the path alone).
    if pattern == "/v1/usage" {
        if let Ok(Query(query)) = Query::<HashMap<String, String>>::try_from_uri(&parts.uri) {
            for (name, value) in query {
                params.entry(name).or_insert(value);
            }
        }
    }
    let route = pattern.strip_prefix("/v1").unwrap_or(&pattern).to_owned();
    let checks_body = !caller.is_admin() && method == Method::POST && route == "/subscriptions";
    let (seen, body) = if checks_body {
        let bytes = to_bytes(body, MOST_BYTES)
            .await
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
        (bytes.clone(), Body::from(bytes))
    } else {
        (Bytes::new(), body)
    };
    let writes =
        !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) && route != "/verify";
    let target = if writes {
        audit::target(&pattern, &params)
    } else {
        None
    };
    let decided = {
        let (caller, method, pattern, params, target) = (
            caller.clone(),
            method.clone(),
            pattern.clone(),
            params.clone(),
            target.clone(),
        );
        state
            .inspect(move |store| {
                let verdict = access::check(store, &caller, &method, &pattern, &params, &seen)?;
                let before = target
                    .as_ref()
                    .and_then(|t| Some(audit::snapshot(store, t.kind, t.id.as_deref()?)))
                    .flatten();
                Ok((verdict, before))
            })
            .await?
    };
    let (verdict, before) = decided;
    let response = next.run(Request::from_parts(parts, body)).await;
    let status = response.status();
    let owns_new = matches!(verdict, Verdict::AllowAndOwn(_)) && status == StatusCode::CREATED;
    let filters = matches!(verdict, Verdict::Filter(_));
    if !status.is_success() || !(owns_new || filters || target.is_some()) {
        return Ok(response);
    }
    let (head, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let answered: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let named = |field: &str| answered[field].as_str().map(str::to_owned);
    let created_name = params.get("name").cloned().or_else(|| named("name"));
    let entity = target.as_ref().map(|target| {
        target
            .id
            .clone()
            .or_else(|| named("id"))
            .or_else(|| named("name"))
            .unwrap_or_default()
    });
    let outcome = state
        .inspect(move |store| {
            if let (Verdict::AllowAndOwn(kind), true, Some(name)) =
                (&verdict, owns_new, &created_name)
            {
                store.set_owner(*kind, name, caller.account.as_deref())?;
            }
            if let Verdict::Filter(listed) = verdict {
                let mut answered = answered;
                if let Some(items) = answered["data"].as_array_mut() {
                    let mut kept = Vec::with_capacity(items.len());
                    for item in items.drain(..) {
                        if access::visible(store, &caller, listed, &item)? {
                            kept.push(item);
                        }
                    }
                    *items = kept;
                }
                return Ok(Some(answered));
            }
            if let (Some(target), Some(entity)) = (&target, entity) {
                let after = (status != StatusCode::NO_CONTENT).then(|| audit::scrub(answered));
                let action = format!("{method} {pattern}");
                audit::append(store, caller.actor(), action, target, entity, before, after);
            }
            Ok(None)
        })
        .await?;
    Ok(match outcome {
        Some(filtered) => (head, axum::Json(filtered)).into_response(),
        None => Response::from_parts(head, Body::from(bytes)),
    })
}
