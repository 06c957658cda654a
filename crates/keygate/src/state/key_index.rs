//! The key index: SHA-256 of a key to its row. Sharded behind read-write locks so one
//! key can be added, changed or removed in O(1) while requests read — no rebuild of a
//! million-key index for one key. Rows are kept inline in each shard and found through
//! a table of row numbers: a key costs its row and a few bytes of table, not a pointer,
//! an allocation and its rounding.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use keygate_store::Millis;

use super::consumer_table::ConsumerRef;
use super::entries::{KeyExtras, Labels};
use super::row_table::RowTable;
use super::texts::ShortText;
use crate::key::KeyHash;

/// `expires_at` of a key that never expires.
pub const NEVER: Millis = Millis::MAX;

/// A key as the directory keeps it.
#[derive(Debug)]
pub struct KeyRow {
    /// The SHA-256 of the key: what the index finds it by.
    pub hash: KeyHash,
    /// Stable id, and the subscription the key was issued for.
    pub ids: KeyIds,
    /// Display prefix, when known.
    pub prefix: Option<ShortText<14>>,
    /// Free-form string map, one copy shared by every key with the same; `None` for none.
    pub labels: Option<Arc<Labels>>,
    /// When the key stops working, in milliseconds since the epoch; [`NEVER`] if never.
    pub expires_at: Millis,
    /// Last use noted, in seconds since the epoch (0 = none since start).
    pub last_used_s: AtomicU32,
    /// Whose key it is.
    pub consumer: ConsumerRef,
    /// The key's own limits and credits; `None` for most keys.
    pub extras: Option<Arc<KeyExtras>>,
    /// [`ACTIVE`], [`REVOKED`], [`SHARED`].
    pub flags: u8,
}

/// A key's id and the subscription it was issued for, if any, in 24 bytes: most keys
/// have no subscription, so the pair is kept behind a pointer only for those that do.
#[derive(Debug)]
pub struct KeyIds(IdsRepr);

#[derive(Debug)]
enum IdsRepr {
    Plain(ShortText),
    Subscribed(Box<(ShortText, Arc<ShortText>)>),
}

impl KeyIds {
    /// The id of a key, and of its subscription when it has one.
    pub fn new(id: &str, subscription: Option<&str>) -> KeyIds {
        KeyIds::with_id(ShortText::new(id), subscription)
    }

    /// The same, with the id already kept.
    pub fn with_id(id: ShortText, subscription: Option<&str>) -> KeyIds {
        KeyIds(match subscription {
            None => IdsRepr::Plain(id),
            Some(subscription) => {
                IdsRepr::Subscribed(Box::new((id, Arc::new(ShortText::new(subscription)))))
            }
        })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        self.id_text()
    }

    /// The key's id as kept, to copy it without reading it as `str` again.
    pub fn id_text(&self) -> &ShortText {
        match &self.0 {
            IdsRepr::Plain(id) => id,
            IdsRepr::Subscribed(pair) => &pair.0,
        }
    }

    /// The subscription the key was issued for.
    pub fn subscription(&self) -> Option<&Arc<ShortText>> {
        match &self.0 {
            IdsRepr::Plain(_) => None,
            IdsRepr::Subscribed(pair) => Some(&pair.1),
        }
    }
}

/// Flag: the key may be used.
pub const ACTIVE: u8 = 1;
/// Flag: the key was revoked (for good).
pub const REVOKED: u8 = 2;
/// Flag: the consumer's shared key.
pub const SHARED: u8 = 4;

/// Where a key stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Active, not revoked, not expired.
    Valid,
    /// Marked inactive.
    Disabled,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

impl KeyRow {
    /// Where the key stands at `now_ms`; revoked first, then inactive, then expired.
    pub fn state(&self, now_ms: Millis) -> KeyState {
        if self.flags & REVOKED != 0 {
            KeyState::Revoked
        } else if self.flags & ACTIVE == 0 {
            KeyState::Disabled
        } else if self.expires_at <= now_ms {
            KeyState::Expired
        } else {
            KeyState::Valid
        }
    }

    /// Notes a use at `now_ms`; true when it should be written to the store (at most
    /// once a minute per key, so bookkeeping never costs a write per request).
    pub fn mark_used(&self, now_ms: Millis) -> bool {
        let now = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
        let previous = self.last_used_s.load(Ordering::Relaxed);
        if now.saturating_sub(previous) < 60 {
            return false;
        }
        self.last_used_s
            .compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// `last_used_at` of the store in the seconds a [`KeyRow`] keeps.
pub fn last_used_seconds(last_used_at: Option<Millis>) -> u32 {
    last_used_at.map_or(0, |ms| u32::try_from(ms / 1000).unwrap_or(0))
}

const SHARDS: usize = 64;

/// A shard: key rows, found by their hash.
type Shard = RowTable<KeyRow>;

/// SHA-256 output is already uniformly spread: its first eight bytes are the table's
/// hash, with no hashing again.
fn table_hash(hash: &KeyHash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.0[..8]);
    u64::from_le_bytes(first)
}

/// The table hash of a row.
fn row_hash(row: &KeyRow) -> u64 {
    table_hash(&row.hash)
}

/// Whether `row` is the key with this hash.
fn hashed(hash: &KeyHash) -> impl Fn(&KeyRow) -> bool + '_ {
    move |row| row.hash == *hash
}

/// Map from key hash to key row, in shards.
pub struct KeyIndex {
    shards: Box<[RwLock<Shard>]>,
}

impl Default for KeyIndex {
    fn default() -> Self {
        KeyIndex {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
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
    fn shard(&self, hash: &KeyHash) -> &RwLock<Shard> {
        &self.shards[usize::from(hash.0[31]) % SHARDS]
    }

    fn write(&self, hash: &KeyHash) -> RwLockWriteGuard<'_, Shard> {
        self.shard(hash).write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds or replaces the key with the row's hash: O(1). Returns the row replaced.
    pub fn insert(&self, row: KeyRow) -> Option<KeyRow> {
        let mut guard = self.write(&row.hash);
        let hash = table_hash(&row.hash);
        if let Some(slot) = guard.find(hash, hashed(&row.hash)) {
            return guard.get_mut(slot).map(|old| std::mem::replace(old, row));
        }
        guard.insert(hash, row);
        None
    }

    /// Removes one key: O(1). Returns its row.
    pub fn remove(&self, hash: &KeyHash) -> Option<KeyRow> {
        self.write(hash).remove(table_hash(hash), hashed(hash))
    }

    /// Reads the key with this hash through `read`, under its shard's read lock.
    pub fn read<R>(&self, hash: &KeyHash, read: impl FnOnce(&KeyRow) -> R) -> Option<R> {
        let guard = self.shard(hash).read().unwrap_or_else(|e| e.into_inner());
        let slot = guard.find(table_hash(hash), hashed(hash))?;
        guard.get(slot).map(read)
    }

    /// Notes a use of the key with this hash at `now_ms`; true when it should be written
    /// to the store (see [`KeyRow::mark_used`]).
    pub fn mark_used(&self, hash: &KeyHash, now_ms: Millis) -> bool {
        self.read(hash, |row| row.mark_used(now_ms))
            .unwrap_or(false)
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

    /// Counts keys by state at `now_ms`: (valid, disabled, revoked, expired).
    pub fn count_by_state(&self, now_ms: Millis) -> [usize; 4] {
        let mut counts = [0; 4];
        for shard in self.shards.iter() {
            let shard = shard.read().unwrap_or_else(|e| e.into_inner());
            for row in shard.rows().iter().flatten() {
                let slot = match row.state(now_ms) {
                    KeyState::Valid => 0,
                    KeyState::Disabled => 1,
                    KeyState::Revoked => 2,
                    KeyState::Expired => 3,
                };
                counts[slot] += 1;
            }
        }
        counts
    }

    /// An index of the rows of each shard, as [`KeyIndex::each_shard`] gave them: every
    /// row back in its slot. `None` when there are not exactly as many shards as an
    /// index has, or a row is in the wrong shard.
    pub fn from_shards(shards: Vec<Vec<Option<KeyRow>>>) -> Option<KeyIndex> {
        if shards.len() != SHARDS {
            return None;
        }
        let index = KeyIndex::default();
        for (number, (lock, rows)) in index.shards.iter().zip(shards).enumerate() {
            let in_place = |row: &Option<KeyRow>| {
                row.as_ref()
                    .is_none_or(|row| usize::from(row.hash.0[31]) % SHARDS == number)
            };
            if !rows.iter().all(in_place) {
                return None;
            }
            *lock.write().unwrap_or_else(|e| e.into_inner()) = RowTable::from_rows(rows, row_hash)?;
        }
        Some(index)
    }

    /// Reads the rows of every shard in order, each under its shard's read lock.
    pub fn each_shard(&self, mut read: impl FnMut(&[Option<KeyRow>])) {
        for shard in self.shards.iter() {
            read(shard.read().unwrap_or_else(|e| e.into_inner()).rows());
        }
    }

    /// Gives back the room that growing by doubling left unused (after a full load).
    pub fn shrink_to_fit(&self) {
        for shard in self.shards.iter() {
            shard
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .shrink_to_fit();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::mem::size_of;

    use super::*;

    fn row(id: &str, secret: &[u8]) -> KeyRow {
        KeyRow {
            hash: KeyHash::of(secret),
            ids: KeyIds::new(id, None),
            prefix: None,
            labels: None,
            expires_at: NEVER,
            last_used_s: AtomicU32::new(0),
            consumer: ConsumerRef::for_tests(),
            extras: None,
            flags: ACTIVE,
        }
    }

    /// What one key costs in the index besides its table slot: the bound keeps a million
    /// keys within the memory budget of docs/benchmarks.md.
    #[test]
    fn rows_stay_small() {
        assert!(
            size_of::<Option<KeyRow>>() <= 112,
            "{}",
            size_of::<Option<KeyRow>>()
        );
    }

    #[test]
    fn a_key_is_replaced_and_removed_by_its_hash() {
        let index = KeyIndex::default();
        assert!(index.insert(row("k1", b"secret")).is_none());
        let old = index.insert(row("k2", b"secret")).unwrap();
        assert_eq!(old.ids.id(), "k1");
        assert_eq!(index.len(), 1);
        let hash = KeyHash::of(b"secret");
        assert_eq!(index.read(&hash, |r| r.ids.id().to_string()).unwrap(), "k2");
        assert!(index.remove(&hash).is_some());
        assert!(index.read(&hash, |_| ()).is_none());
        assert!(index.is_empty());
    }

    #[test]
    fn many_keys_survive_growth_removal_and_shrinking() {
        let index = KeyIndex::default();
        for i in 0..5_000u32 {
            index.insert(row(&format!("k{i}"), &i.to_le_bytes()));
        }
        for i in (0..5_000u32).step_by(2) {
            assert!(index.remove(&KeyHash::of(&i.to_le_bytes())).is_some());
        }
        index.shrink_to_fit();
        assert_eq!(index.len(), 2_500);
        for i in 0..5_000u32 {
            let found = index.read(&KeyHash::of(&i.to_le_bytes()), |r| r.ids.id().to_string());
            assert_eq!(found, (i % 2 == 1).then(|| format!("k{i}")));
        }
        // Freed slots are used again.
        index.insert(row("again", b"again"));
        assert_eq!(index.len(), 2_501);
    }

    #[test]
    fn states_and_use_marks() {
        let mut key = row("k", b"s");
        assert_eq!(key.state(1_000), KeyState::Valid);
        key.expires_at = 1_000;
        assert_eq!(key.state(1_000), KeyState::Expired);
        key.flags = 0;
        assert_eq!(key.state(0), KeyState::Disabled);
        key.flags = ACTIVE | REVOKED;
        assert_eq!(key.state(0), KeyState::Revoked);
        assert!(key.mark_used(1_000_000));
        assert!(!key.mark_used(1_000_500));
        assert!(key.mark_used(1_061_000));
    }
}
