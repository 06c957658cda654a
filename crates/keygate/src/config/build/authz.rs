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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, Listener};

    fn problems(text: &str) -> Vec<String> {
        match Config::parse("test.yaml", text) {
            Ok(_) => panic!("expected the configuration to be refused"),
            Err(error) => error
                .problems()
                .iter()
                .map(|p| format!("{}:{}: {}", p.line, p.column, p.message))
                .collect(),
        }
    }

    #[test]
    fn authz_is_off_by_default_with_the_documented_names() {
        let config = Config::parse("test.yaml", "").unwrap();
        assert!(config.authz.listen.is_empty());
        assert_eq!(config.authz.grpc_listen, None);
        assert_eq!(config.authz.method_header, "x-original-method");
        assert_eq!(config.authz.uri_header, "x-original-uri");
        assert_eq!(config.authz.envoy_path_prefix, "/envoy");
    }

    #[test]
    fn only_authz_may_listen() {
        let text = "proxy:\n  listen: []\nauthz:\n  listen: [127.0.0.1:9190, {address: 127.0.0.1:9443, tls: false}]\n  grpc_listen: 127.0.0.1:9191\n  method_header: X-Method\n  envoy_path_prefix: /check/\n";
        let config = Config::parse("test.yaml", text).unwrap();
        assert!(config.proxy.listen.is_empty());
        let plain = |address: &str| Listener {
            address: address.parse().unwrap(),
            tls: false,
        };
        assert_eq!(
            config.authz.listen,
            [plain("127.0.0.1:9190"), plain("127.0.0.1:9443")]
        );
        assert_eq!(
            config.authz.grpc_listen,
            Some("127.0.0.1:9191".parse().unwrap())
        );
        assert_eq!(config.authz.method_header, "x-method");
        assert_eq!(config.authz.envoy_path_prefix, "/check");
    }

    #[test]
    fn nothing_listening_and_bad_fields_are_refused_where_written() {
        assert_eq!(
            problems("proxy:\n  listen: []\n"),
            ["2:11: `proxy.listen` needs at least one listener unless `authz.listen` or `authz.grpc_listen` is set"]
        );
        assert_eq!(
            problems("authz:\n  listen: [127.0.0.1:9190, 127.0.0.1:9190]\n  grpc_listen: nine\n  uri_header: \"bad header\"\n  envoy_path_prefix: envoy\n"),
            [
                "2:28: 127.0.0.1:9190 is listed twice in `authz.listen`",
                "3:16: expected an address such as 127.0.0.1:9191, found `nine`",
                "4:15: `bad header` is not a valid header name",
                "5:22: expected a path prefix such as /envoy, found `envoy`",
            ]
        );
        assert_eq!(
            problems("authz:\n  listen: [{address: 127.0.0.1:9443, tls: true}]\n"),
            ["2:11: a listener has `tls: true`, so `authz.tls` must name its certificates"]
        );
    }
}
