//! Caddy `forward_auth` with deploy/caddy/Caddyfile, as shipped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    anonymous_consumer_passes, assert_logged, client_forwarding_does_not_pass,
    client_identity_does_not_pass, other_refusals, seed_scenario,
    what_the_upstream_reads_is_what_is_checked, AuthzGateway,
};
use crate::support::{Echo, TempDir, PATIENCE};

/// The Caddy binary: `KEYGATE_CADDY`, else `caddy` on `PATH`.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KEYGATE_CADDY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("caddy"))
            .find(|candidate| candidate.is_file())
    })
}

/// A running Caddy on the shipped Caddyfile; killed on drop.
struct Caddy {
    address: SocketAddr,
    child: Child,
    dir: TempDir,
}

impl Caddy {
    fn start(binary: &PathBuf, authz: SocketAddr, api: SocketAddr) -> Caddy {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // Caddy cannot report a port it chose: take a free one and hand it over; if
            // another process takes it in between, Caddy exits and the next is tried.
            let address = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port");
            let dir = TempDir::new();
            let caddyfile = include_str!("../../../../../deploy/caddy/Caddyfile")
                .replace(":8080", &format!(":{}", address.port()))
                .replace("127.0.0.1:9190", &authz.to_string())
                .replace("127.0.0.1:9001", &api.to_string());
            let path = dir.0.join("Caddyfile");
            std::fs::write(&path, caddyfile).expect("write Caddyfile");
            let log = std::fs::File::create(dir.0.join("caddy.log")).expect("log file");
            let mut child = Command::new(binary)
                .args(["run", "--adapter", "caddyfile", "--config"])
                .arg(&path)
                .env("HOME", &dir.0)
                .env("XDG_DATA_HOME", dir.0.join("data"))
                .env("XDG_CONFIG_HOME", dir.0.join("config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            loop {
                if TcpStream::connect(address).is_ok() {
                    return Caddy {
                        address,
                        child,
                        dir,
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.0.join("caddy.log")).unwrap_or_default();
                    assert!(
                        Instant::now() < deadline,
                        "caddy exited with {status}:\n{log}"
                    );
                    break;
                }
                assert!(Instant::now() < deadline, "caddy did not start listening");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("caddy.log")).unwrap_or_default()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ignored where Caddy was not installed when the tests were built (crates/keygate/build.rs);
/// under `CI=true` a missing Caddy fails it.
#[test]
#[cfg_attr(
    not(keygate_test_caddy),
    ignore = "needs caddy (apt-get install caddy)"
)]
fn caddy_forward_auth_runs_the_seed_scenario() {
    let binary = binary().expect("caddy is not installed: the authz test must run against it");
    let echo = Echo::start("api");
    let gateway = AuthzGateway::start(&[]);
    let caddy = Caddy::start(&binary, gateway.authz, echo.address);
    let check = std::panic::catch_unwind(|| {
        seed_scenario(caddy.address);
        other_refusals(caddy.address);
        client_identity_does_not_pass(caddy.address);
        anonymous_consumer_passes(caddy.address);
        what_the_upstream_reads_is_what_is_checked(caddy.address);
        client_forwarding_does_not_pass(caddy.address);
        // The only cookie was the key: nothing of it reaches the API.
        let only_key = super::get(
            caddy.address,
            "/v1/orders/report",
            &[("Cookie", &format!("mia_client_key={}", super::BOB_KEY))],
        );
        assert_eq!(only_key.status, 200, "{only_key:?}");
        let body = String::from_utf8_lossy(&only_key.body).into_owned();
        assert!(!body.contains(super::BOB_KEY), "{body}");
        // The same cookie spelled as keygate also reads it: nothing of it either.
        for cookie in [
            format!("mia_client_key ={}", super::BOB_KEY),
            format!("mia_client_key={};;", super::BOB_KEY),
            format!(";mia_client_key={}", super::BOB_KEY),
        ] {
            let answer = super::get(caddy.address, "/v1/orders/report", &[("Cookie", &cookie)]);
            assert_eq!(answer.status, 200, "{cookie}: {answer:?}");
            let body = String::from_utf8_lossy(&answer.body).into_owned();
            assert!(!body.contains(super::BOB_KEY), "{cookie}: {body}");
        }
    });
    if let Err(panic) = check {
        eprintln!("caddy's log:\n{}", caddy.log());
        std::panic::resume_unwind(panic);
    }
    assert_logged(&gateway, "forward_auth", 9);
}
