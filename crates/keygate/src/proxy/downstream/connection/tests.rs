//! Writing to a client over TLS: a write is finished only when the TLS stream has handed
//! its last encrypted bytes to the socket, not when it has taken the plaintext.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::AsyncReadExt as _;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;

/// A TLS server stream and its client over an in-process pipe that holds only
/// `capacity` bytes, so that writes keep finding it full.
async fn tls_pair(
    capacity: usize,
) -> (
    tokio_rustls::server::TlsStream<tokio::io::DuplexStream>,
    tokio_rustls::client::TlsStream<tokio::io::DuplexStream>,
) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let provider = crate::tls::provider();
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (client_end, server_end) = tokio::io::duplex(capacity);
    let name = ServerName::try_from("localhost").unwrap();
    let (server, client) = tokio::join!(
        TlsAcceptor::from(Arc::new(server)).accept(server_end),
        TlsConnector::from(Arc::new(client)).connect(name, client_end),
    );
    (server.unwrap(), client.unwrap())
}

#[tokio::test]
async fn a_send_over_tls_ends_with_every_byte_on_the_wire() {
    let (mut server, mut client) = tls_pair(512).await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut timer = Box::pin(tokio::time::sleep(Duration::from_secs(30)));
    let sending = async {
        send(&mut server, &mut timer, Duration::from_secs(10), &data)
            .await
            .unwrap();
        // Nothing drives the stream after `send`: what it left unwritten stays so.
        std::future::pending::<()>().await;
    };
    let receiving = async {
        let mut received = vec![0u8; data.len()];
        client.read_exact(&mut received).await.unwrap();
        received
    };
    let received = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            () = sending => unreachable!(),
            received = receiving => received,
        }
    })
    .await
    .expect("every byte sent arrives");
    assert!(received == data);
}
