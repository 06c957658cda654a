//! Checks `cluster.rate_limits`: rate limits shared across nodes through Redis.

use std::time::Duration;

use super::super::file::{At, FileLimitSync};
use super::super::{LimitSyncMode, LimitSyncSettings, RedisDown};
use super::Checker;

impl Checker<'_> {
    /// `cluster.rate_limits`: a Redis URL that parses, an interval, a fallback.
    pub(super) fn limit_sync(&mut self, sync: &At<FileLimitSync>) -> Option<LimitSyncSettings> {
        let Some(redis) = &sync.value.redis else {
            self.report(
                &sync.referenced,
                "`rate_limits` needs `redis`, the Redis URL, such as redis://127.0.0.1:6379"
                    .to_owned(),
            );
            return None;
        };
        let redis = self.secret(redis)?;
        if let Err(error) = redis::Client::open(redis.value.as_str()) {
            self.report(
                &redis.referenced,
                format!("not a Redis URL (redis://host:port/db or rediss://…): {error}"),
            );
        }
        let sync_interval = match &sync.value.sync_interval {
            Some(text) => self.duration(Some(text), 1),
            None => Duration::from_millis(100),
        };
        let on_redis_down = match &sync.value.on_redis_down {
            None => RedisDown::Local,
            Some(text) => match text.value.as_str() {
                "local" => RedisDown::Local,
                "refuse" => RedisDown::Refuse,
                other => {
                    self.report(
                        &text.referenced,
                        format!("expected `local` or `refuse`, found `{other}`"),
                    );
                    RedisDown::Local
                }
            },
        };
        let key_prefix = sync
            .value
            .key_prefix
            .as_ref()
            .map_or_else(|| "keygate:".to_owned(), |text| text.value.clone());
        let mode = match &sync.value.mode {
            None => LimitSyncMode::Sync,
            Some(text) => match text.value.as_str() {
                "sync" => LimitSyncMode::Sync,
                "exact" => LimitSyncMode::Exact,
                other => {
                    self.report(
                        &text.referenced,
                        format!("expected `sync` or `exact`, found `{other}`"),
                    );
                    LimitSyncMode::Sync
                }
            },
        };
        Some(LimitSyncSettings {
            mode,
            redis: redis.value.clone(),
            sync_interval,
            on_redis_down,
            key_prefix,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, LimitSyncMode, RedisDown};

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse("k.yaml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn rate_limits_take_defaults_and_every_field() {
        let config =
            parse("cluster:\n  rate_limits: {redis: \"redis://127.0.0.1:6379\"}\n").unwrap();
        let sync = config.cluster.rate_limits.unwrap();
        assert_eq!(sync.sync_interval, std::time::Duration::from_millis(100));
        assert_eq!(sync.on_redis_down, RedisDown::Local);
        assert_eq!(sync.key_prefix, "keygate:");
        assert_eq!(sync.mode, LimitSyncMode::Sync);
        let config = parse(
            "cluster:\n  rate_limits:\n    redis: redis://127.0.0.1:6379/2\n    sync_interval: 250ms\n    on_redis_down: refuse\n    key_prefix: \"kg:a:\"\n    mode: exact\n",
        )
        .unwrap();
        let sync = config.cluster.rate_limits.unwrap();
        assert_eq!(sync.mode, LimitSyncMode::Exact);
        assert_eq!(sync.sync_interval, std::time::Duration::from_millis(250));
        assert_eq!(sync.on_redis_down, RedisDown::Refuse);
        assert_eq!(sync.key_prefix, "kg:a:");
    }

    #[test]
    fn bad_values_are_shown_where_they_are() {
        let error =
            parse("cluster:\n  rate_limits:\n    redis: http://x\n    on_redis_down: maybe\n    mode: loose\n")
                .unwrap_err();
        assert!(
            error.contains("k.yaml:5:11: expected `sync` or `exact`, found `loose`"),
            "{error}"
        );
        assert!(error.contains("k.yaml:3:12: not a Redis URL"), "{error}");
        assert!(
            error.contains("k.yaml:4:20: expected `local` or `refuse`, found `maybe`"),
            "{error}"
        );
        let error = parse("cluster:\n  rate_limits: {sync_interval: 1s}\n").unwrap_err();
        assert!(error.contains("`rate_limits` needs `redis`"), "{error}");
    }
}
