//! What the TLS tests share: a CA made at test time (rcgen), curl and openssl run
//! against a gateway, the gateway's configuration, and a TLS connection kept open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::support::{Echo, ADMIN_TOKEN, PATIENCE};

/// A certificate authority made for one test, its certificate written as `ca.pem`.
pub(super) struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub(super) path: PathBuf,
}

impl Ca {
    pub(super) fn new(dir: &Path) -> Ca {
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
    pub(super) fn issue(
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

    pub(super) fn issue_for(
        &self,
        dir: &Path,
        stem: &str,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> (PathBuf, PathBuf) {
        self.issue_params(dir, stem, common_name, names, usage, |_| {})
    }

    /// [`Ca::issue`] for a certificate that expired in 2021.
    pub(super) fn issue_expired(
        &self,
        dir: &Path,
        stem: &str,
        names: &[&str],
    ) -> (PathBuf, PathBuf) {
        self.issue_params(
            dir,
            stem,
            stem,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
            |params| {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            },
        )
    }

    fn issue_params(
        &self,
        dir: &Path,
        stem: &str,
        common_name: &str,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        adjust(&mut params);
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
pub(super) struct Curl {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// `curl --http1.1` with `args`, bounded in time.
pub(super) fn curl(args: &[&str]) -> Curl {
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
pub(super) fn curl_https(
    ca: &Path,
    address: SocketAddr,
    name: &str,
    path: &str,
    extra: &[&str],
) -> Curl {
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
    pub(super) fn status(&self) -> u16 {
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
    pub(super) fn json(&self) -> serde_json::Value {
        let body = self.stdout.rsplit_once('\n').map_or("", |(body, _)| body);
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
    }
}

/// The subject common name of the certificate served on `address` for the server name
/// `sni` (none sent when `None`), as `openssl s_client` shows it.
pub(super) fn served_name(address: SocketAddr, sni: Option<&str>) -> String {
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
pub(super) fn config(dir: &Path, tls: &str, rest: &str) -> String {
    format!(
        "proxy:\n  listen:\n    - 127.0.0.1:0\n    - {{address: 127.0.0.1:0, tls: true}}\n  header_timeout: 30s\n  shutdown_timeout: 5s\n  tls:\n{tls}admin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{rest}",
        dir.join("keygate.db").display()
    )
}

/// A service on `echo` whose routes need no key: `/open/*` for anyone, `/secure/*`
/// only over TLS, `/certified/*` only with a client certificate; and a service for host
/// `redirected.test` that sends plain HTTP to HTTPS.
pub(super) fn services(echo: &Echo) -> String {
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

pub(super) fn certificate_entry(cert: &Path, key: &Path, hosts: &str) -> String {
    format!(
        "      - cert_file: {}\n        key_file: {}\n{hosts}",
        cert.display(),
        key.display()
    )
}

/// A TLS connection kept open, with the CA as its only root.
pub(super) struct KeptConnection {
    pub(super) stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

/// A client configuration trusting `ca` alone, speaking `version`; it keeps sessions
/// for resumption, as rustls clients do.
pub(super) fn client_config(
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
    pub(super) fn open(ca: &Path, address: SocketAddr) -> KeptConnection {
        KeptConnection::open_with(client_config(ca, &rustls::version::TLS13), address)
    }

    pub(super) fn open_with(
        config: Arc<rustls::ClientConfig>,
        address: SocketAddr,
    ) -> KeptConnection {
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(config, name).unwrap();
        let socket = TcpStream::connect(address).unwrap();
        socket.set_read_timeout(Some(PATIENCE)).unwrap();
        KeptConnection {
            stream: rustls::StreamOwned::new(connection, socket),
        }
    }

    /// Sends a keep-alive `GET path` and reads its response: the status.
    pub(super) fn get(&mut self, path: &str) -> u16 {
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
    pub(super) fn was_served(&self, common_name: &str) -> bool {
        let chain = self.stream.conn.peer_certificates().unwrap();
        chain[0]
            .windows(common_name.len())
            .any(|window| window == common_name.as_bytes())
    }
}
