//! Usage counts per hour, key, service and outcome (`allowed`, or why the call was
//! refused): noted by the request path in memory and taken by a background task that
//! adds them to the store's hourly table (`usage_hours`), as [`super::Usage`] does for
//! `last_used_at`.
//!
//! The request path never waits for another thread here: each thread notes into a shard
//! of its own (proxy workers are threads that keep their connections), behind a mutex
//! that only the flush also takes, for the time of one swap. A note is a lookup in a
//! small hash map by the key's SHA-256 (the entry a request holds is built for that
//! request, its address says nothing), the address of the service's name (one per
//! snapshot) and, for a call without a key that went on as the service's anonymous
//! consumer, the address of that consumer's entry (one per snapshot too) — no text is
//! hashed or copied — and the bump of one counter; the entry holds the first key entry,
//! anonymous consumer and service name, which keeps those addresses theirs until the
//! flush. An anonymous consumer's calls are counted under its name, with no key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keygate_store::{UsageRow, HOUR_MS};

use super::{ConsumerEntry, KeyEntry};

/// Room for `allowed` and every refusal reason: the outcome indexes callers pass.
pub const OUTCOMES: usize = 32;

/// Shards: above the number of threads that note uses on most machines, so that each
/// thread has one of its own.
const SHARDS: usize = 64;

/// Where a thread notes its uses.
fn shard_of_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// What one entry counts: the hour, the key by hash (zeros for none), the anonymous
/// consumer by address (0 for none) and the service by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    hour: i64,
    key: [u8; 32],
    anonymous: usize,
    service: usize,
}

/// The counts of one slot, with what its addresses point to.
#[derive(Debug)]
struct Tally {
    key: Option<Arc<KeyEntry>>,
    anonymous: Option<Arc<ConsumerEntry>>,
    service: Option<Arc<str>>,
    counts: [u32; OUTCOMES],
}

type Tallies = HashMap<Slot, Tally, foldhash::fast::FixedState>;

/// One thread's counts, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(Mutex<Tallies>);

/// The usage counts of this node not yet in the store.
#[derive(Debug)]
pub struct UsageCounts {
    shards: Box<[Shard]>,
    /// Rows a failed write left, added again by the next [`UsageCounts::take`].
    unwritten: Mutex<Vec<UsageRow>>,
}

impl Default for UsageCounts {
    fn default() -> Self {
        UsageCounts {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            unwritten: Mutex::new(Vec::new()),
        }
    }
}

impl UsageCounts {
    /// Notes one call at `at_ms` by `key` (none when no key was known) or as the
    /// `anonymous` consumer to `service` (none when no route matched) that ended with
    /// `outcome` (an index below [`OUTCOMES`]; larger ones are not counted).
    pub fn note(
        &self,
        at_ms: i64,
        key: Option<&Arc<KeyEntry>>,
        anonymous: Option<&Arc<ConsumerEntry>>,
        service: Option<&Arc<str>>,
        outcome: usize,
    ) {
        if outcome >= OUTCOMES {
            return;
        }
        let slot = Slot {
            hour: at_ms - at_ms.rem_euclid(HOUR_MS),
            key: key.map_or([0; 32], |key| key.hash.0),
            anonymous: anonymous.map_or(0, |consumer| Arc::as_ptr(consumer) as usize),
            service: service.map_or(0, |service| Arc::as_ptr(service).cast::<u8>() as usize),
        };
        let shard = &self.shards[shard_of_thread()];
        let mut tallies = shard.0.lock().unwrap_or_else(|e| e.into_inner());
        let tally = tallies.entry(slot).or_insert_with(|| Tally {
            key: key.cloned(),
            anonymous: anonymous.cloned(),
            service: service.cloned(),
            counts: [0; OUTCOMES],
        });
        tally.counts[outcome] = tally.counts[outcome].saturating_add(1);
    }

    /// Takes every count noted since the last call (and the rows a failed write gave
    /// back), summed per hour, consumer, key, service and outcome; `name` names an
    /// outcome index.
    pub fn take(&self, name: impl Fn(usize) -> &'static str) -> Vec<UsageRow> {
        type Row = (i64, String, String, String, &'static str);
        let mut sums: HashMap<Row, i64> = HashMap::new();
        for shard in self.shards.iter() {
            let taken = {
                let mut tallies = shard.0.lock().unwrap_or_else(|e| e.into_inner());
                std::mem::take(&mut *tallies)
            };
            for (slot, tally) in taken {
                let (consumer, key_id) = match (&tally.key, &tally.anonymous) {
                    (Some(key), _) => (key.consumer.name.to_string(), key.id.to_string()),
                    (None, Some(consumer)) => (consumer.name.to_string(), String::new()),
                    (None, None) => (String::new(), String::new()),
                };
                let service = tally.service.as_deref().unwrap_or("").to_owned();
                for (outcome, count) in tally.counts.iter().enumerate() {
                    if *count > 0 {
                        let row = (
                            slot.hour,
                            consumer.clone(),
                            key_id.clone(),
                            service.clone(),
                            name(outcome),
                        );
                        *sums.entry(row).or_default() += i64::from(*count);
                    }
                }
            }
        }
        let mut rows: Vec<UsageRow> =
            std::mem::take(&mut *self.unwritten.lock().unwrap_or_else(|e| e.into_inner()));
        rows.extend(sums.into_iter().map(
            |((start, consumer, key_id, service, outcome), count)| UsageRow {
                start,
                consumer,
                key_id,
                service,
                outcome: outcome.to_owned(),
                count,
            },
        ));
        rows
    }

    /// Gives back rows whose write failed, for the next [`UsageCounts::take`].
    pub fn restore(&self, rows: Vec<UsageRow>) {
        let mut unwritten = self.unwritten.lock().unwrap_or_else(|e| e.into_inner());
        unwritten.extend(rows);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::key::KeyHash;
    use crate::state::{test_records, Directory};

    fn key_entry(id: &str, consumer: &str) -> Arc<KeyEntry> {
        let directory = Directory::default();
        directory.put_consumer(&test_records::consumer(consumer, "A"));
        directory.put_key(&test_records::key(id, consumer, id));
        directory.get(&KeyHash::of(id.as_bytes())).unwrap().0
    }

    fn name(outcome: usize) -> &'static str {
        ["allowed", "forbidden", "missing_key"][outcome]
    }

    fn sorted(mut rows: Vec<UsageRow>) -> Vec<(i64, String, String, String, String, i64)> {
        rows.sort_by(|a, b| {
            (a.start, &a.key_id, &a.outcome).cmp(&(b.start, &b.key_id, &b.outcome))
        });
        rows.into_iter()
            .map(|r| (r.start, r.consumer, r.key_id, r.service, r.outcome, r.count))
            .collect()
    }

    #[test]
    fn counts_sum_per_hour_key_service_and_outcome_across_threads() {
        let counts = Arc::new(UsageCounts::default());
        let key = key_entry("k1", "alice");
        let service: Arc<str> = Arc::from("echo");
        let hour = 5 * HOUR_MS;
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..10 {
                        counts.note(hour + 1, Some(&key), None, Some(&service), 0);
                    }
                });
            }
        });
        counts.note(hour + HOUR_MS - 1, Some(&key), None, Some(&service), 1);
        counts.note(hour + HOUR_MS, None, None, Some(&service), 2);
        counts.note(hour, None, None, None, OUTCOMES);
        // Each request holds an entry of its own for the same key: one slot still.
        let again = key_entry("k1", "alice");
        counts.note(hour + 2, Some(&again), None, Some(&service), 0);
        let here = counts.shards[shard_of_thread()].0.lock().unwrap().len();
        assert_eq!(
            here, 2,
            "this thread: k1's hour, the next hour's missing key"
        );
        let rows = sorted(counts.take(name));
        let s = |t: &str| t.to_owned();
        assert_eq!(
            rows,
            vec![
                (hour, s("alice"), s("k1"), s("echo"), s("allowed"), 41),
                (hour, s("alice"), s("k1"), s("echo"), s("forbidden"), 1),
                (hour + HOUR_MS, s(""), s(""), s("echo"), s("missing_key"), 1),
            ]
        );
        assert!(counts.take(name).is_empty(), "taken once");
    }

    #[test]
    fn anonymous_consumer_calls_count_under_its_name_without_a_key() {
        let counts = UsageCounts::default();
        let directory = Directory::default();
        directory.put_consumer(&test_records::consumer("guest", "G"));
        let guest = Arc::new(directory.consumer("guest").unwrap());
        let service: Arc<str> = Arc::from("echo");
        counts.note(0, None, Some(&guest), Some(&service), 0);
        counts.note(1, None, Some(&guest), Some(&service), 0);
        counts.note(2, None, None, Some(&service), 0);
        let rows = sorted(counts.take(name));
        let s = |t: &str| t.to_owned();
        let mut rows = rows;
        rows.sort();
        assert_eq!(
            rows,
            vec![
                (0, s(""), s(""), s("echo"), s("allowed"), 1),
                (0, s("guest"), s(""), s("echo"), s("allowed"), 2),
            ]
        );
    }

    #[test]
    fn restored_rows_come_back_once() {
        let counts = UsageCounts::default();
        counts.note(0, None, None, None, 0);
        let rows = counts.take(name);
        assert_eq!(rows.len(), 1);
        counts.restore(rows.clone());
        assert_eq!(counts.take(name), rows);
        assert!(counts.take(name).is_empty());
    }
}
