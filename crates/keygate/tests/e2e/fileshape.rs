//! One file shape: what `keygate export` writes, `keygate validate` accepts, `keygate
//! serve` starts from, and `keygate apply` and `keygate diff` take — and a serve
//! configuration given to `apply` is refused with positions.

use crate::cli::{cli, run_with, write};
use crate::support::{Echo, Gateway, TempDir};

/// A file service without plans and a file consumer with a key.
fn source_config(echo: &Echo) -> String {
    format!(
        "services:\n  - name: api\n    upstream: {}\n    routes:\n      - name: all\n        paths: [\"/*\"]\nconsumers:\n  - name: filed\n    keys: [{{key: file-key-123456, id: file-key}}]\n",
        echo.url()
    )
}

/// `method path body` on the admin API, expecting `status`.
fn admin(gateway: &Gateway, method: &str, path: &str, body: &str, status: u16) {
    let reply = gateway.admin(method, path, body);
    assert_eq!(reply.status, status, "{method} {path}: {}", reply.message());
}

/// A gateway holding consumers, keys of every kind, a service with plans and
/// subscriptions in every key mode, made through the admin API beside the file's own.
fn populated(echo: &Echo) -> Gateway {
    let gateway = Gateway::start(&source_config(echo));
    let shop = format!(
        r#"{{"name":"shop","path_prefix":"/shop","upstream":"{}","routes":[{{"name":"all","paths":["/*"]}}],"plans":[{{"name":"gold","forward_key":true,"description":"all calls"}},{{"name":"silver","auto_approve":false}}]}}"#,
        echo.url()
    );
    admin(&gateway, "PUT", "/v1/services/shop", &shop, 201);
    let alice = r#"{"groups":["staff"],"permissions":["read"],"metadata":{"team":"a"},"description":"Alice"}"#;
    admin(&gateway, "PUT", "/v1/consumers/alice", alice, 201);
    admin(
        &gateway,
        "PUT",
        "/v1/consumers/bob",
        r#"{"client_type":"partner"}"#,
        201,
    );
    let keys = [
        r#"{"key":"alice-key-0123456","id":"alice-laptop","description":"laptop","labels":{"env":"prod"},"expires_at":"2031-01-01T00:00:00Z"}"#,
        r#"{"key_hash":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","id":"alice-hashed","active":false}"#,
    ];
    for key in keys {
        admin(&gateway, "POST", "/v1/consumers/alice/keys", key, 201);
    }
    let old = r#"{"key":"bob-old-key-0123456","id":"bob-old"}"#;
    admin(&gateway, "POST", "/v1/consumers/bob/keys", old, 201);
    admin(&gateway, "POST", "/v1/keys/bob-old/revoke", "", 200);
    let subscriptions = [
        r#"{"id":"sub-own","consumer":"alice","service":"shop","plan":"gold","key":"alice-gold-0123456"}"#,
        r#"{"id":"sub-pending","consumer":"alice","service":"shop","plan":"silver"}"#,
        r#"{"id":"sub-shared","consumer":"bob","service":"shop","plan":"gold","key_mode":"shared","key":"bob-shared-0123456","ends_at":"2032-06-01T12:00:00Z"}"#,
    ];
    for subscription in subscriptions {
        admin(&gateway, "POST", "/v1/subscriptions", subscription, 201);
    }
    admin(
        &gateway,
        "POST",
        "/v1/subscriptions/sub-shared/pause",
        "",
        200,
    );
    gateway
}

#[test]
fn export_validates_serves_and_exports_again_identically() {
    let echo = Echo::start("e");
    let source = populated(&echo);
    let exported = cli(&source, "export").ok().stdout;
    for unknown in [
        "origin",
        "revision",
        "alice-key-0123456",
        "bob-shared-0123456",
    ] {
        assert!(!exported.contains(unknown), "{unknown} in:\n{exported}");
    }
    for known in [
        "subscription: sub-own",
        "shared: true",
        "revoked_at: ",
        "plans:",
    ] {
        assert!(exported.contains(known), "{known} not in:\n{exported}");
    }
    let dir = TempDir::new();
    let file = write(&dir, "export.yaml", &exported);
    let valid = run_with(&["validate", &file], &[]).ok();
    assert!(
        valid
            .stdout
            .ends_with(": valid (2 services, 3 consumers)\n"),
        "{}",
        valid.stdout
    );
    // The export is what the gateway holds: diff finds nothing to do.
    let same = cli(&source, &format!("diff -f {file} --prune --exit-code")).ok();
    assert!(
        same.stdout
            .starts_with("Summary:\n  Created: 0\n  Updated: 0\n  Deleted: 0\n"),
        "{}",
        same.stdout
    );

    // A new gateway on an empty store, started from the export alone.
    let copy = Gateway::start(&exported);
    assert_eq!(cli(&copy, "export").ok().stdout, exported);
    let shop = |key: &str| copy.get("/shop/x", &[("apikey", key)]).status;
    assert_eq!(shop("alice-gold-0123456"), 200);
    // Paused: the key is known and valid, its only subscription does not pass.
    assert_eq!(shop("bob-shared-0123456"), 403);
    let api = |key: &str| copy.get("/x", &[("apikey", key)]).status;
    assert_eq!(api("alice-key-0123456"), 200);
    assert_eq!(api("bob-old-key-0123456"), 401);
    assert_eq!(api("file-key-123456"), 200);

    // `apply` takes the export too; what it does not apply, it says.
    let fresh = Gateway::start(&source_config(&echo));
    let applied = cli(&fresh, &format!("apply -f {file}")).ok();
    assert_eq!(
        applied.last_line(),
        "6 created, 0 updated, 0 deleted, 3 unchanged",
        "{}",
        applied.stdout
    );
    for id in ["sub-own", "sub-pending", "sub-shared"] {
        let warning = format!("keygate: warning: subscription {id} is not on the gateway and is not applied: subscriptions and their keys are issued with `keygate subscriptions create`\n");
        assert!(applied.stderr.contains(&warning), "{}", applied.stderr);
    }
    assert_eq!(
        fresh.get("/x", &[("apikey", "alice-key-0123456")]).status,
        200
    );
}

#[test]
fn diff_shows_creates_updates_and_deletes_and_changes_nothing() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&source_config(&echo));
    admin(&gateway, "PUT", "/v1/consumers/keep", "{}", 201);
    admin(
        &gateway,
        "PUT",
        "/v1/consumers/change",
        r#"{"groups":["a"]}"#,
        201,
    );
    admin(&gateway, "PUT", "/v1/consumers/gone", "{}", 201);
    let key = r#"{"key":"change-key-0123456","id":"ck","description":"old"}"#;
    admin(&gateway, "POST", "/v1/consumers/change/keys", key, 201);
    let old = format!(
        r#"{{"name":"old","path_prefix":"/old","upstream":"{}","routes":[{{"name":"all","paths":["/*"]}}]}}"#,
        echo.url()
    );
    admin(&gateway, "PUT", "/v1/services/old", &old, 201);
    let dir = TempDir::new();
    let file = write(
        &dir,
        "wanted.yaml",
        "consumers:\n  - name: keep\n  - name: change\n    groups: [b]\n    keys: [{key: change-key-0123456, id: ck, description: new}]\n  - name: new\nservices: []\n",
    );
    let expected = "updating consumer change (groups)\n  - groups: [\"a\"]\n  + groups: [\"b\"]\nupdating key ck (description)\n  - description: \"old\"\n  + description: \"new\"\ncreating consumer new\ndeleting consumer gone\ndeleting service old\nSummary:\n  Created: 1\n  Updated: 2\n  Deleted: 2\n  Unchanged: 1\n";
    let shown = cli(&gateway, &format!("diff -f {file} --prune")).ok();
    assert_eq!(shown.stdout, expected);
    let flagged = cli(&gateway, &format!("diff -f {file} --prune --exit-code"));
    assert_eq!((flagged.code, flagged.stdout.as_str()), (Some(2), expected));
    let json = cli(&gateway, &format!("diff -f {file} --prune --output json"))
        .ok()
        .json();
    assert_eq!(
        (json["created"].as_u64(), json["deleted"].as_u64()),
        (Some(1), Some(2))
    );
    // Without --prune, nothing is deleted.
    let kept = cli(&gateway, &format!("diff -f {file}")).ok();
    assert!(
        kept.stdout.ends_with("  Deleted: 0\n  Unchanged: 1\n"),
        "{}",
        kept.stdout
    );
    // Nothing was changed.
    assert_eq!(gateway.admin("GET", "/v1/consumers/gone", "").status, 200);
    assert_eq!(gateway.admin("GET", "/v1/consumers/new", "").status, 404);

    cli(&gateway, &format!("apply -f {file} --prune")).ok();
    let after = cli(&gateway, &format!("diff -f {file} --prune --exit-code")).ok();
    assert_eq!(
        after.stdout,
        "Summary:\n  Created: 0\n  Updated: 0\n  Deleted: 0\n  Unchanged: 4\n"
    );
}

#[test]
fn apply_names_the_sections_of_a_serve_configuration_it_does_not_take() {
    let echo = Echo::start("e");
    let gateway = Gateway::start(&source_config(&echo));
    let dir = TempDir::new();
    let file = write(
        &dir,
        "keygate.yaml",
        "proxy:\n  listen: 127.0.0.1:8080\nstore: sqlite://keygate.db\nconsumers:\n  - name: a\n",
    );
    let taken = "takes `consumers`, `services` and `subscriptions` only";
    for command in ["apply", "diff"] {
        let refused = cli(&gateway, &format!("{command} -f {file}"));
        assert_eq!(refused.code, Some(1), "{}", refused.stdout);
        assert_eq!(
            refused.stderr,
            format!(
                "{file}:1:1: `proxy` is a setting of `keygate serve`; `keygate {command}` {taken}\n 1 | proxy:\n   | ^\n\
                 {file}:3:1: `store` is a setting of `keygate serve`; `keygate {command}` {taken}\n 3 | store: sqlite://keygate.db\n   | ^\n"
            )
        );
    }
    assert_eq!(gateway.admin("GET", "/v1/consumers/a", "").status, 404);
    // The same file is a valid serve configuration.
    run_with(&["validate", &file], &[]).ok();
}
