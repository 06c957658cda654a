//! The console under `/ui/` in a real browser: starts a gateway and an echo upstream,
//! then runs the Playwright tests of crates/keygate/tests/ui (headless Chromium from the
//! system, axe-core) against them with `node --test`. The flows themselves are in
//! `console.test.mjs`; this file only sets the stage and reports.
//!
//! Where Chromium, node or the packages (`npm ci` in crates/keygate/tests/ui) are
//! missing, the test is ignored (crates/keygate/build.rs); under `CI=true` it runs and a
//! missing tool fails it. `KEYGATE_SCREENSHOTS=docs/img` also writes the screenshots the
//! README shows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Echo, Gateway, TempDir, ADMIN_TOKEN};

/// The longest the browser tests may run before they are stopped and failed.
const BROWSER_PATIENCE: Duration = Duration::from_secs(300);

/// The folder of the browser tests.
fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// Chromium: `KEYGATE_CHROMIUM`, else `chromium` on `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYGATE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    })
}

#[test]
#[cfg_attr(
    not(keygate_test_browser),
    ignore = "needs chromium and node (apt-get install chromium nodejs npm) and `npm ci` in crates/keygate/tests/ui"
)]
fn the_console_in_a_real_browser() {
    let chromium =
        chromium().expect("chromium is not installed: the console's browser tests need it");
    let dir = tests_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .is_file(),
        "the browser tests' packages are missing: run `npm ci` in crates/keygate/tests/ui"
    );
    let echo = Echo::start("console");
    // Usage counts reach the store each second, for the usage screen's test.
    let gateway = Gateway::start("usage:\n  flush_interval: 1s\n");
    // node writes to files, so that a long report never blocks it on a full pipe.
    let logs = TempDir::new();
    let out = std::fs::File::create(logs.0.join("out")).expect("a log file");
    let err = std::fs::File::create(logs.0.join("err")).expect("a log file");
    let mut node = Command::new("node");
    node.args([
        "--test",
        "--test-concurrency=1",
        "console.test.mjs",
        "roles.test.mjs",
    ])
    .current_dir(&dir)
    .env("KEYGATE_CHROMIUM", &chromium)
    .env("KEYGATE_ADMIN_URL", format!("http://{}", gateway.admin))
    .env("KEYGATE_PROXY_URL", format!("http://{}", gateway.address))
    .env("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)
    .env("KEYGATE_ECHO_URL", echo.url())
    .stdout(Stdio::from(out))
    .stderr(Stdio::from(err));
    if let Some(folder) = std::env::var_os("KEYGATE_SCREENSHOTS") {
        // Relative to the repository, where a person runs `cargo test` from.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        node.env("KEYGATE_SCREENSHOTS", root.join(folder));
    }
    let mut child = node.spawn().expect("node runs (apt-get install nodejs)");
    let deadline = Instant::now() + BROWSER_PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let report = format!(
        "{}\n{}",
        std::fs::read_to_string(logs.0.join("out")).unwrap_or_default(),
        std::fs::read_to_string(logs.0.join("err")).unwrap_or_default()
    );
    eprintln!("{report}");
    let status = status.unwrap_or_else(|| {
        panic!("the browser tests took longer than {BROWSER_PATIENCE:?} and were stopped")
    });
    assert!(
        status.success(),
        "the browser tests failed ({status}); keygate's log:\n{}",
        gateway.process.stderr_text()
    );
    assert!(report.contains("# fail 0"), "no test summary: {report}");
}
