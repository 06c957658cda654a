//! The admin listener: the REST API under `/v1/` (token required), `/healthz`,
//! `/readyz`, `/metrics`, and the console's files under `/ui/`. Every write answers only
//! after its commit and after the data plane has applied it, so the next proxied request
//! sees it. The admin API never answers on the proxy listener.

mod access;
mod accounts;
mod audit;
mod auth;
mod caller;
mod callers;
mod console;
mod consumers;
mod error;
mod export;
mod guard;
mod key_credits;
mod key_limits;
mod keys;
mod login_limit;
mod openapi;
mod passwords;
mod plans;
mod services;
mod session_api;
mod sessions;
mod status;
mod subscriptions;
mod usage;

#[cfg(test)]
mod roles_tests;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use keygate_store::Store;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use auth::{resolve_token, AdminToken, TokenError, TokenSource};
pub use caller::Caller;
pub use error::ApiError;
pub use login_limit::LoginLimit;
pub use sessions::Sessions;

use crate::metrics::Metrics;
use crate::proxy::health_checks::HealthChecks;
use crate::state::cluster::ClusterHealth;
use crate::state::sync::StoreSync;

/// What every admin handler can reach.
#[derive(Clone)]
pub struct AdminState {
    /// The store and the state built from it.
    pub sync: Arc<StoreSync>,
    /// The admin token in force.
    pub token: AdminToken,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// The link to the other nodes, on a shared (PostgreSQL) store; `None` with SQLite.
    pub cluster: Option<Arc<ClusterHealth>>,
    /// The upstream targets' health checkers.
    pub health_checks: Arc<HealthChecks>,
    /// The console sessions open on this node.
    pub sessions: Arc<Sessions>,
    /// The sign-in rate limit of this node.
    pub login_limit: Arc<LoginLimit>,
    /// Whether session cookies are marked `Secure` (the admin listener serves TLS).
    pub secure_cookies: bool,
}

impl AdminState {
    /// Runs a read against the store off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&dyn Store) -> keygate_store::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let sync = self.sync.clone();
        tokio::task::spawn_blocking(move || operation(&**sync.store()))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?
            .map_err(ApiError::from)
    }

    /// Runs a check against the store off the async threads.
    async fn inspect<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let sync = self.sync.clone();
        tokio::task::spawn_blocking(move || operation(&**sync.store()))
            .await
            .map_err(|error| ApiError::Internal(error.to_string()))?
    }

    /// Runs a write, then applies it to the data plane before returning.
    async fn write<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let sync = self.sync.clone();
        let metrics = self.metrics.clone();
        tokio::task::spawn_blocking(move || {
            let outcome = operation(&**sync.store());
            if let Err(ApiError::Unavailable(_)) = &outcome {
                metrics.store_error();
            }
            let value = outcome?;
            // The write is durable; only applying it here failed. Say so, so that a
            // client checks before it retries (a retried creation would make a second
            // entity). This node applies the change once the store answers again.
            sync.catch_up().map_err(|error| {
                metrics.store_error();
                ApiError::Unavailable(format!(
                    "the change was stored, but this node could not apply it yet ({error}); \
                     it will once the store answers again: check before retrying"
                ))
            })?;
            Ok(value)
        })
        .await
        .map_err(|error| ApiError::Internal(error.to_string()))?
    }
}

/// Reads a whole listing from the store, a thousand at a time; `cursor` names the item
/// the next page starts after.
fn every_page<T>(
    fetch: impl Fn(&keygate_store::Page) -> keygate_store::Result<Vec<T>>,
    cursor: impl Fn(&T) -> String,
) -> keygate_store::Result<Vec<T>> {
    let mut all = Vec::new();
    let mut page = keygate_store::Page {
        after: None,
        limit: 1000,
    };
    loop {
        let batch = fetch(&page)?;
        let done = batch.len() < page.limit;
        page.after = batch.last().map(&cursor);
        all.extend(batch);
        if done {
            return Ok(all);
        }
    }
}

/// A page of a listing: `{"data": [...], "next": "<cursor>" | null}`.
#[derive(Serialize)]
pub struct Listing<T> {
    data: Vec<T>,
    next: Option<String>,
}

/// `?after=&limit=` of listings.
#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    pub(crate) after: Option<String>,
    pub(crate) limit: Option<usize>,
}

impl PageQuery {
    /// The page asked for; a `limit` outside 1–1000 is `422`, never clamped.
    fn page(&self) -> Result<keygate_store::Page, ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::Invalid(format!(
                "limit must be from 1 to 1000, found {limit}"
            )));
        }
        Ok(keygate_store::Page {
            after: self.after.clone(),
            limit,
        })
    }
}

/// Builds a listing; `cursor` names an item for `next` when the page is full.
fn listing<T, R>(
    items: Vec<R>,
    limit: usize,
    cursor: impl Fn(&R) -> String,
    view: impl Fn(R) -> T,
) -> Listing<T> {
    let next = (items.len() >= limit)
        .then(|| items.last().map(&cursor))
        .flatten();
    Listing {
        data: items.into_iter().map(view).collect(),
        next,
    }
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    let v1 = Router::new()
        .route("/consumers", get(consumers::list).post(consumers::create))
        .route(
            "/consumers/{name}",
            get(consumers::get)
                .put(consumers::put)
                .patch(consumers::patch)
                .delete(consumers::delete),
        )
        .route("/consumers/{name}/keys", post(keys::create))
        .route("/keys", get(keys::list))
        .route(
            "/keys/{id}",
            get(keys::get).patch(keys::patch).delete(keys::delete),
        )
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/keys/{id}/renew", post(keys::renew))
        .route("/keys/{id}/reactivate", post(keys::reactivate))
        .route(
            "/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/subscriptions/{id}",
            get(subscriptions::get).delete(subscriptions::delete),
        )
        .route(
            "/subscriptions/{id}/{action}",
            post(subscriptions::transition),
        )
        .route("/services/{name}/plans", get(plans::list))
        .route(
            "/services/{name}/plans/{plan}",
            get(plans::get).put(plans::put).delete(plans::delete),
        )
        .route("/services/{name}/health", get(services::health))
        .route(
            "/services/{name}/routes/{route}/callers",
            get(callers::list),
        )
        .route("/services", get(services::list))
        .route(
            "/services/{name}",
            get(services::get)
                .put(services::put)
                .delete(services::delete),
        )
        .route("/verify", post(keys::verify))
        .route("/export", get(export::export))
        .route("/usage", get(usage::list))
        .route(
            "/consumers/{name}/owner",
            get(accounts::get_owner).put(accounts::put_consumer_owner),
        )
        .route(
            "/services/{name}/owner",
            get(accounts::get_owner).put(accounts::put_service_owner),
        )
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route(
            "/accounts/{name}",
            get(accounts::get)
                .patch(accounts::patch)
                .delete(accounts::delete),
        )
        .route("/accounts/{name}/tokens", post(accounts::create_token))
        .route("/tokens", get(accounts::list_tokens))
        .route("/tokens/{id}/revoke", post(accounts::revoke_token))
        .route("/audit", get(audit::list))
        // Layers run outside in: the caller is resolved, then the call is checked.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ))
        .route(
            "/session",
            get(session_api::current)
                .post(session_api::sign_in)
                .delete(session_api::sign_out),
        )
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .nest("/v1", v1)
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::readyz))
        // The console and developer portal (admin/console.rs): static files, no token.
        .route("/ui", get(console::redirect))
        .route("/ui/", get(console::index))
        .route("/ui/{file}", get(console::asset))
        .route(
            "/metrics",
            get(status::metrics).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                auth::guard_metrics,
            )),
        )
        .fallback(|| async { ApiError::NotFound("no such admin endpoint".into()) })
        // axum adds the `Allow` field to what this answers.
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            ApiError::MethodNotAllowed(method.to_string())
        })
        .with_state(state)
}

/// What the admin listener answers while the first full load runs: `/healthz` 200,
/// `/readyz` 503, anything else 503 in the API's error format.
pub fn loading_router() -> Router {
    Router::new()
        .route("/healthz", get(status::healthz))
        .route("/readyz", get(status::loading))
        .fallback(|| async {
            ApiError::Unavailable(
                "keygate is loading its state from the store; try again shortly".into(),
            )
        })
}

/// Serves the admin API until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    serve_router(listener, router(state), shutdown).await;
}

/// Serves `router` on `listener` (plain, or [`crate::tls::listener::TlsListener`])
/// until `shutdown` completes.
pub async fn serve_router<L>(
    listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    for<'a> ClientAddress:
        axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    // The client's address is handed to handlers for the sign-in rate limit.
    let service = router.into_make_service_with_connect_info::<ClientAddress>();
    if let Err(error) = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(%error, "admin listener failed");
    }
}

/// The address of the client of an admin connection, plain or TLS (for the sign-in
/// rate limit).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>>
    for ClientAddress
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        ClientAddress(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, crate::tls::listener::TlsListener>,
    > for ClientAddress
{
    fn connect_info(
        stream: axum::serve::IncomingStream<'_, crate::tls::listener::TlsListener>,
    ) -> Self {
        ClientAddress(*stream.remote_addr())
    }
}

/// Milliseconds since the epoch as RFC 3339.
fn rfc3339(millis: keygate_store::Millis) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// RFC 3339 text as milliseconds since the epoch; `field` names it in the error.
fn parse_rfc3339(text: &str, field: &str) -> Result<keygate_store::Millis, ApiError> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            ApiError::Invalid(format!(
                "{field} must be an RFC 3339 time such as 2030-01-01T00:00:00Z, found `{text}`"
            ))
        })?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::Invalid(format!("{field} is out of range")))
}
