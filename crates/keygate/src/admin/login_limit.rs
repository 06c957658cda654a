//! The sign-in rate limit of `POST /v1/session`, in memory per node: at most
//! [`PER_ADDRESS`] attempts per client address and [`PER_ACCOUNT`] failed attempts per
//! account name in each [`WINDOW`]; past either, `429` with `Retry-After` until the
//! window ends. A success clears its account's failures. Every attempt costs an argon2
//! hash, so counting the address's attempts (not only failures) also bounds the CPU a
//! client can spend.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The length of a counting window.
pub const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Sign-in attempts per client address and window.
pub const PER_ADDRESS: u32 = 20;
/// Failed sign-ins per account name and window.
pub const PER_ACCOUNT: u32 = 5;
/// The most counters kept; past it, finished windows are dropped.
const MOST_COUNTERS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Counter {
    started: Instant,
    count: u32,
}

/// The counters.
#[derive(Debug, Default)]
pub struct LoginLimit {
    addresses: Mutex<HashMap<IpAddr, Counter>>,
    accounts: Mutex<HashMap<String, Counter>>,
}

fn lock<K>(map: &Mutex<HashMap<K, Counter>>) -> MutexGuard<'_, HashMap<K, Counter>> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long until `counter`'s window ends, when it is spent.
fn wait(counter: Option<&Counter>, most: u32, now: Instant) -> Option<Duration> {
    let counter = counter?;
    let ends = counter.started + WINDOW;
    (counter.count >= most && ends > now).then(|| ends - now)
}

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Counter>, key: K, now: Instant) {
    if map.len() >= MOST_COUNTERS {
        map.retain(|_, c| c.started + WINDOW > now);
    }
    let counter = map.entry(key).or_insert(Counter {
        started: now,
        count: 0,
    });
    if counter.started + WINDOW <= now {
        *counter = Counter {
            started: now,
            count: 0,
        };
    }
    counter.count = counter.count.saturating_add(1);
}

impl LoginLimit {
    /// Counts an attempt from `address` for `account`; `Err(wait)` when the address or
    /// the account has no attempt left (the attempt is then not made).
    pub fn attempt(&self, address: IpAddr, account: Option<&str>) -> Result<(), Duration> {
        self.attempt_at(address, account, Instant::now())
    }

    fn attempt_at(
        &self,
        address: IpAddr,
        account: Option<&str>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut addresses = lock(&self.addresses);
        if let Some(wait) = wait(addresses.get(&address), PER_ADDRESS, now) {
            return Err(wait);
        }
        if let Some(account) = account {
            if let Some(wait) = wait(lock(&self.accounts).get(account), PER_ACCOUNT, now) {
                return Err(wait);
            }
        }
        bump(&mut addresses, address, now);
        Ok(())
    }

    /// Records a failed sign-in of `account`.
    pub fn failed(&self, account: &str) {
        bump(
            &mut lock(&self.accounts),
            account.to_owned(),
            Instant::now(),
        );
    }

    /// Clears `account`'s failures after a sign-in.
    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).remove(account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_accounts_run_out_then_wait_for_the_window() {
        let limit = LoginLimit::default();
        let here: IpAddr = [127, 0, 0, 1].into();
        let there: IpAddr = [127, 0, 0, 2].into();
        let now = Instant::now();
        for _ in 0..PER_ACCOUNT {
            assert!(limit.attempt_at(here, Some("alice"), now).is_ok());
            limit.failed("alice");
        }
        let wait = limit.attempt_at(there, Some("alice"), now);
        assert!(wait.is_err_and(|w| w > WINDOW / 2), "the account is spent");
        assert!(limit.attempt_at(there, Some("bob"), now).is_ok(), "not bob");
        for _ in PER_ACCOUNT..PER_ADDRESS {
            assert!(limit.attempt_at(here, Some("carol"), now).is_ok());
        }
        assert!(
            limit.attempt_at(here, Some("dave"), now).is_err(),
            "the address is spent"
        );
        assert!(
            limit.attempt_at(here, None, now + WINDOW).is_ok(),
            "a new window"
        );
        limit.succeeded("alice");
        assert!(
            limit.attempt_at(there, Some("alice"), now).is_ok(),
            "cleared"
        );
    }
}
