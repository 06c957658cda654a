//! What the data plane reads per request: an immutable [`Snapshot`] of routes behind an
//! atomic pointer (replaced whole when services or settings change; requests in flight
//! keep the one they started with), and the [`Directory`] of consumers and keys, changed
//! one record at a time.

pub mod anonymous;
pub mod callers;
pub mod cluster;
mod consumer_table;
mod directory;
pub mod directory_cache;
mod entries;
mod key_index;
pub mod router;
mod row_table;
mod slot_index;
pub mod sync;
#[cfg(test)]
pub(crate) mod test_records;
mod texts;
mod upstream_slot;
mod usage;
pub mod usage_counts;

use std::sync::Arc;

use arc_swap::ArcSwap;

pub use directory::{millis, system_time, Directory};
pub use entries::{
    ConsumerEntry, ConsumerProfile, KeyCheck, KeyEntry, KeyExtras, Labels, SubscriptionEntry,
    Subscriptions,
};
pub use key_index::{KeyIndex, KeyRow, KeyState};
pub use texts::{HeaderText, ShortText};
pub use upstream_slot::UpstreamSlot;
pub use usage::Usage;

use crate::config::{Config, IdentityHeaders, Service};
use crate::limits::{Counters, Limiter};
use crate::metrics::{Metrics, RouteCounters};
use router::Router;

/// Routes and settings, built once per configuration or service change.
pub struct Snapshot {
    /// The configuration file this snapshot was built with.
    pub config: Arc<Config>,
    /// Every service (from the file and the admin API), by index.
    pub services: Vec<Service>,
    /// Host, path and method matching.
    pub router: Router,
    /// One upstream (pool, targets, timeouts) per service, by service index: the proxy
    /// defines them and builds them on first use (see [`UpstreamSlot`]).
    pub upstreams: UpstreamSlot,
    /// Names of the identity headers.
    pub identity_headers: IdentityHeaders,
    /// Request counters per service and route, by the same indexes as `services`.
    pub route_counters: Vec<Vec<Arc<RouteCounters>>>,
    /// The anonymous consumer of each service, by the same indexes as `services`, found
    /// in the directory when the snapshot was built ([`anonymous`]).
    pub anonymous: Vec<anonymous::Anonymous>,
}

impl Snapshot {
    /// Whether a service of this snapshot has `name` for its anonymous consumer: a change
    /// of that consumer (or of its subscriptions) calls for a new snapshot.
    pub fn names_anonymous(&self, name: &str) -> bool {
        self.services
            .iter()
            .filter_map(|service| service.anonymous.as_ref())
            .any(|anonymous| &*anonymous.name == name)
    }

    /// Builds the data-plane view of a configuration and a set of services, with the
    /// services' anonymous consumers as `directory` holds them now.
    pub fn build(
        config: Arc<Config>,
        services: Vec<Service>,
        directory: &Directory,
        metrics: &Metrics,
    ) -> Snapshot {
        let router = Router::build(&services);
        let route_counters = services
            .iter()
            .map(|service| {
                let routes = service.routes.iter();
                routes
                    .map(|route| metrics.route_counters(&service.name, &route.name))
                    .collect()
            })
            .collect();
        Snapshot {
            anonymous: anonymous::resolve(&services, directory),
            route_counters,
            identity_headers: config.identity_headers.clone(),
            router,
            upstreams: UpstreamSlot::default(),
            services,
            config,
        }
    }
}

/// The current snapshot and the directory, shared by every connection.
#[derive(Clone)]
pub struct SharedState {
    current: Arc<ArcSwap<Snapshot>>,
    /// Consumers and keys.
    pub directory: Arc<Directory>,
    /// Key uses waiting to be written to the store.
    pub usage: Arc<Usage>,
    /// Calls per hour, key, service and outcome, waiting to be added to the store.
    pub usage_counts: Arc<usage_counts::UsageCounts>,
    /// The rate-limit counters of this node; they outlive snapshots, so a reload keeps
    /// them.
    pub limiter: Arc<Limiter>,
    /// The quota and credit counters of this node, flushed to the store.
    pub counters: Arc<Counters>,
    /// Bumped whenever the snapshot is replaced, for tasks that follow the services.
    replaced: Arc<tokio::sync::watch::Sender<()>>,
}

impl SharedState {
    /// Starts with a first snapshot and a directory.
    pub fn new(snapshot: Snapshot, directory: Arc<Directory>) -> Self {
        SharedState {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
            directory,
            usage: Arc::default(),
            usage_counts: Arc::default(),
            limiter: Arc::default(),
            counters: Arc::default(),
            replaced: Arc::new(tokio::sync::watch::Sender::new(())),
        }
    }

    /// The snapshot to use for one request, kept alive for as long as the request runs.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Puts a new snapshot in place; requests that already hold the old one finish on it.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
        self.replaced.send_replace(());
    }

    /// A receiver that sees a change each time the snapshot is replaced (active health
    /// checks follow the services with it).
    pub fn replacements(&self) -> tokio::sync::watch::Receiver<()> {
        self.replaced.subscribe()
    }
}

/// A new empty folder for one test's files, under the system's temporary folder.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn scratch_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("keygate-{}-{name}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
