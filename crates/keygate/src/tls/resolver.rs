//! Choosing a certificate by the server name the client sends (SNI): an exact name
//! first, then a one-label wildcard (`*.example.com` answers `api.example.com`, not
//! `example.com` nor `a.b.example.com`, as RFC 6125 matches), then the default
//! certificate — the one without `hosts`, else the first. A client that sends no name
//! (an IP address, or an old client) gets the default.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Certificates by server name; built once per configuration, then only read.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// By the name after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

/// Collects certificates for a [`SniResolver`].
#[derive(Debug, Default)]
pub struct Builder {
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    first: Option<Arc<CertifiedKey>>,
    without_hosts: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    /// An empty builder.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The certificate for the lower-case server name `name`, if any.
    pub fn find(&self, name: Option<&str>) -> Option<&Arc<CertifiedKey>> {
        let Some(name) = name else {
            return self.default.as_ref();
        };
        if let Some(found) = self.exact.get(name) {
            return Some(found);
        }
        let parent = name.split_once('.').map(|(_, parent)| parent);
        parent
            .and_then(|parent| self.wildcard.get(parent))
            .or(self.default.as_ref())
    }
}

impl Builder {
    /// Adds a certificate answering for `hosts` (lower case; `*.` for a wildcard), or
    /// the default one when `hosts` is empty. A name given twice keeps the first.
    pub fn add(&mut self, certificate: Arc<CertifiedKey>, hosts: &[String]) {
        self.first.get_or_insert_with(|| certificate.clone());
        if hosts.is_empty() {
            self.without_hosts
                .get_or_insert_with(|| certificate.clone());
        }
        for host in hosts {
            let (table, name) = match host.strip_prefix("*.") {
                Some(parent) => (&mut self.wildcard, parent),
                None => (&mut self.exact, host.as_str()),
            };
            table
                .entry(name.to_owned())
                .or_insert_with(|| certificate.clone());
        }
    }

    /// The resolver.
    pub fn build(self) -> SniResolver {
        SniResolver {
            exact: self.exact,
            wildcard: self.wildcard,
            default: self.without_hosts.or(self.first),
        }
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // rustls gives the name in lower case.
        self.find(client_hello.server_name()).cloned()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A certificate for `name`, told apart from others by its DER bytes.
    fn certificate(name: &str) -> Arc<CertifiedKey> {
        let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
        let chain = vec![CertificateDer::from(made.cert.der().to_vec())];
        Arc::new(CertifiedKey::from_der(chain, key, &crate::tls::provider()).unwrap())
    }

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn exact_then_wildcard_then_default() {
        let (api, wild, fallback) = (
            certificate("api"),
            certificate("wild"),
            certificate("default"),
        );
        let mut builder = SniResolver::builder();
        builder.add(api.clone(), &hosts(&["api.example.com"]));
        builder.add(wild.clone(), &hosts(&["*.example.com"]));
        builder.add(fallback.clone(), &[]);
        let resolver = builder.build();
        let found = |name| resolver.find(name).map(|found| found.cert[0].clone());
        assert_eq!(found(Some("api.example.com")), Some(api.cert[0].clone()));
        assert_eq!(found(Some("www.example.com")), Some(wild.cert[0].clone()));
        // One label only, as RFC 6125.
        assert_eq!(
            found(Some("a.b.example.com")),
            Some(fallback.cert[0].clone())
        );
        assert_eq!(found(Some("example.com")), Some(fallback.cert[0].clone()));
        assert_eq!(found(Some("other.org")), Some(fallback.cert[0].clone()));
        assert_eq!(found(None), Some(fallback.cert[0].clone()));
    }

    #[test]
    fn without_a_default_the_first_certificate_answers() {
        let (first, second) = (certificate("first"), certificate("second"));
        let mut builder = SniResolver::builder();
        builder.add(first.clone(), &hosts(&["a.example.com"]));
        builder.add(second.clone(), &hosts(&["b.example.com"]));
        let resolver = builder.build();
        let found = |name| resolver.find(name).map(|found| found.cert[0].clone());
        assert_eq!(found(Some("b.example.com")), Some(second.cert[0].clone()));
        assert_eq!(found(Some("c.example.com")), Some(first.cert[0].clone()));
        assert_eq!(found(None), Some(first.cert[0].clone()));
    }
}
