//! Starting a gateway: metrics and access log, admin token, store, the first state, both
//! listeners, and the background tasks (reload, `last_used_at` writer); then serving until
//! SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_store::sqlite::SqliteStore;
use keygate_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::access_log::{AccessLog, AccessLogTarget};
use crate::admin::{self, AdminState, TokenSource};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::handler::Gateway;
use crate::state::sync::{StoreSync, SyncError};

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The configuration file could not be applied to the store.
    #[error("cannot apply the configuration to the store: {0}")]
    Sync(#[from] SyncError),
    /// The admin token could not be read or written.
    #[error("admin token: {0}")]
    Token(std::io::Error),
    /// The access log could not be opened.
    #[error("cannot open the access log: {0}")]
    AccessLog(std::io::Error),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A start-up task failed.
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// Opens the store a URL names.
pub fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::from_url(url)?));
    }
    Err(StoreError::Unavailable(format!(
        "`{url}`: this build stores in SQLite only; use sqlite://FILE"
    )))
}

async fn bind(address: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Listen { address, source })
}

/// Runs the gateway until a stop signal.
pub async fn run(
    config_path: PathBuf,
    config: Config,
    access_log: &AccessLogTarget,
    workers: usize,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), StartError> {
    let metrics = Arc::new(Metrics::new(config.admin.consumer_metrics));
    let access_log =
        AccessLog::start(access_log, metrics.clone()).map_err(StartError::AccessLog)?;
    let config_dir = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let (token, source) = admin::resolve_token(&config, &config_dir).map_err(StartError::Token)?;
    match &source {
        TokenSource::Generated(path) => {
            // Shown this once; afterwards it is only in the 0600 file.
            eprintln!(
                "keygate: generated an admin token, saved in {}:\n\n    {token}\n",
                path.display()
            );
        }
        other => tracing::info!(source = ?other, "admin token loaded"),
    }
    let store = open_store(&config.store)?;
    let (proxy_address, admin_address) = (config.proxy.listen, config.admin.listen);
    let started = Instant::now();
    let counted = metrics.clone();
    let sync = tokio::task::spawn_blocking(move || StoreSync::start(store, config, counted))
        .await
        .map_err(|error| StartError::Task(error.to_string()))??;
    let sync = Arc::new(sync);
    let state = sync.state().clone();
    tracing::info!(
        keys = state.directory.keys.len(),
        consumers = state.directory.consumer_count(),
        services = state.load().services.len(),
        revision = sync.revision(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state loaded"
    );

    let proxy_listeners =
        crate::proxy::workers::bind(proxy_address, workers).map_err(|source| {
            StartError::Listen {
                address: proxy_address,
                source,
            }
        })?;
    let admin_listener = bind(admin_address).await?;
    let shown = |listener: &TcpListener, fallback| listener.local_addr().unwrap_or(fallback);
    tracing::info!(
        "proxy listening on {}",
        proxy_listeners[0].local_addr().unwrap_or(proxy_address)
    );
    tracing::info!(
        "admin listening on {}",
        shown(&admin_listener, admin_address)
    );

    tokio::spawn(crate::reload::watch(
        config_path,
        sync.clone(),
        metrics.clone(),
    ));
    tokio::spawn(write_usage(sync.clone(), Duration::from_secs(10)));
    let (stopped, mut stopped_rx) = tokio::sync::watch::channel(false);
    let admin_state = AdminState {
        sync: sync.clone(),
        token,
        metrics: metrics.clone(),
    };
    let admin_task = tokio::spawn(admin::serve(admin_listener, admin_state, async move {
        let _ = stopped_rx.changed().await;
    }));

    let gateway = Arc::new(Gateway::new(state.clone(), access_log, metrics));
    let workers = crate::proxy::workers::Workers::start(proxy_listeners, gateway, state)
        .map_err(|error| StartError::Task(error.to_string()))?;
    stop.await;
    // Workers drain their connections (up to shutdown_timeout) on threads of their own.
    let _ = tokio::task::spawn_blocking(move || workers.stop()).await;
    let _ = stopped.send(true);
    let _ = admin_task.await;
    flush_usage(&sync).await;
    Ok(())
}

/// Writes noted key uses to the store every `interval`.
async fn write_usage(sync: Arc<StoreSync>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        flush_usage(&sync).await;
    }
}

async fn flush_usage(sync: &Arc<StoreSync>) {
    let uses = sync.state().usage.take();
    if uses.is_empty() {
        return;
    }
    let sync = sync.clone();
    let written = tokio::task::spawn_blocking(move || sync.store().record_last_used(&uses)).await;
    if let Ok(Err(error)) = written {
        tracing::warn!(%error, "could not record when keys were last used; will try with the next batch");
    }
}
