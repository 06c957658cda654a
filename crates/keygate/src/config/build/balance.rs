//! Checks how an upstream spreads requests over its targets: each target's `weight`, and
//! `balance` with its `hash_on` and `hash_on_header`.

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
