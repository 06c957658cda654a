//! PostgreSQL start-up errors that say where and what: an unreachable server is named by
//! `host:port` with the reason (never the password), and TLS settings that could never
//! work (`verify-full` without root certificates, a root certificate file that is missing)
//! are refused by `validate` at the position of `store:` and by `serve` at once. No
//! database is needed: nothing listens on the ports used.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{closed_port, Process, TempDir, ADMIN_TOKEN};

/// A complete configuration on `store`, whose `store:` line is line 7.
fn config_on(store: &str) -> String {
    format!(
        "proxy:\n  listen: 127.0.0.1:0\n  shutdown_timeout: 1s\nadmin:\n  listen: 127.0.0.1:0\n  \
         token: {ADMIN_TOKEN}\nstore: \"{store}\"\n"
    )
}

/// Writes `text` as `keygate.yaml` in `dir`; returns its path as text.
fn write_config(dir: &TempDir, text: &str) -> String {
    let path = dir.0.join("keygate.yaml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn an_unreachable_postgres_is_named_with_its_port_and_the_reason() {
    let port = closed_port().port();
    let dir = TempDir::new();
    let store = format!("postgres://keygate:hunter2-secret@127.0.0.1:{port}/test");
    let path = write_config(&dir, &config_on(&store));
    let gateway = Process::spawn(&["serve", "--config", &path, "--workers", "1"]);
    let line = gateway.wait_for_line("cannot load the state from PostgreSQL yet");
    assert!(
        line.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}: "
        )),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");
    assert!(!line.contains("hunter2"), "never the password: {line}");
    assert!(!line.contains("postgres://"), "never the URL: {line}");
}

#[test]
fn verify_full_without_root_certificates_is_refused_by_validate_and_serve() {
    let expected = |path: &str| {
        format!(
            "{path}:7:8: `sslmode=verify-full` needs the certificates to verify the server \
             against: add `sslrootcert=<PEM file>`, or `sslrootcert=system`"
        )
    };
    refused_by_validate_and_serve("sslmode=verify-full", expected);
}

#[test]
fn a_missing_root_certificate_file_is_refused_by_validate_and_serve() {
    let expected = |path: &str| {
        format!(
            "{path}:7:8: cannot read the certificates of \
             `sslrootcert=/nonexistent/keygate-root.pem`"
        )
    };
    refused_by_validate_and_serve(
        "sslmode=verify-ca&sslrootcert=/nonexistent/keygate-root.pem",
        expected,
    );
}

/// A store URL with `query` is refused by `keygate validate` and by `serve` at once (not
/// retried), with the message `expected(config path)`, never showing the password.
fn refused_by_validate_and_serve(query: &str, expected: impl Fn(&str) -> String) {
    let port = closed_port().port();
    let dir = TempDir::new();
    let store = format!("postgres://keygate:hunter2-secret@127.0.0.1:{port}/test?{query}");
    let path = write_config(&dir, &config_on(&store));
    let expected = expected(&path);

    let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate", &path])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(errors.contains(&expected), "{errors}");
    assert!(!errors.contains("hunter2"), "never the password: {errors}");

    let started = Instant::now();
    let mut gateway = Process::spawn(&["serve", "--config", &path, "--workers", "1"]);
    let status = gateway.wait_exit();
    assert_eq!(status.code(), Some(1), "{}", gateway.stderr_text());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not retried: {:?}",
        started.elapsed()
    );
    let logged = gateway.stderr_text();
    assert!(logged.contains(&expected), "{logged}");
    assert!(!logged.contains("hunter2"), "never the password: {logged}");
}
