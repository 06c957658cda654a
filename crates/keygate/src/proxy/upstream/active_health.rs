//! Active health of one target: the verdict of its health checker (see
//! `proxy::health_checks`), which runs off the request path, one per target for the whole
//! process. A target starts up (as Kong and APISIX do: a gateway that starts or reloads
//! takes traffic at once), goes down after `unhealthy_after` failed checks in a row or
//! `timeouts_after` timed-out ones, and comes back after `healthy_after` good ones.
//!
//! The request path reads one atomic flag; the counts and the last result, which only
//! the checker writes and the admin API reads, sit behind a lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::config::HealthCheck;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The target answered a status of `statuses`.
    Healthy(u16),
    /// The target answered another status.
    Status(u16),
    /// No connection could be made, or the answer was not HTTP.
    Failed,
    /// No status line within `timeout`.
    Timeout,
}

impl CheckOutcome {
    /// The outcome's name in the admin API and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Healthy(_) => "healthy",
            CheckOutcome::Status(_) => "unhealthy_status",
            CheckOutcome::Failed => "connect_failure",
            CheckOutcome::Timeout => "timeout",
        }
    }

    /// The status the target answered, if it did.
    pub fn status(self) -> Option<u16> {
        match self {
            CheckOutcome::Healthy(status) | CheckOutcome::Status(status) => Some(status),
            CheckOutcome::Failed | CheckOutcome::Timeout => None,
        }
    }
}

/// The thresholds of a check, as the state machine needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Good checks in a row that bring a target back.
    pub healthy_after: u32,
    /// Failed checks in a row that take it out.
    pub unhealthy_after: u32,
    /// Timed-out checks in a row that take it out.
    pub timeouts_after: u32,
}

impl Thresholds {
    /// The thresholds of `check`.
    pub fn of(check: &HealthCheck) -> Thresholds {
        Thresholds {
            healthy_after: check.healthy_after,
            unhealthy_after: check.unhealthy_after,
            timeouts_after: check.timeouts_after,
        }
    }
}

/// The counts behind a verdict: a pure state machine, fed one outcome at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Whether the target takes requests.
    pub up: bool,
    /// Good checks in a row.
    pub successes: u32,
    /// Failed checks (status or connection) in a row.
    pub failures: u32,
    /// Timed-out checks in a row.
    pub timeouts: u32,
    /// The last check: its outcome and when it ended; `None` before the first.
    pub last: Option<(CheckOutcome, SystemTime)>,
    /// When `up` last changed (or the checker started).
    pub since: SystemTime,
    /// Checks so far.
    pub checks: u64,
}

impl Tally {
    /// A target not checked yet: up.
    pub fn new(now: SystemTime) -> Tally {
        Tally {
            up: true,
            successes: 0,
            failures: 0,
            timeouts: 0,
            last: None,
            since: now,
            checks: 0,
        }
    }

    /// Counts one check; returns whether `up` changed. A good check clears both failure
    /// counts; a failure clears the good count (and a status or connection failure and a
    /// timeout each keep their own count, as Kong's `http_failures` and `timeouts` do).
    pub fn record(
        &mut self,
        outcome: CheckOutcome,
        thresholds: Thresholds,
        now: SystemTime,
    ) -> bool {
        self.checks = self.checks.saturating_add(1);
        self.last = Some((outcome, now));
        let was_up = self.up;
        match outcome {
            CheckOutcome::Healthy(_) => {
                self.failures = 0;
                self.timeouts = 0;
                self.successes = self.successes.saturating_add(1);
                if self.successes >= thresholds.healthy_after {
                    self.up = true;
                }
            }
            CheckOutcome::Status(_) | CheckOutcome::Failed => {
                self.successes = 0;
                self.failures = self.failures.saturating_add(1);
                if self.failures >= thresholds.unhealthy_after {
                    self.up = false;
                }
            }
            CheckOutcome::Timeout => {
                self.successes = 0;
                self.timeouts = self.timeouts.saturating_add(1);
                if self.timeouts >= thresholds.timeouts_after {
                    self.up = false;
                }
            }
        }
        if self.up != was_up {
            self.since = now;
        }
        self.up != was_up
    }
}

/// One target's active health, shared by its checker, every worker thread and the admin
/// API.
#[derive(Debug)]
pub struct ActiveHealth {
    /// `tally.up`, readable without the lock.
    up: AtomicBool,
    tally: Mutex<Tally>,
}

impl Default for ActiveHealth {
    fn default() -> ActiveHealth {
        ActiveHealth {
            up: AtomicBool::new(true),
            tally: Mutex::new(Tally::new(SystemTime::now())),
        }
    }
}

impl ActiveHealth {
    /// Whether the checker holds the target up: the request path's one read.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Counts one check; returns whether the verdict changed.
    pub fn record(&self, outcome: CheckOutcome, thresholds: Thresholds) -> bool {
        let mut tally = self.lock();
        let changed = tally.record(outcome, thresholds, SystemTime::now());
        self.up.store(tally.up, Ordering::Relaxed);
        changed
    }

    /// A copy of the counts, for the admin API.
    pub fn tally(&self) -> Tally {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLDS: Thresholds = Thresholds {
        healthy_after: 2,
        unhealthy_after: 3,
        timeouts_after: 2,
    };

    fn feed(tally: &mut Tally, outcomes: &[CheckOutcome]) -> Vec<bool> {
        let now = SystemTime::UNIX_EPOCH;
        outcomes
            .iter()
            .map(|outcome| {
                tally.record(*outcome, THRESHOLDS, now);
                tally.up
            })
            .collect()
    }

    use CheckOutcome::{Failed, Healthy, Status, Timeout};

    #[test]
    fn a_target_starts_up_and_goes_down_after_unhealthy_after_failures_in_a_row() {
        let mut tally = Tally::new(SystemTime::UNIX_EPOCH);
        assert!(tally.up, "up before any check");
        let ups = feed(&mut tally, &[Status(500), Failed, Status(503)]);
        assert_eq!(ups, [true, true, false]);
        assert_eq!(tally.failures, 3);
    }

    #[test]
    fn a_good_check_breaks_a_row_of_failures() {
        let mut tally = Tally::new(SystemTime::UNIX_EPOCH);
        let ups = feed(
            &mut tally,
            &[
                Status(500),
                Status(500),
                Healthy(200),
                Status(500),
                Status(500),
            ],
        );
        assert_eq!(ups, [true; 5]);
    }

    #[test]
    fn timeouts_have_their_own_threshold_and_count() {
        let mut tally = Tally::new(SystemTime::UNIX_EPOCH);
        let ups = feed(&mut tally, &[Status(500), Timeout, Status(500), Timeout]);
        assert_eq!(ups, [true, true, true, false], "two timeouts of two");
        assert_eq!((tally.failures, tally.timeouts), (2, 2));
    }

    #[test]
    fn a_down_target_comes_back_after_healthy_after_good_checks_in_a_row() {
        let mut tally = Tally::new(SystemTime::UNIX_EPOCH);
        feed(&mut tally, &[Failed, Failed, Failed]);
        assert!(!tally.up);
        let ups = feed(
            &mut tally,
            &[Healthy(200), Failed, Healthy(204), Healthy(200)],
        );
        assert_eq!(ups, [false, false, false, true]);
    }

    #[test]
    fn since_moves_only_when_the_verdict_changes() {
        let at = |s| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
        let mut tally = Tally::new(at(0));
        assert!(!tally.record(Failed, THRESHOLDS, at(1)));
        assert!(!tally.record(Failed, THRESHOLDS, at(2)));
        assert!(tally.record(Failed, THRESHOLDS, at(3)));
        assert!(!tally.record(Failed, THRESHOLDS, at(4)));
        assert_eq!(tally.since, at(3));
        assert_eq!(tally.last, Some((Failed, at(4))));
        assert_eq!(tally.checks, 4);
    }

    #[test]
    fn the_shared_flag_follows_the_tally() {
        let health = ActiveHealth::default();
        assert!(health.is_up());
        for _ in 0..3 {
            health.record(Timeout, THRESHOLDS);
        }
        assert!(!health.is_up());
        health.record(Healthy(200), THRESHOLDS);
        assert!(!health.is_up());
        assert!(health.record(Healthy(200), THRESHOLDS));
        assert!(health.is_up());
    }
}
