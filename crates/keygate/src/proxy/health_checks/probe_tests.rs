//! Checks against servers on loopback: HTTP/1.1 in clear, HTTP/1.1 over TLS, HTTP/2
//! over TLS (ALPN `h2`) and in clear (h2c); good, failing, silent and garbled answers.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;

#[test]
fn reads_the_code_of_a_status_line() {
    assert_eq!(status_code(b"HTTP/1.1 200 OK").unwrap(), 200);
    assert_eq!(status_code(b"HTTP/1.0 503").unwrap(), 503);
    assert!(status_code(b"HTTP/1.1 20").is_err());
    assert!(status_code(b"HTTP/1.1 2000 OK").is_err());
    assert!(status_code(b"HTTP/1.1 099 x").is_err());
    assert!(status_code(b"SSH-2.0-OpenSSH").is_err());
}

/// Answers one HTTP/1.1 request on `stream` with `answer`, once its head was read (or
/// says nothing when `answer` is empty).
async fn answer_http1<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, answer: &[u8]) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(head.starts_with(b"GET /health HTTP/1.1\r\nHost: svc\r\n"));
    if answer.is_empty() {
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    let _ = stream.write_all(answer).await;
}

/// Answers each stream of an HTTP/2 connection on `stream` with `status`, after
/// checking what it asked for.
async fn answer_http2<S: AsyncRead + AsyncWrite + Unpin>(stream: S, status: u16, scheme: &str) {
    let Ok(mut connection) = h2::server::handshake(stream).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(request.uri().path(), "/health");
        assert_eq!(request.uri().authority().unwrap().as_str(), "svc");
        assert_eq!(request.uri().scheme_str(), Some(scheme));
        assert_eq!(request.headers()[USER_AGENT], AGENT);
        let mut response = http::Response::new(());
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        let _ = respond.send_response(response, true);
    }
}

/// How a test server speaks.
#[derive(Clone, Copy)]
enum Speaks {
    Http1(&'static [u8]),
    Http2(u16),
}

/// A server on 127.0.0.1 that answers every connection as `speaks` says, over TLS
/// with `tls` when set.
async fn server(speaks: Speaks, tls: Option<TlsAcceptor>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                match (tls, speaks) {
                    (None, Speaks::Http1(answer)) => answer_http1(socket, answer).await,
                    (None, Speaks::Http2(status)) => answer_http2(socket, status, "http").await,
                    (Some(tls), speaks) => {
                        let Ok(stream) = tls.accept(socket).await else {
                            return;
                        };
                        match speaks {
                            Speaks::Http1(answer) => answer_http1(stream, answer).await,
                            Speaks::Http2(status) => answer_http2(stream, status, "https").await,
                        }
                    }
                }
            });
        }
    });
    address
}

/// A TLS server for `localhost` offering `alpn`, and a client trusting it and offering
/// the same.
fn tls_pair(alpn: &[u8]) -> (TlsAcceptor, TlsTarget) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let provider = crate::tls::provider();
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    server.alpn_protocols = vec![alpn.to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![alpn.to_vec()];
    let target = TlsTarget {
        connector: TlsConnector::from(Arc::new(client)),
        server_name: ServerName::try_from("localhost").unwrap(),
    };
    (TlsAcceptor::from(Arc::new(server)), target)
}

const TIMEOUT: Duration = Duration::from_millis(500);

#[tokio::test]
async fn judges_a_target_by_its_status_within_the_timeout() {
    let statuses = StatusSet::default_healthy();
    let probe = Probe::new("/health", "svc", UpstreamProtocol::Http1, false);
    let check = |address: String| {
        let (probe, statuses) = (&probe, &statuses);
        async move { probe.check(&address, None, TIMEOUT, statuses).await }
    };
    let ok = server(Speaks::Http1(b"HTTP/1.1 204 No Content\r\n\r\n"), None).await;
    assert_eq!(check(ok).await, CheckOutcome::Healthy(204));
    let failing = Speaks::Http1(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(
        check(server(failing, None).await).await,
        CheckOutcome::Status(500)
    );
    let silent = server(Speaks::Http1(b""), None).await;
    assert_eq!(check(silent).await, CheckOutcome::Timeout);
    let garbled = server(Speaks::Http1(b"hello\r\n"), None).await;
    assert_eq!(check(garbled).await, CheckOutcome::Failed);
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_address = closed.local_addr().unwrap().to_string();
    drop(closed);
    assert_eq!(check(closed_address).await, CheckOutcome::Failed);
}

#[tokio::test]
async fn an_https_target_is_checked_over_tls_in_its_protocol() {
    let statuses = StatusSet::default_healthy();

    // HTTP/1.1 over TLS.
    let (acceptor, tls) = tls_pair(b"http/1.1");
    let ok = server(
        Speaks::Http1(b"HTTP/1.1 200 OK\r\n\r\n"),
        Some(acceptor.clone()),
    )
    .await;
    let http1 = Probe::new("/health", "svc", UpstreamProtocol::Http1, true);
    let outcome = http1.check(&ok, Some(&tls), TIMEOUT, &statuses).await;
    assert_eq!(outcome, CheckOutcome::Healthy(200));
    // Spoken to in clear, a TLS server gives no status.
    let outcome = http1.check(&ok, None, TIMEOUT, &statuses).await;
    assert!(
        matches!(outcome, CheckOutcome::Failed | CheckOutcome::Timeout),
        "{outcome:?}"
    );
    // A certificate the client does not trust fails the check.
    let (_, untrusting) = tls_pair(b"http/1.1");
    let outcome = http1
        .check(&ok, Some(&untrusting), TIMEOUT, &statuses)
        .await;
    assert_eq!(outcome, CheckOutcome::Failed);

    // HTTP/2 over TLS (ALPN h2).
    let (acceptor, tls) = tls_pair(b"h2");
    let h2 = Probe::new("/health", "svc", UpstreamProtocol::H2, true);
    let ok = server(Speaks::Http2(204), Some(acceptor.clone())).await;
    let outcome = h2.check(&ok, Some(&tls), TIMEOUT, &statuses).await;
    assert_eq!(outcome, CheckOutcome::Healthy(204));
    let failing = server(Speaks::Http2(503), Some(acceptor)).await;
    let outcome = h2.check(&failing, Some(&tls), TIMEOUT, &statuses).await;
    assert_eq!(outcome, CheckOutcome::Status(503));
}

#[tokio::test]
async fn an_h2c_target_is_checked_in_http2_with_prior_knowledge() {
    let statuses = StatusSet::default_healthy();
    let h2c = Probe::new("/health", "svc", UpstreamProtocol::H2c, false);
    let ok = server(Speaks::Http2(200), None).await;
    assert_eq!(
        h2c.check(&ok, None, TIMEOUT, &statuses).await,
        CheckOutcome::Healthy(200)
    );
    let failing = server(Speaks::Http2(500), None).await;
    assert_eq!(
        h2c.check(&failing, None, TIMEOUT, &statuses).await,
        CheckOutcome::Status(500)
    );
    // An HTTP/1.1 server does not answer the HTTP/2 preface with a status.
    let http1 = server(Speaks::Http1(b"HTTP/1.1 200 OK\r\n\r\n"), None).await;
    let outcome = h2c.check(&http1, None, TIMEOUT, &statuses).await;
    assert!(
        matches!(outcome, CheckOutcome::Failed | CheckOutcome::Timeout),
        "{outcome:?}"
    );
}
