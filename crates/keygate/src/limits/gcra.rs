//! The generic cell rate algorithm (GCRA) on one counter: a limit of `count` requests per
//! `window` is one "theoretical arrival time" (TAT) per subject, in nanoseconds of the
//! limiter's clock. Each request moves it on by `window / count` per unit of cost; a
//! request is admitted while the TAT it would leave is at most one window ahead of now.
//!
//! So a subject that was idle for a window has `count` requests at once (the burst), and
//! after that one more every `window / count`: the state is one integer, the answer is
//! exact (no approximation of a sliding window), and an idle subject's state — a TAT in
//! the past — means the same as no state at all, which is what lets the table drop it.

/// A limit's rate in the units GCRA works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Nanoseconds one request moves the TAT on: `window / count`, rounded down.
    interval: u64,
    /// How far ahead of now the TAT may be: `count × interval`, at most one window, so
    /// that a burst of `count` fits exactly and the next request does not.
    capacity: u64,
    /// Requests per window.
    count: u64,
}

impl Rate {
    /// `count` requests per `window_ns` nanoseconds (`count` is at least 1 and at most
    /// `window_ns`).
    pub fn new(count: u64, window_ns: u64) -> Rate {
        let count = count.clamp(1, window_ns.max(1));
        let interval = window_ns / count;
        Rate {
            interval,
            capacity: interval * count,
            count,
        }
    }

    /// Requests per window.
    pub fn count(self) -> u64 {
        self.count
    }

    /// This rate's share on one of `nodes` nodes: `count ÷ nodes` (rounded down, at least
    /// 1) per the same window. What each node admits while the nodes cannot share counts.
    pub fn shared_by(self, nodes: u64) -> Rate {
        if nodes <= 1 {
            return self;
        }
        Rate::new((self.count / nodes).max(1), self.capacity)
    }

    /// Nanoseconds one request moves the TAT on.
    pub fn interval(self) -> u64 {
        self.interval
    }
}

/// The outcome of a call refused whatever its count (rate limits shared across nodes,
/// Redis down, `on_redis_down: refuse`): come back in a second.
pub fn refused(rate: Rate) -> Outcome {
    Outcome {
        admitted: false,
        remaining: 0,
        reset_ns: rate.capacity,
        retry_after_ns: 1_000_000_000,
    }
}

/// What one check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the request is admitted.
    pub admitted: bool,
    /// Requests of cost 1 the subject may still make now, after this one if admitted.
    pub remaining: u64,
    /// Nanoseconds until the subject has its whole `count` again.
    pub reset_ns: u64,
    /// For a refused request, nanoseconds until it would be admitted; 0 when admitted.
    pub retry_after_ns: u64,
}

/// Checks a request of weight `cost` against the TAT `tat` at time `now` (both in the
/// limiter's nanoseconds; a TAT of 0 is a subject never seen). Returns the TAT to store
/// when admitted, and the outcome.
pub fn take(tat: u64, now: u64, cost: u64, rate: Rate) -> (Option<u64>, Outcome) {
    let base = tat.max(now);
    let limit = now.saturating_add(rate.capacity);
    let next = base.saturating_add(cost.saturating_mul(rate.interval));
    if next <= limit {
        let outcome = Outcome {
            admitted: true,
            remaining: (limit - next) / rate.interval.max(1),
            reset_ns: next - now,
            retry_after_ns: 0,
        };
        return (Some(next), outcome);
    }
    let outcome = Outcome {
        admitted: false,
        remaining: limit.saturating_sub(base) / rate.interval.max(1),
        reset_ns: base - now,
        // A cost above the count never fits: it is told to wait a whole window.
        retry_after_ns: if cost > rate.count {
            rate.capacity
        } else {
            next - limit
        },
    };
    (None, outcome)
}

/// What a subject may do at `now` without taking anything (for `/v1/verify`).
pub fn peek(tat: u64, now: u64, rate: Rate) -> Outcome {
    let base = tat.max(now);
    let limit = now.saturating_add(rate.capacity);
    let remaining = limit.saturating_sub(base) / rate.interval.max(1);
    Outcome {
        admitted: remaining > 0,
        remaining,
        reset_ns: base - now,
        retry_after_ns: if remaining > 0 {
            0
        } else {
            base.saturating_add(rate.interval) - limit
        },
    }
}

/// The TAT after giving back a request of `cost` that [`take`] admitted but another limit
/// of the same request refused. Exact: `take` left `max(tat, now) + cost × interval`, and a
/// TAT at or before now means the same whatever its value.
pub fn give_back(tat: u64, cost: u64, rate: Rate) -> u64 {
    tat.saturating_sub(cost.saturating_mul(rate.interval))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const MINUTE: u64 = 60 * SECOND;

    /// Requests of `cost` at `now` until one is refused (at most `max`): how many passed.
    fn burst(tat: &mut u64, now: u64, cost: u64, rate: Rate, max: u64) -> u64 {
        for admitted in 0..max {
            match take(*tat, now, cost, rate) {
                (Some(next), _) => *tat = next,
                (None, _) => return admitted,
            }
        }
        max
    }

    #[test]
    fn a_shared_rate_is_the_count_divided() {
        let rate = Rate::new(10, MINUTE).shared_by(3);
        assert_eq!(rate.count(), 3);
        let mut tat = 0;
        assert_eq!(burst(&mut tat, 1, 1, rate, 100), 3);
        assert_eq!(Rate::new(2, SECOND).shared_by(5).count(), 1);
        assert_eq!(Rate::new(2, SECOND).shared_by(1), Rate::new(2, SECOND));
    }

    #[test]
    fn a_limit_of_n_admits_exactly_n_then_exactly_n_again_after_the_window() {
        for (count, window) in [
            (10, MINUTE),
            (1, SECOND),
            (7, SECOND),
            (1000, 3600 * SECOND),
        ] {
            let rate = Rate::new(count, window);
            let mut tat = 0;
            let start = 5 * SECOND;
            assert_eq!(burst(&mut tat, start, 1, rate, 10_000), count, "{count}");
            // Just before the window has passed, the whole burst is not back yet (when the
            // window divides evenly; otherwise it is back up to `count` ns early).
            if window % count == 0 {
                let (_, outcome) = take(tat, start + window - 1, count, rate);
                assert!(!outcome.admitted, "{count}");
            }
            assert_eq!(burst(&mut tat, start + window, 1, rate, 10_000), count);
        }
    }

    #[test]
    fn after_a_burst_one_request_comes_back_every_window_over_count() {
        let rate = Rate::new(10, MINUTE);
        let mut tat = 0;
        assert_eq!(burst(&mut tat, 0, 1, rate, 100), 10);
        let (_, refused) = take(tat, 0, 1, rate);
        assert_eq!(refused.retry_after_ns, 6 * SECOND);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset_ns, MINUTE);
        assert_eq!(burst(&mut tat, 6 * SECOND - 1, 1, rate, 100), 0);
        assert_eq!(burst(&mut tat, 6 * SECOND, 1, rate, 100), 1);
        assert_eq!(burst(&mut tat, 30 * SECOND, 1, rate, 100), 4);
    }

    #[test]
    fn remaining_and_reset_count_down_with_each_request() {
        let rate = Rate::new(3, MINUTE);
        let (tat, first) = take(0, 0, 1, rate);
        assert_eq!((first.remaining, first.reset_ns), (2, 20 * SECOND));
        let (tat, second) = take(tat.unwrap(), 0, 1, rate);
        assert_eq!((second.remaining, second.reset_ns), (1, 40 * SECOND));
        let seen = peek(tat.unwrap(), 0, rate);
        assert_eq!((seen.admitted, seen.remaining), (true, 1));
        let (tat, third) = take(tat.unwrap(), 0, 1, rate);
        assert_eq!((third.remaining, third.reset_ns), (0, MINUTE));
        let seen = peek(tat.unwrap(), 0, rate);
        assert_eq!((seen.admitted, seen.retry_after_ns), (false, 20 * SECOND));
    }

    #[test]
    fn a_cost_takes_that_many_and_a_cost_above_the_count_never_passes() {
        let rate = Rate::new(10, MINUTE);
        let mut tat = 0;
        assert_eq!(burst(&mut tat, 0, 3, rate, 100), 3);
        let (_, outcome) = take(tat, 0, 1, rate);
        assert!(outcome.admitted, "one of the ten is left");
        let (_, outcome) = take(0, 0, 11, rate);
        assert!(!outcome.admitted);
        assert_eq!(outcome.retry_after_ns, MINUTE);
    }

    #[test]
    fn giving_back_restores_what_was_taken() {
        let rate = Rate::new(2, SECOND);
        let (tat, _) = take(0, 100, 1, rate);
        let tat = give_back(tat.unwrap(), 1, rate);
        let mut tat = tat;
        assert_eq!(burst(&mut tat, 100, 1, rate, 10), 2);
    }

    #[test]
    fn a_count_above_the_window_in_nanoseconds_is_held_to_one_per_nanosecond() {
        let rate = Rate::new(u64::MAX, SECOND);
        assert_eq!(rate.count(), SECOND);
        let (_, outcome) = take(0, 0, 1, rate);
        assert!(outcome.admitted);
    }
}
