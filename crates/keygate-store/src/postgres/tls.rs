//! TLS to PostgreSQL, as libpq's `sslmode`, `sslrootcert`, `sslcert` and `sslkey` say,
//! spoken with rustls (the aws-lc-rs provider, as the gateway's own listeners).
//!
//! The PostgreSQL client library keygate uses knows `sslmode=disable|prefer|require` and
//! nothing of certificates, so these parameters are taken out of the URL here and turned
//! into a rustls client configuration, with libpq's meaning:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (libpq's default) | when the server offers it | not checked |
//! | `require` | always | not checked; checked as `verify-ca` when `sslrootcert` is given |
//! | `verify-ca` | always | signed by a certificate of `sslrootcert` |
//! | `verify-full` | always | as `verify-ca`, and issued for the host connected to |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the machine's trusted
//! roots (as libpq 16). `verify-ca` and `verify-full` without it are refused: libpq would
//! read `~/.postgresql/root.crt`, which a service rarely has, and silently trusting the
//! system roots instead would accept any public certificate for a private database.
//! `sslcert` and `sslkey` (PEM) present a client certificate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::{Result, StoreError};

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, its certificate unchecked.
    Prefer,
    /// TLS always, its certificate unchecked unless a root certificate is given.
    Require,
    /// TLS always, the certificate signed by a root of `sslrootcert`.
    VerifyCa,
    /// As `VerifyCa`, and the certificate issued for the host.
    VerifyFull,
}

impl SslMode {
    /// The mode named `text`, as libpq spells it.
    fn parse(text: &str) -> Option<SslMode> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// The mode the PostgreSQL client library is given: whether TLS may be skipped.
    pub fn library_mode(self) -> postgres::config::SslMode {
        match self {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        }
    }
}

/// Where the trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// A PEM file.
    File(PathBuf),
    /// The machine's trusted roots (`sslrootcert=system`).
    System,
}

/// The TLS parameters of a store URL.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `sslmode` (libpq's default: `prefer`).
    pub mode: SslMode,
    roots: Option<Roots>,
    /// `sslcert` and `sslkey`.
    client_certificate: Option<(PathBuf, PathBuf)>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("mode", &self.mode)
            .field("roots", &self.roots)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

/// The URL query parameters this module takes out of the URL.
const TLS_PARAMETERS: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// Takes the TLS parameters out of `url`: the URL without them, and what they say. The
/// last of repeated parameters is the one in force, as in libpq. Errors never repeat the
/// URL (it may hold a password).
pub fn split_url(url: &str) -> Result<(String, TlsSettings)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, query),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    let (mut mode, mut roots, mut cert, mut key) = (None, None, None, None);
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !TLS_PARAMETERS.contains(&name) {
            kept.push(pair);
            continue;
        }
        let value = percent_decoded(value).ok_or_else(|| {
            unavailable(format!(
                "the store URL's `{name}` is not valid percent-encoded UTF-8"
            ))
        })?;
        match name {
            "sslmode" => {
                mode = Some(SslMode::parse(&value).ok_or_else(|| {
                    unavailable(format!(
                        "unknown `sslmode={value}` in the store URL; expected disable, prefer, \
                         require, verify-ca or verify-full"
                    ))
                })?);
            }
            "sslrootcert" => {
                roots = Some(if value == "system" {
                    Roots::System
                } else {
                    Roots::File(PathBuf::from(value))
                });
            }
            "sslcert" => cert = Some(PathBuf::from(value)),
            _ => key = Some(PathBuf::from(value)),
        }
    }
    let mode = mode.unwrap_or(SslMode::Prefer);
    let client_certificate =
        match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(unavailable(
                "the store URL gives one of `sslcert` and `sslkey`: a client certificate needs \
                 both"
                    .to_owned(),
            )),
        };
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && roots.is_none() {
        let name = if mode == SslMode::VerifyCa {
            "verify-ca"
        } else {
            "verify-full"
        };
        return Err(unavailable(format!(
            "`sslmode={name}` needs the certificates to verify the server against: add \
             `sslrootcert=<PEM file>`, or `sslrootcert=system` for the machine's trusted roots"
        )));
    }
    let stripped = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let settings = TlsSettings {
        mode,
        roots,
        client_certificate,
    };
    Ok((stripped, settings))
}

impl TlsSettings {
    /// Reads the files the settings name and checks them, without connecting: a missing
    /// or malformed file is an error now rather than at the first connection.
    pub fn check(&self) -> Result<()> {
        self.client_config().map(drop)
    }

    /// The rustls client configuration for these settings; `None` for `disable`.
    pub fn client_config(&self) -> Result<Option<ClientConfig>> {
        if self.mode == SslMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|error| unavailable(format!("TLS to PostgreSQL: {error}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.roots, self.mode) {
            (None, _) => Arc::new(Unchecked(provider)),
            (Some(roots), mode) => {
                let store = root_store(roots)?;
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                    .build()
                    .map_err(|error| unavailable(format!("TLS to PostgreSQL: {error}")))?;
                if mode == SslMode::VerifyFull {
                    webpki
                } else {
                    Arc::new(AnyName(webpki))
                }
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.client_certificate {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert, "sslcert")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|error| {
                    unavailable(format!(
                        "cannot read the private key `sslkey={}`: {error}",
                        key.display()
                    ))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|error| unavailable(format!("TLS client certificate: {error}")))?
            }
        };
        Ok(Some(config))
    }
}

/// The trusted roots `roots` names.
fn root_store(roots: &Roots) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            for certificate in certificates(path, "sslrootcert")? {
                store.add(certificate).map_err(|error| {
                    unavailable(format!(
                        "`sslrootcert={}` holds a certificate that cannot be a root: {error}",
                        path.display()
                    ))
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(unavailable(
                    "`sslrootcert=system`: no trusted root certificate was found on this machine"
                        .to_owned(),
                ));
            }
        }
    }
    Ok(store)
}

/// The certificates of a PEM file, at least one; `parameter` names it in errors.
fn certificates(path: &Path, parameter: &str) -> Result<Vec<CertificateDer<'static>>> {
    let read = CertificateDer::pem_file_iter(path).and_then(Iterator::collect);
    let certificates: Vec<CertificateDer<'static>> = read.map_err(|error| {
        unavailable(format!(
            "cannot read the certificates of `{parameter}={}`: {error}",
            path.display()
        ))
    })?;
    if certificates.is_empty() {
        return Err(unavailable(format!(
            "`{parameter}={}` holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certificates)
}

/// Takes any certificate, as libpq's `prefer` and `require` without a root certificate:
/// the connection is encrypted, not authenticated. The handshake's signatures are still
/// checked (the server holds the key of the certificate it sent).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name it was issued for is not
/// compared with the host.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verdict =
            self.0
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `text` with its `%XX` escapes decoded (and `+` kept, as libpq keeps it); `None` when an
/// escape is malformed or the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'%' {
            let hex = bytes.get(at + 1..at + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            at += 3;
        } else {
            decoded.push(byte);
            at += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn unavailable(message: String) -> StoreError {
    StoreError::Unavailable(message)
}

#[cfg(test)]
mod tests;
