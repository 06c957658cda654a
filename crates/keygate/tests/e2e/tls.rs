//! TLS on the proxy and admin listeners through real sockets: curl over HTTPS against a
//! test CA made at test time (rcgen), the certificate picked by the server name (read
//! back with `openssl s_client`), certificates replaced while a connection stays open,
//! `request.tls` and `request.clientCertificate` in expressions, the redirect of plain
//! HTTP to HTTPS, and the admin API and CLI over HTTPS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::cli::run_with;
use crate::support::{eventually, Echo, Gateway, TempDir, ADMIN_TOKEN, PATIENCE};

/// A certificate authority made for one test, its certificate written as `ca.pem`.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    path: PathBuf,
}

impl Ca {
    fn new(dir: &Path) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "keygate test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, cert.pem()).unwrap();
        Ca { cert, key, path }
    }

    /// A certificate named `common_name` for `names` (DNS names or IP addresses),
    /// written as `STEM.crt` and `STEM.key`.
    fn issue(
        &self,
        dir: &Path,
        stem: &str,
        common_name: &str,
        names: &[&str],
    ) -> (PathBuf, PathBuf) {
        self.issue_for(
            dir,
            stem,
            common_name,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    fn issue_for(
        &self,
        dir: &Path,
        stem: &str,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        let (cert_path, key_path) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

/// What a finished `curl` printed.
struct Curl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// `curl --http1.1` with `args`, bounded in time.
fn curl(args: &[&str]) -> Curl {
    let output = Command::new("curl")
        .args(["--http1.1", "--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("curl runs");
    Curl {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `curl` to `https://NAME:PORT/PATH` on `address`, trusting `ca`; prints the status
/// code last.
fn curl_https(ca: &Path, address: SocketAddr, name: &str, path: &str, extra: &[&str]) -> Curl {
    let resolve = format!("{name}:{}:127.0.0.1", address.port());
    let url = format!("https://{name}:{}{path}", address.port());
    let mut args = vec![
        "--cacert",
        ca.to_str().unwrap(),
        "--resolve",
        &resolve,
        "--write-out",
        "\n%{http_code}",
    ];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

impl Curl {
    /// The status code (`--write-out` puts it last).
    fn status(&self) -> u16 {
        assert_eq!(
            self.code,
            Some(0),
            "curl failed: {}\n{}",
            self.stderr,
            self.stdout
        );
        self.stdout.lines().last().unwrap().parse().unwrap()
    }

    /// The body as JSON (everything before the status line).
    fn json(&self) -> serde_json::Value {
        let body = self.stdout.rsplit_once('\n').map_or("", |(body, _)| body);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// The subject common name of the certificate served on `address` for the server name
/// `sni` (none sent when `None`), as `openssl s_client` shows it.
fn served_name(address: SocketAddr, sni: Option<&str>) -> String {
    let connect = address.to_string();
    let mut args = vec!["s_client", "-connect", &connect];
    match sni {
        Some(name) => args.extend(["-servername", name]),
        None => args.push("-noservername"),
    }
    let shown = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl s_client runs");
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-nameopt", "RFC2253"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl x509 runs");
    x509.stdin.take().unwrap().write_all(&shown.stdout).unwrap();
    let subject = x509.wait_with_output().unwrap();
    let subject = String::from_utf8_lossy(&subject.stdout).trim().to_owned();
    subject
        .strip_prefix("subject=CN=")
        .unwrap_or_else(|| panic!("no certificate for {sni:?}: {subject:?}"))
        .to_owned()
}

/// The gateway's configuration: a plain and a TLS listener on free ports, `tls` as the
/// `proxy.tls` section (indented under it), and `rest`.
fn config(dir: &Path, tls: &str, rest: &str) -> String {
    format!(
        "proxy:\n  listen:\n    - 127.0.0.1:0\n    - {{address: 127.0.0.1:0, tls: true}}\n  header_timeout: 30s\n  shutdown_timeout: 5s\n  tls:\n{tls}admin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{rest}",
        dir.join("keygate.db").display()
    )
}

/// A service on `echo` whose routes need no key: `/open/*` for anyone, `/secure/*`
/// only over TLS, `/certified/*` only with a client certificate; and a service for host
/// `redirected.test` that sends plain HTTP to HTTPS.
fn services(echo: &Echo) -> String {
    format!(
        "services:
  - name: redirected
    hosts: [redirected.test]
    https_redirect: true
    upstream: {url}
    routes: [{{name: all, paths: ['/*'], auth: none}}]
  - name: echo
    upstream: {url}
    routes:
      - {{name: open, paths: ['/open/*'], auth: none}}
      - {{name: secure, paths: ['/secure/*'], auth: none, allow: 'request.tls'}}
      - {{name: certified, paths: ['/certified/*'], auth: none, allow: 'request.clientCertificate'}}
",
        url = echo.url()
    )
}

fn certificate_entry(cert: &Path, key: &Path, hosts: &str) -> String {
    format!(
        "      - cert_file: {}\n        key_file: {}\n{hosts}",
        cert.display(),
        key.display()
    )
}

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

/// A TLS connection kept open, with the CA as its only root.
struct KeptConnection {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

/// A client configuration trusting `ca` alone, speaking `version`; it keeps sessions
/// for resumption, as rustls clients do.
fn client_config(
    ca: &Path,
    version: &'static rustls::SupportedProtocolVersion,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(ca).unwrap();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_protocol_versions(&[version])
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

impl KeptConnection {
    fn open(ca: &Path, address: SocketAddr) -> KeptConnection {
        KeptConnection::open_with(client_config(ca, &rustls::version::TLS13), address)
    }

    fn open_with(config: Arc<rustls::ClientConfig>, address: SocketAddr) -> KeptConnection {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(config, name).unwrap();
        let socket = TcpStream::connect(address).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        KeptConnection {
            stream: rustls::StreamOwned::new(connection, socket),
        }
    }

    /// Sends a keep-alive `GET path` and reads its response: the status.
    fn get(&mut self, path: &str) -> u16 {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        self.stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let mut byte = [0u8; 1];
        while !received.ends_with(b"\r\n\r\n") {
            self.stream.read_exact(&mut byte).unwrap();
            received.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&received).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .map_or(0, |value| value.trim().parse().unwrap());
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).unwrap();
        head.split(' ').nth(1).unwrap().parse().unwrap()
    }

    /// The common name's bytes are in the certificate this connection was served.
    fn was_served(&self, common_name: &str) -> bool {
        let chain = self.stream.conn.peer_certificates().unwrap();
        chain[0]
            .windows(common_name.len())
            .any(|window| window == common_name.as_bytes())
    }
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

/// The README's HTTPS example, as a newcomer runs it: the openssl line in a fresh
/// directory, the YAML as `https.yaml` there (only the ports made free ones, and the
/// echo upstream's address), `keygate serve` started from that directory, and each curl
/// line printing what its comment says.
#[test]
fn the_readme_https_example_runs_as_written() {
    const README: &str = include_str!("../../../../README.md");
    const HEADING: &str = "### HTTPS with a self-signed certificate";
    let start = README
        .find(HEADING)
        .expect("the README has the HTTPS example");
    let section = &README[start + HEADING.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let block = |fence: &str, nth: usize| -> String {
        let opened = section
            .match_indices(&format!("```{fence}\n"))
            .nth(nth)
            .unwrap_or_else(|| panic!("no ```{fence} block {nth}"));
        let body = &section[opened.0 + opened.1.len()..];
        body[..body.find("```").unwrap()].replace("\\\n", " ")
    };
    let dir = TempDir::new();
    let made = Command::new("sh")
        .args(["-c", &block("sh", 0)])
        .current_dir(&dir.0)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let echo = Echo::start("echo");
    let yaml = block("yaml", 0)
        .replace("127.0.0.1:8081", "127.0.0.1:0")
        .replace("127.0.0.1:8443", "127.0.0.1:0")
        .replace("127.0.0.1:9181", "127.0.0.1:0")
        .replace("http://127.0.0.1:9001", &echo.url());
    std::fs::write(dir.0.join("https.yaml"), yaml).unwrap();
    let run = block("sh", 1);
    let mut lines = run.lines();
    let serve = lines.next().unwrap();
    assert_eq!(
        serve,
        "./target/release/keygate serve --config https.yaml &"
    );
    let gateway = crate::support::Process::spawn_in(&dir.0, &["serve", "--config", "https.yaml"]);
    let plain = gateway.listening_address("proxy");
    let secure = gateway.listening_address("proxy tls");

    let mut checked = 0;
    for line in lines.filter(|line| line.starts_with("curl ")) {
        let (command, comment) = line
            .split_once(" # ")
            .expect("a comment says what is printed");
        let expected = comment.split_whitespace().last().unwrap();
        let command = command
            .replace("localhost:8443", &format!("localhost:{}", secure.port()))
            .replace("127.0.0.1:8081", &plain.to_string());
        let output = Command::new("sh")
            .args([
                "-c",
                &format!("{command} --silent --show-error --max-time 10"),
            ])
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && printed.contains(expected),
            "`{line}` printed {printed} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}
