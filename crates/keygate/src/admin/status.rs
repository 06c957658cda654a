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
/// serving from memory. With `admin.readyz_requires_healthy_targets`, a service with
/// health checks and no target they hold up makes it `503`, naming the services.
pub async fn readyz(State(state): State<AdminState>) -> (StatusCode, Json<Value>) {
    let snapshot = state.sync.state().load();
    if snapshot.config.admin.readyz_requires_healthy_targets {
        let failing = state
            .health_checks
            .services_without_healthy_target(&snapshot);
        if !failing.is_empty() {
            let message = format!(
                "no healthy upstream target for service(s): {}",
                failing.join(", ")
            );
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unhealthy_upstreams",
                    "message": message,
                    "services_without_healthy_targets": failing,
                })),
            );
        }
    }
    let directory = &state.sync.state().directory;
    let store = match &state.cluster {
        Some(cluster) => json!({
            "backend": "postgres",
            "listening": cluster.listening(),
            "seconds_since_sync": cluster.since_last_sync().as_secs_f64(),
        }),
        None => json!({"backend": "sqlite"}),
    };
    let ready = json!({
        "status": "ready",
        "revision": state.sync.revision(),
        "services": snapshot.services.len(),
        "consumers": directory.consumer_count(),
        "keys": directory.keys.len(),
        "store": store,
    });
    (StatusCode::OK, Json(ready))
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
