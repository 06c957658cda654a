//! The upstreams of a snapshot's services, kept in its [`crate::state::UpstreamSlot`]:
//! built from the services on first use, then shared by every request on that snapshot.
//! The state holds them without naming their type, so it depends on nothing of the proxy.
//! A checked target's active health comes from `checks`, which outlives snapshots.

use std::time::Duration;

use super::health_checks::HealthChecks;
use super::upstream::ServiceUpstream;
use crate::state::Snapshot;

/// The upstream of each service of `snapshot`, by service index; built on the first call
/// (which also starts resolving the host names they name).
pub fn of<'s>(snapshot: &'s Snapshot, checks: &HealthChecks) -> &'s [ServiceUpstream] {
    let build = || -> Vec<ServiceUpstream> {
        let services = snapshot.services.iter();
        services
            .map(|service| {
                let settings = &service.upstream;
                let active = settings
                    .targets
                    .iter()
                    .map(|target| checks.health(&service.name, settings, target));
                ServiceUpstream::new(settings, &snapshot.config.dns, active.collect())
            })
            .collect()
    };
    let built = snapshot.upstreams.get_or_fill(build);
    built.map_or(&[], Vec::as_slice)
}

/// The upstreams of `snapshot` if a request has built them; none otherwise.
pub fn built(snapshot: &Snapshot) -> &[ServiceUpstream] {
    let built = snapshot.upstreams.get::<Vec<ServiceUpstream>>();
    built.map_or(&[], Vec::as_slice)
}

/// How often idle upstream connections are swept: half the shortest `idle_timeout` of
/// `snapshot`'s services (at least 100 ms), at most `longest`, so that an idle connection
/// is closed at most half its timeout late.
pub fn sweep_period(snapshot: &Snapshot, longest: Duration) -> Duration {
    let shortest = snapshot
        .services
        .iter()
        .map(|service| service.upstream.pool.idle_timeout / 2)
        .min()
        .unwrap_or(longest);
    shortest.clamp(
        Duration::from_millis(100),
        longest.max(Duration::from_millis(100)),
    )
}
