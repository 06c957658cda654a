//! Hot reload: on `SIGHUP`, and when the file changes (checked every second), the file is
//! parsed and checked in full, then the new snapshot is swapped in. A broken file is
//! reported with its positions and the running configuration stays. A new admin token
//! and new TLS certificates take effect at once (for connections opened from then on); a
//! changed setting that only a restart applies is named in a warning. The certificate
//! files of the TLS listeners are watched on the same tick: when one changes, that
//! listener's certificates are read again, and a broken file keeps the running ones.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{signal, SignalKind};

use std::sync::Arc;

use crate::admin::{AdminToken, TokenError};
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::state::sync::{StoreSync, SyncError};
use crate::tls::{TlsError, TlsServer};

/// The TLS configurations of the listeners that have one.
#[derive(Clone, Default)]
pub struct TlsServers {
    /// The proxy's TLS listeners'.
    pub proxy: Option<Arc<TlsServer>>,
    /// The admin listener's.
    pub admin: Option<Arc<TlsServer>>,
    /// The authz TLS listeners'.
    pub authz: Option<Arc<TlsServer>>,
}

impl TlsServers {
    fn each(&self) -> impl Iterator<Item = &Arc<TlsServer>> {
        self.proxy
            .iter()
            .chain(self.admin.iter())
            .chain(self.authz.iter())
    }
}

/// Watches `path` and reloads on change or `SIGHUP`, forever.
pub async fn watch(
    path: PathBuf,
    sync: Arc<StoreSync>,
    token: AdminToken,
    metrics: Arc<Metrics>,
    tls: TlsServers,
) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP; reloading on file change only");
            None
        }
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seen = fingerprint(&path);
    loop {
        let why = tokio::select! {
            Some(()) = async { hangup.as_mut()?.recv().await } => "SIGHUP",
            _ = ticker.tick() => {
                for server in tls.each() {
                    server.check_files();
                }
                let now = fingerprint(&path);
                if now == seen {
                    continue;
                }
                "file change"
            }
        };
        seen = fingerprint(&path);
        let (path, sync, token, tls) = (path.clone(), sync.clone(), token.clone(), tls.clone());
        // Reading the store and building routes block: keep them off the request threads.
        let outcome = tokio::task::spawn_blocking(move || reload(&path, &sync, &token, &tls)).await;
        metrics.reload(matches!(outcome, Ok(Ok(()))));
        match outcome {
            Ok(Ok(())) => tracing::info!(trigger = why, "configuration reloaded"),
            Ok(Err(error)) => tracing::error!(
                trigger = why,
                "configuration not reloaded, the previous one keeps serving:\n{error}"
            ),
            Err(error) => tracing::error!(%error, "configuration reload panicked"),
        }
    }
}

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file is broken.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not take the file's entities.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The admin token the file names cannot be used.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The certificates a `tls` section names cannot be used.
    #[error("{field}: {source}")]
    Tls {
        /// The section.
        field: &'static str,
        /// Why.
        source: TlsError,
    },
}

/// Loads and checks the configuration at `path`, then puts it in force, the admin token
/// and TLS certificates included. Nothing changes when the file, its token or its
/// certificates are refused.
pub fn reload(
    path: &Path,
    sync: &StoreSync,
    token: &AdminToken,
    tls: &TlsServers,
) -> Result<(), ReloadError> {
    let config = Config::load(path)?;
    // Checked before anything is applied, so that a bad token or certificate leaves all
    // as it was.
    let mut prepared = Vec::new();
    for (field, server, settings) in [
        ("proxy.tls", &tls.proxy, &config.proxy.tls),
        ("admin.tls", &tls.admin, &config.admin.tls),
        ("authz.tls", &tls.authz, &config.authz.tls),
    ] {
        match (server, settings) {
            (Some(server), Some(settings)) => {
                let ready = server
                    .prepare(settings)
                    .map_err(|source| ReloadError::Tls { field, source })?;
                prepared.extend(ready.map(|ready| (server, ready)));
            }
            (None, None) => {}
            _ => tracing::warn!(
                "{field} was added or removed: TLS on a listener starts or stops after a restart"
            ),
        }
    }
    let replaced = token.replace(&config)?;
    let current = sync.config();
    if current.proxy.listen != config.proxy.listen {
        tracing::warn!(
            new = ?config.proxy.listen,
            "proxy.listen changed: the new listeners take effect after a restart"
        );
    }
    if current.authz.listen != config.authz.listen
        || current.authz.grpc_listen != config.authz.grpc_listen
    {
        tracing::warn!(
            new = ?config.authz.listen,
            "authz.listen or authz.grpc_listen changed: the new listeners take effect after a restart"
        );
    }
    if current.admin.listen != config.admin.listen {
        tracing::warn!(
            new = %config.admin.listen,
            "admin.listen changed: the new address takes effect after a restart"
        );
    }
    if current.proxy.http2.enabled != config.proxy.http2.enabled {
        tracing::warn!(
            new = config.proxy.http2.enabled,
            "proxy.http2.enabled changed: ALPN offers the new protocols after a restart"
        );
    }
    if config.store != current.store {
        tracing::warn!("store changed: the new store is used after a restart");
    }
    if config.admin.consumer_metrics != current.admin.consumer_metrics {
        tracing::warn!(
            new = config.admin.consumer_metrics,
            "admin.consumer_metrics changed: it takes effect after a restart"
        );
    }
    sync.reload_file(config)?;
    for (server, ready) in prepared {
        server.install(ready);
    }
    if let Some(source) = replaced {
        tracing::info!(%source, "admin token replaced: the previous one no longer works");
    }
    Ok(())
}

fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}
