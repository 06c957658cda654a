//! Which client-sent request fields are identity fields, never forwarded: an upstream
//! that sat behind Kong, APISIX or Mia-Platform trusts them to say who called, so a
//! client must not be able to send them through keygate. Checked on each field name as
//! the upstream head is written (`proxy::forward`), on HTTP/1 and HTTP/2 alike: a few
//! byte comparisons on a name already in hand, nothing allocated.
//!
//! Left out, whatever the configuration says (docs/security.md lists them):
//! - every name starting `X-Consumer-`, `X-Credential-`, `X-Anonymous-` or
//!   `X-Authenticated-` (Kong's and APISIX's `X-Consumer-ID`, `X-Consumer-Custom-ID`,
//!   `X-Consumer-Username`, `X-Consumer-Groups`, `X-Credential-Identifier`,
//!   `X-Credential-Username`, `X-Anonymous-Consumer`, `X-Anonymous-Groups`,
//!   `X-Authenticated-Groups`, `X-Authenticated-Scope`, `X-Authenticated-Userid`);
//! - Mia-Platform's `client-type`, `isbackoffice`, `miauserid`, `miausergroups` and
//!   `miauserproperties`;
//!
//! and besides, the four identity header names keygate is configured with and the
//! entries of `proxy.strip_request_headers`. `_` reads as `-` throughout (a CGI-style
//! upstream reads `X_Consumer_ID` as `X-Consumer-ID`).

use crate::config::field_patterns::{same_dashed, starts_with_dashed};
use crate::config::FieldPatterns;

/// The families of identity fields: every name longer than one of these and starting
/// with it.
const FAMILIES: [&[u8]; 4] = [
    b"x-consumer-",
    b"x-credential-",
    b"x-anonymous-",
    b"x-authenticated-",
];

/// Single identity fields (Mia-Platform's names).
const NAMES: [&[u8]; 5] = [
    b"client-type",
    b"isbackoffice",
    b"miauserid",
    b"miausergroups",
    b"miauserproperties",
];

/// Whether the client field `name` (lower-case, as field names are stored) is a built-in
/// identity field or one `configured` names.
pub fn is_identity_field(name: &[u8], configured: &FieldPatterns) -> bool {
    built_in(name) || configured.matches(name)
}

/// Whether `name` is one of the built-in identity fields. One look at the first byte
/// settles nearly every name.
fn built_in(name: &[u8]) -> bool {
    match name.first() {
        Some(b'x') => FAMILIES
            .iter()
            .any(|family| name.len() > family.len() && starts_with_dashed(name, family)),
        Some(b'c' | b'i' | b'm') => NAMES.iter().any(|own| same_dashed(name, own)),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::FieldPattern;

    #[test]
    fn the_peers_identity_fields_are_recognised() {
        let none = FieldPatterns::default();
        for name in [
            "x-consumer-id",
            "x-consumer-custom-id",
            "x-consumer-username",
            "x-consumer-groups",
            "x_consumer_custom_id",
            "x-consumer_id",
            "x-credential-identifier",
            "x-credential-username",
            "x-anonymous-consumer",
            "x-anonymous-groups",
            "x-authenticated-groups",
            "x-authenticated-userid",
            "x-authenticated-scope",
            "client-type",
            "client_type",
            "isbackoffice",
            "miauserid",
            "miausergroups",
            "miauserproperties",
        ] {
            assert!(is_identity_field(name.as_bytes(), &none), "{name}");
        }
    }

    #[test]
    fn other_fields_are_not() {
        let none = FieldPatterns::default();
        for name in [
            "x-consumer",
            "x-consumer-",
            "x-consumers",
            "x-credentials",
            "x-anonymous",
            "accept",
            "x-forwarded-for",
            "client-type-2",
            "client",
            "miauser",
            "isbackoffice2",
            "apikey",
            "",
        ] {
            assert!(!is_identity_field(name.as_bytes(), &none), "{name}");
        }
    }

    #[test]
    fn configured_names_and_prefixes_are_added() {
        let configured = FieldPatterns(
            vec![
                FieldPattern::parse("x-userinfo").unwrap(),
                FieldPattern::parse("x-tenant-*").unwrap(),
            ]
            .into(),
        );
        assert!(is_identity_field(b"x-userinfo", &configured));
        assert!(is_identity_field(b"x_tenant_id", &configured));
        assert!(is_identity_field(b"x-consumer-id", &configured));
        assert!(!is_identity_field(b"x-tenant", &configured));
        assert!(!is_identity_field(b"x-userinfo-2", &configured));
    }
}
