//! A gateway's address and SQLite store are its alone: a second `keygate serve` on the
//! same `proxy.listen`, `admin.listen` or database file fails at start and says why, while
//! the first keeps serving; the database files are readable by their owner only.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use crate::support::{request, Echo, Gateway, Process, TempDir, ADMIN_TOKEN};

/// One service on `echo`, and one consumer whose key is `key`.
fn services(echo: &Echo, key: &str) -> String {
    format!(
        r#"
services:
  - name: s
    upstream: {url}
    routes:
      - name: all
        paths: ["/*"]
consumers:
  - name: only
    keys: [{{key: {key}}}]
"#,
        url = echo.url()
    )
}

/// Starts `keygate serve` on a configuration of its own in `dir`, with these listeners and
/// store, and the services of [`services`].
fn serve(dir: &TempDir, proxy: &str, admin: &str, store: &Path, rest: &str) -> Process {
    let config = dir.0.join("second.yaml");
    std::fs::write(
        &config,
        format!(
            "proxy:\n  listen: {proxy}\nadmin:\n  listen: {admin}\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{rest}",
            store.display()
        ),
    )
    .unwrap();
    Process::spawn(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--workers",
        "2",
    ])
}

/// Waits for `process` to end, which must be with a failure, and returns its stderr.
fn fails(mut process: Process) -> String {
    let status = process.wait_exit();
    let stderr = process.stderr_text();
    assert_eq!(status.code(), Some(1), "{status:?}\n{stderr}");
    stderr
}

/// Asserts that `count` requests on connections of their own all reach `gateway` (only it
/// knows `key`).
fn all_served(address: SocketAddr, key: &str, count: usize) {
    for n in 0..count {
        let response = request(address, "GET", "/x", &[("apikey", key)], b"");
        assert_eq!(response.status, 200, "request {n}: {response:?}");
    }
}

#[test]
fn a_second_gateway_on_the_proxy_port_fails_and_the_first_keeps_all_traffic() {
    let echo = Echo::start("e");
    let first = Gateway::start(&services(&echo, "first-key-0123"));
    let dir = TempDir::new();
    let second = serve(
        &dir,
        &first.address.to_string(),
        "127.0.0.1:0",
        &dir.0.join("keygate.db"),
        &services(&echo, "second-key-0123"),
    );
    let stderr = fails(second);
    assert!(
        stderr.contains(&format!(
            "keygate: cannot listen on {} (`proxy.listen`): ",
            first.address
        )),
        "{stderr}"
    );
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(!stderr.contains("proxy listening"), "{stderr}");
    // Every new connection still reaches the first gateway (its two workers included).
    all_served(first.address, "first-key-0123", 20);
}

#[test]
fn a_second_gateway_on_the_admin_port_fails_naming_admin_listen() {
    let echo = Echo::start("e");
    let first = Gateway::start(&services(&echo, "first-key-0123"));
    let dir = TempDir::new();
    let second = serve(
        &dir,
        "127.0.0.1:0",
        &first.admin.to_string(),
        &dir.0.join("keygate.db"),
        &services(&echo, "second-key-0123"),
    );
    let stderr = fails(second);
    assert!(
        stderr.contains(&format!(
            "keygate: cannot listen on {} (`admin.listen`): ",
            first.admin
        )),
        "{stderr}"
    );
    assert_eq!(first.admin("GET", "/v1/consumers", "").status, 200);
}

#[test]
fn a_second_gateway_on_the_same_database_fails_naming_the_file() {
    let echo = Echo::start("e");
    let mut first = Gateway::start(&services(&echo, "first-key-0123"));
    let dir = first.take_dir();
    let database = dir.0.join("keygate.db");
    let other = TempDir::new();
    let second = serve(
        &other,
        "127.0.0.1:0",
        "127.0.0.1:0",
        &database,
        &services(&echo, "second-key-0123"),
    );
    let stderr = fails(second);
    assert!(
        stderr.contains(&format!(
            "keygate: cannot open the store: store unavailable: the database `{}` is in use by \
             another keygate process (it holds `{}.lock`): an SQLite store serves one process; \
             stop the other one, or use PostgreSQL to run several gateways on one store",
            database.display(),
            database.display()
        )),
        "{stderr}"
    );
    // The first one's key set is untouched and the second one's key was never added.
    all_served(first.address, "first-key-0123", 3);
    let response = first.get("/x", &[("apikey", "second-key-0123")]);
    assert_eq!(response.status, 401, "{response:?}");

    // `keygate validate` and the admin command line work while the server runs.
    let validate = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .arg("validate")
        .arg(&first.config_path)
        .output()
        .unwrap();
    assert!(validate.status.success(), "{validate:?}");
    let list = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["consumers", "list"])
        .env("KEYGATE_ADMIN_URL", format!("http://{}", first.admin))
        .env("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(list.status.success(), "{list:?}");
    assert!(String::from_utf8_lossy(&list.stdout).contains("only"));

    // A crash releases the store: a gateway started after a SIGKILL opens it.
    drop(first);
    let restarted = Gateway::start_in(dir, &services(&echo, "first-key-0123"));
    all_served(restarted.address, "first-key-0123", 1);
}

/// The permission bits of `path`.
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn database_files_are_owner_only_and_older_ones_are_tightened() {
    let echo = Echo::start("e");
    let mut gateway = Gateway::start(&services(&echo, "first-key-0123"));
    // A write through the admin API, so the store has written to its write-ahead log.
    let created = gateway.admin("POST", "/v1/consumers/only/keys", "{}");
    assert_eq!(created.status, 201, "{created:?}");
    let dir = gateway.take_dir();
    let database = dir.0.join("keygate.db");
    let files = [
        "keygate.db",
        "keygate.db-wal",
        "keygate.db-shm",
        "keygate.db.lock",
    ];
    for name in files {
        assert_eq!(mode(&dir.0.join(name)), 0o600, "{name}");
    }

    // A database an older version left readable by others is made private at start.
    gateway.process.signal("TERM");
    gateway.process.wait_exit();
    drop(gateway);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
    let restarted = Gateway::start_in(dir, &services(&echo, "first-key-0123"));
    let warning = restarted.process.wait_for_line("readable by others");
    assert!(warning.contains("(mode 0644)"), "{warning}");
    assert!(warning.contains("changed to 0600"), "{warning}");
    assert!(warning.contains("keygate.db"), "{warning}");
    assert_eq!(mode(&database), 0o600);
    all_served(restarted.address, "first-key-0123", 1);
}

#[test]
fn a_start_that_fails_on_an_address_in_use_generates_no_token_and_no_store() {
    let echo = Echo::start("e");
    let first = Gateway::start(&services(&echo, "first-key-0123"));
    for (proxy, admin) in [
        (first.address.to_string(), "127.0.0.1:0".to_owned()),
        ("127.0.0.1:0".to_owned(), first.admin.to_string()),
    ] {
        let dir = TempDir::new();
        let config = dir.0.join("keygate.yaml");
        std::fs::write(
            &config,
            format!(
                "proxy:\n  listen: {proxy}\nadmin:\n  listen: {admin}\nstore: sqlite://{}\n",
                dir.0.join("keygate.db").display()
            ),
        )
        .unwrap();
        let process = Process::spawn(&["serve", "--config", config.to_str().unwrap()]);
        let stderr = fails(process);
        assert!(stderr.contains("cannot listen on"), "{stderr}");
        assert!(!stderr.contains("generated an admin token"), "{stderr}");
        assert!(!dir.0.join("keygate.admin-token").exists());
        assert!(!dir.0.join("keygate.db").exists());
    }
}
