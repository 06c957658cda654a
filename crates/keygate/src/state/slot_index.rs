//! Slot numbers found by hash: the index of a [`RowTable`](super::row_table::RowTable).
//!
//! Open addressing with linear probing over one array of (tag, slot) pairs. The tag is
//! the high 32 bits of the row's hash and also says where the pair's probe starts, so a
//! lookup reads one run of adjacent pairs — mostly within one cache line — and reads a
//! row only when a tag matches; growing needs no row, since the tags say where each pair
//! goes. A general-purpose table keeps its control bytes and its entries in two places:
//! with a million keys that is one more cache and TLB miss on every lookup.
//!
//! The hashes must be spread evenly already (SHA-256 for keys, a keyed hash for consumer
//! names): they are not mixed again.

/// A slot number and the tag of its row's hash; `slot == FREE` marks an empty bucket.
#[derive(Debug, Clone, Copy)]
struct Pair {
    tag: u32,
    slot: u32,
}

/// The slot number of an empty bucket. Row tables never number a slot this high.
const FREE: u32 = u32::MAX;
const EMPTY: Pair = Pair { tag: 0, slot: FREE };

/// Buckets are at most this full (numerator, denominator) before the table doubles.
const MAX_LOAD: (usize, usize) = (7, 8);
/// How full a table built for its entries is, and [`SlotIndex::shrink_to_fit`] leaves
/// it: a lookup that finds its row reads about 2.5 pairs at this load, one that finds
/// nothing about 8.5 (68 bytes, one or two cache lines). At [`MAX_LOAD`] those are 4.5
/// and 32.5: unknown keys, which a flood of guessed keys is made of, would pay most.
const FITTED_LOAD: (usize, usize) = (3, 4);

/// Slot numbers by the hash of the row in the slot.
#[derive(Debug, Default)]
pub struct SlotIndex {
    buckets: Box<[Pair]>,
    len: usize,
}

fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Buckets for `entries` at `load` at most: never fewer than one more than the entries,
/// so a probe always ends at an empty bucket.
fn buckets_for(entries: usize, (num, den): (usize, usize)) -> usize {
    entries
        .saturating_mul(den)
        .div_ceil(num)
        .max(entries + 1)
        .max(8)
}

/// Whether `buckets` hold `entries` within [`MAX_LOAD`].
fn within_load(entries: usize, buckets: usize) -> bool {
    let (num, den) = MAX_LOAD;
    entries.saturating_mul(den) <= buckets.saturating_mul(num) && entries < buckets
}

impl SlotIndex {
    /// An index with room for `entries` without growing, [`FITTED_LOAD`] full.
    pub fn with_capacity(entries: usize) -> SlotIndex {
        SlotIndex {
            buckets: vec![EMPTY; buckets_for(entries, FITTED_LOAD)].into_boxed_slice(),
            len: 0,
        }
    }

    /// How many slots it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Where the probe for `tag` starts: the tag scaled to the number of buckets.
    fn home(&self, tag: u32) -> usize {
        ((u64::from(tag) * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, bucket: usize) -> usize {
        if bucket + 1 == self.buckets.len() {
            0
        } else {
            bucket + 1
        }
    }

    /// The bucket holding the slot with hash `hash` for which `is` holds.
    fn bucket_of(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let tag = tag_of(hash);
        let mut bucket = self.home(tag);
        loop {
            let pair = self.buckets[bucket];
            if pair.slot == FREE {
                return None;
            }
            if pair.tag == tag && is(pair.slot) {
                return Some(bucket);
            }
            bucket = self.next(bucket);
        }
    }

    /// The slot with hash `hash` for which `is` holds.
    pub fn find(&self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        self.bucket_of(hash, is)
            .map(|bucket| self.buckets[bucket].slot)
    }

    /// Adds `slot`, whose row has hash `hash`; the caller knows it is not there yet.
    pub fn insert_unique(&mut self, hash: u64, slot: u32) {
        if !within_load(self.len + 1, self.buckets.len()) {
            self.resize(buckets_for((self.len + 1) * 2, MAX_LOAD));
        }
        self.place(Pair {
            tag: tag_of(hash),
            slot,
        });
        self.len += 1;
    }

    /// Puts `pair` in the first empty bucket from its home on.
    fn place(&mut self, pair: Pair) {
        let mut bucket = self.home(pair.tag);
        while self.buckets[bucket].slot != FREE {
            bucket = self.next(bucket);
        }
        self.buckets[bucket] = pair;
    }

    /// Removes the slot with hash `hash` for which `is` holds, and returns it. The pairs
    /// after it in its run move back where their probes still find them, so no marker of
    /// a removed pair is left to lengthen later probes.
    pub fn remove(&mut self, hash: u64, is: impl Fn(u32) -> bool) -> Option<u32> {
        let bucket = self.bucket_of(hash, is)?;
        let slot = self.buckets[bucket].slot;
        let mut hole = bucket;
        let mut next = self.next(bucket);
        while self.buckets[next].slot != FREE {
            let home = self.home(self.buckets[next].tag);
            // The pair at `next` may fill the hole unless its home lies after the hole,
            // up to `next` (going round the end).
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.buckets[hole] = self.buckets[next];
                hole = next;
            }
            next = self.next(next);
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        Some(slot)
    }

    /// Gives back the room that growing by doubling left unused.
    pub fn shrink_to_fit(&mut self) {
        let fitted = buckets_for(self.len, FITTED_LOAD);
        if fitted < self.buckets.len() {
            self.resize(fitted);
        }
    }

    fn resize(&mut self, buckets: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; buckets].into_boxed_slice());
        for pair in old.iter().filter(|pair| pair.slot != FREE) {
            self.place(*pair);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// An evenly spread hash, as SHA-256 gives.
    fn hash(n: u32) -> u64 {
        u64::from(n)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(17)
            ^ 0x2545_f491_4f6c_dd1d
    }

    /// Slot `n` holds the row numbered `n`.
    fn is(n: u32) -> impl Fn(u32) -> bool {
        move |slot| slot == n
    }

    #[test]
    fn finds_what_was_added_and_nothing_else() {
        let mut index = SlotIndex::default();
        assert_eq!(index.find(hash(1), is(1)), None);
        for n in 0..10_000 {
            index.insert_unique(hash(n), n);
        }
        assert_eq!(index.len(), 10_000);
        for n in 0..10_000 {
            assert_eq!(index.find(hash(n), is(n)), Some(n));
        }
        assert_eq!(index.find(hash(10_001), is(10_001)), None);
        // The same hash, another row: the row decides.
        assert_eq!(index.find(hash(5), is(6)), None);
    }

    #[test]
    fn equal_tags_are_told_apart_by_their_rows() {
        let mut index = SlotIndex::default();
        let same = 0xdead_beef_0000_0000;
        for n in 0..50 {
            index.insert_unique(same, n);
        }
        for n in 0..50 {
            assert_eq!(index.find(same, is(n)), Some(n));
        }
        assert_eq!(index.remove(same, is(20)), Some(20));
        assert_eq!(index.find(same, is(20)), None);
        for n in (0..50).filter(|&n| n != 20) {
            assert_eq!(index.find(same, is(n)), Some(n));
        }
    }

    #[test]
    fn removing_keeps_every_other_slot_findable() {
        let mut index = SlotIndex::with_capacity(1_000);
        for n in 0..1_000 {
            index.insert_unique(hash(n), n);
        }
        for n in (0..1_000).step_by(3) {
            assert_eq!(index.remove(hash(n), is(n)), Some(n));
            assert_eq!(index.remove(hash(n), is(n)), None);
        }
        for n in 0..1_000 {
            let expected = (n % 3 != 0).then_some(n);
            assert_eq!(index.find(hash(n), is(n)), expected, "slot {n}");
        }
        assert_eq!(index.len(), 666);
    }

    #[test]
    fn runs_that_wrap_round_the_end_survive_removal() {
        // Tags at the very top all start their probes in the last bucket.
        let mut index = SlotIndex::with_capacity(6);
        let top = |n: u32| (u64::from(u32::MAX - n) << 32) | u64::from(n);
        for n in 0..5 {
            index.insert_unique(top(n), n);
        }
        index.insert_unique(hash(100), 100);
        assert_eq!(index.remove(top(0), is(0)), Some(0));
        for n in 1..5 {
            assert_eq!(index.find(top(n), is(n)), Some(n));
        }
        assert_eq!(index.find(hash(100), is(100)), Some(100));
        assert_eq!(index.remove(top(3), is(3)), Some(3));
        for n in [1, 2, 4] {
            assert_eq!(index.find(top(n), is(n)), Some(n));
        }
    }

    #[test]
    fn agrees_with_a_map_over_random_inserts_removes_and_shrinks() {
        // Few distinct tags, many near the top and the bottom: long runs, equal tags and
        // runs wrapping round the end, in a table that grows and shrinks.
        let mut state = 0x853c_49e6_748f_ea9b_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let hash_of_slot = |slot: u32| -> u64 {
            let tag = match slot % 4 {
                0 => u32::MAX - slot % 7,
                1 => slot % 5,
                2 => 0x8000_0000 + slot % 3,
                _ => (u64::from(slot).wrapping_mul(0x9e37_79b9) >> 3) as u32,
            };
            u64::from(tag) << 32 | u64::from(slot)
        };
        let mut index = SlotIndex::default();
        let mut model = std::collections::HashSet::new();
        for step in 0..20_000 {
            let slot = (random() % 300) as u32;
            match random() % 10 {
                0..=4 if !model.contains(&slot) => {
                    index.insert_unique(hash_of_slot(slot), slot);
                    model.insert(slot);
                }
                0..=7 => {
                    let removed = index.remove(hash_of_slot(slot), is(slot));
                    assert_eq!(removed.is_some(), model.remove(&slot), "step {step}");
                }
                8 => index.shrink_to_fit(),
                _ => {}
            }
            let probe = (random() % 300) as u32;
            let found = index.find(hash_of_slot(probe), is(probe));
            assert_eq!(found.is_some(), model.contains(&probe), "step {step}");
            assert_eq!(index.len(), model.len());
        }
        for slot in 0..300 {
            let found = index.find(hash_of_slot(slot), is(slot));
            assert_eq!(found, model.contains(&slot).then_some(slot));
        }
    }

    #[test]
    fn a_table_sized_for_its_entries_takes_them_without_growing() {
        for entries in [1, 7, 8, 100, 15_625, 15_626, 20_000] {
            let mut index = SlotIndex::with_capacity(entries);
            let buckets = index.buckets.len();
            for n in 0..u32::try_from(entries).unwrap() {
                index.insert_unique(hash(n), n);
            }
            assert_eq!(index.buckets.len(), buckets, "{entries} entries");
            assert!(within_load(entries, buckets));
        }
    }

    #[test]
    fn shrinking_leaves_room_and_keeps_slots() {
        let mut index = SlotIndex::default();
        for n in 0..10_000 {
            index.insert_unique(hash(n), n);
        }
        for n in 1_000..10_000 {
            index.remove(hash(n), is(n));
        }
        index.shrink_to_fit();
        assert_eq!(index.buckets.len(), 1_334);
        for n in 0..1_000 {
            assert_eq!(index.find(hash(n), is(n)), Some(n));
        }
        index.insert_unique(hash(20_000), 20_000);
        assert_eq!(index.find(hash(20_000), is(20_000)), Some(20_000));
    }
}
