//! Hot reload: on `SIGHUP`, and when the file changes (checked every second), the file is
//! parsed and checked in full, then the new snapshot is swapped in. A broken file is
//! reported with its positions and the running configuration stays. A new admin token
//! takes effect at once; a changed setting that only a restart applies is named in a
//! warning.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{signal, SignalKind};

use std::sync::Arc;

use crate::admin::{AdminToken, TokenError};
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::state::sync::{StoreSync, SyncError};

/// Watches `path` and reloads on change or `SIGHUP`, forever.
pub async fn watch(path: PathBuf, sync: Arc<StoreSync>, token: AdminToken, metrics: Arc<Metrics>) {
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
                let now = fingerprint(&path);
                if now == seen {
                    continue;
                }
                "file change"
            }
        };
        seen = fingerprint(&path);
        let (path, sync, token) = (path.clone(), sync.clone(), token.clone());
        // Reading the store and building routes block: keep them off the request threads.
        let outcome = tokio::task::spawn_blocking(move || reload(&path, &sync, &token)).await;
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
}

/// Loads and checks the configuration at `path`, then puts it in force, the admin token
/// included. Nothing changes when the file or its token is refused.
pub fn reload(path: &Path, sync: &StoreSync, token: &AdminToken) -> Result<(), ReloadError> {
    let config = Config::load(path)?;
    // Checked before anything is applied, so that a bad token leaves all as it was.
    let replaced = token.replace(&config)?;
    let current = sync.config();
    for (name, old, new) in [
        ("proxy.listen", current.proxy.listen, config.proxy.listen),
        ("admin.listen", current.admin.listen, config.admin.listen),
    ] {
        if old != new {
            tracing::warn!(%new, "{name} changed: the new address takes effect after a restart");
        }
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
    if let Some(source) = replaced {
        tracing::info!(%source, "admin token replaced: the previous one no longer works");
    }
    Ok(())
}

fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}
