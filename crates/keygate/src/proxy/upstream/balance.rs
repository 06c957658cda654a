//! Which target a request goes to (`balance:`), by target index: smooth weighted
//! round-robin, least outstanding requests, or consistent hashing on a ring. The choice
//! asks a caller-given `usable` check (passive health today) only of the target it is
//! about to return, so a check with a side effect (a half-open probe) is made once, for
//! the target that gets the request.
//!
//! Nothing here locks or allocates per request, and round-robin reads no clock:
//! round-robin is one `fetch_add` into a schedule built once per upstream (nginx's smooth
//! weighted sequence, so `5, 1, 1` interleaves as `a a b a c a a`); least outstanding
//! scans the targets' in-flight counters (fine for the few targets a service has); hash
//! is a binary search of a ring of 160 points per unit of weight (nginx's `hash ...
//! consistent`, ketama), built once per upstream from each target's URL, so that removing
//! one target moves only the hashes that were on it. With `slow_start`, a target that
//! comes back gets a share of its turns (or of its weight) rising linearly; only then is
//! the clock read.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use super::health::now_ms;
use crate::config::{Balance, HashOn, Target};

/// The seed of every hash of the ring and of requests: fixed, so that every node and
/// every reload put a consumer on the same target.
const SEED: u64 = 0x6b65_7967_6174_6521;

/// What of a request `hash_on` may name, borrowed from the request path.
#[derive(Debug, Clone, Copy)]
pub struct HashInputs<'r> {
    /// The consumer's name; `None` for an anonymous call.
    pub consumer: Option<&'r str>,
    /// The key's id; `None` for an anonymous call.
    pub key_id: Option<&'r str>,
    /// The client's address.
    pub client: IpAddr,
    /// The request's fields as the client sent them.
    pub headers: &'r HeaderMap,
}

/// A request's place on the hash ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affinity(u64);

/// A request under way on a target (least outstanding): counted from the try's start
/// until this is dropped — when the try fails, when the response body has been read to
/// its end, or when the request is cancelled.
#[derive(Debug)]
pub struct Outstanding(Arc<AtomicUsize>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How one upstream chooses among its targets.
#[derive(Debug)]
pub struct Balancer {
    /// Turns taken: the round-robin position, and where a least-outstanding scan starts.
    next: AtomicUsize,
    /// Targets.
    count: usize,
    /// Target indices in smooth weighted order; `None` when every weight is the same (the
    /// order is then the targets').
    schedule: Option<Box<[u32]>>,
    policy: Policy,
    /// `slow_start` in milliseconds; 0 = off.
    slow_start_ms: u64,
    /// Per target, when it came back (milliseconds from [`now_ms`]); 0 = at its full
    /// weight. Empty when slow start is off.
    came_back: Box<[AtomicU64]>,
}

#[derive(Debug)]
enum Policy {
    RoundRobin,
    LeastOutstanding {
        weights: Box<[u32]>,
        /// Requests under way per target.
        loads: Box<[Arc<AtomicUsize>]>,
    },
    Hash {
        on: HashOn,
        ring: Ring,
    },
}

/// A consistent-hash ring: sorted points, and the target owning each.
#[derive(Debug)]
struct Ring {
    points: Box<[u64]>,
    owners: Box<[u32]>,
    /// The bits (see [`bit`]) of every target.
    all: u64,
}

impl Balancer {
    /// The balancer of `targets` as `balance` says.
    pub fn new(balance: &Balance, targets: &[Target]) -> Balancer {
        let weights: Vec<u32> = targets.iter().map(|t| t.weight.max(1)).collect();
        let policy = match balance {
            Balance::RoundRobin => Policy::RoundRobin,
            Balance::LeastOutstanding => Policy::LeastOutstanding {
                weights: weights.clone().into(),
                loads: targets.iter().map(|_| Arc::default()).collect(),
            },
            Balance::Hash(on) => Policy::Hash {
                on: on.clone(),
                ring: Ring::new(targets, &weights),
            },
        };
        Balancer {
            next: AtomicUsize::new(0),
            count: targets.len(),
            schedule: smooth_schedule(&weights),
            policy,
            slow_start_ms: 0,
            came_back: Box::default(),
        }
    }

    /// The same, with targets that come back ramping up to their weight over
    /// `slow_start` (round-robin and least outstanding; hashing ignores it).
    #[must_use]
    pub fn with_slow_start(self, slow_start: Option<Duration>) -> Balancer {
        let Some(slow_start) = slow_start.filter(|span| !span.is_zero()) else {
            return self;
        };
        Balancer {
            slow_start_ms: u64::try_from(slow_start.as_millis()).unwrap_or(u64::MAX),
            came_back: (0..self.count).map(|_| AtomicU64::new(0)).collect(),
            ..self
        }
    }

    /// The target at `index` is back after being skipped: with slow start, its share
    /// starts from nothing and rises to its weight's over `slow_start`.
    pub fn came_back(&self, index: usize) {
        if let Some(since) = self.came_back.get(index) {
            since.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// The share of its weight the target at `index` has now, in thousandths, while it
    /// slow-starts; `None` at full weight. Reads the clock (into `now`) only for a target
    /// that came back.
    fn ramp(&self, index: usize, now: &mut Option<u64>) -> Option<u64> {
        let since = self.came_back.get(index)?;
        let at = since.load(Ordering::Relaxed);
        if at == 0 {
            return None;
        }
        let elapsed = now.get_or_insert_with(now_ms).saturating_sub(at);
        if elapsed >= self.slow_start_ms {
            let _ = since.compare_exchange(at, 0, Ordering::Relaxed, Ordering::Relaxed);
            return None;
        }
        Some(elapsed.saturating_mul(1000) / self.slow_start_ms)
    }

    /// Whether the target at `index` takes the round-robin `turn` it was drawn for: always
    /// at full weight; while it slow-starts, that share of its turns (spread over them by
    /// a hash of the turn).
    fn takes_turn(&self, index: usize, turn: usize, now: &mut Option<u64>) -> bool {
        match self.ramp(index, now) {
            None => true,
            Some(thousandths) => {
                let spread = (turn as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32;
                spread % 1000 < thousandths
            }
        }
    }

    /// The weight of the target at `index` for least outstanding, in thousandths of a
    /// unit: `weight × 1000`, less while it slow-starts (never 0).
    fn effective_weight(&self, weight: u32, index: usize, now: &mut Option<u64>) -> u64 {
        let share = self.ramp(index, now).unwrap_or(1000).max(1);
        u64::from(weight) * share
    }

    /// Where a request sits on the ring, for `balance: hash`; `None` for other policies
    /// and for a request without what `hash_on` names (it goes round-robin).
    pub fn affinity(&self, inputs: &HashInputs<'_>) -> Option<Affinity> {
        let Policy::Hash { on, .. } = &self.policy else {
            return None;
        };
        let mut hasher = hasher();
        match on {
            HashOn::Consumer => hasher.write(inputs.consumer?.as_bytes()),
            HashOn::Key => hasher.write(inputs.key_id?.as_bytes()),
            HashOn::ClientAddress => match inputs.client {
                IpAddr::V4(ip) => hasher.write(&ip.octets()),
                IpAddr::V6(ip) => hasher.write(&ip.octets()),
            },
            HashOn::Header(name) => hasher.write(inputs.headers.get(name)?.as_bytes()),
        }
        Some(Affinity(hasher.finish()))
    }

    /// A request's first target: the policy's choice among the targets `usable` accepts,
    /// or, when it accepts none, the policy's choice among all. `None` only without
    /// targets.
    pub fn first(
        &self,
        affinity: Option<Affinity>,
        mut usable: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        if self.count == 0 {
            return None;
        }
        match (&self.policy, affinity) {
            (Policy::LeastOutstanding { weights, loads }, _) => {
                let start = self.turn_start();
                self.least(weights, loads, start, 0, &mut usable)
                    .or_else(|| self.least(weights, loads, start, 0, &mut |_| true))
            }
            (Policy::Hash { ring, .. }, Some(Affinity(hash))) => ring
                .walk(hash, 0, &mut usable)
                .or_else(|| ring.walk(hash, 0, &mut |_| true)),
            _ => Some(self.in_turn(&mut usable)),
        }
    }

    /// The target a request goes on to after a failed try: the policy's choice among
    /// targets not `tried` (a bit per target index, see [`bit`]) that `usable` accepts —
    /// the next in index order after `failed` for round-robin, the least loaded, or the
    /// next along the ring. `None` when there is none.
    pub fn after(
        &self,
        failed: usize,
        affinity: Option<Affinity>,
        tried: u64,
        mut usable: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        match (&self.policy, affinity) {
            (Policy::LeastOutstanding { weights, loads }, _) => self.least(
                weights,
                loads,
                (failed + 1) % self.count,
                tried,
                &mut usable,
            ),
            (Policy::Hash { ring, .. }, Some(Affinity(hash))) => {
                ring.walk(hash, tried, &mut usable)
            }
            _ => (1..=self.count)
                .map(|step| (failed + step) % self.count)
                .filter(|&index| tried & bit(index) == 0)
                .find(|&index| usable(index)),
        }
    }

    /// Counts a try on the target at `index` as under way until the returned guard is
    /// dropped; `None` (nothing counted) unless the policy is least outstanding.
    pub fn start(&self, index: usize) -> Option<Outstanding> {
        let Policy::LeastOutstanding { loads, .. } = &self.policy else {
            return None;
        };
        let load = loads.get(index)?;
        load.fetch_add(1, Ordering::Relaxed);
        Some(Outstanding(load.clone()))
    }

    /// The requests under way on the target at `index` (least outstanding only; else 0).
    #[cfg(test)]
    pub fn outstanding(&self, index: usize) -> usize {
        match &self.policy {
            Policy::LeastOutstanding { loads, .. } => loads[index].load(Ordering::Relaxed),
            _ => 0,
        }
    }

    /// Where a least-outstanding scan starts: the target whose round-robin turn it is, so
    /// that targets equally loaded take turns by weight (as nginx's `least_conn`).
    fn turn_start(&self) -> usize {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        match &self.schedule {
            None => turn % self.count,
            Some(schedule) => schedule[turn % schedule.len()] as usize,
        }
    }

    /// The next target in the weighted round-robin order that `usable` accepts (and that
    /// takes the turn, see [`Balancer::takes_turn`]); one refused gives up its turn, and the next turn is taken, so that its share goes to
    /// the others by their weights (each refusal costs a turn of the shared counter: only
    /// while a target is down). The one whose turn it was when `usable` accepts none.
    fn in_turn(&self, usable: &mut impl FnMut(usize) -> bool) -> usize {
        let (length, schedule) = match &self.schedule {
            None => (self.count, None),
            Some(schedule) => (schedule.len(), Some(schedule)),
        };
        let slot = |turn: usize| match schedule {
            None => turn % length,
            Some(schedule) => schedule[turn % length] as usize,
        };
        let every = match self.count {
            64.. => None,
            count => Some((1u64 << count) - 1),
        };
        let mut turn = self.next.fetch_add(1, Ordering::Relaxed);
        let first = slot(turn);
        let mut index = first;
        let mut refused = 0u64;
        let mut drawn = 1;
        let mut now = None;
        for _ in 0..length {
            let known = index < 64 && refused & bit(index) != 0;
            if !known {
                if self.takes_turn(index, turn, &mut now) && usable(index) {
                    return index;
                }
                if index < 64 {
                    refused |= bit(index);
                }
                if every == Some(refused) {
                    break;
                }
            }
            turn = self.next.fetch_add(1, Ordering::Relaxed);
            index = slot(turn);
            drawn += 1;
        }
        // None usable: the turns drawn past the first are given back, so that the targets
        // still take turns as if none were refused.
        self.next.fetch_sub(drawn - 1, Ordering::Relaxed);
        first
    }
}

impl Balancer {
    /// The target with the fewest requests under way for its weight (`loads[i] /
    /// weights[i]` smallest, the weight lowered while the target slow-starts), among
    /// those not in `tried` that `usable` accepts; ties go to the first from `start` on.
    fn least(
        &self,
        weights: &[u32],
        loads: &[Arc<AtomicUsize>],
        start: usize,
        tried: u64,
        usable: &mut impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let count = weights.len();
        let mut excluded = tried;
        let mut now = None;
        loop {
            let mut best: Option<(usize, u64, u64)> = None;
            for step in 0..count {
                let index = (start + step) % count;
                if excluded & bit(index) != 0 {
                    continue;
                }
                let load = loads[index].load(Ordering::Relaxed) as u64;
                let weight = self.effective_weight(weights[index], index, &mut now);
                // load / weight < best_load / best_weight, without division.
                let better = best.is_none_or(|(_, best_load, best_weight)| {
                    load * best_weight < best_load * weight
                });
                if better {
                    best = Some((index, load, weight));
                }
            }
            let (index, _, _) = best?;
            if usable(index) {
                return Some(index);
            }
            excluded |= bit(index);
        }
    }
}

impl Ring {
    /// 160 points per unit of weight for each target, placed by a hash of its URL (and,
    /// for a URL listed twice, of which time it is), so that a target's points stay where
    /// they are whatever other targets come or go.
    fn new(targets: &[Target], weights: &[u32]) -> Ring {
        let mut points: Vec<(u64, u32)> = Vec::new();
        let mut all = 0;
        for (index, (target, &weight)) in targets.iter().zip(weights).enumerate() {
            all |= bit(index);
            let identity = format!("{}{}", target.authority, target.base_path);
            let repeat = targets[..index]
                .iter()
                .filter(|t| t.authority == target.authority && t.base_path == target.base_path)
                .count() as u32;
            let owner = u32::try_from(index).unwrap_or(u32::MAX);
            for point in 0..weight.saturating_mul(Balance::RING_POINTS_PER_WEIGHT) {
                let mut hasher = hasher();
                hasher.write(identity.as_bytes());
                hasher.write_u32(repeat);
                hasher.write_u32(point);
                points.push((hasher.finish(), owner));
            }
        }
        points.sort_unstable();
        Ring {
            points: points.iter().map(|&(point, _)| point).collect(),
            owners: points.iter().map(|&(_, owner)| owner).collect(),
            all,
        }
    }

    /// The owner of the first point at or after `hash` (around the ring) that is not in
    /// `tried` and that `usable` accepts; `None` when no target is left.
    fn walk(&self, hash: u64, tried: u64, usable: &mut impl FnMut(usize) -> bool) -> Option<usize> {
        let length = self.points.len();
        if length == 0 {
            return None;
        }
        let start = self.points.partition_point(|&point| point < hash);
        let mut excluded = tried;
        for step in 0..length {
            if excluded & self.all == self.all {
                return None;
            }
            let owner = self.owners[(start + step) % length] as usize;
            if excluded & bit(owner) != 0 {
                continue;
            }
            if usable(owner) {
                return Some(owner);
            }
            excluded |= bit(owner);
        }
        None
    }
}

/// The hasher of ring points and request values.
fn hasher() -> impl Hasher {
    foldhash::quality::FixedState::with_seed(SEED).build_hasher()
}

/// Target indices in nginx's smooth weighted round-robin order over one cycle (each
/// target `weight / gcd` times); `None` when every weight is the same.
fn smooth_schedule(weights: &[u32]) -> Option<Box<[u32]>> {
    let first = *weights.first()?;
    if weights.iter().all(|&weight| weight == first) {
        return None;
    }
    let divisor = weights.iter().fold(0, |d, &w| gcd(d, w)).max(1);
    let weights: Vec<i64> = weights.iter().map(|&w| i64::from(w / divisor)).collect();
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    let mut schedule = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut chosen = 0;
        for (index, weight) in weights.iter().enumerate() {
            current[index] += weight;
            if current[index] > current[chosen] {
                chosen = index;
            }
        }
        current[chosen] -= total;
        schedule.push(u32::try_from(chosen).unwrap_or(u32::MAX));
    }
    Some(schedule.into())
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The bit of the target at `index` in a set of targets (targets past the 64th share
/// bits).
pub fn bit(index: usize) -> u64 {
    1 << (index % 64)
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
