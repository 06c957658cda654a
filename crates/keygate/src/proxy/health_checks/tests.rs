//! The checkers follow the snapshots: kept with their verdicts while a target and its
//! check stay the same (taking up the snapshot's TLS client), stopped when the target
//! goes, replaced when the check or the protocol changes.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::proxy::upstream::CheckOutcome;
use crate::state::Directory;

/// A configuration with service `api` on `targets`, checked every `interval`. The
/// targets are ports of 127.0.0.1 nothing should listen on; the checks fail, which does
/// not matter here.
fn config(targets: &[&str], interval: &str) -> Config {
    let targets: Vec<String> = targets
        .iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect();
    let text = format!(
        "services:\n  - name: api\n    upstream:\n      targets: [{}]\n      health_check: {{path: /health, interval: {interval}}}\n    routes: [{{name: all, paths: ['/*'], auth: none}}]\n",
        targets.join(", ")
    );
    Config::parse("t.yaml", &text).unwrap()
}

fn snapshot(config: Config, metrics: &Metrics) -> Snapshot {
    let services = config.services.clone();
    let directory = crate::state::Directory::default();
    Snapshot::build(Arc::new(config), services, &directory, metrics)
}

/// The verdict `checks` keeps for `port` of service `api` in `config`.
fn verdict(checks: &HealthChecks, config: &Config, port: &str) -> Option<Arc<ActiveHealth>> {
    let service = &config.services[0];
    let target = service
        .upstream
        .targets
        .iter()
        .find(|t| t.authority.port_u16().map(|p| p.to_string()).as_deref() == Some(port))
        .unwrap();
    checks.find(&service.name, &service.upstream, target)
}

#[tokio::test]
async fn checkers_and_verdicts_outlive_snapshots_while_their_target_stays() {
    let metrics = Arc::new(Metrics::new(false));
    let checks = HealthChecks::new(metrics.clone());
    let first = config(&["1", "2"], "10s");
    let state = SharedState::new(
        snapshot(first.clone(), &metrics),
        Arc::new(Directory::default()),
    );
    checks.reconcile(&state);
    assert_eq!(checks.running(), 2, "one checker per target");
    let kept = verdict(&checks, &first, "1").unwrap();
    // A verdict the checker reached survives the next snapshot.
    let thresholds = Thresholds {
        healthy_after: 1,
        unhealthy_after: 1,
        timeouts_after: 1,
    };
    kept.record(CheckOutcome::Status(500), thresholds);

    state.replace(snapshot(first.clone(), &metrics));
    checks.reconcile(&state);
    assert_eq!(checks.running(), 2, "the same targets: no new checker");
    let again = verdict(&checks, &first, "1").unwrap();
    assert!(Arc::ptr_eq(&kept, &again));
    assert!(!again.is_up(), "the verdict is kept");

    let fewer = config(&["1"], "10s");
    state.replace(snapshot(fewer.clone(), &metrics));
    checks.reconcile(&state);
    assert_eq!(
        checks.running(),
        1,
        "the checker of the removed target stopped"
    );
    assert!(verdict(&checks, &first, "2").is_none());
    assert!(Arc::ptr_eq(&kept, &verdict(&checks, &fewer, "1").unwrap()));

    let changed = config(&["1"], "20s");
    state.replace(snapshot(changed.clone(), &metrics));
    checks.reconcile(&state);
    assert_eq!(checks.running(), 1);
    let fresh = verdict(&checks, &changed, "1").unwrap();
    assert!(
        !Arc::ptr_eq(&kept, &fresh),
        "another check, another checker"
    );
    assert!(fresh.is_up(), "a new checker starts up");
}

#[tokio::test]
async fn an_upstream_built_before_the_checkers_follow_gets_the_verdict_they_keep() {
    let metrics = Arc::new(Metrics::new(false));
    let checks = HealthChecks::new(metrics.clone());
    let config = config(&["1"], "10s");
    let state = SharedState::new(
        snapshot(config.clone(), &metrics),
        Arc::new(Directory::default()),
    );
    let service = &config.services[0];
    let early = checks
        .health(
            &service.name,
            &service.upstream,
            &service.upstream.targets[0],
        )
        .unwrap();
    assert_eq!(checks.running(), 0);
    checks.reconcile(&state);
    assert_eq!(checks.running(), 1);
    assert!(Arc::ptr_eq(
        &early,
        &verdict(&checks, &config, "1").unwrap()
    ));
}

#[tokio::test]
async fn follow_reconciles_after_each_replacement() {
    let metrics = Arc::new(Metrics::new(false));
    let checks = Arc::new(HealthChecks::new(metrics.clone()));
    let state = SharedState::new(
        snapshot(config(&["1", "2"], "10s"), &metrics),
        Arc::new(Directory::default()),
    );
    tokio::spawn(checks.clone().follow(state.clone()));
    let wait_for = |count: usize| {
        let checks = checks.clone();
        async move {
            for _ in 0..200 {
                if checks.running() == count {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            panic!("{} checkers run, not {count}", checks.running());
        }
    };
    wait_for(2).await;
    state.replace(snapshot(config(&["3"], "10s"), &metrics));
    wait_for(1).await;
}

/// Service `api` on `https://127.0.0.1:1` with `protocol` and its upstream TLS unchecked
/// (no files needed); each parse makes a TLS client of its own.
fn tls_config(protocol: &str) -> Config {
    let text = format!(
        "services:\n  - name: api\n    upstream:\n      targets: [https://127.0.0.1:1]\n      protocol: {protocol}\n      tls: {{verify: false}}\n      health_check: {{path: /health, interval: 10s}}\n    routes: [{{name: all, paths: ['/*'], auth: none}}]\n"
    );
    Config::parse("t.yaml", &text).unwrap()
}

/// The TLS client the checker of `config`'s one target holds.
fn checker_tls(checks: &HealthChecks, config: &Config) -> Arc<rustls::ClientConfig> {
    let service = &config.services[0];
    let target = &service.upstream.targets[0];
    let key = CheckKey::of(&service.name, &service.upstream, target).unwrap();
    let checkers = checks.lock();
    let held = checkers[&key].tls.lock().unwrap().clone().unwrap();
    held.connector.config().clone()
}

#[tokio::test]
async fn a_checker_takes_up_a_new_tls_client_and_a_new_protocol_starts_anew() {
    let metrics = Arc::new(Metrics::new(false));
    let checks = HealthChecks::new(metrics.clone());
    let first = tls_config("http1");
    let state = SharedState::new(
        snapshot(first.clone(), &metrics),
        Arc::new(Directory::default()),
    );
    checks.reconcile(&state);
    assert_eq!(checks.running(), 1);
    let verdict = checks
        .find(
            &"api".into(),
            &first.services[0].upstream,
            &first.services[0].upstream.targets[0],
        )
        .unwrap();
    let first_client = first.services[0]
        .upstream
        .tls
        .as_ref()
        .unwrap()
        .client
        .clone();
    assert!(Arc::ptr_eq(&checker_tls(&checks, &first), &first_client));

    // A reload (a TLS client of its own): the same checker and verdict, the new client.
    let reloaded = tls_config("http1");
    state.replace(snapshot(reloaded.clone(), &metrics));
    checks.reconcile(&state);
    assert_eq!(checks.running(), 1);
    let kept = checks
        .find(
            &"api".into(),
            &reloaded.services[0].upstream,
            &reloaded.services[0].upstream.targets[0],
        )
        .unwrap();
    assert!(Arc::ptr_eq(&verdict, &kept));
    let new_client = reloaded.services[0]
        .upstream
        .tls
        .as_ref()
        .unwrap()
        .client
        .clone();
    assert!(!Arc::ptr_eq(&new_client, &first_client));
    assert!(Arc::ptr_eq(&checker_tls(&checks, &reloaded), &new_client));

    // Another protocol is another checker.
    let h2 = tls_config("h2");
    state.replace(snapshot(h2.clone(), &metrics));
    checks.reconcile(&state);
    assert_eq!(checks.running(), 1);
    let anew = checks
        .find(
            &"api".into(),
            &h2.services[0].upstream,
            &h2.services[0].upstream.targets[0],
        )
        .unwrap();
    assert!(!Arc::ptr_eq(&verdict, &anew));
}
