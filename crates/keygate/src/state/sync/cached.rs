//! Starting from the directory cache (see [`directory_cache`]) and keeping it current:
//! it is read at start when it belongs to this store and this configuration file, and
//! written again after a start that moved past it and at shutdown.

use std::path::{Path, PathBuf};

use keygate_store::{Store, StoreError};

use super::StoreSync;
use crate::state::directory_cache::{self, CacheError, CacheStamp};
use crate::state::Directory;

/// The setting that names a store: a random id given once, so that a cache written for
/// one database is never used with another.
const STORE_ID: &str = "store_id";

/// Where this node keeps its cache, and the id of its store.
#[derive(Debug, Clone)]
pub(super) struct CacheTarget {
    pub(super) path: PathBuf,
    pub(super) store_id: String,
}

impl CacheTarget {
    /// The target for a cache at `path`, giving the store an id first if it has none.
    pub(super) fn of(store: &dyn Store, path: &Path) -> Result<CacheTarget, StoreError> {
        let store_id = match store.setting(STORE_ID)? {
            Some(id) => id,
            None => {
                let mut bytes = [0u8; 16];
                getrandom::fill(&mut bytes).map_err(|error| {
                    StoreError::Unavailable(format!("no randomness for a store id: {error}"))
                })?;
                let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                store.apply_batch(&[], Some((STORE_ID, &id)))?;
                id
            }
        };
        Ok(CacheTarget {
            path: path.to_owned(),
            store_id,
        })
    }

    /// The directory in the cache and the revision it is at, when the cache is there,
    /// whole, of this store, written with this configuration file applied, and at a
    /// revision from which the store's change log reaches the store's revision. Otherwise
    /// `None`, and the reason is logged.
    pub(super) fn read(
        &self,
        store: &dyn Store,
        fingerprint: &str,
    ) -> Result<Option<(u64, Directory)>, StoreError> {
        let store_revision = store.revision()?;
        let Some((revision, directory)) = self.read_file(fingerprint, store_revision) else {
            return Ok(None);
        };
        // A revision written around the change log (a bulk import straight into the
        // database, say) would never be caught up: such a store is read whole.
        if revision < store_revision {
            let last_logged = store.changes_since(revision)?.last().map(|c| c.revision);
            if last_logged != Some(store_revision) {
                tracing::info!(path = %self.path.display(), "directory cache not used: the store's change log does not reach its revision; loading the whole store");
                return Ok(None);
            }
        }
        Ok(Some((revision, directory)))
    }

    fn read_file(&self, fingerprint: &str, store_revision: u64) -> Option<(u64, Directory)> {
        let unused = |reason: &dyn std::fmt::Display| {
            tracing::info!(path = %self.path.display(), %reason, "directory cache not used; loading the whole store");
            None
        };
        let stamp = match directory_cache::read_stamp(&self.path) {
            Ok(stamp) => stamp,
            Err(CacheError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => {
                return unused(&"there is none yet")
            }
            Err(error) => return unused(&error),
        };
        if stamp.store_id != self.store_id {
            return unused(&"it was written for another store");
        }
        if stamp.fingerprint != fingerprint {
            return unused(&"the configuration file changed since it was written");
        }
        if stamp.revision > store_revision {
            return unused(&"it is ahead of the store (was the database restored?)");
        }
        match directory_cache::read(&self.path) {
            Ok((stamp, directory)) => Some((stamp.revision, directory)),
            Err(error) => unused(&error),
        }
    }
}

impl StoreSync {
    /// Whether the cache on disk is behind the state (or missing): worth writing.
    pub fn cache_is_behind(&self) -> bool {
        let applied = self.lock();
        self.cache.is_some() && applied.cached_revision != Some(applied.revision)
    }

    /// Writes the directory cache, when there is one to keep and it is behind; returns
    /// whether it did. Blocks writes to the state meanwhile (a million keys: a fraction
    /// of a second).
    pub fn write_cache(&self) -> Result<bool, CacheError> {
        let Some(target) = &self.cache else {
            return Ok(false);
        };
        let mut applied = self.lock();
        if applied.cached_revision == Some(applied.revision) {
            return Ok(false);
        }
        let stamp = CacheStamp {
            store_id: target.store_id.clone(),
            revision: applied.revision,
            fingerprint: applied.fingerprint.clone(),
        };
        directory_cache::write(&self.state.directory, &stamp, &target.path)?;
        applied.cached_revision = Some(applied.revision);
        Ok(true)
    }

    /// Whether the state was started from the cache.
    pub fn started_from_cache(&self) -> bool {
        self.started_from_cache
    }
}
