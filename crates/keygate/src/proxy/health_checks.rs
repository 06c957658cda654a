//! Active health checks: one checker task per checked target for the whole process, not
//! per snapshot or worker thread. The checkers live here, keyed by service, target address
//! and check settings, and follow the services: each time the snapshot is replaced (a
//! reload, an admin write, a cluster change) a target whose key is still there keeps its
//! checker and its verdict, a new one gets a checker, and the checker of one that is gone
//! stops. The upstreams of every snapshot read the same verdicts ([`HealthChecks::health`]).

mod probe;
mod report;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::AbortHandle;

pub use report::{ServiceHealth, TargetReport};

use crate::config::{HealthCheck, Target};
use crate::metrics::Metrics;
use crate::proxy::upstream::{ActiveHealth, Thresholds};
use crate::state::{SharedState, Snapshot};

/// What makes a checker: two targets with the same key share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CheckKey {
    service: Arc<str>,
    /// `host:port` connected to.
    address: String,
    /// The `Host` field sent.
    host: String,
    check: HealthCheck,
}

impl CheckKey {
    fn of(service: &Arc<str>, target: &Target, check: &HealthCheck) -> CheckKey {
        CheckKey {
            service: service.clone(),
            address: target_address(target),
            host: check
                .host
                .clone()
                .unwrap_or_else(|| target.authority.as_str().to_owned()),
            check: check.clone(),
        }
    }
}

/// `host:port` of a target, port 80 when its URL has none (as the upstream connects).
pub fn target_address(target: &Target) -> String {
    format!(
        "{}:{}",
        target.authority.host(),
        target.authority.port_u16().unwrap_or(80)
    )
}

/// A target's verdict and the task that checks it (none until the checkers follow the
/// snapshot that has it).
struct Checker {
    health: Arc<ActiveHealth>,
    task: Option<AbortHandle>,
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

    /// The verdict on `target` of `service` under `check`: the one its checker keeps, or a
    /// new one (up) that the next [`HealthChecks::follow`] step gives a checker.
    pub fn health(
        &self,
        service: &Arc<str>,
        target: &Target,
        check: &HealthCheck,
    ) -> Arc<ActiveHealth> {
        let key = CheckKey::of(service, target, check);
        let mut checkers = self.lock();
        let checker = checkers.entry(key).or_insert_with(|| Checker {
            health: Arc::default(),
            task: None,
        });
        checker.health.clone()
    }

    /// The verdict on `target` of `service` under `check`, if one is kept.
    fn find(
        &self,
        service: &Arc<str>,
        target: &Target,
        check: &HealthCheck,
    ) -> Option<Arc<ActiveHealth>> {
        let key = CheckKey::of(service, target, check);
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
            let keep = wanted.contains(key);
            if !keep {
                if let Some(task) = &checker.task {
                    task.abort();
                    self.metrics.forget_target(&key.service, &key.address);
                    tracing::info!(service = %key.service, target = %key.address, "health checker stopped");
                }
            }
            keep
        });
        for key in wanted {
            let checker = checkers.entry(key.clone()).or_insert_with(|| Checker {
                health: Arc::default(),
                task: None,
            });
            if checker.task.is_none() {
                tracing::info!(service = %key.service, target = %key.address, path = %key.check.path, "health checker started");
                let task = tokio::spawn(run(key, checker.health.clone(), self.metrics.clone()));
                checker.task = Some(task.abort_handle());
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

/// The keys of every checked target of `snapshot`.
fn checked_targets(snapshot: &Snapshot) -> HashSet<CheckKey> {
    let mut wanted = HashSet::new();
    for service in &snapshot.services {
        let Some(check) = &service.upstream.health_check else {
            continue;
        };
        for target in &service.upstream.targets {
            wanted.insert(CheckKey::of(&service.name, target, check));
        }
    }
    wanted
}

/// One target's checker: a check, then `interval` of rest, for as long as it is not
/// stopped. The first check starts at once.
async fn run(key: CheckKey, health: Arc<ActiveHealth>, metrics: Arc<Metrics>) {
    let request = probe::request(&key.check.path, &key.host);
    let thresholds = Thresholds::of(&key.check);
    metrics.set_target_healthy(&key.service, &key.address, health.is_up());
    loop {
        let outcome = probe::check(
            &key.address,
            &request,
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
