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

/// The state is loaded and serving: revision and counts. On a shared (PostgreSQL) store,
/// `store` also tells whether the node is listening for changes and how many seconds ago
/// it last caught up; the node stays ready while the database is away, since it keeps
/// serving from memory.
pub async fn readyz(State(state): State<AdminState>) -> Json<Value> {
    let snapshot = state.sync.state().load();
    let directory = &state.sync.state().directory;
    let store = match &state.cluster {
        Some(cluster) => json!({
            "backend": "postgres",
            "listening": cluster.listening(),
            "seconds_since_sync": cluster.since_last_sync().as_secs_f64(),
        }),
        None => json!({"backend": "sqlite"}),
    };
    Json(json!({
        "status": "ready",
        "revision": state.sync.revision(),
        "services": snapshot.services.len(),
        "consumers": directory.consumer_count(),
        "keys": directory.keys.len(),
        "store": store,
    }))
}

/// `/readyz` while the first full load runs: 503, so no traffic is sent here yet.
pub async fn loading() -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(
            json!({"status": "loading", "message": "keygate is loading its state from the store"}),
        ),
    )
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    if let Some(cluster) = &state.cluster {
        state
            .metrics
            .set_store_sync_age(cluster.since_last_sync().as_secs_f64());
    }
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
