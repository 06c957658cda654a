//! TLS to upstream targets (`https://`): the rustls client configuration of a service's
//! upstream, on the same aws-lc-rs provider as the listeners. The server certificate is
//! checked against the system's CA certificates, or those of `upstream.tls.ca_file`;
//! `cert_file` and `key_file` give keygate a client certificate for upstreams that ask
//! for one (mTLS). Built once per configuration, when it is read, so that a broken file
//! is an error of the configuration, never of a request.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::certificates::{load_certificate, load_client_roots};
use super::{provider, TlsError};
use crate::config::CertificateFiles;

/// The files and rules of an upstream's TLS, as the configuration gives them.
pub struct ClientFiles<'a> {
    /// CA certificates the upstream's certificate is checked against; `None`: the
    /// system's.
    pub ca_file: Option<&'a Path>,
    /// keygate's client certificate and key, for upstreams that ask for one.
    pub client_certificate: Option<&'a CertificateFiles>,
    /// `false`: the upstream's certificate is not checked at all (its signature over
    /// the handshake still is).
    pub verify: bool,
    /// ALPN protocols offered, in order of preference.
    pub alpn: &'a [&'a [u8]],
}

/// The client configuration `files` describe.
pub fn client_config(files: &ClientFiles<'_>) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls {
            what: "cannot set up TLS to the upstream",
            source,
        })?;
    let builder = if !files.verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider.clone())))
    } else {
        let roots = match files.ca_file {
            Some(path) => Arc::new(load_client_roots(path)?),
            None => system_roots(),
        };
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|error| TlsError::Rustls {
                what: "cannot check upstream certificates",
                source: rustls::Error::General(error.to_string()),
            })?;
        builder.with_webpki_verifier(verifier)
    };
    let mut config = match files.client_certificate {
        None => builder.with_no_client_auth(),
        Some(certificate) => {
            let certified = load_certificate(certificate, &provider)?;
            builder.with_client_cert_resolver(Arc::new(OneCertificate(certified)))
        }
    };
    config.alpn_protocols = files.alpn.iter().map(|alpn| alpn.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The system's CA certificates, read once per process (reading them costs milliseconds).
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "a system CA certificate could not be read");
            }
            let mut roots = RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(
                    "no system CA certificates found: https:// upstreams need upstream.tls.ca_file"
                );
            }
            Arc::new(roots)
        })
        .clone()
}

/// The server name a target's certificate must hold (and the SNI sent): `host` as
/// written, an IP address as such (rustls then sends no SNI and checks the address).
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(bare.to_owned()).ok()
}

/// keygate's one client certificate, sent whenever an upstream asks for one.
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesClientCert for OneCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `verify: false`: any certificate is taken; the handshake's signatures are still
/// checked, so the peer holds the key of the certificate it sent.
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
