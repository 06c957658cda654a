//! Differential test against nginx: the corpus of requests in `differential/corpus.jsonl`
//! goes through keygate, and keygate must refuse at least what nginx refuses and forward
//! the rest so that the upstream acts on what nginx would have acted on.
//!
//! Both gateways forward to the same recorder, and are configured alike: a catch-all
//! that forwards, a prefix `/api` that is stripped, and guarded places that refuse — the
//! prefixes `/files/private/` and `/api/private/`, the exact path `/orders/report` and the
//! host `admin.example` — so that a request which reaches a guarded place only after
//! decoding or normalisation shows. The corpus holds nginx's outcome for each request;
//! `keygate_matches_recorded_nginx` checks keygate against it (no nginx needed),
//! `recorded_outcomes_are_what_nginx_does` checks the recording against a live nginx,
//! and re-records with `KEYGATE_RECORD_DIFFERENTIAL=1`; the rules of the comparison are
//! in `differential/compare.rs`.

mod compare;
mod corpus;
pub mod nginx;
mod recorder;

use compare::{status, verdict, Verdict};
use recorder::Recorder;

use crate::support::Gateway;

/// keygate's side of the configuration (nginx's is in `differential/nginx.rs`).
fn keygate_config(upstream: std::net::SocketAddr) -> String {
    format!(
        r#"
services:
  - name: admin
    hosts: [admin.example]
    upstream: http://{upstream}
    routes:
      - name: guarded
        paths: ["/*"]
  - name: api
    path_prefix: /api
    preserve_host: true
    upstream: http://{upstream}
    routes:
      - name: private
        paths: ["/private/*"]
      - name: rest
        paths: ["/*"]
        auth: none
  - name: open
    preserve_host: true
    upstream: http://{upstream}
    routes:
      - name: private-files
        paths: ["/files/private/*"]
      - name: report
        paths: [/orders/report]
      - name: anything
        paths: ["/*"]
        auth: none
"#
    )
}

#[test]
fn keygate_matches_recorded_nginx() {
    let lines = corpus::load();
    let recorder = Recorder::start();
    let gateway = Gateway::start(&keygate_config(recorder.address));
    let mut failures = Vec::new();
    let mut stricter = Vec::new();
    let mut checked = 0;
    for case in corpus::cases(&lines) {
        let Some(nginx) = &case.nginx else {
            failures.push(format!(
                "{}: not recorded yet (KEYGATE_RECORD_DIFFERENTIAL=1)",
                case.name
            ));
            continue;
        };
        let keygate = case.send(gateway.address);
        checked += 1;
        match verdict(case, nginx, &keygate) {
            Verdict::Same => {}
            Verdict::Stricter => stricter.push(format!(
                "{}: nginx forwarded, keygate refused with {}",
                case.name,
                status(&keygate)
            )),
            Verdict::Differs(why) => failures.push(format!(
                "{}: {why}\n    request: {:?}\n    nginx:   {nginx:?}\n    keygate: {keygate:?}",
                case.name,
                String::from_utf8_lossy(&case.bytes()),
            )),
        }
    }
    eprintln!(
        "differential: {checked} cases; keygate stricter than nginx on {}:\n  {}",
        stricter.len(),
        stricter.join("\n  ")
    );
    assert!(checked >= 150, "the corpus shrank to {checked} cases");
    assert!(
        failures.is_empty(),
        "keygate differs from nginx on {} of {checked} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Ignored where nginx was not installed when the tests were built (crates/keygate/build.rs),
/// so that `cargo test` shows it as ignored rather than passed; under `CI=true` it always
/// runs, and a missing nginx fails it.
#[test]
#[cfg_attr(
    not(keygate_test_nginx),
    ignore = "needs nginx (apt-get install nginx); the corpus is still checked against its recording"
)]
fn recorded_outcomes_are_what_nginx_does() {
    let binary = nginx::binary()
        .expect("nginx is not installed: the differential test must run against it here");
    let record = std::env::var_os("KEYGATE_RECORD_DIFFERENTIAL").is_some();
    let mut lines = corpus::load();
    let recorder = Recorder::start();
    let nginx = nginx::Nginx::start(&binary, recorder.address);
    let mut changed = Vec::new();
    for line in &mut lines {
        let corpus::Line::Case(case) = line else {
            continue;
        };
        let live = case.send(nginx.address);
        if case.nginx.as_ref() != Some(&live) {
            changed.push(format!(
                "{}: recorded {:?}, nginx now {live:?}",
                case.name, case.nginx
            ));
            case.nginx = Some(live);
        }
    }
    if record {
        corpus::save(&lines);
        eprintln!("recorded {} changed outcomes", changed.len());
        return;
    }
    assert!(
        changed.is_empty(),
        "nginx no longer does what the corpus recorded (re-record with \
         KEYGATE_RECORD_DIFFERENTIAL=1 and review the diff):\n{}\nnginx error log:\n{}",
        changed.join("\n"),
        nginx.error_log()
    );
}
