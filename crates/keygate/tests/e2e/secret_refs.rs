//! Secret references: a served file takes its admin token and keys from `$file://` and
//! `$env://`, and one it cannot resolve stops the start with the reference's position.

use std::process::{Command, Stdio};

use crate::support::{Echo, Gateway, TempDir, ADMIN_TOKEN};

#[test]
fn the_admin_token_and_keys_come_from_files_and_variables() {
    let echo = Echo::start("api");
    let dir = TempDir::new();
    let token_file = dir.0.join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let key_file = dir.0.join("alex-key");
    std::fs::write(&key_file, "ec8e8fa78d4e271b368d\n").unwrap();
    let config = format!(
        "admin:\n  token: $file://{}\n  listen: 127.0.0.1:0\nproxy:\n  listen: 127.0.0.1:0\nstore: sqlite://{}\n\
         services:\n  - name: api\n    upstream: {}\n    routes: [{{name: all, paths: ['/*']}}]\n\
         consumers:\n  - name: alex\n    keys:\n      - key: $file://{}\n",
        token_file.display(),
        dir.0.join("keygate.db").display(),
        echo.url(),
        key_file.display(),
    );
    let gateway = Gateway::start_with_text(dir, &config, "admin");
    let allowed = gateway.get("/x", &[("apikey", "ec8e8fa78d4e271b368d")]);
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(
        allowed.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
    // The reference's text is not a key.
    let literal = format!("$file://{}", key_file.display());
    assert_eq!(gateway.get("/x", &[("apikey", &literal)]).status, 401);
    // The admin API takes the token the file holds.
    assert_eq!(gateway.admin("GET", "/v1/consumers", "").status, 200);
}

#[test]
fn an_unset_variable_stops_the_start_at_its_position() {
    let dir = TempDir::new();
    let path = dir.0.join("keygate.yaml");
    let config = format!(
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: $env://KEYGATE_E2E_UNSET_TOKEN\nstore: sqlite://{}\n",
        dir.0.join("keygate.db").display()
    );
    std::fs::write(&path, config).unwrap();
    for command in ["serve", "validate"] {
        let flag = if command == "serve" { "--config" } else { "-f" };
        let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
            .args([command, flag, path.to_str().unwrap()])
            .env_remove("KEYGATE_E2E_UNSET_TOKEN")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains("keygate.yaml:5:10")
                && stderr.contains("the environment variable KEYGATE_E2E_UNSET_TOKEN is not set"),
            "{command}: {stderr}"
        );
    }
    // Set, the same file starts.
    let output = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(["validate", "-f", path.to_str().unwrap()])
        .env("KEYGATE_E2E_UNSET_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}
