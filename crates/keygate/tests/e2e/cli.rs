//! The admin command line (`keygate consumers|keys|apply|export`) against a real gateway:
//! what it prints, what it changes, and what the next proxied request sees.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{closed_port, Echo, Gateway, TempDir, ADMIN_TOKEN, PATIENCE};

/// What a finished command printed.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "{}\n{}", self.stdout, self.stderr);
        self
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Exit code 1 and this text on stderr.
    pub(crate) fn fails_with(&self, text: &str) {
        assert_eq!(self.code, Some(1), "{}\n{}", self.stdout, self.stderr);
        assert!(
            self.stderr.contains(text),
            "{text:?} not in {}",
            self.stderr
        );
    }

    pub(crate) fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }
}

/// Runs the binary without the admin variables, plus `env`; kills it after [`PATIENCE`].
pub(crate) fn run_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .env_remove("KEYGATE_ADMIN_URL")
        .env_remove("KEYGATE_ADMIN_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keygate");
    let collect = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keygate {args:?} did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Runs an admin command against `gateway` with its URL and token.
pub(crate) fn cli_args(gateway: &Gateway, args: &[&str]) -> Run {
    let url = format!("http://{}", gateway.admin);
    let mut all = args.to_vec();
    all.extend(["--admin-url", &url, "--admin-token", ADMIN_TOKEN]);
    run_with(&all, &[])
}

/// [`cli_args`] with the arguments written as one line (no argument holds a space).
pub(crate) fn cli(gateway: &Gateway, line: &str) -> Run {
    cli_args(gateway, &line.split_whitespace().collect::<Vec<_>>())
}

fn base(echo: &Echo) -> String {
    format!(
        "services:\n  - name: api\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/*\"]\nconsumers:\n  - name: filed\n    keys: [{{key: file-key-123456, id: file-key}}]\n",
        echo.url()
    )
}

fn proxied(gateway: &Gateway, key: &str) -> u16 {
    gateway.get("/x", &[("apikey", key)]).status
}

/// The plaintext printed by `keys create` or `keys renew` in table mode.
fn printed_key(run: &Run) -> String {
    assert!(
        run.stdout.contains("only time the key is shown"),
        "{}",
        run.stdout
    );
    let line = run.stdout.lines().find(|l| l.starts_with("    "));
    line.unwrap_or_else(|| panic!("no key in:\n{}", run.stdout))
        .trim()
        .to_owned()
}

pub(crate) fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn key_lifecycle_through_the_cli() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let args = [
        "keys",
        "create",
        "--client-type",
        "A",
        "--description",
        "team A",
    ];
    let created = cli_args(&gateway, &args).ok();
    assert!(
        created.stdout.starts_with("consumer A created"),
        "{}",
        created.stdout
    );
    let key = printed_key(&created);
    assert!(key.starts_with("kg_"), "{key}");
    assert_eq!(proxied(&gateway, &key), 200);
    let consumer = gateway.admin("GET", "/v1/consumers/A", "");
    assert_eq!(consumer.json()["client_type"], "A");
    // The options come from the environment too; the consumer now exists.
    let url = format!("http://{}", gateway.admin);
    let env = [
        ("KEYGATE_ADMIN_URL", url.as_str()),
        ("KEYGATE_ADMIN_TOKEN", ADMIN_TOKEN),
    ];
    let again = run_with(
        &["keys", "create", "--client-type", "A", "--output", "json"],
        &env,
    );
    assert_eq!(again.ok().json()["consumer"], "A");

    let custom = "custom-key-0123456";
    let line = format!("keys create --consumer A --key {custom} --label env=prod --output json");
    let created = cli(&gateway, &line).ok().json();
    assert_eq!(created["key"], custom);
    assert_eq!(created["labels"]["env"], "prod");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(proxied(&gateway, custom), 200);

    let disabled = cli(&gateway, &format!("keys disable {id}")).ok();
    assert!(
        disabled.stdout.starts_with(&format!("key {id} disabled")),
        "{}",
        disabled.stdout
    );
    assert_eq!(proxied(&gateway, custom), 401);
    cli(&gateway, &format!("keys enable {id}")).ok();
    assert_eq!(proxied(&gateway, custom), 200);

    // `update` changes what it is given; an expiry in the past stops the key at once.
    let line = format!("keys update {id} --description moved --label env=stage --output json");
    let updated = cli(&gateway, &line).ok().json();
    assert_eq!(updated["description"], "moved");
    assert_eq!(updated["labels"]["env"], "stage");
    let past = format!("keys update {id} --expires-at 2020-01-01T00:00:00Z");
    let expired = cli(&gateway, &past).ok();
    assert!(
        expired.stdout.starts_with(&format!("key {id} updated")),
        "{}",
        expired.stdout
    );
    assert_eq!(proxied(&gateway, custom), 401);
    cli(&gateway, &format!("keys update {id} --expires-at never")).ok();
    assert_eq!(proxied(&gateway, custom), 200);
    cli(&gateway, &format!("keys update {id} --label env=prod")).ok();
    cli(&gateway, &format!("keys update {id}")).fails_with("keygate: nothing to change");

    let renewed = cli(&gateway, &format!("keys renew {id} --grace 0s")).ok();
    let new_key = printed_key(&renewed);
    assert_eq!(proxied(&gateway, custom), 401);
    assert_eq!(proxied(&gateway, &new_key), 200);

    let listed = cli(&gateway, "keys list --consumer A --output json").ok();
    assert!(!listed.stdout.contains(&new_key));
    let keys = listed.json();
    assert_eq!(keys.as_array().unwrap().len(), 4, "{keys}");
    let fresh = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["status"] == "active" && k["labels"]["env"] == "prod");
    let new_id = fresh.and_then(|k| k["id"].as_str()).unwrap().to_owned();
    let table = cli(&gateway, "keys list").ok();
    let header = table.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("ID ") && header.contains(" PREFIX "),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(&new_id) && table.stdout.contains("file-key"));
    assert!(!table.stdout.contains(&new_key) && !table.stdout.contains(&key));

    cli(&gateway, &format!("keys revoke {new_id}")).ok();
    assert_eq!(proxied(&gateway, &new_key), 401);
    let shown = cli(&gateway, &format!("keys get {new_id} --output json")).ok();
    assert_eq!(shown.json()["status"], "revoked");
    let refused = cli(&gateway, &format!("keys enable {new_id}"));
    refused.fails_with("keygate: 409 conflict: key ");
    assert!(refused.stdout.is_empty());
}

#[test]
fn consumers_through_the_cli() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let args = [
        "consumers",
        "create",
        "web",
        "--client-type",
        "W",
        "--group",
        "g1",
        "--group",
        "g2",
        "--description",
        "the web app",
    ];
    let created = cli_args(&gateway, &args).ok();
    assert!(
        created.stdout.starts_with("consumer web created"),
        "{}",
        created.stdout
    );
    let listed = cli(&gateway, "consumers list").ok();
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with("web "))
        .unwrap();
    assert!(
        row.contains(" W ") && row.contains("g1,g2") && row.ends_with("the web app"),
        "{row}"
    );
    assert!(listed.stdout.contains("filed"));
    let got = cli(&gateway, "consumers get web --output json").ok().json();
    assert_eq!(got["groups"], serde_json::json!(["g1", "g2"]));
    let table = cli(&gateway, "consumers get web").ok();
    assert!(table.stdout.contains("client type:  W"), "{}", table.stdout);
    // Creating what exists is refused and changes nothing; `update` changes the fields
    // it is given and keeps the others.
    cli(&gateway, "consumers create web --description replaced")
        .fails_with("keygate: 409 conflict: consumer `web` exists");
    let updated = cli(&gateway, "consumers update web --description renamed").ok();
    assert!(
        updated.stdout.starts_with("consumer web updated"),
        "{}",
        updated.stdout
    );
    let got = cli(&gateway, "consumers get web --output json").ok().json();
    assert_eq!(got["client_type"], "W");
    assert_eq!(got["groups"], serde_json::json!(["g1", "g2"]));
    assert_eq!(got["description"], "renamed");
    cli(&gateway, "consumers update nobody --description x")
        .fails_with("keygate: 404 not_found: consumer `nobody` not found");
    // Listings follow the pages to the end.
    for n in 0..120 {
        let put = gateway.admin("PUT", &format!("/v1/consumers/bulk-{n:03}"), "{}");
        assert_eq!(put.status, 201, "{put:?}");
    }
    let all = cli(&gateway, "consumers list --output json").ok().json();
    assert_eq!(all.as_array().unwrap().len(), 122);

    cli(&gateway, "consumers delete web").ok();
    cli(&gateway, "consumers get web")
        .fails_with("keygate: 404 not_found: consumer `web` not found");
    cli(&gateway, "consumers delete filed").fails_with("keygate: 409 conflict: ");
}

fn apply_file(echo: &Echo, description: &str, with_extra: bool) -> String {
    let url = echo.url();
    let mut consumers = format!(
        "consumers:\n  - name: mobile\n    client_type: M\n    groups: [apps]\n    metadata: {{team: blue}}\n    keys:\n      - key: mobile-key-0123456\n        description: {description}\n        labels: {{env: prod}}\n      - key_hash: sha256:cfffcf49d8b485b308f1bbeedaf9a2cea8a07d01d1a6bb29d07e5fafd4c89a71\n        id: bob-hash\n        expires_at: 2030-01-01T02:00:00+02:00\n"
    );
    let mut services = format!(
        "services:\n  - name: mobile-api\n    path_prefix: /m\n    upstream:\n      targets: [{url}]\n      read_timeout: 5s\n    routes:\n      - name: all\n        paths: [\"/*\"]\n        allow: \"clientType === 'M'\"\n"
    );
    if with_extra {
        consumers.push_str("  - name: extra\n    keys: [{key: extra-key-0123456}]\n");
        services.push_str(&format!("  - name: other\n    path_prefix: /other\n    upstream: {url}\n    routes: [{{name: all, paths: [\"/*\"]}}]\n"));
    }
    consumers + &services
}

#[test]
fn apply_is_idempotent_dry_runs_and_prunes() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let dir = TempDir::new();
    let path = write(&dir, "apply.yaml", &apply_file(&echo, "first", true));
    let apply = format!("apply -f {path}");

    let first = cli(&gateway, &apply).ok();
    assert!(
        first
            .stdout
            .starts_with("create consumer mobile\ncreate key "),
        "{}",
        first.stdout
    );
    assert_eq!(
        first.last_line(),
        "7 created, 0 updated, 0 deleted, 0 unchanged"
    );
    let on_m = |key: &str| gateway.get("/m/x", &[("apikey", key)]).status;
    assert_eq!(on_m("mobile-key-0123456"), 200);
    assert_eq!(on_m("bob-key-0123456789abcdef"), 200);
    assert_eq!(on_m("extra-key-0123456"), 403);
    assert_eq!(
        gateway
            .get("/other/x", &[("apikey", "extra-key-0123456")])
            .status,
        200
    );

    let second = cli(&gateway, &apply).ok();
    assert_eq!(
        second.stdout,
        "0 created, 0 updated, 0 deleted, 7 unchanged\n"
    );

    // A dry run of a changed file prints the plan and changes nothing.
    write(&dir, "apply.yaml", &apply_file(&echo, "second", false));
    let before = gateway.admin("GET", "/v1/export", "").json();
    let dry = cli(&gateway, &format!("{apply} --prune --dry-run")).ok();
    assert!(
        dry.last_line().ends_with("(dry run: nothing was changed)"),
        "{}",
        dry.stdout
    );
    let plan = cli(
        &gateway,
        &format!("{apply} --prune --dry-run --output json"),
    )
    .ok()
    .json();
    assert_eq!(
        (plan["updated"].as_u64(), plan["deleted"].as_u64()),
        (Some(1), Some(3)),
        "{plan}"
    );
    assert_eq!(
        plan["changes"][0]["fields"],
        serde_json::json!(["description"])
    );
    assert_eq!(before, gateway.admin("GET", "/v1/export", "").json());

    let pruned = cli(&gateway, &format!("{apply} --prune")).ok();
    for line in [
        "update key ",
        "delete key ",
        "delete consumer extra",
        "delete service other",
    ] {
        assert!(pruned.stdout.contains(line), "{line}: {}", pruned.stdout);
    }
    assert_eq!(
        pruned.last_line(),
        "0 created, 1 updated, 3 deleted, 3 unchanged"
    );
    assert_eq!(on_m("mobile-key-0123456"), 200);
    assert_eq!(proxied(&gateway, "extra-key-0123456"), 401);
    assert_eq!(gateway.admin("GET", "/v1/consumers/extra", "").status, 404);
    assert_eq!(gateway.admin("GET", "/v1/services/other", "").status, 404);
    // What the gateway's configuration file defines is never pruned.
    assert_eq!(proxied(&gateway, "file-key-123456"), 200);
    let third = cli(&gateway, &format!("{apply} --prune")).ok();
    assert_eq!(
        third.stdout,
        "0 created, 0 updated, 0 deleted, 4 unchanged\n"
    );
}

#[test]
fn export_shows_hashes_and_applies_anywhere() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let key = cli(&gateway, "keys create --client-type B --output json")
        .ok()
        .json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = cli(&gateway, "keys create --consumer B --output json")
        .ok()
        .json();
    cli(
        &gateway,
        &format!("keys revoke {}", revoked["id"].as_str().unwrap()),
    )
    .ok();
    let revoked = revoked["key"].as_str().unwrap();

    let yaml = cli(&gateway, "export").ok().stdout;
    assert!(yaml.contains("key_hash: sha256:"), "{yaml}");
    for plaintext in [key.as_str(), revoked, "file-key-123456"] {
        assert!(!yaml.contains(plaintext), "{yaml}");
    }
    let json = cli(&gateway, "export --output json").ok();
    assert_eq!(json.json()["consumers"].as_array().unwrap().len(), 2);
    assert!(!json.stdout.contains(&key));

    // Back into the same gateway: nothing to do.
    let dir = TempDir::new();
    let exported = write(&dir, "export.yaml", &yaml);
    let same = cli(&gateway, &format!("apply -f {exported} --prune")).ok();
    assert_eq!(
        same.stdout, "0 created, 0 updated, 0 deleted, 6 unchanged\n",
        "{}",
        same.stderr
    );

    // Into another gateway: the keys work there, the revoked one stays revoked.
    let other = Gateway::start(&base(&echo));
    let copied = cli(&other, &format!("apply -f {exported}")).ok();
    assert_eq!(
        copied.last_line(),
        "3 created, 0 updated, 0 deleted, 3 unchanged"
    );
    assert_eq!(proxied(&other, &key), 200);
    assert_eq!(proxied(&other, revoked), 401);
    // A generated key written in plaintext is recognised by its hash.
    let plain = format!("consumers:\n  - name: B\n    keys: [{{key: {key}}}]\n");
    let plain = write(&dir, "plain.yaml", &plain);
    let again = cli(&other, &format!("apply -f {plain}")).ok();
    assert_eq!(
        again.stdout,
        "0 created, 0 updated, 0 deleted, 2 unchanged\n"
    );
}

#[test]
fn failures_are_clear() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let url = format!("http://{}", gateway.admin);
    let wrong = run_with(
        &[
            "consumers",
            "list",
            "--admin-url",
            &url,
            "--admin-token",
            "not-the-token",
        ],
        &[],
    );
    wrong.fails_with("keygate: 401 unauthorized: ");
    assert!(wrong.stdout.is_empty());
    run_with(&["keys", "list", "--admin-url", &url], &[]).fails_with("--admin-token");

    let closed = format!("http://{}", closed_port());
    let refused = run_with(&["export", "--admin-url", &closed], &[]);
    refused.fails_with(&format!(
        "keygate: cannot reach the admin API at {closed}: "
    ));
    run_with(
        &["consumers", "list", "--admin-url", "ftp://127.0.0.1:1"],
        &[],
    )
    .fails_with("http://HOST:PORT or https://HOST:PORT");

    cli(&gateway, "keys create").fails_with("--consumer NAME or --client-type TYPE");
    let dir = TempDir::new();
    let typo = write(&dir, "typo.yaml", "consumer:\n  - name: typo\n");
    cli(&gateway, &format!("apply -f {typo}")).fails_with("consumer");
    let twice = write(&dir, "twice.yaml", "consumers:\n  - name: a\n  - name: a\n");
    cli(&gateway, &format!("apply -f {twice}")).fails_with(":3:11: consumer `a` is defined twice");
    assert_eq!(gateway.admin("GET", "/v1/consumers/a", "").status, 404);
}

#[test]
fn output_to_a_reader_that_went_away_ends_quietly() {
    // As `keygate consumers list | head -n 0`: the pipe's reader is gone before anything
    // is written.
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let url = format!("http://{}", gateway.admin);
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args([
            "consumers",
            "list",
            "--admin-url",
            &url,
            "--admin-token",
            ADMIN_TOKEN,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn services_through_the_cli() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&base(&echo));
    let dir = crate::support::TempDir::new();
    let file = dir.0.join("billing.yaml");
    std::fs::write(
        &file,
        format!(
            "name: billing\npath_prefix: /billing\nupstream: {}\nroutes:\n  - name: open\n    paths: [/health]\n    auth: none\n",
            echo.url()
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let created = cli_args(&gateway, &["services", "put", "billing", "-f", path]).ok();
    assert_eq!(created.stdout, "service billing created\n");
    assert_eq!(gateway.get("/billing/health", &[]).status, 200);
    let replaced = cli_args(&gateway, &["services", "put", "billing", "-f", path]).ok();
    assert_eq!(replaced.stdout, "service billing replaced\n");

    let listed = cli(&gateway, "services list").ok();
    let row = listed
        .stdout
        .lines()
        .find(|line| line.starts_with("billing "))
        .unwrap();
    assert!(row.contains("/billing") && row.contains(" api"), "{row}");
    assert!(listed.stdout.contains("\napi "), "{}", listed.stdout);
    let got = cli(&gateway, "services get billing").ok().json();
    assert_eq!(got["routes"][0]["auth"], "none");

    cli_args(&gateway, &["services", "put", "other", "-f", path])
        .fails_with("keygate: 422 invalid: the body names service \"billing\", the path `other`");
    cli(&gateway, "services delete api").fails_with("keygate: 409 conflict: ");
    cli(&gateway, "services delete billing").ok();
    // The path now falls to service `api`, whose route needs a key.
    assert_eq!(gateway.get("/billing/health", &[]).status, 401);
}
