//! Exact mode across nodes (`cluster.rate_limits.mode: exact`, docs/limits.md "Exact
//! mode"): every call that rate limits apply to is counted by one atomic Redis call — a
//! Lua script that runs GCRA for all the call's limits at once, on Redis's clock, and
//! either takes from every one or from none. The nodes then admit exactly what one node
//! alone would, at the price of a Redis round trip on each limited call.
//!
//! The subjects are the limiter's 64-bit hashes with the cluster's seed, as in the
//! synchronised mode (`redis_sync`), under the same keys: a TAT in microseconds since
//! 2023-11-14, expiring once it is past.
//!
//! A failed call (Redis down, an error, no answer within the connection's 1 s) makes
//! the limiter leave exact mode for `on_redis_down` ([`Limiter::fall_back`]); the sync
//! task, which keeps renewing the node's heartbeat, puts it back once Redis answers.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use redis::aio::ConnectionManager;

use super::gcra::{Outcome, Rate};
use super::redis_sync::SyncError;
use super::{Limiter, SyncMode};

/// Takes `cost` from every subject of KEYS, or from none.
///
/// ARGV: cost, then per key its interval and capacity in microseconds. Answers `{1, ahead
/// of each TAT after the take…}` when every one admits, or `{0, index (1-based) of the first
/// that refuses, how far its TAT is ahead, how long until the call would fit}`.
const TAKE_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local tats = {}
local out = { 1 }
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i])
  local capacity = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local next = tat + cost * interval
  if next - now > capacity then
    return { 0, i, tat - now, next - now - capacity }
  end
  tats[i] = next
  out[i + 1] = next - now
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
end
return out
"#;

/// One rate limit of a call, as the exact take sends it.
#[derive(Debug, Clone, Copy)]
pub struct ExactTake {
    /// The limiter's subject (hashed with the cluster's seed).
    pub subject: u64,
    /// The limit's rate.
    pub rate: Rate,
}

/// What Redis decided.
#[derive(Debug)]
pub enum ExactAnswer {
    /// Every limit admitted the call: the outcome of each, in the order sent.
    Admitted(Vec<Outcome>),
    /// The limit at this index (in the order sent) refused; nothing was taken.
    Refused(usize, Outcome),
}

/// The Redis connection of exact mode, shared by every request.
pub struct ExactRedis {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    /// What the limiter does while Redis cannot be reached.
    down: SyncMode,
    failures: Counter,
    fallback: Gauge,
}

impl std::fmt::Debug for ExactRedis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactRedis").finish_non_exhaustive()
    }
}

impl ExactRedis {
    /// Exact takes on `connection` under `prefix`; `down` is the limiter's mode while
    /// Redis cannot be reached; failures count in `failures` and show in `fallback`.
    pub(super) fn new(
        connection: ConnectionManager,
        prefix: String,
        down: SyncMode,
        failures: Counter,
        fallback: Gauge,
    ) -> ExactRedis {
        ExactRedis {
            connection,
            script: redis::Script::new(TAKE_SCRIPT),
            prefix,
            down,
            failures,
            fallback,
        }
    }

    /// Takes `cost` from every one of `takes` in one atomic Redis call, or from none. On
    /// failure the limiter falls back to `on_redis_down` (logged by the one call that
    /// makes the change) and the caller counts locally.
    pub async fn take(
        &self,
        limiter: &Limiter,
        takes: &[ExactTake],
        cost: u64,
    ) -> Result<ExactAnswer, SyncError> {
        let result = self.call(takes, cost).await;
        if let Err(error) = &result {
            self.failures.inc();
            if limiter.fall_back(self.down) {
                self.fallback.set(1);
                tracing::warn!(%error, "rate limits: a Redis call failed; counting per node (on_redis_down) until Redis answers again");
            }
        }
        result
    }

    async fn call(&self, takes: &[ExactTake], cost: u64) -> Result<ExactAnswer, SyncError> {
        let mut call = self.script.prepare_invoke();
        call.arg(cost);
        for take in takes {
            let (interval, capacity) = micros(take.rate);
            call.key(format!("{}rl:{:016x}", self.prefix, take.subject))
                .arg(interval)
                .arg(capacity);
        }
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = call.invoke_async(&mut connection).await?;
        read_answer(&answer, takes)
    }
}

/// A rate's interval and capacity in whole microseconds (Redis's clock): an interval
/// under 1 µs counts as 1 µs, so one subject is admitted at most a million calls a second.
fn micros(rate: Rate) -> (u64, u64) {
    let interval = (rate.interval() / 1000).max(1);
    (interval, interval.saturating_mul(rate.count()))
}

/// The script's answer as outcomes.
fn read_answer(answer: &[i64], takes: &[ExactTake]) -> Result<ExactAnswer, SyncError> {
    let us = |value: i64| u64::try_from(value).unwrap_or(0);
    match answer {
        [1, aheads @ ..] if aheads.len() == takes.len() => Ok(ExactAnswer::Admitted(
            aheads
                .iter()
                .zip(takes)
                .map(|(ahead, take)| {
                    let (interval, capacity) = micros(take.rate);
                    let ahead = us(*ahead);
                    Outcome {
                        admitted: true,
                        remaining: capacity.saturating_sub(ahead) / interval,
                        reset_ns: ahead.saturating_mul(1000),
                        retry_after_ns: 0,
                    }
                })
                .collect(),
        )),
        [0, index, ahead, wait] => {
            let index = usize::try_from(*index).unwrap_or(0);
            let Some(take) = index.checked_sub(1).and_then(|i| takes.get(i)) else {
                return Err(SyncError::Answer(answer.len(), takes.len()));
            };
            let (interval, capacity) = micros(take.rate);
            let ahead = us(*ahead);
            Ok(ExactAnswer::Refused(
                index - 1,
                Outcome {
                    admitted: false,
                    remaining: capacity.saturating_sub(ahead) / interval,
                    reset_ns: ahead.saturating_mul(1000),
                    retry_after_ns: us(*wait).saturating_mul(1000),
                },
            ))
        }
        _ => Err(SyncError::Answer(answer.len(), takes.len())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn rates_are_sent_in_whole_microseconds() {
        assert_eq!(micros(Rate::new(20, SECOND)), (50_000, 1_000_000));
        assert_eq!(micros(Rate::new(3, SECOND)), (333_333, 999_999));
        assert_eq!(micros(Rate::new(10_000_000, SECOND)), (1, 10_000_000));
    }

    #[test]
    fn answers_become_outcomes_and_malformed_ones_errors() {
        let takes = [
            ExactTake {
                subject: 1,
                rate: Rate::new(10, SECOND),
            },
            ExactTake {
                subject: 2,
                rate: Rate::new(2, SECOND),
            },
        ];
        let ExactAnswer::Admitted(outcomes) = read_answer(&[1, 100_000, 500_000], &takes).unwrap()
        else {
            panic!("admitted");
        };
        assert_eq!(outcomes[0].remaining, 9);
        assert_eq!(outcomes[1].remaining, 1);
        assert_eq!(outcomes[1].reset_ns, SECOND / 2);
        let ExactAnswer::Refused(1, outcome) =
            read_answer(&[0, 2, 1_000_000, 500_000], &takes).unwrap()
        else {
            panic!("refused by the second");
        };
        assert_eq!(outcome.retry_after_ns, SECOND / 2);
        assert_eq!(outcome.remaining, 0);
        assert!(read_answer(&[1, 5], &takes).is_err());
        assert!(read_answer(&[0, 3, 0, 0], &takes).is_err());
        assert!(read_answer(&[], &takes).is_err());
    }
}
