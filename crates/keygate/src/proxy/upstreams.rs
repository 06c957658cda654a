//! The upstreams of a snapshot's services, kept in its [`crate::state::UpstreamSlot`]:
//! built from the services on first use, then shared by every request on that snapshot.
//! The state holds them without naming their type, so it depends on nothing of the proxy.

use super::upstream::Upstream;
use crate::state::Snapshot;

/// The upstream of each service of `snapshot`, by service index; built on the first call.
pub fn of(snapshot: &Snapshot) -> &[Upstream] {
    let build = || -> Vec<Upstream> {
        let services = snapshot.services.iter();
        services
            .map(|service| Upstream::new(&service.upstream))
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
