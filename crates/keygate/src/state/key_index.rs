//! The key index: SHA-256 of a key to its record. Sharded behind read-write locks so one
//! key can be added, changed or removed in O(1) while requests read — no rebuild of a
//! million-key index for one key.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use http::HeaderValue;
use keygate_store::{KeyMode, SubscriptionStatus};

use crate::key::KeyHash;

/// A subscription as the data plane sees it.
#[derive(Debug)]
pub struct SubscriptionEntry {
    /// Unique id.
    pub id: Arc<str>,
    /// The service of its plan.
    pub service: Arc<str>,
    /// The plan's name.
    pub plan: Arc<str>,
    /// Where it stands; only `Accepted` lets a key through.
    pub status: SubscriptionStatus,
    /// Its own key or the consumer's shared key.
    pub key_mode: KeyMode,
    /// When it ends, if it does.
    pub ends_at: Option<SystemTime>,
}

impl SubscriptionEntry {
    /// Whether `key` is this subscription's key: its own key, or the consumer's shared
    /// key for a shared-key subscription.
    pub fn is_key_of(&self, key: &KeyEntry) -> bool {
        match self.key_mode {
            KeyMode::Own => key.subscription.as_deref() == Some(&*self.id),
            KeyMode::Shared => key.shared,
        }
    }
}

/// A consumer as the data plane sees it, with its identity header values built once.
#[derive(Debug, Clone)]
pub struct ConsumerEntry {
    /// Unique name.
    pub name: Arc<str>,
    /// Client type.
    pub client_type: Arc<str>,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// The name, ready to send upstream.
    pub name_header: HeaderValue,
    /// The client type, ready to send upstream.
    pub client_type_header: HeaderValue,
    /// The groups joined with commas; `None` when there are no groups.
    pub groups_header: Option<HeaderValue>,
    /// Its subscriptions, in no particular order; few per consumer, so scanned.
    pub subscriptions: Arc<[Arc<SubscriptionEntry>]>,
}

/// The current version of a consumer, shared by all its keys: changing a consumer is one
/// store into its cell, however many keys it has.
pub type ConsumerCell = ArcSwap<ConsumerEntry>;

/// A key as the data plane sees it.
#[derive(Debug)]
pub struct KeyEntry {
    /// Stable id.
    pub id: Arc<str>,
    /// The id, ready to send upstream.
    pub id_header: HeaderValue,
    /// Display prefix, when known.
    pub prefix: Option<Arc<str>>,
    /// Whether the key may be used.
    pub active: bool,
    /// Whether the key was revoked (for good).
    pub revoked: bool,
    /// When the key stops working.
    pub expires_at: Option<SystemTime>,
    /// Free-form string map.
    pub labels: BTreeMap<String, String>,
    /// Whose key it is.
    pub consumer: Arc<ConsumerCell>,
    /// The subscription this key was issued for, if any.
    pub subscription: Option<Arc<str>>,
    /// Whether this is the consumer's shared key.
    pub shared: bool,
    /// Last successful use, in milliseconds since the epoch (0 = not since start).
    pub last_used_ms: AtomicI64,
}

impl KeyEntry {
    /// The owning consumer as it is now.
    pub fn consumer(&self) -> arc_swap::Guard<Arc<ConsumerEntry>> {
        self.consumer.load()
    }

    /// Notes a successful use; returns true when the stored time should be refreshed
    /// (at most once a minute per key, so bookkeeping never costs a write per request).
    pub fn mark_used(&self, now_ms: i64) -> bool {
        let previous = self.last_used_ms.load(Ordering::Relaxed);
        if now_ms - previous < 60_000 {
            return false;
        }
        self.last_used_ms
            .compare_exchange(previous, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Why a presented key may or may not be used.
#[derive(Debug)]
pub enum KeyCheck {
    /// Known, active, not revoked, not expired.
    Valid(Arc<KeyEntry>),
    /// No key has this hash.
    NotFound,
    /// Known but marked inactive.
    Disabled(Arc<KeyEntry>),
    /// Known but revoked.
    Revoked(Arc<KeyEntry>),
    /// Known but past its expiry.
    Expired(Arc<KeyEntry>),
}

impl KeyCheck {
    /// Whether the key may be used.
    pub fn is_valid(&self) -> bool {
        matches!(self, KeyCheck::Valid(_))
    }

    /// Judges a known key at `now`.
    pub fn of(entry: Arc<KeyEntry>, now: SystemTime) -> KeyCheck {
        if entry.revoked {
            KeyCheck::Revoked(entry)
        } else if !entry.active {
            KeyCheck::Disabled(entry)
        } else if entry.expires_at.is_some_and(|at| at <= now) {
            KeyCheck::Expired(entry)
        } else {
            KeyCheck::Valid(entry)
        }
    }
}

const SHARDS: usize = 64;

type Shard = RwLock<HashMap<KeyHash, Arc<KeyEntry>, BuildHasherDefault<DigestHasher>>>;

/// Map from key hash to key, in shards. SHA-256 output is already uniformly spread, so the
/// maps use the digest's own bytes as their hash instead of hashing it again.
pub struct KeyIndex {
    shards: Box<[Shard]>,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl std::fmt::Debug for KeyIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyIndex")
            .field("keys", &self.len())
            .finish()
    }
}

impl KeyIndex {
    fn shard(&self, hash: &KeyHash) -> &Shard {
        &self.shards[usize::from(hash.0[31]) % SHARDS]
    }

    /// Adds or replaces one key: O(1).
    pub fn insert(&self, hash: KeyHash, entry: Arc<KeyEntry>) -> Option<Arc<KeyEntry>> {
        let mut shard = self.shard(&hash).write().unwrap_or_else(|e| e.into_inner());
        shard.insert(hash, entry)
    }

    /// Removes one key: O(1).
    pub fn remove(&self, hash: &KeyHash) -> Option<Arc<KeyEntry>> {
        let mut shard = self.shard(hash).write().unwrap_or_else(|e| e.into_inner());
        shard.remove(hash)
    }

    /// The key with this hash.
    pub fn get(&self, hash: &KeyHash) -> Option<Arc<KeyEntry>> {
        let shard = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        shard.get(hash).cloned()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts keys by state at `now`: (valid, disabled, revoked, expired).
    pub fn count_by_state(&self, now: SystemTime) -> [usize; 4] {
        let mut counts = [0; 4];
        for shard in self.shards.iter() {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            for entry in shard.values() {
                let slot = match KeyCheck::of(entry.clone(), now) {
                    KeyCheck::Valid(_) => 0,
                    KeyCheck::Disabled(_) => 1,
                    KeyCheck::Revoked(_) => 2,
                    KeyCheck::Expired(_) | KeyCheck::NotFound => 3,
                };
                counts[slot] += 1;
            }
        }
        counts
    }

    /// Hashes a presented key and says whether it may be used at `now`.
    pub fn check(&self, presented: &[u8], now: SystemTime) -> KeyCheck {
        match self.get(&KeyHash::of(presented)) {
            None => KeyCheck::NotFound,
            Some(entry) => KeyCheck::of(entry, now),
        }
    }
}

/// A hasher for keys that are already cryptographic digests.
#[derive(Default)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut first = [0u8; 8];
        let take = bytes.len().min(8);
        first[..take].copy_from_slice(&bytes[..take]);
        self.0 ^= u64::from_le_bytes(first);
    }
}
