//! `/healthz`, `/readyz` and `/metrics`: open without the token, for probes and scrapers
//! (the admin listener is on loopback unless told otherwise).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};

use super::AdminState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The state is loaded and serving: revision and counts.
pub async fn readyz(State(state): State<AdminState>) -> Json<Value> {
    let snapshot = state.sync.state().load();
    let directory = &state.sync.state().directory;
    Json(json!({
        "status": "ready",
        "revision": state.sync.revision(),
        "services": snapshot.services.len(),
        "consumers": directory.consumer_count(),
        "keys": directory.keys.len(),
    }))
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    match state.metrics.render(&state.sync.state().directory) {
        Ok(text) => (
            StatusCode::OK,
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        ),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(CONTENT_TYPE, "text/plain")],
            String::from("metrics could not be encoded"),
        ),
    }
}
