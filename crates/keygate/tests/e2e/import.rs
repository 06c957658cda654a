//! `keygate import`: each peer's export file (tests/import/) imported, served, and
//! asked what the peer was asked — no key 401, a key of an allowed group 200 with the
//! peer's identity headers, a key of a denied group 403.

use crate::cli::{run_with, write};
use crate::support::{Echo, Gateway, TempDir, ADMIN_TOKEN};

/// A fixture of tests/import/ with its upstreams pointed at `echo`.
fn fixture(name: &str, echo: &Echo, upstreams: &[&str]) -> String {
    let path = format!("{}/tests/import/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(path).expect("fixture");
    for upstream in upstreams {
        text = text.replace(upstream, &echo.address.to_string());
    }
    text
}

/// Imports `text` as `peer`'s file and returns the configuration written.
fn import(peer: &str, text: &str, dir: &TempDir) -> String {
    let file = write(dir, "peer-file", text);
    let out = dir.0.join("imported.yaml");
    let run = run_with(
        &["import", peer, &file, "--out", out.to_str().unwrap()],
        &[],
    )
    .ok();
    assert!(
        run.stderr.contains("left out") || run.stderr.contains("mapped"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&out).expect("written");
    let validate = run_with(&["validate", out.to_str().unwrap()], &[]).ok();
    assert!(validate.stdout.contains("valid"), "{}", validate.stdout);
    written
}

#[test]
fn kong_file_answers_as_kong() {
    let echo = Echo::start("orders");
    let text = fixture(
        "kong.yaml",
        &echo,
        &["orders.internal:8080", "status.internal"],
    )
    .replace("port: 9000", &format!("port: {}", echo.address.port()))
    .replace(
        &format!("{}\n    port", echo.address),
        "127.0.0.1\n    port",
    );
    let dir = TempDir::new();
    let config = import("kong", &text, &dir);
    assert!(!config.contains("alice-secret-key-0001"), "{config}");
    let gateway = Gateway::start(&config);

    let none = gateway.get("/orders/1", &[]);
    assert_eq!(none.status, 401);
    let alice = gateway.get("/orders/1?apikey=alice-secret-key-0001", &[]);
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["path"], "/api/1");
    assert_eq!(
        alice.upstream_header("x-consumer-username").as_deref(),
        Some("alice")
    );
    assert_eq!(
        alice.upstream_header("x-consumer-groups").as_deref(),
        Some("gold")
    );
    assert_eq!(
        alice.upstream_header("x-credential-identifier").as_deref(),
        Some("6b3b6f0c-4a4e-4bbf-9a2b-0e1b9c6f7d10")
    );
    // hide_credentials: true — the key does not reach the upstream.
    assert_eq!(alice.upstream_header("apikey"), None);
    let bob = [("apikey", "bob-secret-key-0002")];
    assert_eq!(gateway.get("/orders", &bob).status, 200);
    assert_eq!(gateway.get("/orders-admin/x", &bob).status, 403);
    assert_eq!(
        gateway
            .get("/orders-admin/x", &[("apikey", "alice-secret-key-0001")])
            .status,
        200
    );
    // carol's key is shorter than the custom-key rule: imported as its hash, it works.
    let carol = [("apikey", "short")];
    assert_eq!(gateway.get("/orders", &carol).status, 403);
    assert_eq!(
        gateway
            .get("/orders", &[("apikey", "wrong-key-0000")])
            .status,
        401
    );
    // The status route has no key-auth, and keeps its path (strip_path: false).
    let status = gateway.get("/status", &[]);
    assert_eq!(status.status, 200);
    assert_eq!(status.json()["path"], "/status");
}

#[test]
fn kong_key_in_body_reads_and_hides_the_body_key() {
    let echo = Echo::start("orders");
    let text = fixture(
        "kong.yaml",
        &echo,
        &["orders.internal:8080", "status.internal"],
    )
    .replace("port: 9000", &format!("port: {}", echo.address.port()))
    .replace(
        &format!("{}\n    port", echo.address),
        "127.0.0.1\n    port",
    )
    .replace("key_in_body: false", "key_in_body: true");
    let dir = TempDir::new();
    let config = import("kong", &text, &dir);
    assert!(config.contains("body: apikey"), "{config}");
    let gateway = Gateway::start(&config);
    let post = |content_type: &str, body: &str| {
        crate::support::request(
            gateway.address,
            "POST",
            "/orders-admin/x",
            &[("Content-Type", content_type), ("x-echo-body", "1")],
            body.as_bytes(),
        )
    };
    let form = post(
        "application/x-www-form-urlencoded",
        "qty=2&apikey=alice-secret-key-0001",
    );
    assert_eq!(form.status, 200, "{form:?}");
    assert_eq!(
        form.upstream_header("x-consumer-username").as_deref(),
        Some("alice")
    );
    // hide_credentials: true — the field leaves the body.
    assert_eq!(form.json()["body"], "qty=2");
    let json = post(
        "application/json",
        r#"{"apikey": "alice-secret-key-0001", "qty": 2}"#,
    );
    assert_eq!(json.status, 200, "{json:?}");
    assert_eq!(json.json()["body"], r#"{"qty": 2}"#);
    assert_eq!(
        post("text/plain", "apikey=alice-secret-key-0001").status,
        401
    );
}

#[test]
fn kong_file_is_applied_to_a_running_gateway() {
    let echo = Echo::start("orders");
    let text = fixture(
        "kong.yaml",
        &echo,
        &["orders.internal:8080", "status.internal"],
    )
    .replace("port: 9000", &format!("port: {}", echo.address.port()))
    .replace(
        &format!("{}\n    port", echo.address),
        "127.0.0.1\n    port",
    );
    let dir = TempDir::new();
    let file = write(&dir, "kong.yaml", &text);
    let gateway = Gateway::start("");
    let url = format!("http://{}", gateway.admin);
    let run = run_with(
        &[
            "import",
            "kong",
            &file,
            "--apply",
            "--admin-url",
            &url,
            "--admin-token",
            ADMIN_TOKEN,
        ],
        &[],
    )
    .ok();
    assert!(
        run.stdout.contains("create consumer alice"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("not sent by --apply"), "{}", run.stderr);
    assert_eq!(gateway.get("/orders/1", &[]).status, 401);
    let alice = gateway.get("/orders/1", &[("apikey", "alice-secret-key-0001")]);
    assert_eq!(alice.status, 200);
    assert_eq!(
        gateway
            .get("/orders-admin/1", &[("apikey", "bob-secret-key-0002")])
            .status,
        403
    );
}

/// The APISIX fixtures' requests: no key 401; alice (gold) 200 with APISIX's identity
/// headers; bob (silver) 403 on the admin route; the path forwarded as it came.
fn answers_as_apisix(gateway: &Gateway, admin_path: &str) {
    assert_eq!(gateway.get("/orders/1", &[]).status, 401);
    let alice = gateway.get("/orders/1", &[("apikey", "alice-secret-key-0001")]);
    assert_eq!(alice.status, 200);
    assert_eq!(alice.json()["path"], "/orders/1");
    assert_eq!(
        alice.upstream_header("x-consumer-username").as_deref(),
        Some("alice")
    );
    let bob = [("apikey", "bob-secret-key-0002")];
    assert_eq!(gateway.get("/orders/2", &bob).status, 200);
    assert_eq!(gateway.get(admin_path, &bob).status, 403);
}

#[test]
fn apisix_standalone_file_answers_as_apisix() {
    let echo = Echo::start("orders");
    let text = fixture("apisix.yaml", &echo, &["orders.internal:8080"]).replace(
        "host: orders.internal\n          port: 8080",
        &format!("host: 127.0.0.1\n          port: {}", echo.address.port()),
    );
    let dir = TempDir::new();
    let gateway = Gateway::start(&import("apisix", &text, &dir));
    answers_as_apisix(&gateway, "/admin/x");
    assert_eq!(
        gateway
            .get("/admin/x", &[("apikey", "alice-secret-key-0001")])
            .status,
        200
    );
    // carol's short key works; her group is not allowed on the list.
    assert_eq!(gateway.get("/orders", &[("apikey", "short")]).status, 403);
    assert_eq!(gateway.get("/health", &[]).status, 200);
}

#[test]
fn apisix_admin_api_dump_answers_as_apisix() {
    let echo = Echo::start("orders");
    let port = echo.address.port();
    let mut text = fixture("apisix-admin.json", &echo, &[]);
    for host in ["orders.internal", "orders-b.internal"] {
        text = text.replace(
            &format!("\"host\": \"{host}\", \"port\": 8080"),
            &format!("\"host\": \"127.0.0.1\", \"port\": {port}"),
        );
    }
    let dir = TempDir::new();
    let gateway = Gateway::start(&import(
        "apisix",
        &text.replace("x-api-key", "apikey"),
        &dir,
    ));
    assert_eq!(gateway.get("/orders/1", &[]).status, 401);
    let alice = gateway.get("/orders/1", &[("apikey", "alice-secret-key-0001")]);
    assert_eq!(alice.status, 200);
    assert_eq!(
        alice.upstream_header("x-credential-identifier").as_deref(),
        Some("a1")
    );
    // The dump's route admits gold only.
    assert_eq!(
        gateway
            .get("/orders/1", &[("apikey", "bob-secret-key-0002")])
            .status,
        403
    );
}

/// The Gravitee exports' requests: no key 401; a key of an accepted subscription 200
/// through its plan; the premium plan's rule false, or the subscription paused, 403.
fn answers_as_gravitee(peer_file: &str) {
    let echo = Echo::start("weather");
    let text = fixture(
        peer_file,
        &echo,
        &["weather.internal:8080", "weather-b.internal:8080"],
    );
    let dir = TempDir::new();
    let gateway = Gateway::start(&import("gravitee", &text, &dir));
    assert_eq!(gateway.get("/weather/today", &[]).status, 401);
    let alice = [
        ("X-Gravitee-Api-Key", "alice-secret-key-0001"),
        ("x-plan", "premium"),
    ];
    let premium = gateway.get("/weather/today", &alice);
    assert_eq!(premium.status, 200);
    assert_eq!(premium.json()["path"], "/v1/today");
    // propagateApiKey: true — the key goes upstream.
    assert_eq!(
        premium.upstream_header("x-gravitee-api-key").as_deref(),
        Some("alice-secret-key-0001")
    );
    let no_rule = gateway.get("/weather/today", &alice[..1]);
    assert_eq!(no_rule.status, 403);
    let bob = gateway.get(
        "/weather/today",
        &[("X-Gravitee-Api-Key", "bob-secret-key-0002")],
    );
    assert_eq!(bob.status, 200);
    assert_eq!(bob.upstream_header("x-gravitee-api-key"), None);
    let carol = [("X-Gravitee-Api-Key", "carol-secret-key-0003")];
    assert_eq!(gateway.get("/weather/today", &carol).status, 403);
}

#[test]
fn gravitee_v2_export_answers_as_gravitee() {
    answers_as_gravitee("gravitee-v2.json");
}

#[test]
fn gravitee_v4_export_answers_as_gravitee() {
    answers_as_gravitee("gravitee-v4.json");
}

/// Measurement, run on demand: a generated decK file of 100,000 consumers, each with a
/// key-auth key and an ACL group, imported by `keygate import kong`; prints the time.
/// Set `KEYGATE_BENCH_BIN` to measure another build (such as `target/release/keygate`).
///
/// `cargo test -p keygate --test e2e -- --ignored --nocapture import_100k_consumers`
#[test]
#[ignore = "measurement: run on demand"]
fn import_100k_consumers() {
    use std::fmt::Write;
    let binary = std::env::var("KEYGATE_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_keygate").to_owned());
    let consumers = 100_000;
    let mut text = String::from(
        "_format_version: \"3.0\"\nservices:\n  - name: api\n    url: http://127.0.0.1:9\n    plugins:\n      - name: key-auth\n    routes:\n      - name: all\n        paths: [/api]\nconsumers:\n",
    );
    for i in 0..consumers {
        let _ = write!(
            text,
            "  - username: user-{i}\n    custom_id: c{i}\n    acls:\n      - group: g{}\n    keyauth_credentials:\n      - key: key-{i:08}-{:016x}\n",
            i % 10,
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
    }
    let dir = TempDir::new();
    let file = write(&dir, "kong.yaml", &text);
    let out = dir.0.join("keygate.yaml");
    let started = std::time::Instant::now();
    let status = std::process::Command::new(&binary)
        .args(["import", "kong", &file, "--out", out.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run keygate import");
    let took = started.elapsed();
    assert!(status.success());
    println!(
        "import_100k_consumers: {consumers} consumers ({} bytes of decK YAML) in {:.2} s with {binary}",
        text.len(),
        took.as_secs_f64()
    );
}

#[test]
fn a_file_of_another_peer_is_refused_with_the_reason() {
    let dir = TempDir::new();
    let path = format!(
        "{}/tests/import/gravitee-v2.json",
        env!("CARGO_MANIFEST_DIR")
    );
    run_with(&["import", "kong", &path], &[]).fails_with("`_format_version` is missing");
    let broken = write(&dir, "broken.json", "{\"api\": ");
    run_with(&["import", "gravitee", &broken], &[]).fails_with("cannot read the file as JSON");
    let out = dir.0.join("never.yaml");
    run_with(
        &["import", "apisix", &path, "--out", out.to_str().unwrap()],
        &[],
    )
    .fails_with("no APISIX routes");
    assert!(!out.exists(), "nothing is written for a refused file");
}
