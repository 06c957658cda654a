//! Starting a gateway: metrics and access log, admin token, store, the first state, both
//! listeners, and the background tasks (reload, `last_used_at` writer, upstream health
//! checks); then serving until SIGTERM or SIGINT.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_store::postgres::PostgresStore;
use keygate_store::sqlite::SqliteStore;
use keygate_store::{Store, StoreError};
use tokio::net::TcpListener;

use crate::access_log::{AccessLog, AccessLogTarget};
use crate::admin::{self, AdminState, TokenSource};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::handler::Gateway;
use crate::proxy::health_checks::HealthChecks;
use crate::proxy::protocol::proxy_alpn;
use crate::proxy::workers::{Role, WorkerSockets};
use crate::reload::TlsServers;
use crate::state::cluster::{self, ClusterHealth};
use crate::state::sync::{StoreSync, SyncError};
use crate::tls::listener::TlsListener;
use crate::tls::{TlsError, TlsServer, ALPN_HTTP_1_1};

/// How long a client of the admin API may take over its TLS handshake.
const ADMIN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The configuration file could not be applied to the store.
    #[error("cannot apply the configuration to the store: {0}")]
    Sync(#[from] SyncError),
    /// The admin token could not be read, written or accepted.
    #[error(transparent)]
    Token(#[from] admin::TokenError),
    /// The access log could not be opened.
    #[error("cannot open the access log: {0}")]
    AccessLog(std::io::Error),
    /// A listener could not be bound: most often another process (a second keygate
    /// included) already listens on the address.
    #[error("cannot listen on {address} (`{field}`): {source}")]
    Listen {
        /// The configuration field that names the address.
        field: &'static str,
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The certificates of a TLS listener cannot be used.
    #[error("cannot set up TLS for `{field}`: {source}")]
    Tls {
        /// The configuration section.
        field: &'static str,
        /// Why.
        source: TlsError,
    },
    /// A start-up task failed.
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// Opens the store a URL names: `sqlite:…` or `postgres://…` / `postgresql://…`.
pub fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_backend(url).map(|(store, _)| store)
}

/// Whether a store URL names PostgreSQL.
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A store, and the same store typed when it is PostgreSQL (to listen for changes).
type Backend = (Arc<dyn Store>, Option<Arc<PostgresStore>>);

/// Opens the store a URL names; the PostgreSQL store a second time, typed, for listening.
/// Errors never repeat the URL: it may hold a password.
fn open_backend(url: &str) -> Result<Backend, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok((Arc::new(SqliteStore::from_url(url)?), None));
    }
    if is_postgres(url) {
        let store = Arc::new(PostgresStore::open(url)?);
        return Ok((store.clone(), Some(store)));
    }
    Err(StoreError::Unavailable(
        "unsupported store URL; use sqlite://FILE or postgres://user@host/database".to_owned(),
    ))
}

/// Opens the store, applies the file and loads the whole state. On PostgreSQL a database
/// that cannot be reached is waited for (with backoff, logged) rather than fatal: the
/// admin listener answers `/readyz` 503 meanwhile. Every other failure ends the start.
async fn load_state(
    config: Config,
    metrics: &Arc<Metrics>,
) -> Result<(StoreSync, Option<Arc<PostgresStore>>), StartError> {
    let retry = is_postgres(&config.store);
    if retry {
        PostgresStore::check_url(&config.store)?;
    }
    let mut backoff = Duration::from_millis(200);
    let mut config = Some(config);
    loop {
        let Some(attempt_config) = (if retry { config.clone() } else { config.take() }) else {
            return Err(StartError::Task("the configuration was used up".to_owned()));
        };
        let counted = metrics.clone();
        let attempt = tokio::task::spawn_blocking(move || -> Result<_, StartError> {
            let (store, postgres) = open_backend(&attempt_config.store)?;
            Ok((StoreSync::start(store, attempt_config, counted)?, postgres))
        })
        .await
        .map_err(|error| StartError::Task(error.to_string()))?;
        match attempt {
            Err(
                StartError::Store(error @ StoreError::Unavailable(_))
                | StartError::Sync(SyncError::Store(error @ StoreError::Unavailable(_))),
            ) if retry => {
                metrics.store_error();
                tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot load the state from PostgreSQL yet; not ready");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            outcome => return outcome,
        }
    }
}

/// Binds the admin listener: alone on its address (no `SO_REUSEPORT`), so a second
/// process on it fails.
async fn bind_admin(address: std::net::SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Listen {
            field: ADMIN_LISTEN,
            address,
            source,
        })
}

/// The configuration fields naming the listeners, for messages.
const PROXY_LISTEN: &str = "proxy.listen";
/// See [`PROXY_LISTEN`].
const ADMIN_LISTEN: &str = "admin.listen";
/// See [`PROXY_LISTEN`].
const AUTHZ_LISTEN: &str = "authz.listen";
/// See [`PROXY_LISTEN`].
const AUTHZ_GRPC_LISTEN: &str = "authz.grpc_listen";

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
    let admin_address = config.admin.listen;
    let proxy_listen = config.proxy.listen.clone();
    let tls = TlsServers {
        proxy: tls_server(
            "proxy.tls",
            config.proxy.tls.as_ref(),
            proxy_alpn(&config.proxy.http2),
        )?,
        admin: tls_server("admin.tls", config.admin.tls.as_ref(), &[ALPN_HTTP_1_1])?,
        authz: tls_server(
            "authz.tls",
            config.authz.tls.as_ref(),
            proxy_alpn(&config.proxy.http2),
        )?,
    };
    let authz_listen = config.authz.listen.clone();
    let reconcile_interval = config.cluster.reconcile_interval;
    let limit_sync = config.cluster.rate_limits.clone();
    let flush_interval = config.quotas.flush_interval;
    let usage_settings = config.usage.clone();
    // The admin listener answers at once: `/readyz` is 503 until the first full load.
    let listen_error = |source| StartError::Listen {
        field: ADMIN_LISTEN,
        address: admin_address,
        source,
    };
    let admin_socket = bind_admin(admin_address)
        .await?
        .into_std()
        .map_err(listen_error)?;
    let early = TcpListener::from_std(admin_socket.try_clone().map_err(listen_error)?)
        .map_err(listen_error)?;
    // Both listeners are held before anything is written or printed: a start that fails
    // on an address in use generates no admin token and touches no store. Connections to
    // the proxy wait in the kernel's queue until the state is loaded.
    let (mut proxy_sockets, proxy_bound) = bind_proxy(
        (PROXY_LISTEN, Role::Proxy),
        &proxy_listen,
        workers,
        tls.proxy.as_ref(),
    )?;
    let (authz_sockets, authz_bound) = bind_proxy(
        (AUTHZ_LISTEN, Role::Authz),
        &authz_listen,
        workers,
        tls.authz.as_ref(),
    )?;
    for (worker, authz) in proxy_sockets.iter_mut().zip(authz_sockets) {
        worker.extend(authz);
    }
    let grpc_socket = match config.authz.grpc_listen {
        Some(address) => Some(
            std::net::TcpListener::bind(address)
                .and_then(|socket| socket.set_nonblocking(true).map(|()| socket))
                .map_err(|source| StartError::Listen {
                    field: AUTHZ_GRPC_LISTEN,
                    address,
                    source,
                })?,
        ),
        None => None,
    };
    let config_dir = config_path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let (token, source) = admin::resolve_token(&config, &config_dir)?;
    match &source {
        TokenSource::Generated(path) => {
            // Shown this once; afterwards it is only in the 0600 file.
            eprintln!(
                "keygate: generated an admin token, saved in {}:\n\n    {token}\n",
                path.display()
            );
        }
        other => tracing::info!(source = %other, "admin token loaded"),
    }
    let token = admin::AdminToken::new(&token);
    let (loaded, loaded_rx) = tokio::sync::oneshot::channel::<()>();
    let loading_done = async {
        let _ = loaded_rx.await;
    };
    let loading = match &tls.admin {
        None => tokio::spawn(admin::serve_router(
            early,
            admin::loading_router(),
            loading_done,
        )),
        Some(admin_tls) => {
            let early = TlsListener::new(early, admin_tls.clone(), ADMIN_HANDSHAKE_TIMEOUT)
                .map_err(listen_error)?;
            tokio::spawn(admin::serve_router(
                early,
                admin::loading_router(),
                loading_done,
            ))
        }
    };
    let started = Instant::now();
    let loaded_state = load_state(config, &metrics).await;
    let _ = loaded.send(());
    let _ = loading.await;
    let (sync, postgres) = loaded_state?;
    let sync = Arc::new(sync);
    let state = sync.state().clone();
    // Quota and credit counts as the store has them, before the proxy serves a call.
    let counted_since = {
        let (store, counters) = (sync.store().clone(), state.counters.clone());
        tokio::task::spawn_blocking(move || crate::limits::flush::load(store.as_ref(), &counters))
            .await
            .map_err(|error| StartError::Task(error.to_string()))??
    };
    tracing::info!(
        keys = state.directory.keys.len(),
        consumers = state.directory.consumer_count(),
        services = state.load().services.len(),
        revision = sync.revision(),
        from_cache = sync.started_from_cache(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "state loaded"
    );
    if sync.cache_is_behind() {
        tokio::task::spawn_blocking({
            let sync = sync.clone();
            move || save_cache(&sync)
        });
    }

    let admin_listener = TcpListener::from_std(admin_socket).map_err(listen_error)?;
    let cluster = match postgres {
        Some(postgres) => {
            let health = Arc::new(ClusterHealth::new());
            cluster::follow(
                postgres,
                sync.clone(),
                health.clone(),
                metrics.clone(),
                reconcile_interval,
            )
            .map_err(|error| StartError::Task(error.to_string()))?;
            Some(health)
        }
        None => None,
    };
    for (address, tls) in &proxy_bound {
        match tls {
            false => tracing::info!("proxy listening on {address}"),
            true => tracing::info!("proxy tls listening on {address}"),
        }
    }
    let grpc_listener = match grpc_socket {
        Some(socket) => {
            let listener = TcpListener::from_std(socket)
                .map_err(|source| StartError::Task(source.to_string()))?;
            if let Ok(address) = listener.local_addr() {
                tracing::info!("authz grpc listening on {address}");
            }
            Some(listener)
        }
        None => None,
    };
    for (address, tls) in &authz_bound {
        match tls {
            false => tracing::info!("authz listening on {address}"),
            true => tracing::info!("authz tls listening on {address}"),
        }
    }
    let admin_shown = admin_listener.local_addr().unwrap_or(admin_address);
    match tls.admin {
        None => tracing::info!("admin listening on {admin_shown}"),
        Some(_) => tracing::info!("admin tls listening on {admin_shown}"),
    }

    tokio::spawn(crate::reload::watch(
        config_path,
        sync.clone(),
        token.clone(),
        metrics.clone(),
        tls.clone(),
    ));
    tokio::spawn(write_usage(sync.clone(), Duration::from_secs(10)));
    if let Some(settings) = limit_sync {
        crate::limits::redis_sync::start(sync.state().limiter.clone(), settings, &metrics)
            .map_err(|error| StartError::Task(error.to_string()))?;
    }
    tokio::spawn(crate::limits::flush::run(
        sync.store().clone(),
        state.counters.clone(),
        flush_interval,
        counted_since,
    ));
    tokio::spawn(crate::usage_flush::run(
        sync.store().clone(),
        state.usage_counts.clone(),
        usage_settings,
    ));
    tokio::spawn(sweep_limits(
        sync.state().limiter.clone(),
        Duration::from_secs(10),
    ));
    // One checker per checked target for the process, following every snapshot change.
    let health_checks = Arc::new(HealthChecks::new(metrics.clone()));
    tokio::spawn(health_checks.clone().follow(state.clone()));
    let (stopped, mut stopped_rx) = tokio::sync::watch::channel(false);
    let admin_state = AdminState {
        sync: sync.clone(),
        token,
        metrics: metrics.clone(),
        cluster,
        health_checks: health_checks.clone(),
        sessions: Arc::new(admin::Sessions::default()),
        login_limit: Arc::new(admin::LoginLimit::default()),
        secure_cookies: tls.admin.is_some(),
    };
    let admin_stop = async move {
        let _ = stopped_rx.changed().await;
    };
    let admin_router = admin::router(admin_state);
    let admin_task = match &tls.admin {
        None => tokio::spawn(admin::serve_router(
            admin_listener,
            admin_router,
            admin_stop,
        )),
        Some(admin_tls) => {
            let listener =
                TlsListener::new(admin_listener, admin_tls.clone(), ADMIN_HANDSHAKE_TIMEOUT)
                    .map_err(listen_error)?;
            tokio::spawn(admin::serve_router(listener, admin_router, admin_stop))
        }
    };

    let state_counters = state.counters.clone();
    let https_port = proxy_bound
        .iter()
        .find(|(_, tls)| *tls)
        .map(|(address, _)| address.port());
    if https_port.is_none()
        && state
            .load()
            .config
            .services
            .iter()
            .any(|s| s.https_redirect)
    {
        tracing::warn!("a service has `https_redirect` but no listener of `proxy.listen` has TLS: nothing is redirected");
    }
    let gateway = Arc::new(
        Gateway::new(state.clone(), access_log, metrics, health_checks).with_https_port(https_port),
    );
    let grpc_task = grpc_listener.map(|listener| {
        let checks = crate::proxy::authz::grpc::Checks::new(Arc::new(gateway.authz_twin()));
        let mut stopped = stopped.subscribe();
        let stop = async move {
            let _ = stopped.changed().await;
        };
        tokio::spawn(async move {
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            let served = tonic::transport::Server::builder()
                .add_service(envoy_types::ext_authz::v3::pb::AuthorizationServer::new(
                    checks,
                ))
                .serve_with_incoming_shutdown(incoming, stop)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the authz gRPC listener failed");
            }
        })
    });
    let workers = crate::proxy::workers::Workers::start(proxy_sockets, gateway, state)
        .map_err(|error| StartError::Task(error.to_string()))?;
    stop.await;
    // Workers drain their connections (up to shutdown_timeout) on threads of their own.
    let _ = tokio::task::spawn_blocking(move || workers.stop()).await;
    let _ = stopped.send(true);
    let _ = admin_task.await;
    if let Some(task) = grpc_task {
        let _ = task.await;
    }
    flush_usage(&sync).await;
    crate::usage_flush::flush(sync.store().clone(), sync.state().usage_counts.clone()).await;
    crate::limits::flush::flush(sync.store().clone(), state_counters, counted_since).await;
    let _ = tokio::task::spawn_blocking(move || save_cache(&sync)).await;
    Ok(())
}

/// The TLS configuration of a listener whose section, `field`, is `settings`, if it
/// has one.
fn tls_server(
    field: &'static str,
    settings: Option<&crate::config::TlsSettings>,
    alpn: &[&[u8]],
) -> Result<Option<Arc<TlsServer>>, StartError> {
    let Some(settings) = settings else {
        return Ok(None);
    };
    TlsServer::new(field, settings, alpn)
        .map(Some)
        .map_err(|source| StartError::Tls { field, source })
}

/// Binds every listener of `field` (`proxy.listen`, `authz.listen`), a socket per worker
/// on each ([`crate::proxy::workers::bind`]), to serve in `role`: the sockets of each
/// worker, and each listener's bound address and whether it is TLS.
type BoundProxy = (Vec<WorkerSockets>, Vec<(std::net::SocketAddr, bool)>);

fn bind_proxy(
    (field, role): (&'static str, Role),
    listeners: &[crate::config::Listener],
    workers: usize,
    tls: Option<&Arc<TlsServer>>,
) -> Result<BoundProxy, StartError> {
    let mut sockets: Vec<WorkerSockets> = (0..workers.max(1)).map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(listeners.len());
    for listener in listeners {
        let shared = crate::proxy::workers::bind(listener.address, workers).map_err(|source| {
            StartError::Listen {
                field,
                address: listener.address,
                source,
            }
        })?;
        let address = shared
            .first()
            .and_then(|socket| socket.local_addr().ok())
            .unwrap_or(listener.address);
        bound.push((address, listener.tls));
        let tls = if listener.tls { tls.cloned() } else { None };
        for (worker, socket) in sockets.iter_mut().zip(shared) {
            worker.push((socket, tls.clone(), role));
        }
    }
    Ok((sockets, bound))
}

/// Writes the directory cache when it is behind; a failure costs only a slower next
/// start, so it is logged, not fatal.
fn save_cache(sync: &StoreSync) {
    let started = Instant::now();
    match sync.write_cache() {
        Ok(true) => tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "directory cache written"
        ),
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(%error, "could not write the directory cache; the next start reads the whole store")
        }
    }
}

/// Drops the rate-limit counters of idle subjects every `interval` (they have their whole
/// count back: dropping them changes no answer), so memory follows the active subjects.
async fn sweep_limits(limiter: Arc<crate::limits::Limiter>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let limiter = limiter.clone();
        let _ = tokio::task::spawn_blocking(move || limiter.sweep(limiter.now())).await;
    }
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
