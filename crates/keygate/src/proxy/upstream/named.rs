//! A service's upstream as requests find it. With only IP-literal targets it is one
//! [`Upstream`], read in place as before. With a target named by host name, the
//! [`Upstream`] is rebuilt whenever a name's addresses change (one target per address,
//! each with the configured target's base path and `Host`) and swapped in atomically:
//! a request reads the current one without a lock, and keeps the one it read to its end.
//! A target whose address stays keeps its connection pool and health across the swap.

use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;

use super::resolve::{self, Resolution, Watcher};
use super::{ActiveHealth, Placed, Upstream};
use crate::config::{DnsSettings, Target, UpstreamSettings};
use crate::proxy::error::ProxyError;

/// The upstream of one service. One per service and snapshot, never moved on the request
/// path: the fixed upstream stays inline, where a box would cost every request a load.
#[allow(clippy::large_enum_variant)]
pub enum ServiceUpstream {
    /// Every target is an IP address: built once.
    Fixed(Upstream),
    /// Some target is a host name.
    Named(Arc<Named>),
}

/// An upstream with targets by name, rebuilt as their addresses change.
pub struct Named {
    settings: UpstreamSettings,
    /// The resolution of each configured target that is a host name; `None` for an IP
    /// address (or when the resolver could not start).
    names: Vec<Option<Arc<Resolution>>>,
    /// The health checker's verdict on each configured target, if the service has
    /// checks: shared by every address of a name.
    active: Vec<Option<Arc<ActiveHealth>>>,
    /// The targets as last resolved.
    current: ArcSwap<Upstream>,
    /// Held while rebuilding: two names changing at once rebuild one after the other.
    rebuilding: Mutex<()>,
}

/// The upstream a request uses: the service's, or the one its names last resolved to.
pub enum CurrentUpstream<'a> {
    /// Targets by address.
    Fixed(&'a Upstream),
    /// Targets by name, as resolved when the request began.
    Named(Arc<Upstream>),
}

impl Deref for CurrentUpstream<'_> {
    type Target = Upstream;

    fn deref(&self) -> &Upstream {
        match self {
            CurrentUpstream::Fixed(upstream) => upstream,
            CurrentUpstream::Named(upstream) => upstream,
        }
    }
}

impl ServiceUpstream {
    /// The upstream of `settings`; its host names, if any, resolved as `dns` says (the
    /// first answer is asked for now, in the background). `active[i]` is the health
    /// checker's verdict on the `i`th configured target, if it has one.
    pub fn new(
        settings: &UpstreamSettings,
        dns: &DnsSettings,
        active: Vec<Option<Arc<ActiveHealth>>>,
    ) -> ServiceUpstream {
        if settings
            .targets
            .iter()
            .all(|target| ip_literal(target).is_some())
        {
            return ServiceUpstream::Fixed(Upstream::checked(settings, &active));
        }
        let names = settings
            .targets
            .iter()
            .map(|target| match ip_literal(target) {
                Some(_) => None,
                None => resolve::resolution(target.authority.host(), port(target), dns),
            })
            .collect();
        let named = Arc::new(Named {
            settings: settings.clone(),
            names,
            active,
            current: ArcSwap::from_pointee(Upstream::with_targets(settings, Vec::new(), None)),
            rebuilding: Mutex::new(()),
        });
        let watcher: Arc<dyn Watcher> = named.clone();
        for name in named.names.iter().flatten() {
            name.watch(Arc::downgrade(&watcher));
        }
        named.rebuild();
        ServiceUpstream::Named(named)
    }

    /// The upstream for a request now. A service whose host names have no address yet
    /// waits for their first answers, at most `connect_timeout`; still none is a `502`
    /// (`upstream_unresolved`).
    pub async fn current(&self) -> Result<CurrentUpstream<'_>, ProxyError> {
        let named = match self {
            ServiceUpstream::Fixed(upstream) => return Ok(CurrentUpstream::Fixed(upstream)),
            ServiceUpstream::Named(named) => named,
        };
        let upstream = named.current.load_full();
        if !upstream.targets.is_empty() {
            return Ok(CurrentUpstream::Named(upstream));
        }
        let first_answers = async {
            for name in named.names.iter().flatten() {
                name.settled().await;
            }
        };
        let _ = tokio::time::timeout(named.settings.connect_timeout, first_answers).await;
        let upstream = named.current.load_full();
        if upstream.targets.is_empty() {
            return Err(ProxyError::UpstreamUnresolved);
        }
        Ok(CurrentUpstream::Named(upstream))
    }

    /// For each of the `configured` targets: whether its passive health has it cooling
    /// down now (see [`Upstream::cooling_down`]).
    pub fn cooling_down(&self, configured: usize) -> Vec<bool> {
        match self {
            ServiceUpstream::Fixed(upstream) => upstream.cooling_down(configured),
            ServiceUpstream::Named(named) => named.current.load().cooling_down(configured),
        }
    }

    /// Closes this thread's idle connections that are past their time or closed by the
    /// upstream (those of addresses a name no longer has go with their pool).
    pub fn sweep_idle(&self) {
        match self {
            ServiceUpstream::Fixed(upstream) => upstream.sweep_idle(),
            ServiceUpstream::Named(named) => named.current.load().sweep_idle(),
        }
    }
}

impl Named {
    /// Builds the targets from the names' current addresses, unless they are the ones
    /// in place.
    fn rebuild(&self) {
        let _one = self
            .rebuilding
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let resolved: Vec<_> = self
            .names
            .iter()
            .map(|name| name.as_ref().map(|name| name.addresses()))
            .collect();
        let addresses: Vec<Placed<'_>> = self
            .settings
            .targets
            .iter()
            .zip(&resolved)
            .enumerate()
            .flat_map(|(configured, (target, resolved))| {
                let active = self.active.get(configured).cloned().flatten();
                let addresses: Vec<SocketAddr> = match (resolved, ip_literal(target)) {
                    (Some(resolved), _) => resolved.to_vec(),
                    (None, Some(ip)) => vec![SocketAddr::new(ip, port(target))],
                    (None, None) => Vec::new(),
                };
                addresses.into_iter().map(move |address| Placed {
                    target,
                    configured,
                    address: address.to_string(),
                    active: active.clone(),
                })
            })
            .collect();
        let previous = self.current.load_full();
        let unchanged = previous.targets.len() == addresses.len()
            && previous
                .targets
                .iter()
                .zip(&addresses)
                .all(|(old, new)| old.address == new.address);
        if unchanged {
            return;
        }
        let upstream = Upstream::with_targets(&self.settings, addresses, Some(&previous));
        self.current.store(Arc::new(upstream));
    }
}

impl Watcher for Named {
    fn changed(&self) {
        self.rebuild();
    }
}

/// The target's host as an IP address, when it is one (`[::1]` included).
fn ip_literal(target: &Target) -> Option<IpAddr> {
    let host = target.authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|host| host.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// The target's port (80 or 443 when the URL has none).
fn port(target: &Target) -> u16 {
    target.port()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::uri::{Authority, Scheme};

    fn target(authority: &str) -> Target {
        Target {
            scheme: Scheme::HTTP,
            authority: authority.parse::<Authority>().unwrap(),
            base_path: String::new(),
            weight: 1,
        }
    }

    fn settings(target: Target) -> UpstreamSettings {
        UpstreamSettings {
            balance: crate::config::Balance::RoundRobin,
            slow_start: None,
            targets: vec![target],
            connect_timeout: std::time::Duration::from_secs(1),
            read_timeout: std::time::Duration::from_secs(1),
            send_timeout: std::time::Duration::from_secs(1),
            failover: crate::config::Failover::default(),
            pool: crate::config::PoolLimits::default(),
            health_check: None,
            tls: None,
            protocol: crate::config::UpstreamProtocol::Http1,
        }
    }

    #[test]
    fn a_rebuilt_upstream_keeps_the_pool_and_health_of_addresses_that_stay() {
        let named = target("orders.test:8080");
        let settings = settings(named.clone());
        let at = |addresses: &[&str]| -> Vec<Placed<'_>> {
            addresses
                .iter()
                .map(|a| Placed {
                    target: &named,
                    configured: 0,
                    address: (*a).to_owned(),
                    active: None,
                })
                .collect()
        };
        let before =
            Upstream::with_targets(&settings, at(&["127.0.0.1:8080", "127.0.0.2:8080"]), None);
        let after = Upstream::with_targets(
            &settings,
            at(&["127.0.0.2:8080", "127.0.0.3:8080"]),
            Some(&before),
        );
        assert!(Arc::ptr_eq(&after.targets[0].pool, &before.targets[1].pool));
        assert!(Arc::ptr_eq(
            &after.targets[0].health,
            &before.targets[1].health
        ));
        assert!(before
            .targets
            .iter()
            .all(|old| !Arc::ptr_eq(&after.targets[1].pool, &old.pool)));
        assert_eq!(after.targets[1].host_header, "orders.test:8080", "the name");
        assert_eq!(after.targets[1].index, 1);
        assert_eq!(after.retries, 1, "one per other address");
    }

    #[test]
    fn ip_literals_are_told_from_names() {
        assert!(ip_literal(&target("127.0.0.1:8080")).is_some());
        assert!(ip_literal(&target("[::1]:8080")).is_some());
        assert!(ip_literal(&target("orders.internal:8080")).is_none());
        assert!(ip_literal(&target("localhost")).is_none());
        assert_eq!(port(&target("localhost")), 80);
    }
}
