//! What the admin API, the CLI and `/readyz` are told of targets' health: each target's
//! state, and which health said it is down — active (its checker) or passive (requests
//! failing on it, see `upstream::health`).

use std::time::SystemTime;

use serde::Serialize;

use super::HealthChecks;
use crate::proxy::upstream::Tally;
use crate::proxy::upstreams;
use crate::state::Snapshot;

/// The health of one service's targets.
#[derive(Debug, Serialize)]
pub struct ServiceHealth {
    /// The service's name.
    pub service: String,
    /// Whether the service has active health checks.
    pub health_check: bool,
    /// How many targets take requests now.
    pub healthy_targets: usize,
    /// Each target, in the order of `targets`.
    pub targets: Vec<TargetReport>,
}

/// The health of one target.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    /// The target's URL, as configured.
    pub target: String,
    /// `host:port` connected to.
    pub address: String,
    /// `up` or `down`.
    pub state: &'static str,
    /// Which health has it down: `active` or `passive`; `null` while it is up.
    pub source: Option<&'static str>,
    /// Its checker's verdict and counts; `null` without health checks.
    pub active: Option<ActiveReport>,
    /// Its passive health.
    pub passive: PassiveReport,
}

/// A checker's verdict on one target.
#[derive(Debug, Serialize)]
pub struct ActiveReport {
    /// `up` or `down`.
    pub state: &'static str,
    /// Since when (RFC 3339): the last change, or the checker's start.
    pub since: String,
    /// Checks so far.
    pub checks: u64,
    /// Good checks in a row.
    pub consecutive_successes: u32,
    /// Failed checks (status or connection) in a row.
    pub consecutive_failures: u32,
    /// Timed-out checks in a row.
    pub consecutive_timeouts: u32,
    /// The last check; `null` before the first.
    pub last_check: Option<LastCheck>,
}

/// The last check of a target.
#[derive(Debug, Serialize)]
pub struct LastCheck {
    /// `healthy`, `unhealthy_status`, `connect_failure` or `timeout`.
    pub result: &'static str,
    /// The status answered, if any.
    pub status: Option<u16>,
    /// When it ended (RFC 3339).
    pub at: String,
}

/// A target's passive health.
#[derive(Debug, Serialize)]
pub struct PassiveReport {
    /// `down` while the target cools down after failed requests, else `up`.
    pub state: &'static str,
}

fn up_or_down(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}

/// `at` as RFC 3339 text, in UTC, to the millisecond.
fn rfc3339(at: SystemTime) -> String {
    let at = time::OffsetDateTime::from(at);
    let millis = u32::from(at.millisecond());
    at.replace_nanosecond(millis * 1_000_000)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl ActiveReport {
    fn of(tally: &Tally) -> ActiveReport {
        ActiveReport {
            state: up_or_down(tally.up),
            since: rfc3339(tally.since),
            checks: tally.checks,
            consecutive_successes: tally.successes,
            consecutive_failures: tally.failures,
            consecutive_timeouts: tally.timeouts,
            last_check: tally.last.map(|(outcome, at)| LastCheck {
                result: outcome.as_str(),
                status: outcome.status(),
                at: rfc3339(at),
            }),
        }
    }
}

impl HealthChecks {
    /// The health of the targets of the service at `index` in `snapshot`.
    pub fn report(&self, snapshot: &Snapshot, index: usize) -> Option<ServiceHealth> {
        let service = snapshot.services.get(index)?;
        let upstream = &service.upstream;
        let passive: Vec<bool> = upstreams::built(snapshot)
            .get(index)
            .map(|built| built.cooling_down(upstream.targets.len()))
            .unwrap_or_default();
        let targets: Vec<TargetReport> = upstream
            .targets
            .iter()
            .enumerate()
            .map(|(place, target)| {
                let active = self
                    .find(&service.name, upstream, target)
                    .map(|health| health.tally());
                let active_down = active.as_ref().is_some_and(|tally| !tally.up);
                let passive_down = passive.get(place).copied().unwrap_or(false);
                let source = match (active_down, passive_down) {
                    (true, _) => Some("active"),
                    (false, true) => Some("passive"),
                    (false, false) => None,
                };
                TargetReport {
                    target: format!(
                        "{}://{}{}",
                        target.scheme, target.authority, target.base_path
                    ),
                    address: super::target_address(target),
                    state: up_or_down(source.is_none()),
                    source,
                    active: active.as_ref().map(ActiveReport::of),
                    passive: PassiveReport {
                        state: up_or_down(!passive_down),
                    },
                }
            })
            .collect();
        Some(ServiceHealth {
            service: service.name.to_string(),
            health_check: upstream.health_check.is_some(),
            healthy_targets: targets.iter().filter(|t| t.source.is_none()).count(),
            targets,
        })
    }

    /// The services of `snapshot` with health checks none of whose targets their checkers
    /// hold up. Passive health is left out on purpose: it learns only from requests, and
    /// a node taken out of its load balancer gets none to learn it is well again.
    pub fn services_without_healthy_target(&self, snapshot: &Snapshot) -> Vec<String> {
        snapshot
            .services
            .iter()
            .filter(|service| {
                let upstream = &service.upstream;
                if upstream.health_check.is_none() {
                    return false;
                }
                !upstream.targets.iter().any(|target| {
                    self.find(&service.name, upstream, target)
                        .is_none_or(|health| health.is_up())
                })
            })
            .map(|service| service.name.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn times_are_rfc3339_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_nanos(1_796_500_000_123_456_789);
        assert_eq!(rfc3339(at), "2026-12-05T19:46:40.123Z");
    }
}
