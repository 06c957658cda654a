//! Passive health of one target (outlier detection, as nginx's `max_fails` and
//! `fail_timeout`): a target that fails `max_fails` times in a row is skipped for a
//! cool-down, which doubles each time it fails again, up to a ceiling; once the cool-down
//! is over, one request probes it (half-open) and its outcome decides. Shared by every
//! worker thread through atomics, without a lock: a healthy target costs one load to
//! pick and one to report a success, and reads no clock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether a target may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Healthy: take it.
    Up,
    /// Its cool-down is over and this request is its one probe.
    Probe,
    /// Cooling down, or another request is probing it.
    Down,
}

/// When a target is skipped, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct HealthPolicy {
    /// Failures in a row that start a cool-down; 0 = never.
    pub max_fails: u32,
    /// The first cool-down.
    pub fail_timeout: Duration,
    /// The longest cool-down.
    pub max_cool_down: Duration,
}

/// One target's passive health.
#[derive(Debug, Default)]
pub struct TargetHealth {
    /// Failures in a row; not zero whenever the target is cooling down or probed.
    fails: AtomicU32,
    /// Cool-downs in a row: the next one lasts `fail_timeout × 2^cool_downs`.
    cool_downs: AtomicU32,
    /// 0 = up; else `until << 1 | probing`: milliseconds (since [`clock_base`]) until
    /// which the target is skipped, and whether that span is a probe's.
    state: AtomicU64,
}

/// The bit of [`TargetHealth::state`] that says a probe went out.
const PROBING: u64 = 1;

impl TargetHealth {
    /// Whether the target may take a request at `now` (milliseconds from [`now_ms`],
    /// read only when the target is not up). A request that gets `Probe` is the only one
    /// let through until it reports, or until a cool-down's length has passed (a probe
    /// that never reports does not keep the target out forever).
    pub fn availability(&self, policy: &HealthPolicy, now: impl FnOnce() -> u64) -> Availability {
        let state = self.state.load(Ordering::Relaxed);
        if state == 0 {
            return Availability::Up;
        }
        let now = now();
        if now < state >> 1 {
            return Availability::Down;
        }
        // The cool-down that just ended: `cool_downs` counts it already.
        let ended = self.cool_downs.load(Ordering::Relaxed).saturating_sub(1);
        let window = self.cool_down(policy, ended);
        let probe = (now + millis(window)) << 1 | PROBING;
        match self
            .state
            .compare_exchange(state, probe, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Availability::Probe,
            Err(_) => Availability::Down,
        }
    }

    /// Whether the target is skipped at `now` (cooling down, or its one probe is out): a
    /// look that, unlike [`TargetHealth::availability`], never claims the probe.
    pub fn is_down(&self, now: u64) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        state != 0 && now < state >> 1
    }

    /// The target answered: it is up again, whatever it was. True when it was being
    /// skipped (cooling down or probed) until now: it came back.
    pub fn succeeded(&self) -> bool {
        if self.fails.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let was = self.state.swap(0, Ordering::Relaxed);
        self.cool_downs.store(0, Ordering::Relaxed);
        self.fails.store(0, Ordering::Relaxed);
        was != 0
    }

    /// The target failed at `now` (milliseconds from [`now_ms`]). Up, it starts a
    /// cool-down at its `max_fails`th failure in a row; a failed probe starts a longer
    /// one; a failure while it cools down (a request sent before it went down) changes
    /// nothing.
    pub fn failed(&self, policy: &HealthPolicy, now: u64) {
        let fails = self.fails.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let state = self.state.load(Ordering::Relaxed);
        let cooling = state != 0 && state & PROBING == 0;
        if policy.max_fails == 0 || cooling || (state == 0 && fails < policy.max_fails) {
            return;
        }
        let cool_downs = self.cool_downs.fetch_add(1, Ordering::Relaxed);
        let until = now + millis(self.cool_down(policy, cool_downs));
        self.state.store(until << 1, Ordering::Relaxed);
    }

    /// The length of the cool-down after `cool_downs` others in a row.
    fn cool_down(&self, policy: &HealthPolicy, cool_downs: u32) -> Duration {
        let factor = 1u32 << cool_downs.min(16);
        policy
            .fail_timeout
            .saturating_mul(factor)
            .min(policy.max_cool_down)
    }
}

/// Whole milliseconds of `span`, at least 1.
fn millis(span: Duration) -> u64 {
    u64::try_from(span.as_millis())
        .unwrap_or(u64::MAX >> 2)
        .max(1)
}

/// The instant health times count from.
fn clock_base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Milliseconds since [`clock_base`], from 1 on.
pub fn now_ms() -> u64 {
    u64::try_from(clock_base().elapsed().as_millis())
        .unwrap_or(u64::MAX >> 2)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: HealthPolicy = HealthPolicy {
        max_fails: 2,
        fail_timeout: Duration::from_millis(1000),
        max_cool_down: Duration::from_millis(4000),
    };

    fn at(health: &TargetHealth, now: u64) -> Availability {
        health.availability(&POLICY, || now)
    }

    #[test]
    fn a_target_goes_down_after_max_fails_in_a_row() {
        let health = TargetHealth::default();
        health.failed(&POLICY, 100);
        assert_eq!(at(&health, 100), Availability::Up, "one failure of two");
        assert!(!health.succeeded(), "it was never skipped");
        health.failed(&POLICY, 100);
        assert_eq!(
            at(&health, 100),
            Availability::Up,
            "a success broke the row"
        );
        health.failed(&POLICY, 100);
        assert_eq!(at(&health, 100), Availability::Down);
        assert_eq!(at(&health, 1099), Availability::Down, "cooling down");
    }

    #[test]
    fn after_the_cool_down_one_request_probes() {
        let health = TargetHealth::default();
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 0);
        assert_eq!(at(&health, 1000), Availability::Probe);
        assert_eq!(at(&health, 1000), Availability::Down, "one probe at a time");
        assert_eq!(at(&health, 1500), Availability::Down);
        assert!(health.succeeded(), "it came back");
        assert!(!health.succeeded(), "once");
        assert_eq!(at(&health, 1500), Availability::Up, "the probe answered");
        health.failed(&POLICY, 1500);
        assert_eq!(at(&health, 1500), Availability::Up, "the row starts anew");
    }

    #[test]
    fn the_cool_down_doubles_while_probes_fail_up_to_the_ceiling() {
        let health = TargetHealth::default();
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 0);
        let mut now = 1000;
        for expected in [2000, 4000, 4000] {
            assert_eq!(at(&health, now), Availability::Probe);
            health.failed(&POLICY, now);
            assert_eq!(at(&health, now + expected - 1), Availability::Down);
            now += expected;
        }
        assert_eq!(at(&health, now), Availability::Probe);
    }

    #[test]
    fn failures_of_requests_sent_before_the_cool_down_do_not_lengthen_it() {
        let health = TargetHealth::default();
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 10);
        health.failed(&POLICY, 20);
        assert_eq!(at(&health, 1000), Availability::Probe, "still 1 s from 0");
    }

    #[test]
    fn a_probe_that_never_reports_lets_another_through_a_cool_down_later() {
        let health = TargetHealth::default();
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 0);
        assert_eq!(at(&health, 1000), Availability::Probe);
        assert_eq!(at(&health, 1999), Availability::Down);
        assert_eq!(at(&health, 2000), Availability::Probe);
    }

    #[test]
    fn is_down_looks_without_claiming_the_probe() {
        let health = TargetHealth::default();
        assert!(!health.is_down(0));
        health.failed(&POLICY, 0);
        health.failed(&POLICY, 0);
        assert!(health.is_down(999));
        assert!(!health.is_down(1000), "the cool-down is over");
        assert_eq!(
            at(&health, 1000),
            Availability::Probe,
            "the probe is still there"
        );
        assert!(health.is_down(1000), "its probe is out");
    }

    #[test]
    fn max_fails_zero_never_skips_a_target() {
        let policy = HealthPolicy {
            max_fails: 0,
            ..POLICY
        };
        let health = TargetHealth::default();
        for _ in 0..10 {
            health.failed(&policy, 0);
        }
        assert_eq!(health.availability(&policy, || 0), Availability::Up);
    }
}
