//! The upstreams of a snapshot's services, kept in its [`crate::state::UpstreamSlot`]:
//! built from the services on first use, then shared by every request on that snapshot.
//! The state holds them without naming their type, so it depends on nothing of the proxy.
//! A checked target's active health comes from `checks`, which outlives snapshots.

use super::health_checks::HealthChecks;
use super::upstream::Upstream;
use crate::state::Snapshot;

/// The upstream of each service of `snapshot`, by service index; built on the first call.
pub fn of<'s>(snapshot: &'s Snapshot, checks: &HealthChecks) -> &'s [Upstream] {
    let build = || -> Vec<Upstream> {
        let services = snapshot.services.iter();
        services
            .map(|service| {
                let settings = &service.upstream;
                Upstream::checked(settings, |target| {
                    let check = settings.health_check.as_ref()?;
                    Some(checks.health(&service.name, target, check))
                })
            })
            .collect()
    };
    let built = snapshot.upstreams.get_or_fill(build);
    built.map_or(&[], Vec::as_slice)
}

/// The upstreams of `snapshot` if a request has built them; none otherwise.
pub fn built(snapshot: &Snapshot) -> &[Upstream] {
    let built = snapshot.upstreams.get::<Vec<Upstream>>();
    built.map_or(&[], Vec::as_slice)
}
