//! Turns on the tests that need a service or a tool from outside the repository, so that
//! where it is missing `cargo test` counts them as ignored instead of passing them
//! untested:
//!
//! - `cfg(keygate_test_database)`: `KEYGATE_TEST_DATABASE_URL` is set. The tests that need
//!   PostgreSQL then run, and fail when the database cannot be reached.
//! - `cfg(keygate_test_redis)`: `KEYGATE_TEST_REDIS_URL` is set. The tests that need Redis
//!   then run (those of rate limits across nodes also need the database), and fail when
//!   it cannot be reached.
//! - `cfg(keygate_test_nginx)`: nginx is installed (`KEYGATE_NGINX`, `nginx` on `PATH`, or
//!   `/usr/sbin/nginx`), or `CI` is `true` — where a missing nginx must fail the
//!   differential test rather than skip it.
//!
//! - `cfg(keygate_test_caddy)`: Caddy is installed (`KEYGATE_CADDY`, `caddy` on `PATH`), or
//!   `CI` is `true` — the same for the authz test behind Caddy.
//! - `cfg(keygate_test_browser)`: Chromium (`KEYGATE_CHROMIUM`, `chromium` on `PATH`),
//!   `node` and the browser tests' packages (`npm ci` in crates/keygate/tests/ui) are
//!   there, or `CI` is `true` — the same for the console's browser tests.
//!
//! Cargo runs this again when any of those variables changes.

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KEYGATE_TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=KEYGATE_TEST_REDIS_URL");
    println!("cargo::rerun-if-env-changed=KEYGATE_NGINX");
    println!("cargo::rerun-if-env-changed=KEYGATE_CADDY");
    println!("cargo::rerun-if-env-changed=KEYGATE_CHROMIUM");
    println!("cargo::rerun-if-env-changed=PATH");
    // `npm ci` there adds node_modules (a few hundred files to look at).
    println!("cargo::rerun-if-changed=tests/ui");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_database)");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_redis)");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_nginx)");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_caddy)");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_browser)");
    if std::env::var_os("KEYGATE_TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=keygate_test_database");
    }
    if std::env::var_os("KEYGATE_TEST_REDIS_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=keygate_test_redis");
    }
    if nginx_installed() || std::env::var("CI").as_deref() == Ok("true") {
        println!("cargo::rustc-cfg=keygate_test_nginx");
    }
    if caddy_installed() || std::env::var("CI").as_deref() == Ok("true") {
        println!("cargo::rustc-cfg=keygate_test_caddy");
    }
    if browser_tools_installed() || std::env::var("CI").as_deref() == Ok("true") {
        println!("cargo::rustc-cfg=keygate_test_browser");
    }
}

/// Whether `name` is a file in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

/// Whether the console's browser tests can run: Chromium, node, and the packages that
/// `npm ci` puts in crates/keygate/tests/ui/node_modules.
fn browser_tools_installed() -> bool {
    let chromium = std::env::var_os("KEYGATE_CHROMIUM")
        .is_some_and(|path| Path::new(&path).is_file())
        || on_path("chromium");
    let packages = Path::new("tests/ui/node_modules/playwright-core/package.json").is_file()
        && Path::new("tests/ui/node_modules/axe-core/package.json").is_file();
    chromium && on_path("node") && packages
}

/// Whether an nginx binary can be found where the differential test looks for one.
fn nginx_installed() -> bool {
    if std::env::var_os("KEYGATE_NGINX").is_some_and(|path| Path::new(&path).is_file()) {
        return true;
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("nginx").is_file()));
    on_path || Path::new("/usr/sbin/nginx").is_file()
}

/// Whether a Caddy binary can be found where the authz test looks for one.
fn caddy_installed() -> bool {
    if std::env::var_os("KEYGATE_CADDY").is_some_and(|path| Path::new(&path).is_file()) {
        return true;
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("caddy").is_file()))
}
