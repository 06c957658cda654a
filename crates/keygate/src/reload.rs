//! Hot reload: on `SIGHUP`, and when the file changes (checked every second), the file is
//! parsed and checked in full, then the new snapshot is swapped in. A broken file is
//! reported with its positions and the running configuration stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::signal::unix::{signal, SignalKind};

use crate::config::{Config, ConfigError};
use crate::state::{SharedState, Snapshot};

/// Watches `path` and reloads on change or `SIGHUP`, forever.
pub async fn watch(path: PathBuf, state: SharedState) {
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
        let (path, state) = (path.clone(), state.clone());
        // Building a snapshot of many keys is CPU work: keep it off the request threads.
        let outcome = tokio::task::spawn_blocking(move || reload(&path, &state)).await;
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

/// Loads, checks and swaps in the configuration at `path`.
pub fn reload(path: &Path, state: &SharedState) -> Result<(), ConfigError> {
    let config = Config::load(path)?;
    let current = state.load();
    if config.proxy.listen != current.config.proxy.listen {
        tracing::warn!(
            listen = %config.proxy.listen,
            "proxy.listen changed: the new address takes effect after a restart"
        );
    }
    state.replace(Snapshot::build(config));
    Ok(())
}

fn fingerprint(path: &Path) -> Option<(SystemTime, u64)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}
