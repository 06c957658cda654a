//! What the data plane reads per request: one immutable [`Snapshot`] behind an atomic
//! pointer. A reload builds a new snapshot and swaps it in; requests in flight keep the
//! one they started with.

mod key_index;

use std::sync::Arc;

use arc_swap::ArcSwap;
use http::HeaderValue;

pub use key_index::{ConsumerEntry, KeyCheck, KeyEntry, KeyIndex};

use crate::config::{Config, IdentityHeaders};
use crate::proxy::router::Router;
use crate::proxy::upstream::Upstream;

/// Everything one request needs, built once per configuration.
pub struct Snapshot {
    /// The configuration this snapshot was built from.
    pub config: Arc<Config>,
    /// Host, path and method matching.
    pub router: Router,
    /// One upstream (pool, targets, timeouts) per service, by service index.
    pub upstreams: Vec<Upstream>,
    /// Key hash to key and consumer.
    pub keys: KeyIndex,
    /// Names of the identity headers.
    pub identity_headers: IdentityHeaders,
    /// Challenge sent with `401` when the first key source is a plain header.
    pub challenge: HeaderValue,
}

impl Snapshot {
    /// Builds the data-plane view of a checked configuration.
    pub fn build(config: Config) -> Snapshot {
        let router = Router::build(&config.services);
        let upstreams = config
            .services
            .iter()
            .map(|service| Upstream::new(&service.upstream))
            .collect();
        let keys = KeyIndex::build(&config.consumers);
        Snapshot {
            identity_headers: config.identity_headers.clone(),
            router,
            upstreams,
            keys,
            challenge: HeaderValue::from_static("Key realm=\"keygate\""),
            config: Arc::new(config),
        }
    }
}

/// The current snapshot, shared by every connection; replaced whole on reload.
#[derive(Clone)]
pub struct SharedState {
    current: Arc<ArcSwap<Snapshot>>,
}

impl SharedState {
    /// Starts with a first snapshot.
    pub fn new(snapshot: Snapshot) -> Self {
        SharedState {
            current: Arc::new(ArcSwap::from_pointee(snapshot)),
        }
    }

    /// The snapshot to use for one request, kept alive for as long as the request runs.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Puts a new snapshot in place; requests that already hold the old one finish on it.
    pub fn replace(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}
