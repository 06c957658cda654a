//! Following the other nodes of a cluster that shares one PostgreSQL store.
//!
//! One thread per node holds a connection that `LISTEN`s for committed revisions. On a
//! notification newer than the state it calls [`StoreSync::catch_up`], which applies the
//! changes one record at a time (a key change costs O(1), never a reload). It also
//! catches up every `reconcile_interval` and after every (re)connect, so a lost
//! notification costs at most one interval. When the database is unreachable the node
//! keeps serving from memory and retries with backoff; [`ClusterHealth`] tells `/readyz`
//! and `/metrics` how long ago the last successful catch-up was. Nothing here is on the
//! request path.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keygate_store::postgres::PostgresStore;

use super::sync::StoreSync;
use crate::metrics::Metrics;

/// First wait before reconnecting; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a node knows about its link to the shared store.
#[derive(Debug)]
pub struct ClusterHealth {
    /// When the process started counting.
    epoch: Instant,
    /// Milliseconds after `epoch` of the last successful catch-up.
    last_sync_ms: AtomicU64,
    /// Whether the listening connection is up.
    listening: AtomicBool,
}

impl ClusterHealth {
    /// A node that has just loaded the whole state.
    pub fn new() -> ClusterHealth {
        ClusterHealth {
            epoch: Instant::now(),
            last_sync_ms: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        }
    }

    /// Records a successful catch-up (or full load).
    pub fn synced(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_sync_ms.fetch_max(now, Ordering::Relaxed);
    }

    /// Time since the last successful catch-up.
    pub fn since_last_sync(&self) -> Duration {
        let last = Duration::from_millis(self.last_sync_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// Whether the node is listening for changes right now.
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }
}

impl Default for ClusterHealth {
    fn default() -> Self {
        ClusterHealth::new()
    }
}

/// Starts the thread that keeps this node current with the other nodes' writes. It runs
/// for the life of the process.
pub fn follow(
    store: Arc<PostgresStore>,
    sync: Arc<StoreSync>,
    health: Arc<ClusterHealth>,
    metrics: Arc<Metrics>,
    reconcile_interval: Duration,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("keygate-cluster".to_owned())
        .spawn(move || {
            let follower = Follower {
                sync,
                health,
                metrics,
            };
            follower.run(&store, reconcile_interval);
        })
        .map(drop)
}

struct Follower {
    sync: Arc<StoreSync>,
    health: Arc<ClusterHealth>,
    metrics: Arc<Metrics>,
}

impl Follower {
    /// Listens, catches up, and reconnects with backoff, forever.
    fn run(&self, store: &PostgresStore, interval: Duration) {
        let mut backoff = MIN_BACKOFF;
        let mut lost_since: Option<Instant> = None;
        loop {
            match store.listen() {
                Ok(mut listener) => {
                    backoff = MIN_BACKOFF;
                    self.health.listening.store(true, Ordering::Relaxed);
                    if let Some(since) = lost_since.take() {
                        tracing::info!(
                            down_ms = since.elapsed().as_millis() as u64,
                            "listening for changes again; catching up"
                        );
                    }
                    // Whatever was committed while not listening is applied now.
                    self.reconcile();
                    let mut next = Instant::now() + interval;
                    loop {
                        let wait = next.saturating_duration_since(Instant::now());
                        match listener.wait(wait) {
                            Ok(Some(revision)) if revision > self.sync.revision() => {
                                self.reconcile();
                            }
                            // Our own write, already applied: the link works.
                            Ok(Some(_)) => self.health.synced(),
                            Ok(None) => {}
                            Err(error) => {
                                tracing::warn!(%error, "lost the connection that listens for changes; serving from memory and reconnecting");
                                break;
                            }
                        }
                        if Instant::now() >= next {
                            self.reconcile();
                            next = Instant::now() + interval;
                        }
                    }
                    self.health.listening.store(false, Ordering::Relaxed);
                    self.metrics.store_error();
                    lost_since = Some(Instant::now());
                }
                Err(error) => {
                    self.metrics.store_error();
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "cannot listen for changes; serving from memory");
                    lost_since.get_or_insert_with(Instant::now);
                }
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Applies every change committed since the state's revision.
    fn reconcile(&self) {
        match self.sync.catch_up() {
            Ok(_) => self.health.synced(),
            Err(error) => {
                self.metrics.store_error();
                tracing::warn!(%error, "could not catch up with the store; serving from memory");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_age_grows_and_resets() {
        let health = ClusterHealth::new();
        std::thread::sleep(Duration::from_millis(20));
        assert!(health.since_last_sync() >= Duration::from_millis(20));
        health.synced();
        assert!(health.since_last_sync() < Duration::from_millis(20));
        assert!(!health.listening());
    }
}
