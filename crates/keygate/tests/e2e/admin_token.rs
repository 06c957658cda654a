//! The admin token: one length rule for every source, a reload that replaces it, a missing
//! token file reported by `validate`, and generated tokens told apart from API keys.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{eventually, request, Gateway, TempDir, ADMIN_TOKEN, PATIENCE};

/// Runs `keygate serve` on `config` with `env` set, expecting it to exit by itself; its
/// exit code and stderr. A process still running after the test's patience is killed
/// and the test fails.
fn serve_expecting_exit(config: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let path = dir.0.join("keygate.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args([
            "serve",
            "--config",
            path.to_str().unwrap(),
            "--access-log",
            "off",
        ])
        .env_remove("KEYGATE_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("keygate serve kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

fn listeners_and_store(dir: &TempDir) -> String {
    format!(
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nstore: sqlite://{}\n",
        dir.0.join("k.db").display()
    )
}

#[test]
fn a_short_token_is_refused_from_the_environment_as_from_the_file() {
    let dir = TempDir::new();
    let (code, stderr) = serve_expecting_exit(
        &listeners_and_store(&dir),
        &[("KEYGATE_ADMIN_TOKEN", "short")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "the admin token from KEYGATE_ADMIN_TOKEN has 5 characters; an admin token needs at least 16"
        ),
        "{stderr}"
    );

    let token_file = dir.0.join("short-token");
    std::fs::write(&token_file, "tiny\n").unwrap();
    let config = listeners_and_store(&dir).replace(
        "admin:\n",
        &format!("admin:\n  token_file: {}\n", token_file.display()),
    );
    let (code, stderr) = serve_expecting_exit(&config, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the admin token from token file {} has 4 characters",
            token_file.display()
        )),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_token_directory_is_named() {
    let dir = TempDir::new();
    let missing = dir.0.join("no-such-dir").join("k.db");
    let config = format!(
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nstore: sqlite://{}\n",
        missing.display()
    );
    let (code, stderr) = serve_expecting_exit(&config, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    let file = dir.0.join("no-such-dir").join("keygate.admin-token");
    assert!(
        stderr.contains(&format!(
            "cannot write the generated admin token to {}",
            file.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("KEYGATE_ADMIN_TOKEN"), "{stderr}");
}

#[test]
fn a_reload_puts_a_new_admin_token_in_force_at_once() {
    let gateway = Gateway::start("");
    let listed = |token: &str| {
        request(
            gateway.admin,
            "GET",
            "/v1/consumers",
            &[("X-API-KEY", token)],
            b"",
        )
        .status
    };
    assert_eq!(listed(ADMIN_TOKEN), 200);
    let replacement = "replacement-admin-token-42";
    let text = std::fs::read_to_string(&gateway.config_path).unwrap();
    std::fs::write(
        &gateway.config_path,
        text.replace(ADMIN_TOKEN, replacement)
            .replace("admin:\n", "admin:\n  consumer_metrics: true\n"),
    )
    .unwrap();
    gateway.process.signal("HUP");
    eventually("the new admin token works", || listed(replacement) == 200);
    assert_eq!(listed(ADMIN_TOKEN), 401, "the old token no longer works");
    let warning = gateway
        .process
        .wait_for_line("admin.consumer_metrics changed");
    assert!(warning.contains("after a restart"), "{warning}");

    // A token too short for the rule is refused whole: the one in force stays.
    let text = std::fs::read_to_string(&gateway.config_path).unwrap();
    std::fs::write(&gateway.config_path, text.replace(replacement, "too-short")).unwrap();
    gateway.process.signal("HUP");
    let refused = gateway.process.wait_for_line("configuration not reloaded");
    assert!(refused.contains("configuration not reloaded"), "{refused}");
    eventually("the refusal names the rule", || {
        gateway
            .process
            .stderr_text()
            .contains("an admin token needs at least 16 characters")
    });
    assert_eq!(listed(replacement), 200);
}

#[test]
fn validate_reports_a_missing_token_file_with_its_position() {
    let dir = TempDir::new();
    let path = dir.0.join("keygate.yaml");
    std::fs::write(&path, "admin:\n  token_file: /nonexistent/admin-token\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains(&format!(
            "{}:2:15: cannot read the admin token file `/nonexistent/admin-token`",
            path.display()
        )),
        "{errors}"
    );
}
