//! Checks `authz:` — the listeners that answer a front proxy's checks, and how the
//! original request is read from them (docs/config.md, "authz").

use super::super::file::FileAuthz;
use super::super::AuthzSettings;
use super::Checker;

impl Checker<'_> {
    /// `authz:`; every field has a default, and nothing listens unless told.
    pub(super) fn authz(&mut self, authz: &FileAuthz) -> AuthzSettings {
        let (listen, tls) = self.authz_listeners(authz.listen.as_ref(), authz.tls.as_ref());
        let grpc_listen = authz.grpc_listen.as_ref().map(|text| {
            text.value.parse().unwrap_or_else(|_| {
                self.report(
                    &text.referenced,
                    format!(
                        "expected an address such as 127.0.0.1:9191, found `{}`",
                        text.value
                    ),
                );
                std::net::SocketAddr::from(([127, 0, 0, 1], 0))
            })
        });
        let envoy_path_prefix = match &authz.envoy_path_prefix {
            None => "/envoy".to_owned(),
            Some(prefix) => {
                let text = prefix.value.trim_end_matches('/');
                let valid = text.starts_with('/')
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
                if !valid {
                    self.report(
                        &prefix.referenced,
                        format!(
                            "expected a path prefix such as /envoy, found `{}`",
                            prefix.value
                        ),
                    );
                }
                text.to_owned()
            }
        };
        AuthzSettings {
            listen,
            tls,
            grpc_listen,
            method_header: self.header_name(authz.method_header.as_ref(), "x-original-method"),
            uri_header: self.header_name(authz.uri_header.as_ref(), "x-original-uri"),
            envoy_path_prefix,
        }
    }
}
