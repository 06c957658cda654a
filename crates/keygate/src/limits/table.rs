//! The counters of every rate limit on this node: one GCRA TAT per (limit, subject),
//! in shards of small hash maps behind their own locks.
//!
//! - A subject is a 64-bit keyed hash of the limit's id and the value counted by (a key
//!   id, a consumer name, an address, a header's value): the table never holds a key,
//!   a name or a header, and a check allocates nothing unless it sees a subject for the
//!   first time (then its shard's map may grow).
//! - State is created only for subjects seen, and [`Limiter::sweep`] drops every TAT
//!   that is no longer ahead of now: such a subject has its whole count back, exactly as
//!   one never seen. Memory is bounded by the subjects active within their windows.
//! - Two subjects whose hashes collide (odds about n²/2⁶⁵ for n live subjects, 3·10⁻⁸ for
//!   a million) would share one counter; the hash's seed is random per process, so a
//!   client cannot choose values that collide.
//! - Shared across nodes (`limits::redis_sync`), the table also notes what each subject
//!   took since the last synchronisation ([`Limiter::drain_pending`]), takes in the
//!   cluster's counts ([`Limiter::merge`]), hashes with the cluster's seed, and while
//!   Redis is down counts against a share of each limit or refuses ([`SyncMode`]).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use super::gcra::{self, Outcome, Rate};

/// Shards: enough that worker threads rarely meet on one lock.
const SHARDS: usize = 64;

/// Which value a subject was made of, so that a key id and an address that happen to be
/// the same bytes are different subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SubjectKind {
    /// A key id.
    Key = 1,
    /// A consumer name.
    Consumer = 2,
    /// A subscription id.
    Subscription = 3,
    /// A client's IP address.
    ClientAddress = 4,
    /// A request header's value.
    Header = 5,
}

/// How the limits count while they are shared across nodes (`limits::redis_sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SyncMode {
    /// Alone, or synchronised: each limit counts in full (the cluster's counts are merged
    /// in by the sync task).
    Whole = 0,
    /// Redis is down: each limit counts `count ÷ nodes` on this node.
    Share = 1,
    /// Redis is down and the configuration says refuse: every limited call is refused.
    Refuse = 2,
    /// Exact mode with Redis up: rate limits are taken in Redis (`limits::exact`), not
    /// here; a take here (a call that read the mode just before it changed) counts whole.
    Exact = 3,
}

/// One shard: the TAT of each subject and, while shared across nodes, the time each
/// subject's TAT moved on since the last synchronisation.
#[derive(Default)]
struct Shard {
    tats: HashMap<u64, u64, Identity>,
    pending: HashMap<u64, u64, Identity>,
}

/// The rate-limit counters of this node.
pub struct Limiter {
    shards: Box<[Mutex<Shard>]>,
    /// Time 0 of the counters' clock.
    origin: Instant,
    /// Hashes subjects; seeded at random per process.
    hasher: foldhash::fast::RandomState,
    /// The cluster's hash seed once known (0: none, use `hasher`).
    shared_seed: AtomicU64,
    /// Whether takes are noted for the sync task.
    noting: AtomicBool,
    /// A [`SyncMode`].
    mode: AtomicU8,
    /// The nodes a limit is shared by in [`SyncMode::Share`] (at least 1).
    nodes: AtomicU32,
    /// In exact mode, the Redis connection rate limits are taken through.
    exact: OnceLock<super::exact::ExactRedis>,
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            origin: Instant::now(),
            hasher: foldhash::fast::RandomState::default(),
            shared_seed: AtomicU64::new(0),
            noting: AtomicBool::new(false),
            mode: AtomicU8::new(SyncMode::Whole as u8),
            nodes: AtomicU32::new(1),
            exact: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").finish_non_exhaustive()
    }
}

impl Limiter {
    /// Now on the counters' clock: nanoseconds since the limiter was made, plus one so
    /// that no TAT is ever 0 (the value of "never seen").
    pub fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// The subject of limit `limit` (its id) counting `value` of `kind`.
    pub fn subject(&self, limit: u64, kind: SubjectKind, value: &[u8]) -> u64 {
        let seed = self.shared_seed.load(Ordering::Relaxed);
        let mut hasher = if seed == 0 {
            self.hasher.build_hasher()
        } else {
            foldhash::fast::FixedState::with_seed(seed).build_hasher()
        };
        hasher.write_u64(limit);
        hasher.write_u8(kind as u8);
        hasher.write(value);
        hasher.finish()
    }

    /// Takes `cost` from `subject` under `rate` at `now`; changes nothing when refused.
    pub fn take(&self, subject: u64, rate: Rate, cost: u64, now: u64) -> Outcome {
        let rate = match self.mode() {
            SyncMode::Whole | SyncMode::Exact => rate,
            SyncMode::Share => rate.shared_by(u64::from(self.nodes.load(Ordering::Relaxed))),
            SyncMode::Refuse => return gcra::refused(rate),
        };
        let mut shard = self.shard(subject);
        let tat = shard.tats.get(&subject).copied().unwrap_or(0);
        let (next, outcome) = gcra::take(tat, now, cost, rate);
        if let Some(next) = next {
            shard.tats.insert(subject, next);
            if self.noting.load(Ordering::Relaxed) {
                *shard.pending.entry(subject).or_insert(0) += next - tat.max(now);
            }
        }
        outcome
    }

    /// Gives back a `cost` that [`Limiter::take`] admitted, when another limit of the same
    /// request refused it.
    pub fn give_back(&self, subject: u64, rate: Rate, cost: u64) {
        let rate = match self.mode() {
            SyncMode::Share => rate.shared_by(u64::from(self.nodes.load(Ordering::Relaxed))),
            SyncMode::Whole | SyncMode::Refuse | SyncMode::Exact => rate,
        };
        let mut shard = self.shard(subject);
        if let Some(tat) = shard.tats.get_mut(&subject) {
            let before = *tat;
            *tat = gcra::give_back(before, cost, rate);
            let returned = before - *tat;
            if let Some(pending) = shard.pending.get_mut(&subject) {
                *pending = pending.saturating_sub(returned);
            }
        }
    }

    /// What `subject` may do at `now`, without taking anything.
    pub fn peek(&self, subject: u64, rate: Rate, now: u64) -> Outcome {
        let tat = self.shard(subject).tats.get(&subject).copied().unwrap_or(0);
        gcra::peek(tat, now, rate)
    }

    /// Starts noting takes for the sync task: from now on each admitted take adds the time
    /// it moved its subject's TAT on to the subject's pending debt.
    pub fn note_takes(&self) {
        self.noting.store(true, Ordering::Relaxed);
    }

    /// Hashes subjects with the cluster's `seed` (not 0) from now on, so that every node
    /// names a subject alike. Counts taken under the process's own seed are left to the
    /// sweep.
    pub fn share_seed(&self, seed: u64) {
        self.shared_seed.store(seed.max(1), Ordering::Relaxed);
    }

    /// How takes count from now on; `nodes` is what [`SyncMode::Share`] divides by.
    pub fn set_mode(&self, mode: SyncMode, nodes: u32) {
        self.nodes.store(nodes.max(1), Ordering::Relaxed);
        self.mode.store(mode as u8, Ordering::Relaxed);
    }

    /// Leaves [`SyncMode::Exact`] for `down` (a Redis call on the request path failed);
    /// true for the one caller that made the change. Counts start afresh.
    pub fn fall_back(&self, down: SyncMode) -> bool {
        let exact = SyncMode::Exact as u8;
        let changed = self
            .mode
            .compare_exchange(exact, down as u8, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok();
        if changed {
            self.clear();
        }
        changed
    }

    /// Exact mode's Redis connection, set once at start (`limits::redis_sync`).
    pub fn set_exact(&self, exact: super::exact::ExactRedis) {
        let _ = self.exact.set(exact);
    }

    /// Exact mode's Redis connection, when the mode is on.
    pub fn exact(&self) -> Option<&super::exact::ExactRedis> {
        self.exact.get()
    }

    /// How takes count now.
    pub fn mode(&self) -> SyncMode {
        match self.mode.load(Ordering::Relaxed) {
            1 => SyncMode::Share,
            2 => SyncMode::Refuse,
            3 => SyncMode::Exact,
            _ => SyncMode::Whole,
        }
    }

    /// Takes every subject's pending debt (nanoseconds its TAT moved on since the last
    /// drain), leaving none; at most `max` subjects per call, so a caller can send them in
    /// batches.
    pub fn drain_pending(&self, max: usize, into: &mut Vec<(u64, u64)>) {
        for shard in self.shards.iter() {
            if into.len() >= max {
                return;
            }
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            let room = max - into.len();
            if shard.pending.len() <= room {
                into.extend(shard.pending.drain());
            } else {
                let taken: Vec<u64> = shard.pending.keys().take(room).copied().collect();
                for subject in taken {
                    if let Some(debt) = shard.pending.remove(&subject) {
                        into.push((subject, debt));
                    }
                }
            }
        }
    }

    /// Drops every count: each subject starts afresh, as never seen. The sync task does
    /// this when Redis goes and when it comes back, so that counts made at one pace (the
    /// cluster's, or a node's share) do not hold a subject back at the other.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.tats.clear();
            shard.pending.clear();
        }
    }

    /// Drops every pending debt (what was taken while the cluster could not be told).
    pub fn forget_pending(&self) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pending
                .clear();
        }
    }

    /// Takes in the cluster's count of `subject`: its TAT was `ahead_ns` ahead of the
    /// cluster's clock (counting every node's pushed debt, this one's included). The
    /// subject's TAT becomes `now + ahead_ns` plus what this node took since its debt was
    /// drained.
    pub fn merge(&self, subject: u64, ahead_ns: u64, now: u64) {
        let mut shard = self.shard(subject);
        let since = shard.pending.get(&subject).copied().unwrap_or(0);
        let tat = now.saturating_add(ahead_ns).saturating_add(since);
        if ahead_ns == 0 && since == 0 {
            shard.tats.remove(&subject);
        } else {
            shard.tats.insert(subject, tat);
        }
    }

    /// Drops every subject whose TAT is not ahead of `now` (it has its whole count back);
    /// one shard at a time, so requests wait at most for one shard's pass.
    pub fn sweep(&self, now: u64) {
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.tats.retain(|_, tat| *tat > now);
            if shard.tats.capacity() > 64 && shard.tats.capacity() > 4 * shard.tats.len() {
                shard.tats.shrink_to_fit();
            }
        }
    }

    /// Subjects held (for tests and the status page).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().unwrap_or_else(|e| e.into_inner()).tats.len())
            .sum()
    }

    /// Whether no subject is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, subject: u64) -> std::sync::MutexGuard<'_, Shard> {
        // The top bits pick the shard; the map's own hash uses the low bits.
        let index = (subject >> 58) as usize % SHARDS;
        self.shards[index].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The map's hasher: subjects are already hashes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl BuildHasher for Identity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

/// Passes a `u64` through.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests;
