#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::postgres::pool::{connect, parse_url};

fn message_of(result: Result<impl fmt::Debug>) -> String {
    match result {
        Err(StoreError::Unavailable(message)) => message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn tls_parameters_are_taken_out_of_the_url_and_the_rest_kept() {
    let (url, tls) = split_url(
        "postgres://u:secret@db/gate?application_name=a&sslmode=require&connect_timeout=2",
    )
    .unwrap();
    assert_eq!(
        url,
        "postgres://u:secret@db/gate?application_name=a&connect_timeout=2"
    );
    assert_eq!(tls.mode, SslMode::Require);
    assert_eq!(tls.roots, None);

    let (url, tls) =
        split_url("postgres://u@db/gate?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem").unwrap();
    assert_eq!(url, "postgres://u@db/gate");
    assert_eq!(tls.mode, SslMode::VerifyFull);
    assert_eq!(tls.roots, Some(Roots::File(PathBuf::from("/etc/ca.pem"))));

    // libpq's default, and the last of repeated parameters.
    assert_eq!(
        split_url("postgres://u@db/gate").unwrap().1.mode,
        SslMode::Prefer
    );
    let repeated = split_url("postgres://u@h/d?sslmode=require&sslmode=disable").unwrap();
    assert_eq!(repeated.1.mode, SslMode::Disable);
    let system = split_url("postgres://u@h/d?sslmode=verify-ca&sslrootcert=system").unwrap();
    assert_eq!(system.1.roots, Some(Roots::System));
}

#[test]
fn unknown_or_incomplete_tls_parameters_are_refused_without_the_url() {
    let unknown = message_of(split_url(
        "postgres://u:secret@h/d?sslmode=allow-everything",
    ));
    assert!(
        unknown.contains("unknown `sslmode=allow-everything`"),
        "{unknown}"
    );
    for mode in ["verify-ca", "verify-full"] {
        let message = message_of(split_url(&format!(
            "postgres://u:secret@h/d?sslmode={mode}"
        )));
        assert!(
            message.contains(&format!("`sslmode={mode}` needs")),
            "{message}"
        );
        assert!(message.contains("sslrootcert=system"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    let half = message_of(split_url("postgres://u@h/d?sslmode=require&sslcert=c.pem"));
    assert!(half.contains("needs both"), "{half}");
    let escape = message_of(split_url("postgres://u@h/d?sslrootcert=%zz"));
    assert!(escape.contains("`sslrootcert`"), "{escape}");
}

#[test]
fn certificate_files_are_read_when_the_url_is_parsed() {
    let missing = message_of(parse_url(
        "postgres://u@h/d?sslmode=verify-full&sslrootcert=/nonexistent/root.pem",
    ));
    assert!(
        missing.contains("`sslrootcert=/nonexistent/root.pem`"),
        "{missing}"
    );

    let folder = std::env::temp_dir().join(format!("keygate-pg-tls-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let empty = folder.join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let url = format!(
        "postgres://u@h/d?sslmode=verify-ca&sslrootcert={}",
        empty.display()
    );
    let message = message_of(parse_url(&url));
    assert!(message.contains("holds no PEM certificate"), "{message}");
    let url = format!(
        "postgres://u@h/d?sslmode=require&sslcert={0}&sslkey={0}",
        empty.display()
    );
    let message = message_of(parse_url(&url));
    assert!(message.contains("`sslcert="), "{message}");
    std::fs::remove_dir_all(&folder).unwrap();

    // `disable` reads nothing, so it never fails on files.
    assert!(parse_url("postgres://u@h/d?sslmode=disable&sslrootcert=/nonexistent").is_ok());
}

#[test]
fn percent_escapes_are_decoded_and_malformed_ones_refused() {
    assert_eq!(percent_decoded("a%20b%2Fc").as_deref(), Some("a b/c"));
    assert_eq!(percent_decoded("plain+text").as_deref(), Some("plain+text"));
    for bad in ["%", "%2", "%+1", "%zz", "%ff"] {
        assert_eq!(percent_decoded(bad), None, "{bad}");
    }
}

/// The test database of `KEYGATE_TEST_DATABASE_URL`, as parts to build other URLs from.
struct TestServer {
    user: String,
    port: u16,
    database: String,
    /// The server's certificate file (`SHOW ssl_cert_file`): self-signed on the test
    /// machine, so it is its own root.
    certificate: PathBuf,
}

impl TestServer {
    fn new() -> TestServer {
        let base = std::env::var("KEYGATE_TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .expect("KEYGATE_TEST_DATABASE_URL names the PostgreSQL database to test against");
        let config: postgres::Config = base.parse().unwrap();
        let mut plain = config.connect(postgres::NoTls).unwrap();
        let row = plain
            .query_one(
                "SELECT current_setting('ssl'), current_setting('ssl_cert_file')",
                &[],
            )
            .unwrap();
        let (ssl, file): (String, String) = (row.get(0), row.get(1));
        assert_eq!(ssl, "on", "the test server must have TLS on (ssl = on)");
        TestServer {
            user: config.get_user().unwrap_or("postgres").to_owned(),
            port: config.get_ports().first().copied().unwrap_or(5432),
            database: config.get_dbname().unwrap_or("postgres").to_owned(),
            certificate: PathBuf::from(file),
        }
    }

    fn url(&self, host: &str, query: &str) -> String {
        let TestServer {
            user,
            port,
            database,
            ..
        } = self;
        format!("postgres://{user}@{host}:{port}/{database}?connect_timeout=5&{query}")
    }

    /// Whether a connection made with `query` is encrypted, or why it failed.
    fn encrypted(&self, host: &str, query: &str) -> std::result::Result<bool, String> {
        let server = parse_url(&self.url(host, query)).map_err(|error| error.to_string())?;
        let mut client = connect(&server).map_err(|error| error.to_string())?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap();
        Ok(row.get(0))
    }
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn each_sslmode_connects_as_libpq_does() {
    let server = TestServer::new();
    let root = server.certificate.display().to_string();
    assert_eq!(server.encrypted("127.0.0.1", "sslmode=disable"), Ok(false));
    assert_eq!(server.encrypted("127.0.0.1", "sslmode=prefer"), Ok(true));
    assert_eq!(server.encrypted("127.0.0.1", "sslmode=require"), Ok(true));
    let ca = format!("sslmode=verify-ca&sslrootcert={root}");
    assert_eq!(server.encrypted("127.0.0.1", &ca), Ok(true));
    // The test server's certificate is issued for `localhost`.
    let full = format!("sslmode=verify-full&sslrootcert={root}");
    assert_eq!(server.encrypted("localhost", &full), Ok(true));
}

#[test]
#[cfg_attr(
    not(keygate_test_database),
    ignore = "needs KEYGATE_TEST_DATABASE_URL, such as postgres://postgres@127.0.0.1:5432/test"
)]
fn a_certificate_that_does_not_verify_is_refused_with_the_reason() {
    let server = TestServer::new();
    let root = server.certificate.display().to_string();
    // Issued for `localhost`, not for the address.
    let full = format!("sslmode=verify-full&sslrootcert={root}");
    let wrong_name = server.encrypted("127.0.0.1", &full).unwrap_err();
    assert!(
        wrong_name.contains("cannot connect to PostgreSQL at 127.0.0.1:"),
        "{wrong_name}"
    );
    assert!(
        wrong_name.contains("certificate not valid for name \"127.0.0.1\""),
        "{wrong_name}"
    );
    // A root made now, which signed nothing the server has.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other_root =
        std::env::temp_dir().join(format!("keygate-pg-root-{}.pem", std::process::id()));
    std::fs::write(&other_root, other.cert.pem()).unwrap();
    let other_root = other_root.display().to_string();
    let unknown = server
        .encrypted(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={other_root}"),
        )
        .unwrap_err();
    assert!(
        unknown.contains("invalid peer certificate: UnknownIssuer"),
        "{unknown}"
    );
    // `require` with a root certificate checks the chain, as libpq does.
    let require = server
        .encrypted(
            "localhost",
            &format!("sslmode=require&sslrootcert={other_root}"),
        )
        .unwrap_err();
    assert!(require.contains("UnknownIssuer"), "{require}");
    std::fs::remove_file(&other_root).unwrap();
}

#[test]
fn a_server_that_refuses_tls_fails_require_and_says_so() {
    // A server that answers PostgreSQL's TLS request with `N` (no TLS), as one started
    // with `ssl = off` does.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut socket, _) = listener.accept().unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).unwrap();
        // Length 8, then the SSLRequest code 80877103.
        assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47]);
        socket.write_all(b"N").unwrap();
    });
    let url = format!("postgres://keygate:secret@127.0.0.1:{port}/gate?sslmode=require");
    let message = message_of(connect(&parse_url(&url).unwrap()).map(drop));
    assert!(
        message.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}: "
        )),
        "{message}"
    );
    assert!(message.contains("server does not support TLS"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    server.join().unwrap();
}
