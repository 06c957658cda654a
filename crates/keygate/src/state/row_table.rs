//! Rows kept inline, in slot order, and found through a table of slot numbers: what a
//! shard of the key index and of the consumer table is. A row costs its size and a few
//! bytes of table, not a pointer, an allocation and its rounding; the slot of a removed
//! row is used again by the next one.

use super::slot_index::SlotIndex;

/// Rows of type `T` in slots, found by a hash the caller computes from each row.
#[derive(Debug)]
pub struct RowTable<T> {
    /// Slot numbers, found by the hash of the row in the slot.
    by_hash: SlotIndex,
    rows: Vec<Option<T>>,
    /// Empty slots, used again first.
    free: Vec<u32>,
}

impl<T> Default for RowTable<T> {
    fn default() -> Self {
        RowTable {
            by_hash: SlotIndex::default(),
            rows: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> RowTable<T> {
    /// A table of `rows` in their slots (`None` for an empty one); `hash` is the hash of
    /// a row. `None` when there are more slots than a `u32` numbers.
    pub fn from_rows(rows: Vec<Option<T>>, hash: impl Fn(&T) -> u64) -> Option<RowTable<T>> {
        let mut by_hash = SlotIndex::with_capacity(rows.len());
        let mut free = Vec::new();
        for (slot, row) in rows.iter().enumerate() {
            let slot = u32::try_from(slot).ok()?;
            match row {
                Some(row) => {
                    by_hash.insert_unique(hash(row), slot);
                }
                None => free.push(slot),
            }
        }
        Some(RowTable {
            by_hash,
            rows,
            free,
        })
    }

    /// The slot of the row with hash `hash` for which `is` holds.
    pub fn find(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<u32> {
        let rows = &self.rows;
        self.by_hash
            .find(hash, |slot| rows[slot as usize].as_ref().is_some_and(&is))
    }

    /// The row in `slot`, if there is one.
    pub fn get(&self, slot: u32) -> Option<&T> {
        self.rows.get(slot as usize)?.as_ref()
    }

    /// The row in `slot`, to change it (not in a way that changes its hash).
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.rows.get_mut(slot as usize)?.as_mut()
    }

    /// The slot the next new row will take.
    pub fn next_slot(&self) -> usize {
        self.free
            .last()
            .map_or(self.rows.len(), |&slot| slot as usize)
    }

    /// Adds `row`, whose hash is `hash`, in a new slot: the caller knows no row like it
    /// is there.
    pub fn insert(&mut self, hash: u64, row: T) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.rows[slot as usize] = Some(row);
                slot
            }
            None => {
                // More than 2^32 rows in one shard is beyond any memory this runs in.
                let slot = u32::try_from(self.rows.len()).unwrap_or(u32::MAX);
                self.rows.push(Some(row));
                slot
            }
        };
        self.by_hash.insert_unique(hash, slot);
        slot
    }

    /// Removes the row with hash `hash` for which `is` holds, and returns it.
    pub fn remove(&mut self, hash: u64, is: impl Fn(&T) -> bool) -> Option<T> {
        let rows = &mut self.rows;
        let slot = self
            .by_hash
            .remove(hash, |slot| rows[slot as usize].as_ref().is_some_and(&is))?;
        self.free.push(slot);
        rows[slot as usize].take()
    }

    /// Every slot, in order.
    pub fn rows(&self) -> &[Option<T>] {
        &self.rows
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Gives back the room that growing by doubling left unused.
    pub fn shrink_to_fit(&mut self) {
        self.rows.shrink_to_fit();
        self.by_hash.shrink_to_fit();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn hash(n: &u64) -> u64 {
        n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    #[test]
    fn rows_are_found_removed_and_their_slots_used_again() {
        let mut table = RowTable::default();
        for n in 0..1_000u64 {
            assert_eq!(table.insert(hash(&n), n), u32::try_from(n).unwrap());
        }
        assert_eq!(table.find(hash(&7), |&r| r == 7), Some(7));
        assert_eq!(table.remove(hash(&7), |&r| r == 7), Some(7));
        assert_eq!(table.find(hash(&7), |&r| r == 7), None);
        assert_eq!(table.len(), 999);
        assert_eq!(table.next_slot(), 7);
        assert_eq!(table.insert(hash(&5_000), 5_000), 7);
        *table.get_mut(8).unwrap() = 8;
        table.shrink_to_fit();
        assert_eq!(table.get(7), Some(&5_000));

        let again = RowTable::from_rows(table.rows().to_vec(), hash).unwrap();
        assert_eq!(again.len(), 1_000);
        assert_eq!(again.find(hash(&999), |&r| r == 999), Some(999));
        table.remove(hash(&3), |&r| r == 3);
        let holed = RowTable::from_rows(table.rows().to_vec(), hash).unwrap();
        assert_eq!(holed.next_slot(), 3);
        assert_eq!(holed.get(3), None);
    }
}
