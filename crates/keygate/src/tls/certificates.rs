//! Reading PEM files: a certificate chain with its private key, and the CA certificates
//! client certificates are checked against. Every error names the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::CertificateFiles;

/// Why a certificate, key or CA file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file cannot be read.
    #[error("cannot read `{path}`: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not PEM of the expected kind.
    #[error("`{path}`: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

impl CertificateError {
    fn invalid(path: &Path, problem: impl Into<String>) -> CertificateError {
        CertificateError::Invalid {
            path: path.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The certificate chain and private key `files` name, checked to belong together.
pub fn load_certificate(
    files: &CertificateFiles,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, CertificateError> {
    let chain = read_certificates(&files.cert_file)?;
    let key_pem = read(&files.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
        CertificateError::invalid(
            &files.key_file,
            format!("expected a PEM private key (PKCS#8, PKCS#1 or SEC1): {error}"),
        )
    })?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|error| {
        CertificateError::invalid(
            &files.key_file,
            format!(
                "this key cannot serve the certificate in `{}`: {error}",
                files.cert_file.display()
            ),
        )
    })?;
    Ok(Arc::new(certified))
}

/// The CA certificates in `path`, as roots for checking client certificates.
pub fn load_client_roots(path: &Path) -> Result<RootCertStore, CertificateError> {
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots.add(certificate).map_err(|error| {
            CertificateError::invalid(path, format!("not a usable CA certificate: {error}"))
        })?;
    }
    Ok(roots)
}

/// Every certificate of a PEM file; at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let pem = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| CertificateError::invalid(path, format!("broken PEM: {error}")))?;
    if chain.is_empty() {
        return Err(CertificateError::invalid(
            path,
            "no certificate found (expected `-----BEGIN CERTIFICATE-----`)",
        ));
    }
    Ok(chain)
}

fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    std::fs::read(path).map_err(|source| CertificateError::Unreadable {
        path: path.to_owned(),
        source,
    })
}
