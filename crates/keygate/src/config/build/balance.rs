//! Checks how an upstream spreads requests over its targets: each target's `weight`, and
//! `balance` with its `hash_on` and `hash_on_header`.

use std::time::Duration;

use http::header::HeaderName;
use serde_saphyr::Location;

use super::super::file::{At, FileTarget, FileUpstreamTargets};
use super::super::{Balance, HashOn, Target};
use super::Checker;

/// The most points a hash ring may have (160 per unit of weight), so that a ring stays
/// within a few megabytes and is built in milliseconds.
const MAX_RING_POINTS: u64 = 1 << 20;

/// One entry of `targets:` as its URL, where it was written, and its weight if given.
pub(super) fn target_entry(target: &At<FileTarget>) -> (&str, Location, Option<&At<u32>>) {
    match &target.value {
        FileTarget::Url(url) => (url.as_str(), target.referenced, None),
        FileTarget::Weighted(long) => (
            long.url.value.as_str(),
            long.url.referenced,
            long.weight.as_ref(),
        ),
    }
}

impl Checker<'_> {
    /// A target's `weight`: 1 to [`Target::MAX_WEIGHT`], 1 when not given.
    pub(super) fn weight(&mut self, weight: Option<&At<u32>>) -> u32 {
        let Some(weight) = weight else {
            return 1;
        };
        if (1..=Target::MAX_WEIGHT).contains(&weight.value) {
            return weight.value;
        }
        self.report(
            &weight.referenced,
            format!(
                "a weight is between 1 and {}, found {} (to take a target out of use, remove it)",
                Target::MAX_WEIGHT,
                weight.value
            ),
        );
        1
    }

    /// `balance`, `hash_on` and `hash_on_header` of a long-form `upstream:`.
    pub(super) fn balance(
        &mut self,
        long: &FileUpstreamTargets,
        targets: &[Target],
        upstream: &Location,
    ) -> Balance {
        let policy = long
            .balance
            .as_ref()
            .map(|b| (b.value.as_str(), b.referenced));
        let balance = match policy {
            None | Some(("round_robin", _)) => Balance::RoundRobin,
            Some(("least_outstanding", _)) => Balance::LeastOutstanding,
            Some(("hash", _)) => Balance::Hash(self.hash_on(long).unwrap_or(HashOn::Consumer)),
            Some((other, at)) => {
                self.report(
                    &at,
                    format!(
                        "`balance` is `round_robin`, `least_outstanding` or `hash`, found `{other}`"
                    ),
                );
                Balance::RoundRobin
            }
        };
        if !matches!(balance, Balance::Hash(_)) {
            for field in [&long.hash_on, &long.hash_on_header].into_iter().flatten() {
                self.report(&field.referenced, "this applies to `balance: hash` only");
            }
        }
        if matches!(balance, Balance::Hash(_)) {
            let weights: u64 = targets.iter().map(|t| u64::from(t.weight)).sum();
            if weights * u64::from(Balance::RING_POINTS_PER_WEIGHT) > MAX_RING_POINTS {
                self.report(
                    upstream,
                    format!(
                        "the targets' weights add up to {weights}: with `balance: hash` they may add up to {} at most",
                        MAX_RING_POINTS / u64::from(Balance::RING_POINTS_PER_WEIGHT)
                    ),
                );
            }
        }
        balance
    }

    /// `slow_start`: a duration, not with `balance: hash` (a consumer goes back to its
    /// target at once); `None` when not given.
    pub(super) fn slow_start(
        &mut self,
        long: &FileUpstreamTargets,
        balance: &Balance,
    ) -> Option<Duration> {
        let text = long.slow_start.as_ref()?;
        if matches!(balance, Balance::Hash(_)) {
            self.report(
                &text.referenced,
                "`slow_start` applies to `round_robin` and `least_outstanding`: with `balance: hash` a consumer goes back to its target at once",
            );
            return None;
        }
        Some(self.duration(Some(text), 0))
    }

    /// `hash_on` and, with `header`, `hash_on_header`; `None` after a problem.
    fn hash_on(&mut self, long: &FileUpstreamTargets) -> Option<HashOn> {
        let on = long
            .hash_on
            .as_ref()
            .map(|on| (on.value.as_str(), on.referenced));
        let hash_on = match on {
            None | Some(("consumer", _)) => HashOn::Consumer,
            Some(("key", _)) => HashOn::Key,
            Some(("client_address", _)) => HashOn::ClientAddress,
            Some(("header", at)) => {
                let Some(name) = &long.hash_on_header else {
                    self.report(
                        &at,
                        "`hash_on: header` needs `hash_on_header`: the field to hash",
                    );
                    return None;
                };
                return match HeaderName::from_bytes(name.value.as_bytes()) {
                    Ok(parsed) => Some(HashOn::Header(parsed)),
                    Err(_) => {
                        self.report(
                            &name.referenced,
                            format!(
                                "expected a header name such as X-Tenant, found `{}`",
                                name.value
                            ),
                        );
                        None
                    }
                };
            }
            Some((other, at)) => {
                self.report(
                    &at,
                    format!(
                        "`hash_on` is `consumer`, `key`, `client_address` or `header`, found `{other}`"
                    ),
                );
                return None;
            }
        };
        if let Some(name) = &long.hash_on_header {
            self.report(
                &name.referenced,
                "`hash_on_header` applies to `hash_on: header` only",
            );
        }
        Some(hash_on)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::super::{Config, Problem, UpstreamSettings};
    use super::*;

    fn text(upstream: &str) -> String {
        format!(
            "services:\n  - name: s\n    upstream:\n{upstream}    routes:\n      - name: r\n        paths: [/]\n"
        )
    }

    fn upstream(upstream: &str) -> UpstreamSettings {
        let config = Config::parse("t.yaml", &text(upstream)).unwrap();
        config.services[0].upstream.clone()
    }

    fn problems(upstream: &str) -> Vec<Problem> {
        match crate::config::build::build(&text(upstream)) {
            Ok(_) => panic!("accepted:\n{upstream}"),
            Err(problems) => problems,
        }
    }

    #[test]
    fn targets_are_urls_or_maps_with_a_weight_and_the_default_is_round_robin() {
        let settings = upstream(
            "      targets:\n        - http://127.0.0.1:1\n        - {url: http://127.0.0.1:2/api, weight: 3}\n        - url: http://127.0.0.1:3\n",
        );
        let weights: Vec<u32> = settings.targets.iter().map(|t| t.weight).collect();
        assert_eq!(weights, [1, 3, 1]);
        assert_eq!(settings.targets[1].base_path, "/api");
        assert_eq!(settings.balance, Balance::RoundRobin);
        assert_eq!(settings.slow_start, None);
        let short = Config::parse(
            "t.yaml",
            &text("      http://127.0.0.1:1\n").replace(":\n      http", ": http"),
        );
        assert_eq!(short.unwrap().services[0].upstream.targets[0].weight, 1);
    }

    #[test]
    fn each_policy_and_hash_input_is_read() {
        let read = |fields: &str| {
            upstream(&format!("      targets: [http://127.0.0.1:1]\n{fields}")).balance
        };
        assert_eq!(read("      balance: round_robin\n"), Balance::RoundRobin);
        assert_eq!(
            read("      balance: least_outstanding\n"),
            Balance::LeastOutstanding
        );
        assert_eq!(
            read("      balance: hash\n"),
            Balance::Hash(HashOn::Consumer)
        );
        assert_eq!(
            read("      balance: hash\n      hash_on: key\n"),
            Balance::Hash(HashOn::Key)
        );
        assert_eq!(
            read("      balance: hash\n      hash_on: client_address\n"),
            Balance::Hash(HashOn::ClientAddress)
        );
        assert_eq!(
            read("      balance: hash\n      hash_on: header\n      hash_on_header: X-Tenant\n"),
            Balance::Hash(HashOn::Header(HeaderName::from_static("x-tenant")))
        );
        let slow = upstream("      targets: [http://127.0.0.1:1]\n      slow_start: 30s\n");
        assert_eq!(slow.slow_start, Some(Duration::from_secs(30)));
    }

    #[test]
    fn mistakes_are_refused_where_written() {
        let cases = [
            ("      targets: [{url: http://127.0.0.1:1, weight: 0}]\n", (4, 51), "between 1 and 256"),
            ("      targets: [{url: http://127.0.0.1:1, weight: 257}]\n", (4, 51), "found 257"),
            ("      targets: [{url: ftp://127.0.0.1:1}]\n", (4, 23), "http:// or https://"),
            ("      targets: [http://127.0.0.1:1]\n      balance: random\n", (5, 16), "found `random`"),
            ("      targets: [http://127.0.0.1:1]\n      hash_on: key\n", (5, 16), "`balance: hash` only"),
            ("      targets: [http://127.0.0.1:1]\n      balance: hash\n      hash_on: ip\n", (6, 16), "found `ip`"),
            ("      targets: [http://127.0.0.1:1]\n      balance: hash\n      hash_on: header\n", (6, 16), "needs `hash_on_header`"),
            ("      targets: [http://127.0.0.1:1]\n      balance: hash\n      hash_on: header\n      hash_on_header: \"a b\"\n", (7, 23), "header name"),
            ("      targets: [http://127.0.0.1:1]\n      balance: hash\n      hash_on_header: x\n", (6, 23), "`hash_on: header` only"),
            ("      targets: [{url: http://127.0.0.1:1, wieght: 2}]\n", (4, 43), "wieght"),
            ("      targets: [http://127.0.0.1:1]\n      balance: hash\n      slow_start: 10s\n", (6, 19), "`slow_start` applies"),
            ("      targets: [http://127.0.0.1:1]\n      slow_start: 0s\n", (5, 19), "above zero"),
        ];
        for (fields, at, message) in cases {
            let problems = problems(fields);
            assert_eq!(problems.len(), 1, "{fields}: {problems:?}");
            let problem = &problems[0];
            assert!(problem.message.contains(message), "{fields}: {problem:?}");
            assert_eq!((problem.line, problem.column), at, "{fields}: {problem:?}");
        }
    }

    #[test]
    fn a_hash_ring_too_large_is_refused() {
        let targets: Vec<String> = (1..=30)
            .map(|port| format!("{{url: http://127.0.0.1:{port}, weight: 256}}"))
            .collect();
        let fields = format!("      targets: [{}]\n", targets.join(", "));
        assert!(
            Config::parse("t.yaml", &text(&fields)).is_ok(),
            "round-robin: fine"
        );
        let problems = problems(&format!("{fields}      balance: hash\n"));
        assert!(
            problems[0].message.contains("add up to 7680"),
            "{problems:?}"
        );
    }
}
