//! Rate limits shared across nodes through Redis, without Redis on the request path
//! (docs/limits.md, "Across nodes").
//!
//! Each node counts in its own [`Limiter`] as alone; the limiter notes how far each take
//! moved its subject's GCRA TAT (its *debt*, in nanoseconds). Every `sync_interval` this
//! task sends the debts to Redis in one script call per batch: the script adds each debt
//! to the subject's cluster TAT (`max(tat, now) + debt`, with Redis's clock and a TTL that
//! ends when the TAT is past) and answers how far ahead of now each TAT stands; the node
//! then sets its own TAT to that, plus what it took meanwhile. The same call renews the
//! node's heartbeat and counts the nodes heard from lately.
//!
//! When a call fails, the limiter counts each limit's share (`count ÷ nodes`, the last
//! node count known, counted from zero) or refuses, as `on_redis_down` says; the change is logged once and
//! shown by `keygate_limit_sync_fallback`; every failed call counts in
//! `keygate_limit_sync_failures_total`. The connection manager reconnects by itself and
//! the next call that succeeds ends the fallback.
//!
//! Subjects are the limiter's 64-bit keyed hashes, with a seed kept in Redis (the first
//! node writes a random one), so every node names a subject alike and Redis holds no key,
//! name, address or header value.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::exact::ExactRedis;
use super::{Limiter, SyncMode};
use crate::config::{LimitSyncMode, LimitSyncSettings, RedisDown};
use crate::metrics::Metrics;

/// Subjects per script call: keeps each call's time in Redis short.
const BATCH: usize = 500;

/// How long connecting, and each call, may take before Redis counts as down.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Adds the debts of a batch of subjects and answers the node count and, for each
/// subject, how many microseconds its TAT is ahead of Redis's clock.
///
/// ARGV: key prefix, node id, heartbeat time-to-live in ms, then subject (hex) and debt
/// (µs) pairs. Times are microseconds since 2023-11-14 (1 700 000 000 s), small enough
/// for Lua's doubles to hold exactly.
const SYNC_SCRIPT: &str = r#"
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = (tonumber(t[1]) - 1700000000) * 1000000 + tonumber(t[2])
local nodes = prefix .. 'nodes'
local ttl = tonumber(ARGV[3])
redis.call('ZADD', nodes, now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', nodes, '-inf', now - ttl * 1000)
redis.call('PEXPIRE', nodes, ttl * 2)
local out = { redis.call('ZCARD', nodes) }
for i = 4, #ARGV, 2 do
  local key = prefix .. 'rl:' .. ARGV[i]
  local debt = tonumber(ARGV[i + 1])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  if debt > 0 then
    tat = tat + debt
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  out[#out + 1] = tat - now
end
return out
"#;

/// The upper bounds (seconds) of `keygate_limit_sync_span_seconds`' buckets.
const SPAN_BUCKETS: [f64; 14] = [
    0.05, 0.1, 0.11, 0.125, 0.15, 0.175, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0,
];

/// The sync task's metrics.
#[derive(Clone)]
struct SyncMetrics {
    failures: Counter,
    fallback: Gauge,
    nodes: Gauge,
    /// From the start of one successful synchronisation to the end of the next: the
    /// longest a count admitted here waits to reach Redis, and the longest this node's
    /// view of Redis is stale — `P` of the documented bound, as it really was.
    span: Histogram,
}

impl Default for SyncMetrics {
    fn default() -> SyncMetrics {
        SyncMetrics {
            failures: Counter::default(),
            fallback: Gauge::default(),
            nodes: Gauge::default(),
            span: Histogram::new(SPAN_BUCKETS),
        }
    }
}

/// Why a synchronisation failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Redis answered with an error or could not be reached.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The script answered something else than it should.
    #[error("Redis answered {0} values for {1} subjects")]
    Answer(usize, usize),
}

/// Starts the sync task for `limiter`; `settings.redis` was checked when the
/// configuration was read. Counting starts per node (the share of each limit, with one
/// node known) until the first synchronisation succeeds.
pub fn start(
    limiter: Arc<Limiter>,
    settings: LimitSyncSettings,
    metrics: &Metrics,
) -> Result<(), SyncError> {
    let client = redis::Client::open(settings.redis.as_str())?;
    let timeout = TIMEOUT;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    let sync_metrics = SyncMetrics::default();
    metrics.register(
        "limit_sync_failures",
        "Rate-limit synchronisations with Redis that failed",
        sync_metrics.failures.clone(),
    );
    metrics.register(
        "limit_sync_fallback",
        "1 while Redis cannot be reached and rate limits count per node (or refuse)",
        sync_metrics.fallback.clone(),
    );
    metrics.register(
        "limit_sync_nodes",
        "Nodes sharing the rate limits, as last counted in Redis",
        sync_metrics.nodes.clone(),
    );
    metrics.register(
        "limit_sync_span_seconds",
        "From the start of one successful rate-limit synchronisation to the end of the next",
        sync_metrics.span.clone(),
    );
    limiter.set_mode(down_mode(&settings), 1);
    sync_metrics.fallback.set(1);
    let connection = ConnectionManager::new_lazy_with_config(client, config)?;
    match settings.mode {
        // Exact mode takes in Redis on the request path; the task only keeps the
        // heartbeat (the node count for `on_redis_down`) and ends the fallback.
        LimitSyncMode::Exact => limiter.set_exact(ExactRedis::new(
            connection.clone(),
            settings.key_prefix.clone(),
            down_mode(&settings),
            sync_metrics.failures.clone(),
            sync_metrics.fallback.clone(),
        )),
        LimitSyncMode::Sync => limiter.note_takes(),
    }
    tokio::spawn(run(limiter, settings, connection, sync_metrics));
    Ok(())
}

/// What the limiter does while Redis cannot be reached.
fn down_mode(settings: &LimitSyncSettings) -> SyncMode {
    match settings.on_redis_down {
        RedisDown::Local => SyncMode::Share,
        RedisDown::Refuse => SyncMode::Refuse,
    }
}

/// One synchronisation every `sync_interval`, for ever.
async fn run(
    limiter: Arc<Limiter>,
    settings: LimitSyncSettings,
    mut connection: ConnectionManager,
    metrics: SyncMetrics,
) {
    let script = redis::Script::new(SYNC_SCRIPT);
    let node = node_id();
    let heartbeat_ms = heartbeat(settings.sync_interval).as_millis() as u64;
    let mut ticker = tokio::time::interval(settings.sync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seed: Option<u64> = None;
    let mut seeded = false;
    // None until the first try: the first outcome is logged whichever it is.
    let mut up: Option<bool> = None;
    let mut nodes: u32 = 1;
    let mut debts = Vec::with_capacity(BATCH);
    // When the last synchronisation began, if it succeeded.
    let mut last: Option<std::time::Instant> = None;
    loop {
        ticker.tick().await;
        let began = std::time::Instant::now();
        let result = async {
            if !seeded {
                let shared = shared_seed(&mut connection, &settings.key_prefix, seed).await?;
                limiter.share_seed(shared);
                seed = Some(shared);
                seeded = true;
            }
            sync_once(
                &limiter,
                &script,
                &mut connection,
                &settings.key_prefix,
                &node,
                heartbeat_ms,
                &mut debts,
            )
            .await
        }
        .await;
        match result {
            Ok(counted) => {
                if let Some(last) = last {
                    metrics.span.observe(last.elapsed().as_secs_f64());
                }
                last = Some(began);
                nodes = counted.max(1);
                metrics.nodes.set(i64::from(nodes));
                if up == Some(false) {
                    limiter.clear();
                }
                let shared = match settings.mode {
                    LimitSyncMode::Sync => SyncMode::Whole,
                    LimitSyncMode::Exact => SyncMode::Exact,
                };
                // In exact mode this also ends a fallback that a failed call on the request
                // path began (`Limiter::fall_back`, which started the counts afresh).
                limiter.set_mode(shared, nodes);
                // Also after an exact call's fallback that this task did not see.
                metrics.fallback.set(0);
                if up != Some(true) {
                    tracing::info!(nodes, "rate limits: shared through Redis");
                }
                up = Some(true);
            }
            Err(error) => {
                last = None;
                metrics.failures.inc();
                debts.clear();
                // A Redis that comes back empty is given this node's seed again.
                seeded = false;
                // What this node takes while Redis is down stays its own: sent later,
                // it would be charged as if taken at once when Redis is back.
                limiter.forget_pending();
                match settings.mode {
                    LimitSyncMode::Sync if up == Some(true) => limiter.clear(),
                    LimitSyncMode::Sync => {}
                    // Counts start afresh once, by whoever leaves exact mode first: a
                    // call on the request path may have done it, and counted since.
                    LimitSyncMode::Exact => {
                        limiter.fall_back(down_mode(&settings));
                    }
                }
                limiter.set_mode(down_mode(&settings), nodes);
                if up != Some(false) {
                    let mode = match settings.on_redis_down {
                        RedisDown::Local => "each node counts its share of every limit",
                        RedisDown::Refuse => "limited calls are refused",
                    };
                    tracing::warn!(%error, nodes, "rate limits: Redis unreachable; {mode} until it is back");
                    metrics.fallback.set(1);
                }
                up = Some(false);
            }
        }
    }
}

/// Sends every pending debt, in batches, and merges the answers. Returns the node count
/// Redis answered. A call with no debt still renews the heartbeat.
async fn sync_once(
    limiter: &Limiter,
    script: &redis::Script,
    connection: &mut ConnectionManager,
    prefix: &str,
    node: &str,
    heartbeat_ms: u64,
    debts: &mut Vec<(u64, u64)>,
) -> Result<u32, SyncError> {
    let mut nodes = 1;
    let mut first = true;
    loop {
        debts.clear();
        limiter.drain_pending(BATCH, debts);
        if debts.is_empty() && !first {
            return Ok(nodes);
        }
        first = false;
        let mut call = script.prepare_invoke();
        call.arg(prefix).arg(node).arg(heartbeat_ms);
        for (subject, debt_ns) in debts.iter() {
            call.arg(format!("{subject:016x}"))
                .arg(debt_ns.div_ceil(1000));
        }
        let answer: Vec<i64> = call.invoke_async(connection).await?;
        if answer.len() != debts.len() + 1 {
            return Err(SyncError::Answer(answer.len(), debts.len()));
        }
        nodes = u32::try_from(answer[0]).unwrap_or(1);
        let now = limiter.now();
        for ((subject, _), ahead_us) in debts.iter().zip(&answer[1..]) {
            let ahead_ns = u64::try_from(*ahead_us).unwrap_or(0).saturating_mul(1000);
            limiter.merge(*subject, ahead_ns, now);
        }
        if debts.len() < BATCH {
            return Ok(nodes);
        }
    }
}

/// The cluster's hash seed: the one in Redis, or the one this node used before (`known`),
/// or a random one, written there by the first node to ask. So a Redis restarted empty
/// gets the seed its nodes already use back.
async fn shared_seed(
    connection: &mut ConnectionManager,
    prefix: &str,
    known: Option<u64>,
) -> Result<u64, SyncError> {
    let key = format!("{prefix}seed");
    let mine = known.unwrap_or_else(|| {
        let mut bytes = [0u8; 8];
        // A failed random source leaves a fixed seed: subjects stay hashes, only guessable.
        let _ = getrandom::fill(&mut bytes);
        u64::from_le_bytes(bytes).max(1)
    });
    let _: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg(mine.to_string())
        .arg("NX")
        .query_async(connection)
        .await?;
    let seed: Option<String> = redis::cmd("GET").arg(&key).query_async(connection).await?;
    Ok(seed.and_then(|s| s.parse().ok()).unwrap_or(mine))
}

/// How long a node is counted after its last heartbeat: ten intervals, at least 2 s.
fn heartbeat(interval: Duration) -> Duration {
    (interval * 10).max(Duration::from_secs(2))
}

/// This node's name among the heartbeats: random per process.
fn node_id() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    format!("{:016x}-{}", u64::from_le_bytes(bytes), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_counted_for_ten_intervals_and_at_least_two_seconds() {
        assert_eq!(
            heartbeat(Duration::from_millis(100)),
            Duration::from_secs(2)
        );
        assert_eq!(heartbeat(Duration::from_secs(1)), Duration::from_secs(10));
    }

    #[test]
    fn node_ids_differ() {
        assert_ne!(node_id(), node_id());
    }
}
