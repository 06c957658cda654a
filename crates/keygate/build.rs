//! Turns the tests that need PostgreSQL on when `KEYGATE_TEST_DATABASE_URL` is set: they
//! are compiled `#[ignore]`d under `cfg(not(keygate_test_database))`, so without the
//! variable `cargo test` counts them as ignored instead of passing them untested, and with
//! it they run (and fail when the database cannot be reached). Cargo rebuilds the crate
//! when the variable changes.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KEYGATE_TEST_DATABASE_URL");
    println!("cargo::rustc-check-cfg=cfg(keygate_test_database)");
    if std::env::var_os("KEYGATE_TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=keygate_test_database");
    }
}
