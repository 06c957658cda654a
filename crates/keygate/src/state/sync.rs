//! Keeps the in-memory state equal to the store.
//!
//! At start the configuration file's consumers, keys and services are written to the store
//! (idempotently: an unchanged entity costs no revision), entities the file no longer has
//! are removed (never those created through the admin API), and everything is loaded.
//! After that, every write — admin API or reload — is followed by [`StoreSync::catch_up`],
//! which applies the changes committed since the last applied revision, one record at a
//! time. A cluster node will call the same function when told of a change.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use keygate_store::{
    BatchOp, Change, ChangeKind, ConsumerRecord, Entity, KeyRecord, Origin, Page, ServiceRecord,
    Store, StoreError, SubscriptionRecord,
};
use sha2::{Digest, Sha256};

use super::{millis, Directory, SharedState, Snapshot};
use crate::config::{service_from_document, Config, Service};
use crate::metrics::Metrics;

/// Why the store and the state could not be brought together.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration file claims an entity that the admin API owns.
    #[error("{0}")]
    Ownership(String),
}

/// Names of the entities the configuration file defines.
#[derive(Debug, Default, Clone)]
struct FileInventory {
    consumers: HashSet<String>,
    keys: HashSet<String>,
    services: HashSet<String>,
}

impl FileInventory {
    fn of(config: &Config) -> FileInventory {
        FileInventory {
            consumers: config.consumers.iter().map(|c| c.name.clone()).collect(),
            keys: config
                .consumers
                .iter()
                .flat_map(|c| c.keys.iter().map(|k| k.id.clone()))
                .collect(),
            services: config
                .service_documents
                .iter()
                .map(|s| s.name.clone())
                .collect(),
        }
    }

    /// What `self` has and `newer` does not.
    fn minus(&self, newer: &FileInventory) -> FileInventory {
        let gone = |old: &HashSet<String>, new: &HashSet<String>| old - new;
        FileInventory {
            consumers: gone(&self.consumers, &newer.consumers),
            keys: gone(&self.keys, &newer.keys),
            services: gone(&self.services, &newer.services),
        }
    }
}

struct Applied {
    /// Every change up to this revision is in the state.
    revision: u64,
    /// The number of the last catch-up that succeeded (see [`StoreSync::catch_up`]).
    caught_up: u64,
    /// A service or a setting changed and the routes were not rebuilt yet: kept across a
    /// failed catch-up, so the next one rebuilds them.
    routes_stale: bool,
    config: Arc<Config>,
    file: FileInventory,
    /// The fingerprint of the configuration file last applied.
    fingerprint: String,
    /// The revision of the directory cache on disk, when this node knows it.
    cached_revision: Option<u64>,
}

/// The store, the state built from it, and the revision applied so far.
pub struct StoreSync {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    state: SharedState,
    applied: Mutex<Applied>,
    /// How many catch-ups have started. A caller reads it before waiting for `applied`:
    /// a catch-up numbered higher started after the call, so it saw the caller's write.
    catch_ups_started: Mutex<u64>,
    /// Where the directory is cached between runs, if it is.
    cache: Option<cached::CacheTarget>,
    /// Whether this start read the directory from the cache.
    started_from_cache: bool,
}

impl StoreSync {
    /// Applies the file to the store, loads everything, and builds the first state.
    /// Blocks: call it off the request threads.
    pub fn start(
        store: Arc<dyn Store>,
        config: Config,
        metrics: Arc<Metrics>,
    ) -> Result<StoreSync, SyncError> {
        let inventory = FileInventory::of(&config);
        let fingerprint = fingerprint(&config);
        let file_changed = apply_file(&*store, &config, &fingerprint)?;
        let cache = match &config.cache_file {
            Some(path) => Some(cached::CacheTarget::of(&*store, path)?),
            None => None,
        };
        let config = Arc::new(without_consumers(config));
        // The cache is of no use when the file changed: what the file no longer defines
        // is found by reading every entity of the store.
        let from_cache = match &cache {
            Some(target) if !file_changed => target.read(&*store, &fingerprint)?,
            _ => None,
        };
        let started_from_cache = from_cache.is_some();
        let (directory, revision, services, stale) = match from_cache {
            Some((revision, directory)) => (
                Arc::new(directory),
                revision,
                all_services(&*store)?,
                FileInventory::default(),
            ),
            None => {
                let directory = Arc::new(Directory::default());
                let (revision, services, stale) = load(&*store, &directory, &inventory)?;
                (directory, revision, services, stale)
            }
        };
        let built = build_services(&services, &config);
        let snapshot = Snapshot::build(config.clone(), built, &directory, &metrics);
        let state = SharedState::new(snapshot, directory);
        let sync = StoreSync {
            store,
            metrics,
            state,
            applied: Mutex::new(Applied {
                revision,
                caught_up: 0,
                routes_stale: false,
                config,
                file: inventory,
                fingerprint,
                cached_revision: started_from_cache.then_some(revision),
            }),
            catch_ups_started: Mutex::new(0),
            cache,
            started_from_cache,
        };
        remove_from_store(&*sync.store, &stale);
        sync.catch_up()?;
        Ok(sync)
    }

    /// The state the data plane reads.
    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration file in force.
    pub fn config(&self) -> Arc<Config> {
        self.lock().config.clone()
    }

    /// The revision applied to the state.
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    fn lock(&self) -> MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies every change committed before this call; returns the revision now
    /// applied. Blocks. Concurrent calls coalesce: after a group of writes, their callers
    /// queue here, the first one reads and applies every change, and the others, finding
    /// that a catch-up which started after their call has succeeded meanwhile, return
    /// without reading the store again.
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        let started_before = *self.catch_ups_started();
        let mut applied = self.lock();
        if applied.caught_up > started_before {
            return Ok(applied.revision);
        }
        let number = {
            let mut started = self.catch_ups_started();
            *started += 1;
            *started
        };
        let revision = self.catch_up_locked(&mut applied, false)?;
        applied.caught_up = number;
        Ok(revision)
    }

    /// The number of catch-ups started so far.
    fn catch_ups_started(&self) -> MutexGuard<'_, u64> {
        self.catch_ups_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Applies the changes; rebuilds the routes when a service changed, or when
    /// `routes_stale` says the settings they are built with changed.
    fn catch_up_locked(
        &self,
        applied: &mut Applied,
        routes_stale: bool,
    ) -> Result<u64, StoreError> {
        let changes = self.store.changes_since(applied.revision)?;
        applied.routes_stale |= routes_stale;
        // A revision counts as applied only once all of its changes are: should a read
        // fail half-way, the next catch-up starts again at that revision (applying a
        // change reads the current record, so doing one twice is harmless).
        for write in changes.chunk_by(|a, b| a.revision == b.revision) {
            for change in write {
                self.apply_change(change, applied)?;
            }
            if let Some(last) = write.last() {
                applied.revision = applied.revision.max(last.revision);
            }
        }
        if applied.routes_stale {
            self.rebuild_routes(applied)?;
            applied.routes_stale = false;
        }
        Ok(applied.revision)
    }

    /// Puts one change into the directory, or marks the routes stale for a service — or
    /// for a service's anonymous consumer, which the snapshot holds as it was when built.
    fn apply_change(&self, change: &Change, applied: &mut Applied) -> Result<(), StoreError> {
        let directory = &self.state.directory;
        let anonymous = |name: &str| self.state.load().names_anonymous(name);
        match change.kind {
            ChangeKind::Consumer => {
                match self.store.consumer(&change.name)? {
                    Some(consumer) => directory.put_consumer(&consumer),
                    None => directory.remove_consumer(&change.name),
                }
                applied.routes_stale |= anonymous(&change.name);
            }
            // A key whose hash changed is logged deleted under its old hash, then written
            // under its new one: the old hash must leave the index.
            ChangeKind::Key if change.deleted => {
                if let Some(hash) = &change.key_hash {
                    directory.remove_key(hash);
                }
            }
            ChangeKind::Key => match self.store.key(&change.name)? {
                Some(key) => {
                    directory.put_key(&key);
                }
                None => {
                    if let Some(hash) = &change.key_hash {
                        directory.remove_key(hash);
                    }
                }
            },
            ChangeKind::Service => applied.routes_stale = true,
            ChangeKind::Subscription => {
                let owner = match self.store.subscription(&change.name)? {
                    Some(subscription) => {
                        directory.put_subscription(&subscription);
                        Some(subscription.consumer)
                    }
                    None => directory.remove_subscription(&change.name),
                };
                applied.routes_stale |= owner.is_some_and(|owner| anonymous(&owner));
            }
        }
        Ok(())
    }

    fn rebuild_routes(&self, applied: &Applied) -> Result<(), StoreError> {
        let records = all_services(&*self.store)?;
        let services = build_services(&records, &applied.config);
        let directory = &self.state.directory;
        let snapshot = Snapshot::build(applied.config.clone(), services, directory, &self.metrics);
        self.state.replace(snapshot);
        Ok(())
    }

    /// Puts a changed configuration file in force: writes its entities to the store,
    /// removes those it no longer has, and rebuilds the routes. Blocks.
    pub fn reload_file(&self, config: Config) -> Result<(), SyncError> {
        let mut applied = self.lock();
        let inventory = FileInventory::of(&config);
        let fingerprint = fingerprint(&config);
        apply_file(&*self.store, &config, &fingerprint)?;
        let config = Arc::new(without_consumers(config));
        remove_from_store(&*self.store, &applied.file.minus(&inventory));
        applied.config = config;
        applied.file = inventory;
        applied.fingerprint = fingerprint;
        // The file's settings (defaults, headers, limits) may have changed: rebuild once.
        self.catch_up_locked(&mut applied, true)?;
        Ok(())
    }
}

/// Every service of the store.
fn all_services(store: &dyn Store) -> Result<Vec<ServiceRecord>, StoreError> {
    let mut records = Vec::new();
    let mut page = Page {
        after: None,
        limit: 1000,
    };
    loop {
        let batch = store.services(&page)?;
        let done = batch.len() < page.limit;
        page.after = batch.last().map(|s| s.name.clone());
        records.extend(batch);
        if done {
            return Ok(records);
        }
    }
}

/// Entities handed from the thread reading the store to the one building the directory.
const LOAD_BATCH: usize = 4096;

/// Streams the whole store into `directory`. The store is read and its rows decoded on
/// this thread while a second one builds the directory from batches of records, so the
/// two halves of a million-key start run side by side. Consumers reach the builder before
/// the keys that name them (the store streams them first, the channel keeps the order).
/// Returns the revision loaded, the services, and what the file no longer defines.
fn load(
    store: &dyn Store,
    directory: &Directory,
    inventory: &FileInventory,
) -> Result<(u64, Vec<ServiceRecord>, FileInventory), StoreError> {
    let mut services = Vec::new();
    let mut stale = FileInventory::default();
    let (batches, received) = std::sync::mpsc::sync_channel::<Vec<Entity>>(4);
    let revision = std::thread::scope(|scope| {
        scope.spawn(move || {
            for batch in received {
                for entity in batch {
                    match entity {
                        Entity::Consumer(consumer) => directory.put_consumer(&consumer),
                        Entity::Key(key) => {
                            directory.put_key(&key);
                        }
                        Entity::Subscription(subscription) => {
                            directory.put_subscription(&subscription);
                        }
                        Entity::Service(_) => {}
                    }
                }
            }
        });
        let mut batch = Vec::with_capacity(LOAD_BATCH);
        let revision = store.load(&mut |entity| {
            match &entity {
                Entity::Consumer(consumer) => {
                    if consumer.origin == Origin::File
                        && !inventory.consumers.contains(&consumer.name)
                    {
                        stale.consumers.insert(consumer.name.clone());
                    }
                }
                Entity::Key(key) => {
                    if key.origin == Origin::File && !inventory.keys.contains(&key.id) {
                        stale.keys.insert(key.id.clone());
                    }
                }
                Entity::Service(service) => {
                    if service.origin == Origin::File && !inventory.services.contains(&service.name)
                    {
                        stale.services.insert(service.name.clone());
                    }
                }
                Entity::Subscription(_) => {}
            }
            match entity {
                Entity::Service(service) => services.push(service),
                other => batch.push(other),
            }
            if batch.len() == LOAD_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
                // Fails only when the builder has stopped; its panic is raised below.
                let _ = batches.send(full);
            }
        });
        if !batch.is_empty() {
            let _ = batches.send(batch);
        }
        // Closing the channel lets the builder finish; the scope waits for it.
        drop(batches);
        revision
    })?;
    directory.shrink_to_fit();
    Ok((revision, services, stale))
}

/// The file's consumers and keys live in the store (and the directory) once applied; the
/// configuration kept for the life of the process does not hold a second copy.
fn without_consumers(mut config: Config) -> Config {
    config.consumers = Vec::new();
    config.subscriptions = Vec::new();
    config
}

/// Builds the services of stored documents: the file's first, in file order, then the
/// others by name. A stored document that no longer passes the checks is skipped and
/// logged, so one bad record cannot stop the gateway.
fn build_services(records: &[ServiceRecord], config: &Config) -> Vec<Service> {
    let order = |record: &ServiceRecord| {
        let in_file = config
            .service_documents
            .iter()
            .position(|doc| doc.name == record.name);
        (in_file.is_none(), in_file, record.name.clone())
    };
    let mut sorted: Vec<&ServiceRecord> = records.iter().collect();
    sorted.sort_by_key(|record| order(record));
    sorted
        .into_iter()
        .filter_map(|record| {
            match service_from_document(&record.document, config) {
                Ok(service) => Some(service),
                Err(problems) => {
                    let messages: Vec<String> = problems.iter().map(|p| p.message.clone()).collect();
                    tracing::error!(service = %record.name, problems = ?messages, "stored service is invalid and is not served");
                    None
                }
            }
        })
        .collect()
}

/// The setting that holds the fingerprint of the file last applied.
const FILE_FINGERPRINT: &str = "config_file_fingerprint";

/// A digest of everything the file asks the store to hold.
fn fingerprint(config: &Config) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("{:?}", config.consumers).as_bytes());
    hasher.update(format!("{:?}", config.service_documents).as_bytes());
    if !config.subscriptions.is_empty() {
        hasher.update(format!("{:?}", config.subscriptions).as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the file's consumers, keys and services to the store in one transaction;
/// returns whether it did. When the store already holds exactly this file (the same
/// `fingerprint`), nothing is read or written: a restart with a million keys in the file
/// costs nothing here.
fn apply_file(store: &dyn Store, config: &Config, fingerprint: &str) -> Result<bool, SyncError> {
    if store.setting(FILE_FINGERPRINT)?.as_deref() == Some(fingerprint) {
        return Ok(false);
    }
    let now = millis(SystemTime::now());
    let consumers: Vec<ConsumerRecord> = config
        .consumers
        .iter()
        .map(|consumer| ConsumerRecord {
            name: consumer.name.clone(),
            client_type: Some(consumer.client_type.clone()),
            groups: consumer.groups.clone(),
            permissions: consumer.permissions.clone(),
            description: consumer.description.clone(),
            metadata: consumer.metadata.clone(),
            origin: Origin::File,
            created_at: now,
            updated_at: now,
            limits: consumer.limits.clone(),
        })
        .collect();
    let keys: Vec<KeyRecord> = config
        .consumers
        .iter()
        .flat_map(|consumer| consumer.keys.iter().map(move |key| (consumer, key)))
        .map(|(consumer, key)| KeyRecord {
            limits: key.limits.clone(),
            id: key.id.clone(),
            consumer: consumer.name.clone(),
            hash: key.hash.0,
            prefix: key.prefix.clone(),
            active: key.active,
            description: key.description.clone(),
            labels: key.labels.clone(),
            origin: Origin::File,
            created_at: now,
            expires_at: key.expires_at.map(millis),
            revoked_at: key.revoked_at.map(millis),
            last_used_at: None,
            subscription: key.subscription.clone(),
            shared: key.shared,
        })
        .collect();
    let services: Vec<ServiceRecord> = config
        .service_documents
        .iter()
        .map(|document| ServiceRecord {
            name: document.name.clone(),
            document: document.json.clone(),
            origin: Origin::File,
            updated_at: now,
        })
        .collect();
    let ops: Vec<BatchOp<'_>> = consumers
        .iter()
        .map(BatchOp::PutConsumer)
        .chain(keys.iter().map(BatchOp::PutKey))
        .chain(services.iter().map(BatchOp::PutService))
        .collect();
    let ownership = |error: StoreError| match error {
        StoreError::Conflict(message) => SyncError::Ownership(format!(
            "{message} (rename it in the file, or delete it through the API)"
        )),
        error => error.into(),
    };
    if config.subscriptions.is_empty() {
        store
            .apply_batch(&ops, Some((FILE_FINGERPRINT, fingerprint)))
            .map_err(ownership)?;
        return Ok(true);
    }
    // The fingerprint is stored last, so a start that fails half-way tries again.
    store.apply_batch(&ops, None).map_err(ownership)?;
    seed_subscriptions(store, config, now)?;
    store.apply_batch(&[], Some((FILE_FINGERPRINT, fingerprint)))?;
    Ok(true)
}

/// Stores the file's subscriptions that the store lacks (by id). The file seeds them:
/// one already stored is left as it is — its status is the admin API's to change — and
/// one deleted through the API comes back only when the file changes.
fn seed_subscriptions(
    store: &dyn Store,
    config: &Config,
    now: keygate_store::Millis,
) -> Result<(), SyncError> {
    for subscription in &config.subscriptions {
        if store.subscription(&subscription.id)?.is_some() {
            continue;
        }
        let record = SubscriptionRecord {
            id: subscription.id.clone(),
            consumer: subscription.consumer.clone(),
            service: subscription.service.clone(),
            plan: subscription.plan.clone(),
            status: subscription.status,
            key_mode: subscription.key_mode,
            ends_at: subscription.ends_at.map(millis),
            created_at: subscription.created_at.map_or(now, millis),
            updated_at: subscription.updated_at.map_or(now, millis),
            reason: subscription.reason.clone(),
        };
        store.insert_subscription(&record, None)?;
    }
    Ok(())
}

/// Deletes what the file no longer defines: keys first, then services and consumers. A
/// consumer that still has keys created through the API stays, with a warning.
fn remove_from_store(store: &dyn Store, gone: &FileInventory) {
    let deletions = gone
        .keys
        .iter()
        .map(|id| ("key", id, store.delete_key(id)))
        .chain(
            gone.services
                .iter()
                .map(|n| ("service", n, store.delete_service(n))),
        )
        .chain(
            gone.consumers
                .iter()
                .map(|n| ("consumer", n, store.delete_consumer(n))),
        );
    for (kind, name, result) in deletions {
        match result {
            Ok(_) | Err(StoreError::NotFound { .. }) => {}
            Err(error) => {
                tracing::warn!(%kind, %name, %error, "removed from the configuration file but kept in the store")
            }
        }
    }
}

mod cached;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod anonymous_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod cache_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod seed_tests;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
