//! Consumers by name, kept compactly: a node may hold a million of them. Each consumer is
//! one row in a shard (its name inline, its shared profile, its subscriptions), found by
//! name through a table of row numbers, and referred to by keys with a four-byte
//! [`ConsumerRef`] instead of a pointer.

use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::entries::{ConsumerProfile, Subscriptions};
use super::row_table::RowTable;
use super::texts::ShortText;

/// Shards: writers lock one; readers of other shards go on.
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;
/// Rows per shard a [`ConsumerRef`] can address.
const SLOT_BITS: u32 = 32 - SHARD_BITS;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;

/// Where a consumer's row is: its shard and its slot there. Stays valid while the
/// consumer exists; the store deletes a consumer only once it has no keys left, so no
/// key refers to a freed slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerRef(u32);

impl ConsumerRef {
    fn new(shard: usize, slot: u32) -> Option<ConsumerRef> {
        let shard = u32::try_from(shard).ok()?;
        (slot <= SLOT_MASK).then_some(ConsumerRef(shard << SLOT_BITS | slot))
    }

    /// The reference as one number, to write it down.
    pub fn raw(self) -> u32 {
        self.0
    }

    /// A reference written down with [`ConsumerRef::raw`]. One that names no row reads
    /// as no consumer.
    pub fn from_raw(raw: u32) -> ConsumerRef {
        ConsumerRef(raw)
    }

    fn shard(self) -> usize {
        (self.0 >> SLOT_BITS) as usize
    }

    fn slot(self) -> usize {
        (self.0 & SLOT_MASK) as usize
    }

    /// A reference to the first slot of the first shard, for tests of key rows.
    #[cfg(test)]
    pub fn for_tests() -> ConsumerRef {
        ConsumerRef(0)
    }
}

/// One consumer as the directory keeps it.
#[derive(Debug)]
pub struct ConsumerRow {
    /// Unique name.
    pub name: ShortText,
    /// Client type, groups, permissions, metadata: one copy shared by every consumer
    /// with the same.
    pub profile: Arc<ConsumerProfile>,
    /// Its subscriptions; `None` for none.
    pub subscriptions: Option<Subscriptions>,
}

/// A shard: consumer rows, found by the hash of their name.
type Shard = RowTable<ConsumerRow>;

/// Whether `row` is the consumer named `name`.
fn named(name: &str) -> impl Fn(&ConsumerRow) -> bool + '_ {
    move |row| row.name.as_bytes() == name.as_bytes()
}

/// Consumers by name, in shards behind read-write locks.
pub struct ConsumerTable {
    shards: Box<[RwLock<Shard>]>,
    /// Seed of the name hash; kept with the rows in a directory cache, so that the rows
    /// come back in the same shards and slots and keys' [`ConsumerRef`]s stay right.
    seed: u64,
    hasher: foldhash::fast::FixedState,
}

impl Default for ConsumerTable {
    fn default() -> Self {
        let mut seed = [0u8; 8];
        // Without randomness the seed is still a valid one, only a guessable one.
        let _ = getrandom::fill(&mut seed);
        ConsumerTable::with_seed(u64::from_le_bytes(seed))
    }
}

impl std::fmt::Debug for ConsumerTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerTable")
            .field("consumers", &self.len())
            .finish()
    }
}

/// A shard locked for reading, to read rows by reference.
pub struct ReadShard<'t>(RwLockReadGuard<'t, Shard>);

impl ReadShard<'_> {
    /// The row at `at`; `None` when the slot is empty.
    pub fn row(&self, at: ConsumerRef) -> Option<&ConsumerRow> {
        self.0.get(u32::try_from(at.slot()).ok()?)
    }
}

impl ConsumerTable {
    fn with_seed(seed: u64) -> ConsumerTable {
        ConsumerTable {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            seed,
            hasher: foldhash::fast::FixedState::with_seed(seed),
        }
    }

    /// A table of the rows of each shard, as [`ConsumerTable::each_shard`] gave them,
    /// with the same seed: every row is back in its slot. `None` when there are not
    /// exactly as many shards as a table has.
    pub fn from_shards(seed: u64, shards: Vec<Vec<Option<ConsumerRow>>>) -> Option<ConsumerTable> {
        if shards.len() != SHARDS {
            return None;
        }
        let table = ConsumerTable::with_seed(seed);
        for (lock, rows) in table.shards.iter().zip(shards) {
            if rows.len() > SLOT_MASK as usize + 1 {
                return None;
            }
            *lock.write().unwrap_or_else(|e| e.into_inner()) =
                RowTable::from_rows(rows, |row| table.name_hash(row))?;
        }
        Some(table)
    }

    /// The seed of the name hash.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Reads the rows of every shard in order, each under its shard's read lock.
    pub fn each_shard(&self, mut read: impl FnMut(&[Option<ConsumerRow>])) {
        for shard in self.shards.iter() {
            read(shard.read().unwrap_or_else(|e| e.into_inner()).rows());
        }
    }

    fn name_hash(&self, row: &ConsumerRow) -> u64 {
        self.hasher.hash_one(&*row.name)
    }

    /// The shard of a name's hash, from middle bits: the tables use the low bits to
    /// place a row and the top seven to tell rows apart, so those must vary in a shard.
    fn shard_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize % SHARDS
    }

    fn write(&self, shard: usize) -> RwLockWriteGuard<'_, Shard> {
        self.shards[shard]
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the shard of `at` for reading.
    pub fn read(&self, at: ConsumerRef) -> ReadShard<'_> {
        ReadShard(
            self.shards[at.shard()]
                .read()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Where the consumer named `name` is, if it exists.
    pub fn find(&self, name: &str) -> Option<ConsumerRef> {
        let hash = self.hasher.hash_one(name);
        let shard = self.shard_of(hash);
        let slot = self.shards[shard]
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .find(hash, named(name))?;
        ConsumerRef::new(shard, slot)
    }

    /// Adds a consumer, or changes the one with this name through `change`. Returns
    /// `None` only when the shard is full (2^26 rows).
    pub fn upsert(
        &self,
        name: &str,
        new: impl FnOnce() -> ConsumerRow,
        change: impl FnOnce(&mut ConsumerRow),
    ) -> Option<ConsumerRef> {
        let hash = self.hasher.hash_one(name);
        let shard = self.shard_of(hash);
        let mut guard = self.write(shard);
        if let Some(slot) = guard.find(hash, named(name)) {
            if let Some(row) = guard.get_mut(slot) {
                change(row);
            }
            return ConsumerRef::new(shard, slot);
        }
        if guard.next_slot() > SLOT_MASK as usize {
            return None;
        }
        let slot = guard.insert(hash, new());
        ConsumerRef::new(shard, slot)
    }

    /// Changes the consumer named `name` through `change`; false when there is none.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut ConsumerRow)) -> bool {
        let hash = self.hasher.hash_one(name);
        let shard = self.shard_of(hash);
        let mut guard = self.write(shard);
        let Some(slot) = guard.find(hash, named(name)) else {
            return false;
        };
        match guard.get_mut(slot) {
            Some(row) => {
                change(row);
                true
            }
            None => false,
        }
    }

    /// Forgets the consumer named `name`; its slot is used again by a later consumer.
    pub fn remove(&self, name: &str) {
        let hash = self.hasher.hash_one(name);
        let shard = self.shard_of(hash);
        self.write(shard).remove(hash, named(name));
    }

    /// The number of consumers.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Gives back the room that growing by doubling left unused (after a full load).
    pub fn shrink_to_fit(&self) {
        for shard in 0..SHARDS {
            self.write(shard).shrink_to_fit();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::state::texts::HeaderText;

    fn profile(client_type: &str) -> Arc<ConsumerProfile> {
        Arc::new(ConsumerProfile {
            client_type: HeaderText::new(client_type),
            groups: Vec::new(),
            permissions: Vec::new(),
            metadata: BTreeMap::new(),
            groups_header: None,
            limits: None,
        })
    }

    fn row(name: &str, client_type: &str) -> ConsumerRow {
        ConsumerRow {
            name: ShortText::new(name),
            profile: profile(client_type),
            subscriptions: None,
        }
    }

    #[test]
    fn consumers_are_found_changed_and_removed_by_name() {
        let table = ConsumerTable::default();
        let names: Vec<String> = (0..2_000).map(|i| format!("consumer-{i}")).collect();
        let refs: Vec<ConsumerRef> = names
            .iter()
            .map(|name| table.upsert(name, || row(name, "A"), |_| {}).unwrap())
            .collect();
        assert_eq!(table.len(), 2_000);
        for (name, at) in names.iter().zip(&refs) {
            assert_eq!(table.find(name), Some(*at));
            assert_eq!(&*table.read(*at).row(*at).unwrap().name, name.as_str());
        }
        assert!(table.update("consumer-7", |row| row.profile = profile("B")));
        let at = table.find("consumer-7").unwrap();
        assert_eq!(&*table.read(at).row(at).unwrap().profile.client_type, "B");
        assert!(!table.update("nobody", |_| {}));

        table.remove("consumer-7");
        assert_eq!(table.find("consumer-7"), None);
        assert!(table.read(at).row(at).is_none());
        assert_eq!(table.len(), 1_999);
        // The freed slot is used again by the next consumer of its shard.
        let again = table.upsert("consumer-7", || row("consumer-7", "C"), |_| {});
        assert_eq!(again, Some(at));
        table.shrink_to_fit();
        assert_eq!(table.find("consumer-1999"), Some(refs[1_999]));
        assert_eq!(table.find("consumer-7"), Some(at));
        assert_eq!(&*table.read(at).row(at).unwrap().profile.client_type, "C");
    }

    #[test]
    fn rows_stay_small() {
        assert!(std::mem::size_of::<Option<ConsumerRow>>() <= 40);
    }
}
