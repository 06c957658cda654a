//! Active health checks: one checker task per checked target for the whole process, not
//! per snapshot or worker thread. The checkers live here, keyed by service, target address
//! and check settings, and follow the services: each time the snapshot is replaced (a
//! reload, an admin write, a cluster change) a target whose key is still there keeps its
//! checker and its verdict, a new one gets a checker, and the checker of one that is gone
//! stops. The upstreams of every snapshot read the same verdicts ([`HealthChecks::health`]).
//!
//! A check speaks as requests do ([`probe`]): HTTP/1.1 or HTTP/2 (`protocol: h2`,
//! `h2c`), over TLS for an `https://` target with the service's `upstream.tls`. The TLS
//! client a checker uses is the current snapshot's, handed to it at each step, so that
//! a reload's new CA or client certificate is used without restarting the checker.

mod probe;
mod report;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::AbortHandle;

pub use report::{ServiceHealth, TargetReport};

use crate::config::{HealthCheck, Target, UpstreamProtocol, UpstreamSettings};
use crate::metrics::Metrics;
use crate::proxy::upstream::{tls_target, ActiveHealth, Thresholds, TlsTarget};
use crate::state::{SharedState, Snapshot};

/// What makes a checker: two targets with the same key share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CheckKey {
    service: Arc<str>,
    /// `host:port` connected to.
    address: String,
    /// The `Host` field sent.
    host: String,
    /// An `https://` target: checked over TLS.
    secure: bool,
    /// The HTTP version spoken.
    protocol: UpstreamProtocol,
    check: HealthCheck,
}

impl CheckKey {
    /// The key of `target` of `service` when `settings` has a health check.
    fn of(service: &Arc<str>, settings: &UpstreamSettings, target: &Target) -> Option<CheckKey> {
        let check = settings.health_check.as_ref()?;
        Some(CheckKey {
            service: service.clone(),
            address: target_address(target),
            host: check
                .host
                .clone()
                .unwrap_or_else(|| target.authority.as_str().to_owned()),
            secure: target.scheme == http::uri::Scheme::HTTPS,
            protocol: settings.protocol,
            check: check.clone(),
        })
    }
}

/// `host:port` of a target, port 80 (`http://`) or 443 (`https://`) when its URL has
/// none (as the upstream connects).
pub fn target_address(target: &Target) -> String {
    format!("{}:{}", target.authority.host(), target.port())
}

/// How a checker reaches its `https://` target: the current snapshot's TLS client,
/// replaced at each step of [`HealthChecks::follow`].
type CheckTls = Arc<Mutex<Option<TlsTarget>>>;

/// A target's verdict and the task that checks it (none until the checkers follow the
/// snapshot that has it).
struct Checker {
    health: Arc<ActiveHealth>,
    task: Option<AbortHandle>,
    tls: CheckTls,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            health: Arc::default(),
            task: None,
            tls: Arc::default(),
        }
    }
}

/// Every checker of the process.
pub struct HealthChecks {
    checkers: Mutex<HashMap<CheckKey, Checker>>,
    metrics: Arc<Metrics>,
}

impl HealthChecks {
    /// No checker yet; checkers count their checks in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> HealthChecks {
        HealthChecks {
            checkers: Mutex::default(),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CheckKey, Checker>> {
        self.checkers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The verdict on `target` of `service` under its upstream `settings`' health check
    /// (`None` without one): the one its checker keeps, or a new one (up) that the next
    /// [`HealthChecks::follow`] step gives a checker.
    pub fn health(
        &self,
        service: &Arc<str>,
        settings: &UpstreamSettings,
        target: &Target,
    ) -> Option<Arc<ActiveHealth>> {
        let key = CheckKey::of(service, settings, target)?;
        let mut checkers = self.lock();
        let checker = checkers.entry(key).or_insert_with(Checker::new);
        Some(checker.health.clone())
    }

    /// The verdict on `target` of `service` under its upstream `settings`' health check,
    /// if one is kept.
    fn find(
        &self,
        service: &Arc<str>,
        settings: &UpstreamSettings,
        target: &Target,
    ) -> Option<Arc<ActiveHealth>> {
        let key = CheckKey::of(service, settings, target)?;
        self.lock().get(&key).map(|checker| checker.health.clone())
    }

    /// Keeps the checkers equal to the checked targets of the current snapshot, now and
    /// after each replacement, until `state` has no more replacements to tell. Runs in a
    /// task of its own.
    pub async fn follow(self: Arc<Self>, state: SharedState) {
        let mut replaced = state.replacements();
        loop {
            replaced.borrow_and_update();
            self.reconcile(&state);
            if replaced.changed().await.is_err() {
                return;
            }
        }
    }

    /// One step of [`HealthChecks::follow`]: starts a checker for each checked target of
    /// the current snapshot that has none, and stops those of targets it no longer has.
    /// The snapshot is read under the lock, so that no verdict made for a newer snapshot
    /// is dropped by a step on an older one.
    fn reconcile(&self, state: &SharedState) {
        let mut checkers = self.lock();
        let snapshot = state.load();
        let wanted = checked_targets(&snapshot);
        checkers.retain(|key, checker| {
            let keep = wanted.contains_key(key);
            if !keep {
                if let Some(task) = &checker.task {
                    task.abort();
                    self.metrics.forget_target(&key.service, &key.address);
                    tracing::info!(service = %key.service, target = %key.address, "health checker stopped");
                }
            }
            keep
        });
        for (key, tls) in wanted {
            let checker = checkers.entry(key.clone()).or_insert_with(Checker::new);
            *checker.tls.lock().unwrap_or_else(PoisonError::into_inner) = tls;
            if checker.task.is_none() {
                tracing::info!(service = %key.service, target = %key.address, path = %key.check.path, "health checker started");
                let running = run(
                    key,
                    checker.health.clone(),
                    checker.tls.clone(),
                    self.metrics.clone(),
                );
                checker.task = Some(tokio::spawn(running).abort_handle());
            }
        }
    }

    /// How many checkers run.
    pub fn running(&self) -> usize {
        self.lock().values().filter(|c| c.task.is_some()).count()
    }
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        for checker in self.lock().values() {
            if let Some(task) = &checker.task {
                task.abort();
            }
        }
    }
}

/// The keys of every checked target of `snapshot`, each with how it is reached over
/// TLS (`None`: an `http://` target).
fn checked_targets(snapshot: &Snapshot) -> HashMap<CheckKey, Option<TlsTarget>> {
    let mut wanted = HashMap::new();
    for service in &snapshot.services {
        let settings = &service.upstream;
        for target in &settings.targets {
            if let Some(key) = CheckKey::of(&service.name, settings, target) {
                wanted.insert(key, tls_target(settings, target));
            }
        }
    }
    wanted
}

/// One target's checker: a check, then `interval` of rest, for as long as it is not
/// stopped. The first check starts at once. An `https://` target is checked with the
/// TLS client `tls` holds at the time of each check.
async fn run(key: CheckKey, health: Arc<ActiveHealth>, tls: CheckTls, metrics: Arc<Metrics>) {
    let probe = probe::Probe::new(&key.check.path, &key.host, key.protocol, key.secure);
    let thresholds = Thresholds::of(&key.check);
    metrics.set_target_healthy(&key.service, &key.address, health.is_up());
    loop {
        let tls_now = tls.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let outcome = probe
            .check(
                &key.address,
                tls_now.as_ref(),
                key.check.timeout,
                &key.check.statuses,
            )
            .await;
        metrics.count_health_check(&key.service, &key.address, outcome.as_str());
        if health.record(outcome, thresholds) {
            let up = health.is_up();
            metrics.set_target_healthy(&key.service, &key.address, up);
            let (service, target, result) = (&key.service, &key.address, outcome.as_str());
            if up {
                tracing::info!(%service, %target, result, "target is healthy again");
            } else {
                tracing::warn!(%service, %target, result, "target is unhealthy: taken out");
            }
        }
        tokio::time::sleep(key.check.interval).await;
    }
}

#[cfg(test)]
mod tests;
