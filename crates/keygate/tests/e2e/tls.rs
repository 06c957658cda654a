//! TLS on the proxy and admin listeners through real sockets: curl over HTTPS against a
//! test CA made at test time (rcgen), the certificate picked by the server name (read
//! back with `openssl s_client`), certificates replaced while a connection stays open,
//! session resumption, `request.tls` and `request.clientCertificate` in expressions, the
//! redirect of plain HTTP to HTTPS, the admin API and CLI over HTTPS, the README's
//! HTTPS example, and a grpcio client over TLS ([`grpc`]).

mod authz;
mod grpc;
mod health_checks;
mod http2;
mod http2_attacks;
mod readme;
mod tools;
mod upstream;

use rcgen::ExtendedKeyUsagePurpose;

use crate::cli::run_with;
use crate::support::{eventually, Echo, Gateway, TempDir, ADMIN_TOKEN};
use tools::{
    certificate_entry, client_config, config, curl, curl_https, served_name, services, Ca,
    KeptConnection,
};

#[test]
fn https_and_http_side_by_side_with_forwarded_proto_and_request_tls() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "site", "site", &["localhost", "redirected.test"]);
    let echo = Echo::start("echo");
    let tls = format!("    certificates:\n{}", certificate_entry(&cert, &key, ""));
    let text = config(&dir.0, &tls, &services(&echo));
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let secure = gateway.process.listening_address("proxy tls");
    let ca = gateway.config_path.with_file_name("ca.pem");

    let over_tls = curl_https(
        &ca,
        secure,
        "localhost",
        "/open/a?b=c",
        &["-H", "X-Forwarded-Proto: http"],
    );
    assert_eq!(over_tls.status(), 200);
    let seen = over_tls.json();
    assert_eq!(seen["path"], "/open/a");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "https", "{seen}");
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        format!("localhost:{}", secure.port())
    );

    let plain = gateway.get("/open/a", &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.json()["headers"]["x-forwarded-proto"], "http");

    // A 3 MB body read over TLS after `100 Continue`, and an answer bigger than a TLS
    // record.
    let body = gateway.config_path.with_file_name("body.bin");
    std::fs::write(&body, vec![b'k'; 3_000_000]).unwrap();
    let upload = format!("@{}", body.display());
    let big_field = format!("X-Big: {}", "b".repeat(20_000));
    let posted = curl_https(
        &ca,
        secure,
        "localhost",
        "/open/upload",
        &[
            "--data-binary",
            &upload,
            "-H",
            "Expect: 100-continue",
            "-H",
            &big_field,
        ],
    );
    assert_eq!(posted.status(), 200);
    assert_eq!(posted.json()["body_length"], 3_000_000);
    assert_eq!(
        posted.json()["headers"]["x-big"].as_str().map(str::len),
        Some(20_000)
    );

    // `request.tls`.
    assert_eq!(gateway.get("/secure/x", &[]).status, 403);
    assert_eq!(
        curl_https(&ca, secure, "localhost", "/secure/x", &[]).status(),
        200
    );

    // TLS 1.2 too, and a client that offers no ALPN.
    let old = curl_https(
        &ca,
        secure,
        "localhost",
        "/open/",
        &["--tlsv1.2", "--tls-max", "1.2", "--no-alpn"],
    );
    assert_eq!(old.status(), 200);

    // `https_redirect`: plain HTTP goes to the TLS listener's port; HTTPS is served.
    let redirected = gateway.get("/v1/things?page=2", &[("Host", "redirected.test:80")]);
    assert_eq!(redirected.status, 308);
    assert_eq!(
        redirected.header("location"),
        Some(format!("https://redirected.test:{}/v1/things?page=2", secure.port()).as_str())
    );
    assert_eq!(redirected.message(), "This service is served over HTTPS");
    assert_eq!(
        curl_https(&ca, secure, "redirected.test", "/v1/things", &[]).status(),
        200
    );

    // A client that does not trust the CA is refused by curl, not served.
    let untrusted = curl(&[&format!("https://127.0.0.1:{}/open/", secure.port())]);
    assert_eq!(untrusted.code, Some(60), "{}", untrusted.stderr);
}

#[test]
fn the_server_name_picks_the_certificate() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (exact_cert, exact_key) = ca.issue(&dir.0, "exact", "exact", &["api.example.com"]);
    let (wild_cert, wild_key) = ca.issue(&dir.0, "wild", "wild", &["*.example.org"]);
    let (default_cert, default_key) =
        ca.issue(&dir.0, "default", "default", &["127.0.0.1", "localhost"]);
    let echo = Echo::start("echo");
    let tls = format!(
        "    certificates:\n{}{}{}",
        certificate_entry(
            &exact_cert,
            &exact_key,
            "        hosts: [API.example.com]\n"
        ),
        certificate_entry(&default_cert, &default_key, ""),
        certificate_entry(&wild_cert, &wild_key, "        hosts: ['*.example.org']\n"),
    );
    let text = config(&dir.0, &tls, &services(&echo));
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let secure = gateway.process.listening_address("proxy tls");
    let ca = gateway.config_path.with_file_name("ca.pem");

    assert_eq!(served_name(secure, Some("api.example.com")), "exact");
    assert_eq!(served_name(secure, Some("www.example.org")), "wild");
    // A wildcard covers one label; other names and no name get the default.
    assert_eq!(served_name(secure, Some("a.b.example.org")), "default");
    assert_eq!(served_name(secure, Some("elsewhere.test")), "default");
    assert_eq!(served_name(secure, None), "default");

    // curl checks each certificate against the name it asked for.
    for name in ["api.example.com", "shop.example.org", "localhost"] {
        assert_eq!(
            curl_https(&ca, secure, name, "/open/", &[]).status(),
            200,
            "{name}"
        );
    }
    let mismatch = curl_https(&ca, secure, "elsewhere.test", "/open/", &[]);
    assert_eq!(mismatch.code, Some(60), "{}", mismatch.stderr);
}

#[test]
fn certificates_reload_while_connections_stay_open() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "site", "first-certificate", &["localhost"]);
    let echo = Echo::start("echo");
    let tls = format!("    certificates:\n{}", certificate_entry(&cert, &key, ""));
    let text = config(&dir.0, &tls, &services(&echo));
    let files = dir.0.clone();
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let secure = gateway.process.listening_address("proxy tls");
    let ca_path = gateway.config_path.with_file_name("ca.pem");

    let mut kept = KeptConnection::open(&ca_path, secure);
    assert_eq!(kept.get("/open/1"), 200);
    assert!(kept.was_served("first-certificate"));
    assert_eq!(served_name(secure, Some("localhost")), "first-certificate");

    // New files in place of the old: picked up without a signal.
    ca.issue(&files, "site", "second-certificate", &["localhost"]);
    gateway
        .process
        .wait_for_line("TLS certificates reloaded: a file changed");
    eventually("new connections get the new certificate", || {
        served_name(secure, Some("localhost")) == "second-certificate"
    });
    // The connection opened before goes on, with the certificate it began with.
    assert_eq!(kept.get("/open/2"), 200);
    assert!(kept.was_served("first-certificate"));
    assert_eq!(
        curl_https(&ca_path, secure, "localhost", "/open/", &[]).status(),
        200
    );

    // A broken key: logged with its path, and the running certificate keeps serving.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let line = gateway
        .process
        .wait_for_line("TLS certificates not reloaded, the running ones keep serving");
    assert!(line.contains(&key.display().to_string()), "{line}");
    assert_eq!(served_name(secure, Some("localhost")), "second-certificate");
    assert_eq!(kept.get("/open/3"), 200);

    // A reload of the configuration that names other files puts them in force.
    let (third_cert, third_key) = ca.issue(&files, "third", "third-certificate", &["localhost"]);
    let tls = format!(
        "    certificates:\n{}",
        certificate_entry(&third_cert, &third_key, "")
    );
    std::fs::write(&gateway.config_path, config(&files, &tls, &services(&echo))).unwrap();
    gateway.process.wait_for_line("TLS settings reloaded");
    eventually("the reloaded file's certificate is served", || {
        served_name(secure, Some("localhost")) == "third-certificate"
    });
    assert_eq!(kept.get("/open/4"), 200);
}

#[test]
fn sessions_resume_with_tickets_and_by_id() {
    use rustls::version::{TLS12, TLS13};
    use rustls::HandshakeKind::{Full, Resumed};
    // `session_tickets: false` leaves TLS 1.3 nothing to resume by; TLS 1.2 still
    // resumes by session id.
    for (tickets, tls13, tls12) in [
        ("", Resumed, Resumed),
        ("    session_tickets: false\n", Full, Resumed),
    ] {
        let dir = TempDir::new();
        let ca = Ca::new(&dir.0);
        let (cert, key) = ca.issue(&dir.0, "site", "site", &["localhost"]);
        let echo = Echo::start("echo");
        let tls = format!(
            "    certificates:\n{}{tickets}",
            certificate_entry(&cert, &key, "")
        );
        let text = config(&dir.0, &tls, &services(&echo));
        let gateway = Gateway::start_with_text(dir, &text, "admin");
        let secure = gateway.process.listening_address("proxy tls");
        let ca = gateway.config_path.with_file_name("ca.pem");
        for (version, expected) in [(&TLS13, tls13), (&TLS12, tls12)] {
            let config = client_config(&ca, version);
            // A request and its answer: a TLS 1.3 ticket comes after the handshake.
            let mut first = KeptConnection::open_with(config.clone(), secure);
            assert_eq!(first.get("/open/"), 200);
            assert_eq!(first.stream.conn.handshake_kind(), Some(Full));
            let mut second = KeptConnection::open_with(config, secure);
            assert_eq!(second.get("/open/"), 200);
            assert_eq!(
                second.stream.conn.handshake_kind(),
                Some(expected),
                "{version:?}, tickets {tickets:?}"
            );
        }
    }
}

#[test]
fn client_certificates_are_checked_and_visible_to_expressions() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "site", "site", &["localhost"]);
    let (client_cert, client_key) = ca.issue_for(
        &dir.0,
        "client",
        "client",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let other_dir = TempDir::new();
    let stranger = Ca::new(&other_dir.0);
    let (stranger_cert, stranger_key) = stranger.issue_for(
        &other_dir.0,
        "stranger",
        "stranger",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let echo = Echo::start("echo");
    let tls = format!(
        "    certificates:\n{}    client_ca_file: {}\n",
        certificate_entry(&cert, &key, ""),
        ca.path.display()
    );
    let text = config(&dir.0, &tls, &services(&echo));
    let gateway = Gateway::start_with_text(dir, &text, "admin");
    let secure = gateway.process.listening_address("proxy tls");
    let ca_path = gateway.config_path.with_file_name("ca.pem");
    let (client_cert, client_key) = (client_cert.to_str().unwrap(), client_key.to_str().unwrap());

    // No certificate: served, but `request.clientCertificate` is false.
    assert_eq!(
        curl_https(&ca_path, secure, "localhost", "/open/", &[]).status(),
        200
    );
    assert_eq!(
        curl_https(&ca_path, secure, "localhost", "/certified/", &[]).status(),
        403
    );
    let with = ["--cert", client_cert, "--key", client_key];
    assert_eq!(
        curl_https(&ca_path, secure, "localhost", "/certified/", &with).status(),
        200
    );
    // A certificate from another CA ends the handshake.
    let stranger = [
        "--cert",
        stranger_cert.to_str().unwrap(),
        "--key",
        stranger_key.to_str().unwrap(),
    ];
    let refused = curl_https(&ca_path, secure, "localhost", "/certified/", &stranger);
    assert_ne!(refused.code, Some(0), "{}", refused.stdout);
}

#[test]
fn the_admin_api_and_the_cli_over_https() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "admin", "admin", &["127.0.0.1", "localhost"]);
    let text = format!(
        "proxy:\n  listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\n  tls:\n    certificates:\n{}store: sqlite://{}\n",
        certificate_entry(&cert, &key, ""),
        dir.0.join("keygate.db").display()
    );
    let gateway = Gateway::start_with_text(dir, &text, "admin tls");
    let ca_path = gateway.config_path.with_file_name("ca.pem");
    let ca_file = ca_path.to_str().unwrap();
    let url = format!("https://127.0.0.1:{}", gateway.admin.port());

    let health = curl(&[
        "--cacert",
        ca_file,
        "--write-out",
        "\n%{http_code}",
        &format!("{url}/healthz"),
    ]);
    assert_eq!(health.status(), 200);
    // Plain HTTP on the admin port gets no answer.
    let plain = curl(&[&format!(
        "http://127.0.0.1:{}/healthz",
        gateway.admin.port()
    )]);
    assert_ne!(plain.code, Some(0));

    let admin = ["--admin-url", url.as_str(), "--admin-token", ADMIN_TOKEN];
    let mut create = vec!["consumers", "create", "over-tls"];
    create.extend(admin);
    create.extend(["--ca-file", ca_file]);
    run_with(&create, &[]).ok();
    let mut list = vec!["consumers", "list", "--output", "json"];
    list.extend(admin);
    let listed = run_with(&list, &[("KEYGATE_CA_FILE", ca_file)]).ok();
    assert!(listed.stdout.contains("over-tls"), "{}", listed.stdout);

    // Without the CA the CLI does not trust the server, and says so.
    let untrusted = run_with(&list, &[]);
    assert_eq!(untrusted.code, Some(1), "{}", untrusted.stdout);
    assert!(
        untrusted.stderr.contains("cannot reach the admin API")
            && (untrusted.stderr.contains("certificate") || untrusted.stderr.contains("CA")),
        "{}",
        untrusted.stderr
    );
    let missing = [&list[..], &["--ca-file", "/nonexistent/ca.pem"]].concat();
    run_with(&missing, &[]).fails_with("--ca-file: cannot read `/nonexistent/ca.pem`");
}
