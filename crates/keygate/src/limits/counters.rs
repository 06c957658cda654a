//! Durable usage counters — quotas and credits — as this node holds them: the request
//! path counts in memory, and a background task ([`crate::limits::flush`]) adds the
//! counted deltas to the store every `limits.flush_interval` and reads every node's
//! totals back. The request path never waits for the store.
//!
//! Each counter is a (subject, window) pair: the subject a stable 64-bit hash (SHA-256)
//! of the limit and the value it counts by — stable across processes and nodes, unlike
//! the rate limiter's per-process seed, because it names a row of the store; the window
//! the start of its calendar period (0 for none). A counter's use is `stored` (the total
//! the store last reported, plus the deltas handed to it since) plus `pending` (counted
//! here and not handed over yet). A take holds the shard's lock across its check and its
//! add, so on one node a count of N admits exactly N, whatever the concurrency.

use std::collections::HashMap;
use std::sync::Mutex;

use keygate_store::CounterRow;
use sha2::{Digest, Sha256};

/// Shards: enough that worker threads rarely meet on one lock.
const SHARDS: usize = 16;

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    /// The store's total as last read, plus the deltas handed over since.
    stored: i64,
    /// Counted here, not handed to the store yet (negative after a give-back).
    pending: i64,
    /// After this time (ms) the counter is of no use.
    keep_until: i64,
}

impl Count {
    fn used(&self) -> u64 {
        u64::try_from(self.stored.saturating_add(self.pending)).unwrap_or(0)
    }
}

/// One shard: (subject, window) → count.
type Shard = Mutex<HashMap<(u64, i64), Count>>;

/// The durable counters of this node.
pub struct Counters {
    shards: Box<[Shard]>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters").finish_non_exhaustive()
    }
}

/// What a take found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// Whether the cost fitted in what was left (and was counted).
    pub admitted: bool,
    /// Units left after the take (before it, when refused).
    pub remaining: u64,
}

/// The stable subject of `limit` (a durable id) counting `value` of kind `kind`.
pub fn subject(limit: u64, kind: u8, value: &[u8]) -> u64 {
    let mut hash = Sha256::new();
    hash.update(limit.to_le_bytes());
    hash.update([kind]);
    hash.update(value);
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

impl Counters {
    fn shard(&self, subject: u64) -> std::sync::MutexGuard<'_, HashMap<(u64, i64), Count>> {
        let index = usize::try_from(subject >> 60).unwrap_or(0) % self.shards.len();
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `cost` against `allowance` for the counter (`subject`, `window`) when it
    /// fits; nothing when it does not.
    pub fn take(
        &self,
        subject: u64,
        window: i64,
        keep_until: i64,
        allowance: u64,
        cost: u64,
    ) -> Taken {
        let mut shard = self.shard(subject);
        let count = shard.entry((subject, window)).or_insert(Count {
            keep_until,
            ..Count::default()
        });
        let used = count.used();
        let left = allowance.saturating_sub(used);
        if cost > left {
            return Taken {
                admitted: false,
                remaining: left,
            };
        }
        count.pending = count
            .pending
            .saturating_add(i64::try_from(cost).unwrap_or(i64::MAX));
        Taken {
            admitted: true,
            remaining: left - cost,
        }
    }

    /// Gives back a take of `cost` (a later limit refused the call).
    pub fn give_back(&self, subject: u64, window: i64, cost: u64) {
        if let Some(count) = self.shard(subject).get_mut(&(subject, window)) {
            count.pending = count
                .pending
                .saturating_sub(i64::try_from(cost).unwrap_or(i64::MAX));
        }
    }

    /// The units left of `allowance`, without taking any.
    pub fn remaining(&self, subject: u64, window: i64, allowance: u64) -> u64 {
        let used = self
            .shard(subject)
            .get(&(subject, window))
            .map_or(0, Count::used);
        allowance.saturating_sub(used)
    }

    /// Hands over every pending delta: they move into `stored` (so this node keeps
    /// counting them while they are written) and are returned for the store.
    pub fn drain(&self) -> Vec<CounterRow> {
        let mut deltas = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for (&(subject, window), count) in shard.iter_mut() {
                if count.pending != 0 {
                    deltas.push(CounterRow {
                        subject: subject as i64,
                        window,
                        used: count.pending,
                        keep_until: count.keep_until,
                    });
                    count.stored = count.stored.saturating_add(count.pending);
                    count.pending = 0;
                }
            }
        }
        deltas
    }

    /// Takes back deltas the store did not accept: they are pending again.
    pub fn restore(&self, deltas: &[CounterRow]) {
        for row in deltas {
            let subject = row.subject as u64;
            let mut shard = self.shard(subject);
            let count = shard.entry((subject, row.window)).or_default();
            count.stored = count.stored.saturating_sub(row.used);
            count.pending = count.pending.saturating_add(row.used);
            count.keep_until = count.keep_until.max(row.keep_until);
        }
    }

    /// Takes the store's totals (read after this node's deltas were written, so they
    /// include them, and every other node's written so far).
    pub fn settle(&self, totals: &[CounterRow]) {
        for row in totals {
            let subject = row.subject as u64;
            let mut shard = self.shard(subject);
            let count = shard.entry((subject, row.window)).or_default();
            count.stored = row.used;
            count.keep_until = count.keep_until.max(row.keep_until);
        }
    }

    /// Drops the counters whose window is over and that have nothing pending.
    pub fn sweep(&self, now_ms: i64) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, count| count.keep_until > now_ms || count.pending != 0);
        }
    }

    /// How many counters this node holds.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether this node holds no counter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{subject, Counters};
    use keygate_store::CounterRow;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn takes_up_to_the_allowance_and_gives_back() {
        let counters = Counters::default();
        let s = subject(1, 1, b"key");
        for left in (0..3).rev() {
            let taken = counters.take(s, 10, 100, 3, 1);
            assert!(taken.admitted);
            assert_eq!(taken.remaining, left);
        }
        assert!(!counters.take(s, 10, 100, 3, 1).admitted);
        counters.give_back(s, 10, 1);
        assert_eq!(counters.remaining(s, 10, 3), 1);
        assert!(
            !counters.take(s, 10, 100, 3, 2).admitted,
            "a cost above what is left"
        );
        // Another window is another counter.
        assert_eq!(counters.remaining(s, 20, 3), 3);
    }

    #[test]
    fn drained_deltas_stay_counted_and_totals_settle() {
        let counters = Counters::default();
        let s = subject(2, 1, b"k");
        counters.take(s, 0, i64::MAX, 10, 4);
        let deltas = counters.drain();
        assert_eq!(deltas.len(), 1);
        assert_eq!(deltas[0].used, 4);
        assert_eq!(
            counters.remaining(s, 0, 10),
            6,
            "handed over, still counted"
        );
        assert!(counters.drain().is_empty(), "nothing pending twice");
        // The write failed: pending again, counted once.
        counters.restore(&deltas);
        assert_eq!(counters.remaining(s, 0, 10), 6);
        assert_eq!(counters.drain()[0].used, 4);
        // The store says another node counted 3 more.
        counters.settle(&[CounterRow {
            subject: s as i64,
            window: 0,
            used: 7,
            keep_until: i64::MAX,
        }]);
        assert_eq!(counters.remaining(s, 0, 10), 3);
    }

    #[test]
    fn subjects_are_stable_and_distinct() {
        assert_eq!(subject(1, 1, b"a"), subject(1, 1, b"a"));
        assert_ne!(subject(1, 1, b"a"), subject(1, 2, b"a"));
        assert_ne!(subject(1, 1, b"a"), subject(2, 1, b"a"));
    }

    #[test]
    fn sweep_keeps_live_and_pending_counters() {
        let counters = Counters::default();
        counters.take(1, 0, 50, 10, 1);
        counters.take(2, 0, 500, 10, 1);
        counters.drain();
        counters.take(3, 0, 50, 10, 1);
        counters.sweep(100);
        assert_eq!(
            counters.len(),
            2,
            "the over one with nothing pending is gone"
        );
    }

    #[test]
    fn threads_racing_get_exactly_the_allowance() {
        let counters = Arc::new(Counters::default());
        let admitted = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (counters, admitted) = (counters.clone(), admitted.clone());
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        if counters.take(9, 0, i64::MAX, 2500, 1).admitted {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        if counters.len() > 1 {
                            break;
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(admitted.load(Ordering::Relaxed), 2500);
        assert_eq!(counters.remaining(9, 0, 2500), 0);
    }
}
