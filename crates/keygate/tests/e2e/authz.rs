//! Authorization-service mode (docs/authz.md): keygate answers the checks of a real front
//! proxy — nginx `auth_request`, Caddy `forward_auth` — running the deploy/ files as they
//! are, in front of `keygate echo`; and the checks of Traefik and Envoy (not packaged
//! here) in the shapes their references document. Each runs the Mia-Platform scenario of
//! the seeds: no key `401`, a bad key `401`, client type C `403`, A and B `200` with the
//! identity fields upstream and the key removed.

mod caddy;
mod envoy;
mod nginx;
mod shapes;

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::support::{read_file, request, HttpResponse, Process, TempDir, ADMIN_TOKEN};

/// Client type A's key.
pub const ALEX_KEY: &str = "alex-key-0123456789";
/// Client type B's key.
pub const BOB_KEY: &str = "bob-key-01234567890";
/// Client type C's key: valid, but not for the report.
pub const CAROL_KEY: &str = "carol-key-0123456789";

/// The seed's project: the report is for client types A and B only.
pub const SEED_ENTITIES: &str = r#"
services:
  - name: shop
    path_prefix: /v1
    upstream: http://127.0.0.1:9
    cors: {origins: [https://app.example.com]}
    routes:
      - name: report
        paths: [/orders/report]
        allow: "clientType === 'A' || clientType === 'B'"
      - name: limited
        paths: [/limited]
        limits: [{count: 1, per: minute, name: one-a-minute}]
      - name: public
        paths: [/public]
        auth: optional
      - name: files
        paths: ["/files/*"]
        auth: optional
  - name: visitors
    path_prefix: /v2
    upstream: http://127.0.0.1:9
    anonymous_consumer: guest
    routes:
      - name: open
        paths: [/open]
        auth: optional
consumers:
  - name: guest
    client_type: visitor
  - name: alex
    client_type: A
    keys: [{key: alex-key-0123456789}]
  - name: bob
    client_type: B
    groups: [admin]
    keys: [{key: bob-key-01234567890}]
  - name: carol
    client_type: C
    keys: [{key: carol-key-0123456789}]
"#;

/// `keygate serve` with no proxy listener, only `authz.listen` (and `authz.grpc_listen`
/// when asked), on ephemeral ports: the configuration a team adds beside its proxy.
pub struct AuthzGateway {
    /// `authz.listen`'s address.
    pub authz: SocketAddr,
    /// `authz.grpc_listen`'s address, when started with it.
    pub grpc: Option<SocketAddr>,
    /// The admin API's address.
    pub admin: SocketAddr,
    pub access_log: PathBuf,
    pub process: Process,
    _dir: TempDir,
}

impl AuthzGateway {
    /// Starts keygate on [`SEED_ENTITIES`] with `settings` (lines of its `authz:`
    /// section besides `listen`).
    pub fn start(settings: &[&str]) -> AuthzGateway {
        let dir = TempDir::new();
        let grpc = settings.iter().any(|line| line.starts_with("grpc_listen"));
        let text = format!(
            "proxy:\n  listen: []\nauthz:\n  listen: 127.0.0.1:0\n  {}\nadmin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{SEED_ENTITIES}",
            settings.join("\n  "),
            dir.0.join("keygate.db").display()
        );
        AuthzGateway::launch(dir, &text, ("authz", grpc))
    }

    /// Starts keygate on the whole configuration `text`, written in `dir`; `listening`
    /// is how the authz listener's log line begins (`authz`, `authz tls`), and whether
    /// `authz.grpc_listen` is set.
    pub fn launch(dir: TempDir, text: &str, listening: (&str, bool)) -> AuthzGateway {
        let (authz, grpc) = listening;
        let config = dir.0.join("keygate.yaml");
        let access_log = dir.0.join("access.log");
        std::fs::write(&config, text).expect("write config");
        let process = Process::spawn(&[
            "serve",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--access-log",
            access_log.to_str().expect("utf-8 path"),
            "--workers",
            "1",
        ]);
        let authz = process.listening_address(authz);
        let grpc = grpc.then(|| process.listening_address("authz grpc"));
        let admin = process.listening_address("admin");
        AuthzGateway {
            authz,
            grpc,
            admin,
            access_log,
            process,
            _dir: dir,
        }
    }

    /// The access log's lines, once `count` are written.
    pub fn log_lines(&self, count: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + crate::support::PATIENCE;
        while read_file(&self.access_log).lines().count() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "fewer than {count} checks logged:\n{}\n{}",
                read_file(&self.access_log),
                self.process.stderr_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        read_file(&self.access_log)
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .collect()
    }
}

/// A key made and revoked through the admin API while keygate runs is let through, then
/// refused, by the next check: the checks read the state the admin API writes, as the
/// proxy does.
#[test]
fn a_key_revoked_while_running_is_refused_by_the_next_check() {
    let gateway = AuthzGateway::start(&[]);
    let admin = |path: &str, body: &str| {
        let headers = [
            ("X-API-KEY", ADMIN_TOKEN),
            ("Content-Type", "application/json"),
        ];
        let answer = request(gateway.admin, "POST", path, &headers, body.as_bytes());
        assert!(answer.status < 300, "{answer:?}");
        answer.json()
    };
    let made = admin("/v1/consumers/alex/keys", "{}");
    let key = made["key"].as_str().expect("the new key").to_owned();
    let check = || {
        request(
            gateway.authz,
            "GET",
            "/forward-auth",
            &[
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/v1/orders/report"),
                ("client-key", &key),
            ],
            b"",
        )
    };
    let allowed = check();
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(allowed.header("x-consumer-username"), Some("alex"));
    let id = made["id"].as_str().expect("the key id");
    admin(&format!("/v1/keys/{id}/revoke"), "");
    let refused = check();
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_eq!(refused.message(), "Invalid API key in request");
}

/// `GET path` through the front proxy at `front` with `headers`.
pub fn get(front: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    request(front, "GET", path, headers, b"")
}

/// The seed's scenario through the front proxy at `front`, which forwards to `keygate
/// echo`: refusals with keygate's status and JSON body, and A and B through with their
/// identity and without their key (in a header, and in the `mia_client_key` cookie).
pub fn seed_scenario(front: SocketAddr) {
    let path = "/v1/orders/report";
    let nobody = get(front, path, &[]);
    assert_eq!(nobody.status, 401, "{nobody:?}");
    assert_eq!(nobody.message(), "Missing API key found in request");
    let bad = get(front, path, &[("client-key", "no-such-key-0123456")]);
    assert_eq!(bad.status, 401, "{bad:?}");
    assert_eq!(bad.message(), "Invalid API key in request");
    let carol = get(front, path, &[("client-key", CAROL_KEY)]);
    assert_eq!(carol.status, 403, "{carol:?}");
    assert_eq!(carol.message(), "You cannot consume this service");

    let alex = get(
        front,
        path,
        &[
            ("client-key", ALEX_KEY),
            ("X-Consumer-Username", "mallory"),
            ("client-type", "Z"),
        ],
    );
    assert_eq!(alex.status, 200, "{alex:?}");
    assert_eq!(alex.json()["path"], path);
    assert_eq!(
        alex.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
    assert_eq!(alex.upstream_header("client-type").as_deref(), Some("A"));
    assert!(
        alex.upstream_header("x-credential-identifier").is_some(),
        "{alex:?}"
    );
    assert_eq!(alex.upstream_header("client-key"), None, "{alex:?}");

    let bob = get(
        front,
        path,
        &[("Cookie", &format!("theme=dark; mia_client_key={BOB_KEY}"))],
    );
    assert_eq!(bob.status, 200, "{bob:?}");
    assert_eq!(
        bob.upstream_header("x-consumer-username").as_deref(),
        Some("bob")
    );
    assert_eq!(bob.upstream_header("client-type").as_deref(), Some("B"));
    assert_eq!(
        bob.upstream_header("x-consumer-groups").as_deref(),
        Some("admin")
    );
    assert_eq!(
        bob.upstream_header("cookie").as_deref(),
        Some("theme=dark"),
        "{bob:?}"
    );
    let body = String::from_utf8_lossy(&bob.body).into_owned();
    assert!(!body.contains(BOB_KEY), "{body}");
}

/// Identity fields as a client might send them to pass for someone else: every name of
/// the families keygate's proxy leaves out that the front proxies can remove.
pub const SPOOFED: [(&str, &str); 16] = [
    ("X-Consumer-Username", "admin"),
    ("X-Consumer-ID", "admin"),
    ("X-Consumer-Custom-ID", "admin"),
    ("X-Consumer-Groups", "admin"),
    ("X-Credential-Identifier", "admin"),
    ("X-Credential-Username", "admin"),
    ("X-Anonymous-Consumer", "admin"),
    ("X-Anonymous-Groups", "admin"),
    ("X-Authenticated-Groups", "admin"),
    ("X-Authenticated-Scope", "admin"),
    ("X-Authenticated-Userid", "admin"),
    ("client-type", "admin"),
    ("isbackoffice", "admin"),
    ("miauserid", "admin"),
    ("miausergroups", "admin"),
    ("miauserproperties", "admin"),
];

/// Through the front proxy at `front`, no identity field a client sends reaches the
/// upstream as sent: with a key (whose identity replaces them; alex has no groups) and
/// anonymously on a route where the key is optional (no identity at all).
pub fn client_identity_does_not_pass(front: SocketAddr) {
    for (path, key) in [("/v1/orders/report", Some(ALEX_KEY)), ("/v1/public", None)] {
        let mut headers = SPOOFED.to_vec();
        headers.extend(key.map(|key| ("client-key", key)));
        let answer = get(front, path, &headers);
        assert_eq!(answer.status, 200, "{answer:?}");
        for (name, sent) in SPOOFED {
            let seen = answer.upstream_header(&name.to_ascii_lowercase());
            assert_ne!(
                seen.as_deref(),
                Some(sent),
                "{path}: {name} passed: {answer:?}"
            );
            assert!(
                seen.as_deref().is_none_or(|seen| !seen.contains(sent)),
                "{path}: {name} passed: {answer:?}"
            );
        }
        let consumer = answer.upstream_header("x-consumer-username");
        assert_eq!(consumer.as_deref(), key.map(|_| "alex"), "{answer:?}");
    }
}

/// Forwarding fields as a client might send them to make the upstream read another host,
/// port, prefix, path, method or client than the check was made for.
pub const SPOOFED_FORWARDING: [(&str, &str); 9] = [
    ("X-Forwarded-Host", "admin.example"),
    ("X-Forwarded-Port", "8443"),
    ("X-Forwarded-Prefix", "/admin"),
    ("X-Forwarded-Uri", "/admin"),
    ("X-Forwarded-Method", "DELETE"),
    ("X-Original-URI", "/admin"),
    ("X-Original-Method", "DELETE"),
    ("X-Real-IP", "10.9.8.7"),
    ("Forwarded", "for=10.9.8.7;host=admin.example"),
];

/// Through the front proxy at `front`, none of [`SPOOFED_FORWARDING`] reaches the
/// upstream as the client sent it.
pub fn client_forwarding_does_not_pass(front: SocketAddr) {
    let answer = get(front, "/v1/public", &SPOOFED_FORWARDING);
    assert_eq!(answer.status, 200, "{answer:?}");
    for (name, sent) in SPOOFED_FORWARDING {
        let seen = answer.upstream_header(&name.to_ascii_lowercase());
        assert!(
            seen.as_deref().is_none_or(|seen| !seen.contains(sent)),
            "{name} passed: {answer:?}"
        );
    }
}

/// Through the front proxy at `front`, a call without a key to a service with an
/// anonymous consumer reaches the upstream as that consumer, with
/// `X-Anonymous-Consumer: true` and no key id whatever the client sent; one with a key as
/// its own consumer, without `X-Anonymous-Consumer`.
pub fn anonymous_consumer_passes(front: SocketAddr) {
    let anonymous = get(front, "/v2/open", &SPOOFED);
    assert_eq!(anonymous.status, 200, "{anonymous:?}");
    let seen = |name: &str| anonymous.upstream_header(name);
    assert_eq!(seen("x-consumer-username").as_deref(), Some("guest"));
    assert_eq!(seen("client-type").as_deref(), Some("visitor"));
    assert_eq!(seen("x-anonymous-consumer").as_deref(), Some("true"));
    assert_eq!(seen("x-credential-identifier"), None, "{anonymous:?}");
    let mut keyed = SPOOFED.to_vec();
    keyed.push(("client-key", ALEX_KEY));
    let alex = get(front, "/v2/open", &keyed);
    assert_eq!(alex.status, 200, "{alex:?}");
    assert_eq!(
        alex.upstream_header("x-consumer-username").as_deref(),
        Some("alex")
    );
    assert_eq!(
        alex.upstream_header("x-anonymous-consumer"),
        None,
        "{alex:?}"
    );
}

/// A route no service has, and a rate limit spent, through the front proxy at `front`:
/// keygate's own `404` and `429`.
pub fn other_refusals(front: SocketAddr) {
    let unknown = get(front, "/nowhere", &[("client-key", ALEX_KEY)]);
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert_eq!(unknown.message(), "No route matched the request");
    let first = get(front, "/v1/limited", &[("client-key", ALEX_KEY)]);
    assert_eq!(first.status, 200, "{first:?}");
    let second = get(front, "/v1/limited", &[("client-key", ALEX_KEY)]);
    assert_eq!(second.status, 429, "{second:?}");
    assert_eq!(second.message(), "API rate limit exceeded");
    assert!(second.header("retry-after").is_some(), "{second:?}");
}

/// Through the front proxy at `front`, which forwards the path as the client wrote it:
/// a path that an upstream could read otherwise than keygate's normal form (dot segments,
/// escaped or not, repeated `/`) is refused with keygate's `400`, never let through for
/// the open route its normal form names; a path whose escapes differ only in case is
/// decided as usual. And a CORS preflight is checked like any request (the shop service
/// has `cors:`): without a key `401`, never an answer the front proxy takes for "allowed".
pub fn what_the_upstream_reads_is_what_is_checked(front: SocketAddr) {
    for path in [
        "/v1/orders/report/../../public",
        "/v1/orders/report/%2e%2e/%2E%2E/public",
        "/v1/orders//report/../../public",
        "/v1//public",
        "/v1/./public",
    ] {
        let answer = get(front, path, &[]);
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
        assert_eq!(answer.message(), "Invalid request path", "{path}");
    }
    let escaped = get(front, "/v1/files/caf%c3%a9", &[]);
    assert_eq!(escaped.status, 200, "{escaped:?}");
    let preflight = request(
        front,
        "OPTIONS",
        "/v1/orders/report",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 401, "{preflight:?}");
    assert_eq!(preflight.message(), "Missing API key found in request");
}

/// Checks that the log names the mode and the check's shape on every line, and the
/// consumer of the allowed ones.
pub fn assert_logged(gateway: &AuthzGateway, check: &str, count: usize) {
    let lines = gateway.log_lines(count);
    for line in &lines {
        assert_eq!(line["mode"], "authz", "{line}");
        assert_eq!(line["check"], check, "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|line| line["status"] == 200 && line["consumer"] == "alex"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line["status"] == 403 && line["client_type"] == "C"),
        "{lines:?}"
    );
}

/// docs/authz.md shows each front proxy's configuration as the deploy/ file the tests run.
#[test]
fn docs_authz_shows_the_deploy_files_as_they_are() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let docs = std::fs::read_to_string(format!("{root}/docs/authz.md")).expect("docs/authz.md");
    for file in [
        "deploy/nginx/keygate-authz.conf",
        "deploy/caddy/Caddyfile",
        "deploy/traefik/dynamic.yml",
        "deploy/envoy/envoy.yaml",
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).expect("a deploy file");
        assert!(
            docs.contains(text.trim_end()),
            "docs/authz.md does not show {file} as it is"
        );
    }
}
