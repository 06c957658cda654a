//! Upstream host names, resolved off the request path: one background task per name (and
//! `dns:` settings) for the whole process, shared by every service and snapshot that names
//! it, on one thread of its own. Each answer's TTL says when the name is asked again,
//! kept between `refresh_min` and `refresh_max`; a failed resolution keeps the last
//! addresses, is logged, and is tried again after `refresh_min`, doubling up to
//! `refresh_max`. A name is asked for as long as some upstream holds it, and for one more
//! wait after that, so a reload that names it again finds its addresses at once.
//!
//! Names are asked with hickory's resolver rather than `getaddrinfo`, which does not tell
//! the TTL of its answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use tokio::runtime::Handle;
use tokio::sync::Notify;

use crate::config::DnsSettings;

/// Told when a name's addresses change.
pub trait Watcher: Send + Sync {
    /// The name's addresses are now different.
    fn changed(&self);
}

/// One host name and port, and the addresses it resolves to.
pub struct Resolution {
    host: String,
    port: u16,
    /// The last good answer, sorted; empty until the first.
    addresses: ArcSwap<Vec<SocketAddr>>,
    /// Whether the first resolution, good or failed, has ended.
    answered: AtomicBool,
    /// Woken after each resolution.
    settled: Notify,
    /// Those to tell about a change.
    watchers: Mutex<Vec<Weak<dyn Watcher>>>,
}

impl Resolution {
    /// The addresses of the last good answer (empty until there is one).
    pub fn addresses(&self) -> Arc<Vec<SocketAddr>> {
        self.addresses.load_full()
    }

    /// Tells `watcher` about each change from now on, for as long as it lives.
    pub fn watch(&self, watcher: Weak<dyn Watcher>) {
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        watchers.retain(|watcher| watcher.strong_count() > 0);
        watchers.push(watcher);
    }

    /// Returns once the name's first resolution has ended, well or not.
    pub async fn settled(&self) {
        let notified = self.settled.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.answered.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }

    /// Takes a good answer: when the set changed, installs it and tells the watchers.
    fn install(&self, mut addresses: Vec<SocketAddr>) {
        addresses.sort_unstable();
        addresses.dedup();
        if **self.addresses.load() == addresses {
            return;
        }
        tracing::info!(host = %self.host, port = self.port, ?addresses, "upstream host name resolved");
        self.addresses.store(Arc::new(addresses));
        let watchers: Vec<_> = {
            let watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
            watchers.iter().filter_map(Weak::upgrade).collect()
        };
        for watcher in watchers {
            watcher.changed();
        }
    }

    /// A resolution ended: wakes those waiting for the first.
    fn settle(&self) {
        self.answered.store(true, Ordering::Release);
        self.settled.notify_waiters();
    }
}

/// What a name's task is known by: the same name asked through other settings is another.
type Key = (String, u16, DnsSettings);

/// The names being resolved.
fn names() -> &'static Mutex<HashMap<Key, Weak<Resolution>>> {
    static NAMES: OnceLock<Mutex<HashMap<Key, Weak<Resolution>>>> = OnceLock::new();
    NAMES.get_or_init(Mutex::default)
}

/// The resolution of `host:port` under `dns`: the one under way, or a new one whose first
/// answer is asked for at once. Called when a snapshot's upstreams are built, never per
/// request. `None` when the resolver's thread could not be started (logged).
pub fn resolution(host: &str, port: u16, dns: &DnsSettings) -> Option<Arc<Resolution>> {
    let key = (host.to_owned(), port, dns.clone());
    let mut names = names().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = names.get(&key).and_then(Weak::upgrade) {
        return Some(existing);
    }
    let handle = runtime()?;
    let resolution = Arc::new(Resolution {
        host: host.to_owned(),
        port,
        addresses: ArcSwap::from_pointee(Vec::new()),
        answered: AtomicBool::new(false),
        settled: Notify::new(),
        watchers: Mutex::default(),
    });
    names.retain(|_, name| name.strong_count() > 0);
    names.insert(key.clone(), Arc::downgrade(&resolution));
    handle.spawn(refresh(resolution.clone(), key));
    Some(resolution)
}

/// The runtime of the resolver's thread, started on first use.
fn runtime() -> Option<Handle> {
    static HANDLE: OnceLock<Option<Handle>> = OnceLock::new();
    let start = || {
        let (sender, receiver) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("keygate-dns".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = sender.send(Some(runtime.handle().clone()));
                        runtime.block_on(std::future::pending::<()>());
                    }
                    Err(error) => {
                        tracing::error!(%error, "the resolver's runtime could not start");
                        let _ = sender.send(None);
                    }
                }
            });
        if let Err(error) = thread {
            tracing::error!(%error, "the resolver's thread could not start");
            return None;
        }
        receiver.recv().ok().flatten()
    };
    HANDLE.get_or_init(start).clone()
}

/// Resolves one name until no upstream holds it any more.
async fn refresh(resolution: Arc<Resolution>, key: Key) {
    let (host, port, dns) = &key;
    let resolver = match resolver(dns) {
        Ok(resolver) => Some(resolver),
        Err(error) => {
            tracing::error!(%error, "the resolver could not be configured");
            None
        }
    };
    let mut failures = 0u32;
    loop {
        let answer = match &resolver {
            Some(resolver) => resolver
                .lookup_ip(host.as_str())
                .await
                .map_err(|error| error.to_string())
                .map(|lookup| {
                    let ttl = lookup
                        .valid_until()
                        .saturating_duration_since(Instant::now());
                    let addresses: Vec<_> =
                        lookup.iter().map(|ip| SocketAddr::new(ip, *port)).collect();
                    (addresses, ttl)
                }),
            None => Err("no resolver".to_owned()),
        };
        let wait = match answer {
            Ok((addresses, ttl)) if !addresses.is_empty() => {
                failures = 0;
                resolution.install(addresses);
                next_refresh(ttl, dns)
            }
            answer => {
                let error = answer.err().unwrap_or_else(|| "no address".to_owned());
                failures = failures.saturating_add(1);
                let kept = resolution.addresses.load().len();
                tracing::warn!(%host, port, %error, kept, "resolving an upstream host name failed; its last addresses are kept");
                retry_after(failures, dns)
            }
        };
        resolution.settle();
        tokio::time::sleep(wait).await;
        {
            let mut names = names().lock().unwrap_or_else(PoisonError::into_inner);
            if Arc::strong_count(&resolution) == 1 {
                // Only this task holds it: no upstream names it any more.
                names.remove(&key);
                return;
            }
        }
    }
}

/// How long after a good answer whose records live `ttl` the name is asked again.
fn next_refresh(ttl: Duration, dns: &DnsSettings) -> Duration {
    ttl.clamp(dns.refresh_min, dns.refresh_max.max(dns.refresh_min))
}

/// How long after the `failures`th failure in a row the name is asked again.
fn retry_after(failures: u32, dns: &DnsSettings) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    dns.refresh_min
        .saturating_mul(factor)
        .min(dns.refresh_max.max(dns.refresh_min))
}

/// A resolver asking `dns.nameservers` (UDP, then TCP for a truncated answer), or the
/// system's when none is given. Its cache keeps nothing longer than `refresh_max`, so a
/// name asked again at its ceiling is really asked.
fn resolver(dns: &DnsSettings) -> Result<TokioResolver, String> {
    let mut builder = if dns.nameservers.is_empty() {
        TokioResolver::builder_tokio().map_err(|error| error.to_string())?
    } else {
        let servers = dns
            .nameservers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_parts(None, Vec::new(), servers);
        TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
    };
    let options = builder.options_mut();
    options.positive_max_ttl = Some(dns.refresh_max);
    options.negative_max_ttl = Some(dns.refresh_min);
    builder.build().map_err(|error| error.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn dns() -> DnsSettings {
        DnsSettings {
            nameservers: Vec::new(),
            refresh_min: Duration::from_secs(2),
            refresh_max: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_ttl_is_kept_between_the_floor_and_the_ceiling() {
        let dns = dns();
        assert_eq!(next_refresh(Duration::ZERO, &dns), Duration::from_secs(2));
        assert_eq!(
            next_refresh(Duration::from_secs(30), &dns),
            Duration::from_secs(30)
        );
        assert_eq!(
            next_refresh(Duration::from_secs(86400), &dns),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn failures_back_off_from_the_floor_to_the_ceiling() {
        let dns = dns();
        let waits: Vec<u64> = (1..=8).map(|n| retry_after(n, &dns).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    }

    struct Count(std::sync::atomic::AtomicUsize);

    impl Watcher for Count {
        fn changed(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn watchers_hear_of_changed_sets_only() {
        let resolution = Resolution {
            host: "orders.test".to_owned(),
            port: 80,
            addresses: ArcSwap::from_pointee(Vec::new()),
            answered: AtomicBool::new(false),
            settled: Notify::new(),
            watchers: Mutex::default(),
        };
        let count = Arc::new(Count(Default::default()));
        let watcher: Arc<dyn Watcher> = count.clone();
        resolution.watch(Arc::downgrade(&watcher));
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "127.0.0.2:80".parse().unwrap();
        resolution.install(vec![b, a]);
        assert_eq!(*resolution.addresses(), [a, b], "sorted");
        resolution.install(vec![a, b, a]);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the same set in another order"
        );
        resolution.install(vec![b]);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
