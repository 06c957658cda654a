//! A key's credits (Unkey's `remaining`): a number of uses, each call taking its route's
//! cost, optionally refilled to an amount every UTC day or month. Counted in
//! [`Counters`](super::Counters) like a quota, so they are kept in the store and shared
//! by every node.
//!
//! Setting a key's credits (the admin API) stamps them with the time they were set
//! (`set_at`): the counter's subject includes it, so the uses counted before the change
//! are left behind and the new amount starts whole — no read-modify-write of a stored
//! balance, hence no lost update between an admin write and the nodes' deltas.

use super::calendar::Period;
use super::counters;

/// The subject kind of credits (quotas use the `SubjectKind` values, 1–5).
const CREDITS: u8 = 0x43;

/// A refill: the uses are back to `amount` at the start of every period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refill {
    /// The uses each period starts with.
    pub amount: u64,
    /// Every UTC day or calendar month.
    pub per: Period,
}

/// A key's credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credits {
    /// Uses from `set_at` (until the first refill, when there is one).
    pub amount: u64,
    /// When the credits were set (ms since the epoch).
    pub set_at: i64,
    /// The refill, if any.
    pub refill: Option<Refill>,
}

/// Where a key's credits are counted at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreditWindow {
    /// The counter's subject.
    pub subject: u64,
    /// The counter's window (the refill period's start; 0 without refill).
    pub window: i64,
    /// The end of the window (`i64::MAX` without refill).
    pub end: i64,
    /// The uses the window starts with.
    pub allowance: u64,
}

impl Credits {
    /// The counter of `key_id`'s credits at `now_ms`.
    pub fn window(&self, key_id: &str, now_ms: i64) -> CreditWindow {
        let subject = counters::subject(self.set_at as u64, CREDITS, key_id.as_bytes());
        match self.refill {
            None => CreditWindow {
                subject,
                window: 0,
                end: i64::MAX,
                allowance: self.amount,
            },
            Some(refill) => {
                let (start, end) = refill.per.bounds(now_ms);
                // The period the credits were set in starts with the amount set; every
                // later one with the refill's amount.
                let allowance = if self.set_at >= start {
                    self.amount
                } else {
                    refill.amount
                };
                CreditWindow {
                    subject,
                    window: start,
                    end,
                    allowance,
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{Credits, Period, Refill};

    const DAY: i64 = 86_400_000;

    #[test]
    fn refills_start_each_period_with_the_refill_amount() {
        let credits = Credits {
            amount: 5,
            set_at: 10 * DAY + 1000,
            refill: Some(Refill {
                amount: 100,
                per: Period::Day,
            }),
        };
        let first = credits.window("k", 10 * DAY + 5000);
        assert_eq!((first.window, first.allowance), (10 * DAY, 5));
        let next = credits.window("k", 11 * DAY + 5);
        assert_eq!(
            (next.window, next.end, next.allowance),
            (11 * DAY, 12 * DAY, 100)
        );
        assert_eq!(first.subject, next.subject);
    }

    #[test]
    fn setting_again_starts_a_new_counter() {
        let once = Credits {
            amount: 5,
            set_at: 1,
            refill: None,
        };
        let again = Credits { set_at: 2, ..once };
        assert_ne!(once.window("k", 9).subject, again.window("k", 9).subject);
        assert_eq!(once.window("k", 9).window, 0);
        assert_eq!(once.window("k", 9).end, i64::MAX);
    }
}
