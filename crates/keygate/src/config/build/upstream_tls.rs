//! Checks `upstream.tls:` and builds [`UpstreamTls`]: the files are read here, once, so
//! that a missing or broken CA file or client certificate is an error of the
//! configuration (at the field's line and column), never a failure of a request.

use std::path::PathBuf;

use super::super::file::{At, FileUpstreamTls};
use super::super::{CertificateFiles, Target, UpstreamProtocol, UpstreamTls};
use super::Checker;
use crate::tls::upstream::{client_config, server_name, ClientFiles};

/// ALPN of an HTTP/1.1 upstream connection.
const ALPN_HTTP1: &[&[u8]] = &[crate::tls::ALPN_HTTP_1_1];

/// ALPN of an HTTP/2 upstream connection.
const ALPN_H2: &[&[u8]] = &[b"h2"];

impl Checker<'_> {
    /// `upstream.protocol`: `h2` needs `https://` targets, `h2c` `http://` ones.
    pub(super) fn upstream_protocol(
        &mut self,
        protocol: Option<&At<String>>,
        targets: &[Target],
    ) -> UpstreamProtocol {
        let Some(protocol) = protocol else {
            return UpstreamProtocol::Http1;
        };
        let (chosen, scheme) = match protocol.value.as_str() {
            "http1" => return UpstreamProtocol::Http1,
            "h2" => (UpstreamProtocol::H2, http::uri::Scheme::HTTPS),
            "h2c" => (UpstreamProtocol::H2c, http::uri::Scheme::HTTP),
            other => {
                self.report(
                    &protocol.referenced,
                    format!("expected `http1`, `h2` or `h2c`, found `{other}`"),
                );
                return UpstreamProtocol::Http1;
            }
        };
        if targets.iter().any(|target| target.scheme != scheme) {
            self.report(
                &protocol.referenced,
                format!("`{}` needs {scheme}:// targets only", protocol.value),
            );
        }
        chosen
    }

    /// The TLS of an upstream: `None` when no target is `https://`. `tls` without an
    /// `https://` target is an error: it would be silently ignored.
    pub(super) fn upstream_tls(
        &mut self,
        tls: Option<&At<FileUpstreamTls>>,
        targets: &[Target],
        protocol: UpstreamProtocol,
        at: &serde_saphyr::Location,
    ) -> Option<UpstreamTls> {
        let secure = targets
            .iter()
            .any(|target| target.scheme == http::uri::Scheme::HTTPS);
        if !secure {
            if let Some(tls) = tls {
                self.report(&tls.referenced, "`tls` goes with https:// targets only");
            }
            return None;
        }
        let file = tls.map(|tls| &tls.value);
        let ca_file = file
            .and_then(|file| file.ca_file.as_ref())
            .map(|path| self.readable(path, "CA"));
        let cert_file = file.and_then(|file| file.cert_file.as_ref());
        let key_file = file.and_then(|file| file.key_file.as_ref());
        let client_certificate = match (cert_file, key_file) {
            (Some(cert), Some(key)) => Some(CertificateFiles {
                cert_file: self.readable(cert, "client certificate"),
                key_file: self.readable(key, "client key"),
                hosts: Vec::new(),
            }),
            (Some(only), None) => {
                self.report(&only.referenced, "`cert_file` needs `key_file`");
                None
            }
            (None, Some(only)) => {
                self.report(&only.referenced, "`key_file` needs `cert_file`");
                None
            }
            (None, None) => None,
        };
        let name = file.and_then(|file| file.server_name.as_ref());
        let server_name = name.and_then(|name| {
            let parsed = server_name(&name.value);
            if parsed.is_none() {
                self.report(
                    &name.referenced,
                    format!(
                        "expected a server name such as api.internal or an IP address, found `{}`",
                        name.value
                    ),
                );
            }
            parsed
        });
        let files = ClientFiles {
            ca_file: ca_file.as_deref(),
            client_certificate: client_certificate.as_ref(),
            verify: file.and_then(|file| file.verify).unwrap_or(true),
            alpn: if protocol == UpstreamProtocol::H2 {
                ALPN_H2
            } else {
                ALPN_HTTP1
            },
        };
        if !self.problems.is_empty() {
            return None;
        }
        match client_config(&files) {
            Ok(client) => Some(UpstreamTls {
                client,
                server_name,
            }),
            Err(error) => {
                let at = tls.map_or(at, |tls| &tls.referenced);
                self.report(at, format!("upstream TLS: {error}"));
                None
            }
        }
    }

    /// A file path, reported at its position when the file cannot be read.
    fn readable(&mut self, path: &At<String>, what: &str) -> PathBuf {
        if let Err(error) = std::fs::File::open(&path.value) {
            self.report(
                &path.referenced,
                format!("cannot read the {what} file `{}`: {error}", path.value),
            );
        }
        PathBuf::from(&path.value)
    }
}
