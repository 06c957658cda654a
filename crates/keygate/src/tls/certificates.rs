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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A directory of its own for each test's files.
    fn dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "keygate-certificates-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A self-signed certificate and its key, written as `STEM.crt` and `STEM.key`.
    fn write_pair(dir: &Path, stem: &str) -> CertificateFiles {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let files = CertificateFiles {
            cert_file: dir.join(format!("{stem}.crt")),
            key_file: dir.join(format!("{stem}.key")),
            hosts: Vec::new(),
        };
        std::fs::write(&files.cert_file, made.cert.pem()).unwrap();
        std::fs::write(&files.key_file, made.key_pair.serialize_pem()).unwrap();
        files
    }

    #[test]
    fn a_certificate_and_its_key_load() {
        let dir = dir("load");
        let files = write_pair(&dir, "site");
        let loaded = load_certificate(&files, &crate::tls::provider()).unwrap();
        assert_eq!(loaded.cert.len(), 1);
        assert_eq!(load_client_roots(&files.cert_file).unwrap().len(), 1);
    }

    #[test]
    fn each_broken_file_is_named_with_what_is_wrong() {
        let dir = dir("broken");
        let provider = crate::tls::provider();
        let first = write_pair(&dir, "first");
        let second = write_pair(&dir, "second");
        let mismatched = CertificateFiles {
            key_file: second.key_file.clone(),
            ..first.clone()
        };
        let error = load_certificate(&mismatched, &provider)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "`{}`: this key cannot serve",
                second.key_file.display()
            )),
            "{error}"
        );

        let not_pem = CertificateFiles {
            key_file: first.cert_file.clone(),
            ..first.clone()
        };
        let error = load_certificate(&not_pem, &provider)
            .unwrap_err()
            .to_string();
        assert!(error.contains("expected a PEM private key"), "{error}");

        let empty = dir.join("empty.crt");
        std::fs::write(&empty, "").unwrap();
        let error = load_client_roots(&empty).unwrap_err().to_string();
        assert!(error.contains("no certificate found"), "{error}");

        let missing = dir.join("missing.crt");
        let error = load_client_roots(&missing).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("cannot read `{}`", missing.display())),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
