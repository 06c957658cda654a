//! Checks `proxy.listen` and `authz.listen` (one address or a list of plain and TLS
//! listeners), and the `tls` sections of the proxy, authz and admin listeners: certificate files that can be
//! read, server names that can be matched, one default certificate at most.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde_saphyr::Location;

use super::super::file::{At, FileListen, FileListener, FileTls};
use super::super::{CertificateFiles, Listener, TlsSettings, TlsVersion};
use super::Checker;

/// The proxy's address when the file names none.
const DEFAULT_PROXY_PORT: u16 = 8080;

impl Checker<'_> {
    /// `proxy.listen` and `proxy.tls`: the listeners, and the certificates that the TLS
    /// ones serve — set exactly when one listener is marked `tls`.
    pub(super) fn proxy_listeners(
        &mut self,
        listen: Option<&At<FileListen>>,
        tls: Option<&At<FileTls>>,
    ) -> (Vec<Listener>, Option<TlsSettings>) {
        let default = Listener {
            address: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PROXY_PORT)),
            tls: false,
        };
        self.listeners("proxy", listen, tls, Some(default))
    }

    /// `authz.listen` and `authz.tls`, as [`Checker::proxy_listeners`]; none by default.
    pub(super) fn authz_listeners(
        &mut self,
        listen: Option<&At<FileListen>>,
        tls: Option<&At<FileTls>>,
    ) -> (Vec<Listener>, Option<TlsSettings>) {
        self.listeners("authz", listen, tls, None)
    }

    /// The listeners of `section` (`proxy`, `authz`): its `listen` field, else `default`;
    /// and the certificates of its `tls` field.
    fn listeners(
        &mut self,
        section: &str,
        listen: Option<&At<FileListen>>,
        tls: Option<&At<FileTls>>,
        default: Option<Listener>,
    ) -> (Vec<Listener>, Option<TlsSettings>) {
        let listeners = match listen {
            None => default.into_iter().collect(),
            Some(listen) => match &listen.value {
                FileListen::One(address) => vec![Listener {
                    address: self.listen_address(address, &listen.referenced),
                    tls: false,
                }],
                FileListen::Many(many) => self.listener_list(section, many),
            },
        };
        let settings = tls.map(|tls| self.tls(tls));
        let any_tls = listeners.iter().any(|listener| listener.tls);
        match (tls, any_tls) {
            (Some(tls), false) => self.report(
                &tls.referenced,
                format!(
                    "`{section}.tls` is set but no listener of `{section}.listen` has `tls: true`"
                ),
            ),
            (None, true) => {
                let at = listen.map_or(Location::UNKNOWN, |listen| listen.referenced);
                self.report(
                    &at,
                    format!(
                        "a listener has `tls: true`, so `{section}.tls` must name its certificates"
                    ),
                );
            }
            _ => {}
        }
        (listeners, settings)
    }

    fn listener_list(&mut self, section: &str, many: &[At<FileListener>]) -> Vec<Listener> {
        let mut seen = HashSet::new();
        many.iter()
            .map(|entry| {
                let (address, tls) = match &entry.value {
                    FileListener::Address(address) => (address, false),
                    FileListener::Full(fields) => (&fields.address, fields.tls.unwrap_or(false)),
                };
                let address = self.listen_address(address, &entry.referenced);
                if address.port() != 0 && !seen.insert(address) {
                    self.report(
                        &entry.referenced,
                        format!("{address} is listed twice in `{section}.listen`"),
                    );
                }
                Listener { address, tls }
            })
            .collect()
    }

    fn listen_address(&mut self, text: &str, at: &Location) -> SocketAddr {
        text.parse().unwrap_or_else(|_| {
            self.report(
                at,
                format!(
                    "expected an address such as 127.0.0.1:{DEFAULT_PROXY_PORT}, found `{text}`"
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], DEFAULT_PROXY_PORT))
        })
    }

    /// A `tls` section. The files are only checked to be readable here; their contents
    /// are read by the listener (`crate::tls`), which keeps the running certificates
    /// when new ones are broken.
    pub(super) fn tls(&mut self, tls: &At<FileTls>) -> TlsSettings {
        let tls = &tls.value;
        if tls.certificates.value.is_empty() {
            self.report(
                &tls.certificates.referenced,
                "`certificates` needs at least one certificate",
            );
        }
        let mut defaults = 0;
        let mut names = HashSet::new();
        let certificates = tls
            .certificates
            .value
            .iter()
            .map(|certificate| {
                let entry = &certificate.value;
                if entry.hosts.is_empty() {
                    defaults += 1;
                    if defaults == 2 {
                        self.report(
                            &certificate.referenced,
                            "only one certificate may leave out `hosts` (the default one)",
                        );
                    }
                }
                let hosts = entry
                    .hosts
                    .iter()
                    .map(|host| {
                        let name = host.value.to_ascii_lowercase();
                        if !is_server_name(&name) {
                            self.report(
                                &host.referenced,
                                format!("expected a server name such as api.example.com or *.example.com, found `{}`", host.value),
                            );
                        } else if !names.insert(name.clone()) {
                            self.report(
                                &host.referenced,
                                format!("`{name}` is named by two certificates"),
                            );
                        }
                        name
                    })
                    .collect();
                CertificateFiles {
                    cert_file: self.readable_file(&entry.cert_file, "certificate"),
                    key_file: self.readable_file(&entry.key_file, "key"),
                    hosts,
                }
            })
            .collect();
        let min_version = match &tls.min_version {
            None => TlsVersion::V1_2,
            Some(version) => match version.value.as_str() {
                "1.2" => TlsVersion::V1_2,
                "1.3" => TlsVersion::V1_3,
                other => {
                    self.report(
                        &version.referenced,
                        format!("expected `\"1.2\"` or `\"1.3\"`, found `{other}`"),
                    );
                    TlsVersion::V1_2
                }
            },
        };
        TlsSettings {
            certificates,
            min_version,
            session_tickets: tls.session_tickets.unwrap_or(true),
            client_ca_file: tls
                .client_ca_file
                .as_ref()
                .map(|path| self.readable_file(path, "client CA")),
        }
    }

    /// A file path, reported at its position when the file cannot be read.
    fn readable_file(&mut self, path: &At<String>, what: &str) -> PathBuf {
        if let Err(error) = std::fs::File::open(&path.value) {
            self.report(
                &path.referenced,
                format!("cannot read the {what} file `{}`: {error}", path.value),
            );
        }
        PathBuf::from(&path.value)
    }
}

/// Whether `name` (lower case) is a DNS name, or `*.` and one.
fn is_server_name(name: &str) -> bool {
    let bare = name.strip_prefix("*.").unwrap_or(name);
    !bare.is_empty()
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::is_server_name;

    #[test]
    fn server_names_are_dns_names_or_one_wildcard_label() {
        for good in ["api.example.com", "*.example.com", "localhost", "a-b.c1"] {
            assert!(is_server_name(good), "{good}");
        }
        for bad in [
            "", "*.", "*", "a..b", "a.*.b", "**.b", "a b", "a.b:443", "*.*.b",
        ] {
            assert!(!is_server_name(bad), "{bad}");
        }
    }
}
