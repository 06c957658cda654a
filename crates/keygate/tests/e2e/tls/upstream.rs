//! `https://` upstream targets through real sockets: a second keygate with a TLS
//! listener stands in front of `keygate echo` as the upstream, serving certificates made
//! at test time (a good one, an expired one, one for another host, chosen by the server
//! name keygate sends) and asking for client certificates.

use rcgen::ExtendedKeyUsagePurpose;

use super::tools::{certificate_entry, config, Ca};
use crate::support::{eventually, request, Echo, Gateway, TempDir};

/// The upstream: TLS in front of `echo`, the default certificate for 127.0.0.1,
/// `expired.test` an expired one, `wrong.test` and `other.test` one naming `other.test` only; client
/// certificates from the CA admitted on `/certified/*` only.
fn tls_upstream(dir: &TempDir, ca: &Ca, echo: &Echo) -> Gateway {
    let (good, good_key) = ca.issue(&dir.0, "good", "good", &["127.0.0.1", "localhost"]);
    let (expired, expired_key) = ca.issue_expired(&dir.0, "expired", &["expired.test"]);
    let (wrong, wrong_key) = ca.issue(&dir.0, "wrong", "wrong", &["other.test"]);
    let tls = format!(
        "    certificates:\n{}{}{}    client_ca_file: {}\n",
        certificate_entry(&good, &good_key, ""),
        certificate_entry(&expired, &expired_key, "        hosts: [expired.test]\n"),
        certificate_entry(
            &wrong,
            &wrong_key,
            "        hosts: [wrong.test, other.test]\n"
        ),
        ca.path.display()
    );
    let services = format!(
        "services:
  - name: echo
    upstream: {url}
    routes:
      - {{name: open, paths: ['/*'], auth: none}}
      - {{name: certified, paths: ['/certified/*'], auth: none, allow: 'request.clientCertificate'}}
",
        url = echo.url()
    );
    let upstream_dir = TempDir::new();
    let text = config(&upstream_dir.0, &tls, &services);
    Gateway::start_with_text(upstream_dir, &text, "admin")
}

/// A service on `https://127.0.0.1:PORT/BASE` for paths under `/NAME/`, with `tls` as
/// its `upstream.tls` section (fields indented under it).
fn service(name: &str, port: u16, base: &str, tls: &str) -> String {
    format!(
        "  - name: {name}
    upstream:
      targets: [https://127.0.0.1:{port}{base}]
      retries: 0
      tls:
{tls}    routes:
      - {{name: all, paths: ['/{name}/*'], auth: none}}
"
    )
}

#[test]
fn https_targets_are_verified_and_refusals_are_502_with_the_reason_logged() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (client, client_key) = ca.issue_for(
        &dir.0,
        "client",
        "keygate-client",
        &["keygate.test"],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let echo = Echo::start("echo");
    let upstream = tls_upstream(&dir, &ca, &echo);
    let port = upstream.process.listening_address("proxy tls").port();
    let ca_file = format!("        ca_file: {}\n", ca.path.display());
    let client_files = format!(
        "{ca_file}        cert_file: {}\n        key_file: {}\n",
        client.display(),
        client_key.display()
    );
    let config = format!(
        "services:\n{}{}{}{}{}{}{}",
        service("good", port, "", &ca_file),
        service(
            "expired",
            port,
            "",
            &format!("{ca_file}        server_name: expired.test\n")
        ),
        service(
            "wrong",
            port,
            "",
            &format!("{ca_file}        server_name: wrong.test\n")
        ),
        service(
            "named",
            port,
            "",
            &format!("{ca_file}        server_name: other.test\n")
        ),
        service("unknown", port, "", "        verify: true\n"),
        service("nocert", port, "/certified", &ca_file),
        service("certified", port, "/certified", &client_files),
    );
    let gateway = Gateway::start(&config);

    // Verified against the CA file; the request and its answer cross TLS.
    let good = gateway.get("/good/a?b=c", &[]);
    assert_eq!(good.status, 200, "{}", String::from_utf8_lossy(&good.body));
    assert_eq!(good.json()["path"], "/good/a");
    assert_eq!(good.json()["headers"]["x-forwarded-proto"], "https");
    // Kept alive: a second request on the pooled TLS connection.
    assert_eq!(gateway.get("/good/again", &[]).status, 200);

    // `server_name` picks the certificate by SNI and is the name checked.
    assert_eq!(gateway.get("/named/x", &[]).status, 200);

    for (path, reason) in [
        ("/expired/x", "expired"),
        ("/wrong/x", "not valid for name"),
        ("/unknown/x", "UnknownIssuer"),
    ] {
        let refused = gateway.get(path, &[]);
        assert_eq!(
            refused.status,
            502,
            "{path}: {}",
            String::from_utf8_lossy(&refused.body)
        );
        assert_eq!(
            refused.message(),
            "The upstream server's TLS certificate was refused"
        );
        eventually(&format!("a log line saying why {path} was refused"), || {
            let log = gateway.process.stderr_text();
            log.lines().any(|line| {
                line.contains("upstream TLS handshake failed")
                    && line.contains(&format!("127.0.0.1:{port}"))
                    && line.contains(reason)
            })
        });
    }

    // The upstream asks for a client certificate: without one its route refuses, with
    // keygate's it admits.
    assert_eq!(gateway.get("/nocert/x", &[]).status, 403);
    let certified = gateway.get("/certified/x", &[]);
    assert_eq!(
        certified.status,
        200,
        "{}",
        String::from_utf8_lossy(&certified.body)
    );
    assert_eq!(certified.json()["path"], "/certified/certified/x");
}

/// `protocol: h2`: HTTP/2 over TLS to a grpcio server whose certificate the CA signed,
/// ALPN `h2` agreed; a gRPC call through keygate with the key in its metadata.
#[test]
fn grpc_over_tls_reaches_an_h2_upstream() {
    use crate::grpc::{grpc_message, grpc_texts, GrpcServer};
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "grpc", "grpc", &["127.0.0.1", "grpc.test"]);
    let Some(server) =
        GrpcServer::start_with(&["--tls", cert.to_str().unwrap(), key.to_str().unwrap()])
    else {
        return;
    };
    let gateway = Gateway::start(&format!(
        "services:
  - name: echo
    upstream:
      targets: [https://{address}]
      protocol: h2
      tls: {{ca_file: {ca}}}
    routes:
      - {{name: calls, paths: ['/echo.Echo/*'], methods: [POST], forward_key: true}}
consumers:
  - name: caller
    keys: [{{key: caller-key-1234}}]
",
        address = server.address,
        ca = ca.path.display()
    ));
    let headers = [
        ("content-type", "application/grpc"),
        ("apikey", "caller-key-1234"),
    ];
    let body = grpc_message("secure");
    let unary = request(gateway.address, "POST", "/echo.Echo/Unary", &headers, &body);
    assert_eq!(unary.status, 200);
    assert_eq!(unary.header("seen-apikey"), Some("caller-key-1234"));
    assert_eq!(grpc_texts(&unary.body), ["eruces"]);
    let refused = request(
        gateway.address,
        "POST",
        "/echo.Echo/Unary",
        &[("content-type", "application/grpc")],
        &body,
    );
    assert_eq!(refused.header("grpc-status"), Some("16"));
}
