//! Prometheus metrics. The request path counts with atomics on handles resolved ahead of
//! time: each route's counters are found once per snapshot, and a status's or a denial
//! reason's counter is created on its first use, so a request neither allocates nor
//! builds or hashes labels to count.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::access_record::AccessRecord;
use crate::proxy::authz::Shape;
use crate::proxy::error::Denial;
use crate::state::Directory;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: String,
    route: String,
    status: u16,
    consumer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// The name of the limit that refused a call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: LimitName,
}

/// A limit's name as a label value: shared with the limit, so finding its counter
/// allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct LimitName(Arc<str>);

impl prometheus_client::encoding::EncodeLabelValue for LimitName {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder,
    ) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, &self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuthzLabels {
    check: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    service: String,
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    service: String,
    target: String,
    result: &'static str,
}

/// The results a health check counts under (see `proxy::upstream::CheckOutcome`).
const CHECK_RESULTS: [&str; 4] = ["healthy", "unhealthy_status", "connect_failure", "timeout"];

/// The request counters of one route, one per status code, created on first use.
pub struct RouteCounters {
    service: String,
    route: String,
    by_status: Box<[OnceLock<Counter>]>,
}

impl RouteCounters {
    fn new(service: &str, route: &str) -> RouteCounters {
        RouteCounters {
            service: service.to_owned(),
            route: route.to_owned(),
            by_status: (100..600).map(|_| OnceLock::new()).collect(),
        }
    }

    fn count(&self, family: &Family<RequestLabels, Counter>, status: u16) {
        let Some(slot) = self.by_status.get(usize::from(status).saturating_sub(100)) else {
            return;
        };
        slot.get_or_init(|| {
            family
                .get_or_create(&RequestLabels {
                    service: self.service.clone(),
                    route: self.route.clone(),
                    status,
                    consumer: String::new(),
                })
                .clone()
        })
        .inc();
    }
}

/// The registry and every metric keygate exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    consumer_label: bool,
    requests: Family<RequestLabels, Counter>,
    denials: Family<ReasonLabels, Counter>,
    rate_limited: Family<LimitLabels, Counter>,
    /// `denials`' counter of each reason, indexed by `Denial as usize`, created on first use.
    denials_by_reason: Box<[OnceLock<Counter>]>,
    keys: Family<StateLabels, Gauge>,
    reloads: Family<ResultLabels, Counter>,
    store_errors: Counter,
    dropped_log_records: Counter<u64, AtomicU64>,
    upstream_retries: Counter,
    store_sync_age: Gauge<f64, AtomicU64>,
    target_healthy: Family<TargetLabels, Gauge>,
    health_checks: Family<CheckLabels, Counter>,
    total: Histogram,
    upstream: Histogram,
    gateway: Histogram,
    unrouted: Arc<RouteCounters>,
    authz_checks: Family<AuthzLabels, Counter>,
    /// `authz_checks`' counter of each shape and decision, indexed by
    /// `shape as usize * 2 + denied`, created on first use.
    authz_by_shape: Box<[OnceLock<Counter>]>,
}

impl Metrics {
    /// Registers every metric; `consumer_label` adds the consumer name to request counts.
    pub fn new(consumer_label: bool) -> Metrics {
        let mut registry = Registry::with_prefix("keygate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by service, route and status",
            requests.clone(),
        );
        let denials = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "denials",
            "Requests the gateway answered itself, by reason",
            denials.clone(),
        );
        let rate_limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Calls refused by a rate limit, by the limit's name",
            rate_limited.clone(),
        );
        let durations = Family::<PhaseLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
        });
        registry.register(
            "request_duration_seconds",
            "Time to the response head: total, upstream, and gateway (total minus upstream)",
            durations.clone(),
        );
        let keys = Family::<StateLabels, Gauge>::default();
        registry.register("keys", "Keys by state", keys.clone());
        let reloads = Family::<ResultLabels, Counter>::default();
        registry.register(
            "config_reloads",
            "Configuration reloads by result",
            reloads.clone(),
        );
        let store_errors = Counter::default();
        registry.register(
            "store_errors",
            "Store operations that failed",
            store_errors.clone(),
        );
        let dropped_log_records = Counter::default();
        registry.register(
            "dropped_access_records",
            "Access records dropped because the writer fell behind",
            dropped_log_records.clone(),
        );
        let upstream_retries = Counter::default();
        registry.register(
            "upstream_retries",
            "Tries of a request on another upstream target after a failed one",
            upstream_retries.clone(),
        );
        let store_sync_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "store_sync_age_seconds",
            "Seconds since this node last caught up with a shared (PostgreSQL) store; 0 with SQLite",
            store_sync_age.clone(),
        );
        let target_healthy = Family::<TargetLabels, Gauge>::default();
        registry.register(
            "upstream_target_healthy",
            "1 while the health checker holds a target up, 0 while it holds it down",
            target_healthy.clone(),
        );
        let health_checks = Family::<CheckLabels, Counter>::default();
        registry.register(
            "upstream_health_checks",
            "Active health checks of upstream targets, by result",
            health_checks.clone(),
        );
        let authz_checks = Family::<AuthzLabels, Counter>::default();
        registry.register(
            "authz_checks",
            "Front proxies' checks answered in authz mode, by shape and decision (allow, deny)",
            authz_checks.clone(),
        );
        let phase = |phase| durations.get_or_create(&PhaseLabels { phase }).clone();
        let (total, upstream, gateway) = (phase("total"), phase("upstream"), phase("gateway"));
        Metrics {
            unrouted: Arc::new(RouteCounters::new("", "")),
            total,
            upstream,
            gateway,
            registry: Mutex::new(registry),
            consumer_label,
            requests,
            denials,
            rate_limited,
            denials_by_reason: (0..Denial::COUNT).map(|_| OnceLock::new()).collect(),
            keys,
            reloads,
            store_errors,
            dropped_log_records,
            upstream_retries,
            store_sync_age,
            target_healthy,
            health_checks,
            authz_checks,
            authz_by_shape: (0..Shape::ALL.len() * 2).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Sets whether the health checker holds `target` (`host:port`) of `service` up.
    pub fn set_target_healthy(&self, service: &str, target: &str, up: bool) {
        let labels = TargetLabels {
            service: service.to_owned(),
            target: target.to_owned(),
        };
        self.target_healthy
            .get_or_create(&labels)
            .set(i64::from(up));
    }

    /// Counts one health check of `target` of `service` by its `result`.
    pub fn count_health_check(&self, service: &str, target: &str, result: &'static str) {
        let labels = CheckLabels {
            service: service.to_owned(),
            target: target.to_owned(),
            result,
        };
        self.health_checks.get_or_create(&labels).inc();
    }

    /// Drops the series of a target no longer checked.
    pub fn forget_target(&self, service: &str, target: &str) {
        let (service, target) = (service.to_owned(), target.to_owned());
        for result in CHECK_RESULTS {
            self.health_checks.remove(&CheckLabels {
                service: service.clone(),
                target: target.clone(),
                result,
            });
        }
        self.target_healthy
            .remove(&TargetLabels { service, target });
    }

    /// Sets how long ago this node last caught up with a shared store.
    pub fn set_store_sync_age(&self, seconds: f64) {
        self.store_sync_age.set(seconds);
    }

    /// The counters of a route, to keep beside it for the snapshot's lifetime.
    pub fn route_counters(&self, service: &str, route: &str) -> Arc<RouteCounters> {
        Arc::new(RouteCounters::new(service, route))
    }

    /// Counts one finished request; `route` is `None` when no route matched.
    pub fn observe(&self, route: Option<&RouteCounters>, record: &AccessRecord) {
        match (record.consumer(), self.consumer_label) {
            (Some(consumer), true) => {
                self.requests
                    .get_or_create(&RequestLabels {
                        service: record.service.as_deref().unwrap_or("").to_owned(),
                        route: record.route.as_deref().unwrap_or("").to_owned(),
                        status: record.status,
                        consumer: consumer.name.to_string(),
                    })
                    .inc();
            }
            _ => route
                .unwrap_or(&self.unrouted)
                .count(&self.requests, record.status),
        }
        if let Some(denial) = record.denial {
            self.count_denial(denial);
        }
        if let Some(limit) = &record.limit {
            let labels = LimitLabels {
                limit: LimitName(limit.clone()),
            };
            self.rate_limited.get_or_create(&labels).inc();
        }
        if let Some(shape) = record.mode.shape() {
            self.count_check(shape, record.status);
        }
        if record.tries > 1 {
            self.upstream_retries.inc_by(u64::from(record.tries - 1));
        }
        let seconds = |us: u64| us as f64 / 1e6;
        self.total.observe(seconds(record.total_us));
        if record.upstream_status.is_some() {
            self.upstream.observe(seconds(record.upstream_us));
        }
        self.gateway
            .observe(seconds(record.total_us.saturating_sub(record.upstream_us)));
    }

    /// Counts one check of a front proxy: allowed when answered `2xx`.
    fn count_check(&self, shape: Shape, status: u16) {
        let allowed = (200..300).contains(&status);
        let index = shape as usize * 2 + usize::from(!allowed);
        let Some(slot) = self.authz_by_shape.get(index) else {
            return;
        };
        slot.get_or_init(|| {
            let labels = AuthzLabels {
                check: shape.as_str(),
                decision: if allowed { "allow" } else { "deny" },
            };
            self.authz_checks.get_or_create(&labels).clone()
        })
        .inc();
    }

    /// Counts a request the gateway answered itself, on the reason's counter.
    fn count_denial(&self, denial: Denial) {
        let reason = denial.as_str();
        let labels = ReasonLabels { reason };
        match self.denials_by_reason.get(denial as usize) {
            Some(slot) => slot
                .get_or_init(|| self.denials.get_or_create(&labels).clone())
                .inc(),
            None => self.denials.get_or_create(&labels).inc(),
        };
    }

    /// Counts a reload.
    pub fn reload(&self, succeeded: bool) {
        let result = if succeeded { "success" } else { "failure" };
        self.reloads.get_or_create(&ResultLabels { result }).inc();
    }

    /// Registers a metric kept by another part of the gateway (such as the rate-limit
    /// sync task), under the `keygate_` prefix.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register(name, help, metric);
    }

    /// Counts a failed store operation.
    pub fn store_error(&self) {
        self.store_errors.inc();
    }

    /// Counts an access record dropped under load.
    pub fn dropped_record(&self) {
        self.dropped_log_records.inc();
    }

    /// The Prometheus text, with key counts taken now.
    pub fn render(&self, directory: &Directory) -> Result<String, std::fmt::Error> {
        let counts = directory
            .keys
            .count_by_state(crate::state::millis(SystemTime::now()));
        for (state, count) in ["active", "disabled", "revoked", "expired"]
            .into_iter()
            .zip(counts)
        {
            self.keys
                .get_or_create(&StateLabels { state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        encode(&mut text, &registry)?;
        Ok(text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::{Method, Uri};

    use super::*;

    #[test]
    fn denials_are_counted_under_their_reason() {
        let metrics = Metrics::new(false);
        let refused = |status: u16, denial: Denial| {
            let mut record =
                AccessRecord::new(Method::GET, Uri::from_static("/"), SystemTime::now());
            record.status = status;
            record.denial = Some(denial);
            metrics.observe(None, &record);
        };
        refused(401, Denial::KeyNotFound);
        refused(401, Denial::KeyNotFound);
        refused(403, Denial::Forbidden);
        let text = metrics.render(&Directory::default()).unwrap();
        assert!(text.contains(r#"keygate_denials_total{reason="key_not_found"} 2"#));
        assert!(text.contains(r#"keygate_denials_total{reason="forbidden"} 1"#));
        assert!(
            !text.contains(r#"reason="key_revoked""#),
            "no series before first use"
        );
    }
}
