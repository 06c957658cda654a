//! The key index: SHA-256 of a key to its record. Sharded behind read-write locks so one
//! key can be added, changed or removed in O(1) while requests read — no rebuild of a
//! million-key index for one key.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use bytes::Bytes;
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

/// A consumer as the data plane sees it: its name, and what it shares with consumers
/// of the same kind. Kept small: a node may hold a million of them.
#[derive(Debug, Clone)]
pub struct ConsumerEntry {
    /// Unique name, kept once, ready to send upstream.
    pub name: HeaderText,
    /// Client type, groups, permissions and metadata: one copy shared by every consumer
    /// that has the same.
    pub profile: Arc<ConsumerProfile>,
    /// Its subscriptions, in no particular order; few per consumer, so scanned.
    pub subscriptions: Arc<[Arc<SubscriptionEntry>]>,
}

/// What a consumer is besides its name. Consumers with equal profiles share one copy
/// (see [`Directory`](super::Directory)): a million consumers of a few kinds cost a few
/// profiles, not a million.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConsumerProfile {
    /// Client type, ready to send upstream.
    pub client_type: HeaderText,
    /// Groups.
    pub groups: Vec<String>,
    /// Permissions.
    pub permissions: Vec<String>,
    /// Free-form string map.
    pub metadata: BTreeMap<String, String>,
    /// The groups joined with commas; `None` when there are no groups.
    pub groups_header: Option<HeaderValue>,
}

/// The current version of a consumer, shared by all its keys: changing a consumer is one
/// store into its cell, however many keys it has.
pub type ConsumerCell = ArcSwap<ConsumerEntry>;

/// A key as the data plane sees it. Kept small: a node may hold a million of them.
#[derive(Debug)]
pub struct KeyEntry {
    /// The SHA-256 of the key: what the index finds it by.
    pub hash: KeyHash,
    /// Stable id, kept once, ready to send upstream.
    pub id: HeaderText,
    /// Display prefix, when known; short ones are kept inline.
    pub prefix: Option<ShortText>,
    /// Whether the key may be used.
    pub active: bool,
    /// Whether the key was revoked (for good).
    pub revoked: bool,
    /// Whether this is the consumer's shared key.
    pub shared: bool,
    /// When the key stops working.
    pub expires_at: Option<SystemTime>,
    /// Free-form string map; one copy shared by every key with the same labels.
    pub labels: Arc<BTreeMap<String, String>>,
    /// Whose key it is.
    pub consumer: Arc<ConsumerCell>,
    /// The subscription this key was issued for, if any.
    pub subscription: Option<Arc<str>>,
    /// Last successful use, in milliseconds since the epoch (0 = not since start).
    pub last_used_ms: AtomicI64,
}

/// A text that is also sent as a header (a consumer name, a key id, a client type), kept
/// once: the header value holds the bytes and the text is read back from them. Texts are
/// checked to be header-safe when written; one that is not (from an old or hand-edited
/// store) keeps its text and is sent empty rather than failing the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderText(HeaderRepr);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HeaderRepr {
    Sendable(HeaderValue),
    Unsendable(Box<str>),
}

impl HeaderText {
    /// Keeps `text` once.
    pub fn new(text: &str) -> HeaderText {
        match HeaderValue::from_maybe_shared(Bytes::copy_from_slice(text.as_bytes())) {
            Ok(value) => HeaderText(HeaderRepr::Sendable(value)),
            Err(_) => HeaderText(HeaderRepr::Unsendable(text.into())),
        }
    }

    /// The header value to send: the text, or empty when the text is not header-safe.
    pub fn header(&self) -> HeaderValue {
        match &self.0 {
            HeaderRepr::Sendable(value) => value.clone(),
            HeaderRepr::Unsendable(_) => HeaderValue::from_static(""),
        }
    }
}

impl std::ops::Deref for HeaderText {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // Built from a `&str`, so always UTF-8.
            HeaderRepr::Sendable(value) => std::str::from_utf8(value.as_bytes()).unwrap_or(""),
            HeaderRepr::Unsendable(text) => text,
        }
    }
}

impl std::fmt::Display for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// Longest text a [`ShortText`] keeps inline.
const INLINE: usize = 22;

/// A short text (such as a key's display prefix) kept inline, without an allocation of
/// its own; a longer one goes to the heap.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortText(ShortRepr);

#[derive(Clone, PartialEq, Eq)]
enum ShortRepr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl ShortText {
    /// Keeps `text`, inline when it is short.
    pub fn new(text: &str) -> ShortText {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0u8; INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                ShortText(ShortRepr::Inline { len, bytes })
            }
            _ => ShortText(ShortRepr::Heap(text.into())),
        }
    }
}

impl std::ops::Deref for ShortText {
    type Target = str;

    fn deref(&self) -> &str {
        match &self.0 {
            // Copied whole from a `&str`, so always UTF-8.
            ShortRepr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or("")
            }
            ShortRepr::Heap(text) => text,
        }
    }
}

impl std::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
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

type Shard = RwLock<HashSet<Indexed, BuildHasherDefault<DigestHasher>>>;

/// A key in its shard, found by the hash it holds: a slot of the table is one pointer,
/// not a pointer and a 32-byte copy of the hash.
struct Indexed(Arc<KeyEntry>);

impl Borrow<KeyHash> for Indexed {
    fn borrow(&self) -> &KeyHash {
        &self.0.hash
    }
}

impl Hash for Indexed {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash.hash(state);
    }
}

impl PartialEq for Indexed {
    fn eq(&self, other: &Indexed) -> bool {
        self.0.hash == other.0.hash
    }
}

impl Eq for Indexed {}

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

    /// Adds or replaces the key with the entry's hash: O(1).
    pub fn insert(&self, entry: Arc<KeyEntry>) -> Option<Arc<KeyEntry>> {
        let mut shard = self
            .shard(&entry.hash)
            .write()
            .unwrap_or_else(|e| e.into_inner());
        shard.replace(Indexed(entry)).map(|old| old.0)
    }

    /// Removes one key: O(1).
    pub fn remove(&self, hash: &KeyHash) -> Option<Arc<KeyEntry>> {
        let mut shard = self.shard(hash).write().unwrap_or_else(|e| e.into_inner());
        shard.take(hash).map(|old| old.0)
    }

    /// The key with this hash.
    pub fn get(&self, hash: &KeyHash) -> Option<Arc<KeyEntry>> {
        let shard = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        shard.get(hash).map(|found| found.0.clone())
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
            for Indexed(entry) in shard.iter() {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::mem::size_of;

    use super::*;

    /// What one consumer and one key cost in the directory, besides their texts: the
    /// bounds keep a million of each within the memory budget of docs/benchmarks.md.
    #[test]
    fn entries_stay_small() {
        println!(
            "KeyEntry {} B, ConsumerEntry {} B, ConsumerCell {} B, index slot {} B, \
             HeaderText {} B, ShortText {} B",
            size_of::<KeyEntry>(),
            size_of::<ConsumerEntry>(),
            size_of::<ConsumerCell>(),
            size_of::<Indexed>(),
            size_of::<HeaderText>(),
            size_of::<Option<ShortText>>(),
        );
        assert!(size_of::<KeyEntry>() <= 176);
        assert!(size_of::<ConsumerEntry>() <= 64);
        assert_eq!(size_of::<Indexed>(), 8);
        assert_eq!(size_of::<HeaderText>(), size_of::<HeaderValue>());
    }

    #[test]
    fn texts_read_back_as_written() {
        for text in [
            "",
            "pk_live",
            "a-prefix-of-exactly-22",
            "a prefix longer than twenty-two",
        ] {
            assert_eq!(&*ShortText::new(text), text);
        }
        let name = HeaderText::new("alex");
        assert_eq!(&*name, "alex");
        assert_eq!(name.header(), HeaderValue::from_static("alex"));
        assert_eq!(name.to_string(), "alex");
        let unsendable = HeaderText::new("line\nbreak");
        assert_eq!(&*unsendable, "line\nbreak");
        assert_eq!(unsendable.header(), HeaderValue::from_static(""));
    }

    #[test]
    fn a_key_is_replaced_and_removed_by_its_hash() {
        let index = KeyIndex::default();
        let consumer = Arc::new(ArcSwap::from_pointee(ConsumerEntry {
            name: HeaderText::new("alex"),
            profile: Arc::new(ConsumerProfile {
                client_type: HeaderText::new("A"),
                groups: Vec::new(),
                permissions: Vec::new(),
                metadata: BTreeMap::new(),
                groups_header: None,
            }),
            subscriptions: Arc::new([]),
        }));
        let key = |id: &str| {
            Arc::new(KeyEntry {
                hash: KeyHash::of(b"secret"),
                id: HeaderText::new(id),
                prefix: None,
                active: true,
                revoked: false,
                shared: false,
                expires_at: None,
                labels: Arc::default(),
                consumer: consumer.clone(),
                subscription: None,
                last_used_ms: AtomicI64::new(0),
            })
        };
        assert!(index.insert(key("k1")).is_none());
        let old = index.insert(key("k2")).unwrap();
        assert_eq!(&*old.id, "k1");
        assert_eq!(index.len(), 1);
        assert_eq!(&*index.get(&KeyHash::of(b"secret")).unwrap().id, "k2");
        assert!(index.remove(&KeyHash::of(b"secret")).is_some());
        assert!(index.get(&KeyHash::of(b"secret")).is_none());
    }
}
