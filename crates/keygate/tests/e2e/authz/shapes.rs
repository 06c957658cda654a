//! Checks sent straight to keygate in the shapes of the front proxies that are not
//! packaged here, as their references document them: Traefik's `ForwardAuth` (a `GET` to
//! its `address` with the client's fields and `X-Forwarded-Method`, `-Proto`, `-Host`,
//! `-Uri`, `-For`) and Envoy's HTTP `ext_authz` (the original method, `path_prefix`
//! before the original path, the allowed fields; `x-envoy-auth-headers-to-remove` in the
//! answer). And checks that describe no request.

use super::{AuthzGateway, ALEX_KEY, BOB_KEY, CAROL_KEY};
use crate::support::{request, HttpResponse};

/// A check as Traefik sends it for `GET https://api.example.com{uri}` from 203.0.113.9,
/// with the client's `fields`.
fn traefik(gateway: &AuthzGateway, uri: &str, fields: &[(&str, &str)]) -> HttpResponse {
    let host = gateway.authz.to_string();
    let mut headers = vec![
        ("Host", host.as_str()),
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "api.example.com"),
        ("X-Forwarded-Uri", uri),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    headers.extend_from_slice(fields);
    request(gateway.authz, "GET", "/forward-auth", &headers, b"")
}

#[test]
fn traefik_forward_auth_checks_are_answered_with_the_identity_fields() {
    let gateway = AuthzGateway::start(&[]);
    let alex = traefik(
        &gateway,
        "/v1/orders/report?x=1",
        &[("client-key", ALEX_KEY)],
    );
    assert_eq!(alex.status, 200, "{alex:?}");
    assert_eq!(alex.header("x-consumer-username"), Some("alex"));
    assert_eq!(alex.header("client-type"), Some("A"));
    assert!(alex.header("x-credential-identifier").is_some(), "{alex:?}");
    assert_eq!(alex.header("content-length"), Some("0"));
    let bob = traefik(
        &gateway,
        "/v1/orders/report",
        &[("Cookie", &format!("mia_client_key={BOB_KEY}; theme=dark"))],
    );
    assert_eq!(bob.status, 200, "{bob:?}");
    assert_eq!(bob.header("x-consumer-groups"), Some("admin"));
    assert_eq!(bob.header("cookie"), Some("theme=dark"));

    let carol = traefik(&gateway, "/v1/orders/report", &[("client-key", CAROL_KEY)]);
    assert_eq!(carol.status, 403, "{carol:?}");
    assert_eq!(carol.message(), "You cannot consume this service");
    let nobody = traefik(&gateway, "/v1/orders/report", &[]);
    assert_eq!(nobody.status, 401, "{nobody:?}");
    assert_eq!(nobody.message(), "Missing API key found in request");
    assert_eq!(
        nobody.header("www-authenticate"),
        Some("Key realm=\"keygate\"")
    );

    // Traefik forwards the path as the client wrote it (unless `sanitizePath` cleaned it
    // for both): one not in normal form is refused, never decided for the open route
    // its normal form names.
    for uri in ["/v1/orders/report/../../public", "/v1//public"] {
        let dotted = traefik(&gateway, uri, &[]);
        assert_eq!(dotted.status, 400, "{uri}: {dotted:?}");
        assert_eq!(dotted.message(), "Invalid request path");
    }

    let lines = gateway.log_lines(4);
    assert_eq!(lines[0]["client"], "203.0.113.9", "{lines:?}");
    assert_eq!(lines[0]["host"], "api.example.com", "{lines:?}");
    assert_eq!(lines[0]["path"], "/v1/orders/report", "{lines:?}");
    assert_eq!(lines[0]["check"], "forward_auth", "{lines:?}");
}

#[test]
fn envoy_http_checks_remove_the_key_and_refuse_with_keygates_body() {
    let gateway = AuthzGateway::start(&[]);
    let host = ("Host", "api.example.com");
    let alex = request(
        gateway.authz,
        "POST",
        "/envoy/v1/orders/report?x=1",
        &[
            host,
            ("client-key", ALEX_KEY),
            ("x-forwarded-proto", "https"),
            ("X-Consumer-Username", "admin"),
            ("X-Consumer-ID", "admin"),
            ("X-Anonymous-Consumer", "true"),
            ("isbackoffice", "true"),
        ],
        b"",
    );
    assert_eq!(alex.status, 200, "{alex:?}");
    assert_eq!(alex.header("x-consumer-username"), Some("alex"));
    // The key's fields, and the client's identity fields the answer does not set.
    assert_eq!(
        alex.header("x-envoy-auth-headers-to-remove"),
        Some("apikey, client-key, secret, x-anonymous-consumer, isbackoffice")
    );
    // X-Consumer-ID is keygate's own answer (the consumer's id), not a removal.
    assert_eq!(alex.header("x-consumer-id"), Some("alex"));
    let only_cookie = request(
        gateway.authz,
        "GET",
        "/envoy/v1/orders/report",
        &[host, ("cookie", &format!("mia_client_key={BOB_KEY}"))],
        b"",
    );
    assert_eq!(only_cookie.status, 200, "{only_cookie:?}");
    assert_eq!(
        only_cookie.header("x-envoy-auth-headers-to-remove"),
        Some("apikey, client-key, secret, cookie")
    );
    assert_eq!(only_cookie.header("cookie"), None);

    let carol = request(
        gateway.authz,
        "GET",
        "/envoy/v1/orders/report",
        &[host, ("client-key", CAROL_KEY)],
        b"",
    );
    assert_eq!(carol.status, 403, "{carol:?}");
    assert_eq!(carol.message(), "You cannot consume this service");
    let lines = gateway.log_lines(3);
    assert_eq!(lines[0]["method"], "POST", "{lines:?}");
    assert_eq!(lines[0]["check"], "envoy_http", "{lines:?}");
}

#[test]
fn a_check_that_describes_no_request_is_refused() {
    let gateway = AuthzGateway::start(&[]);
    let no_uri = request(
        gateway.authz,
        "GET",
        "/nginx",
        &[("X-Original-Method", "GET"), ("client-key", ALEX_KEY)],
        b"",
    );
    assert_eq!(no_uri.status, 400, "{no_uri:?}");
    assert_eq!(
        no_uri.message(),
        "The check does not describe a valid request"
    );
    let absolute = request(
        gateway.authz,
        "GET",
        "/nginx",
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "http://evil.example/v1/orders/report"),
            ("client-key", ALEX_KEY),
        ],
        b"",
    );
    assert_eq!(absolute.status, 400, "{absolute:?}");
    let elsewhere = request(
        gateway.authz,
        "GET",
        "/v1/orders/report",
        &[("client-key", ALEX_KEY)],
        b"",
    );
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    assert_eq!(elsewhere.message(), "No authorization check at this path");
    // A path the proxy would normalise is normalised the same way before routing.
    let dotted = request(
        gateway.authz,
        "GET",
        "/nginx",
        &[
            ("X-Original-Method", "GET"),
            ("X-Original-URI", "/v1/orders/./x/../report"),
            ("client-key", CAROL_KEY),
        ],
        b"",
    );
    assert_eq!(dotted.status, 403, "{dotted:?}");
}

#[test]
fn checks_answer_the_anonymous_consumers_fields() {
    let gateway = AuthzGateway::start(&[]);
    let spoofed = [
        ("X-Anonymous-Consumer", "false"),
        ("X-Credential-Identifier", "admin"),
    ];
    let guest = traefik(&gateway, "/v2/open", &spoofed);
    assert_eq!(guest.status, 200, "{guest:?}");
    assert_eq!(guest.header("x-consumer-username"), Some("guest"));
    assert_eq!(guest.header("client-type"), Some("visitor"));
    assert_eq!(guest.header("x-anonymous-consumer"), Some("true"));
    assert_eq!(guest.header("x-credential-identifier"), None, "{guest:?}");
    let alex = traefik(&gateway, "/v2/open", &[("client-key", ALEX_KEY)]);
    assert_eq!(alex.header("x-consumer-username"), Some("alex"));
    assert_eq!(alex.header("x-anonymous-consumer"), None, "{alex:?}");

    // Envoy: the answer sets X-Anonymous-Consumer over the client's, and has the
    // client's key id removed, as the anonymous consumer has none.
    let mut fields = vec![("Host", "api.example.com")];
    fields.extend_from_slice(&spoofed);
    let envoy = request(gateway.authz, "GET", "/envoy/v2/open", &fields, b"");
    assert_eq!(envoy.status, 200, "{envoy:?}");
    assert_eq!(envoy.header("x-anonymous-consumer"), Some("true"));
    assert_eq!(
        envoy.header("x-envoy-auth-headers-to-remove"),
        Some("apikey, client-key, secret, x-credential-identifier")
    );
    let lines = gateway.log_lines(3);
    assert_eq!(lines[0]["consumer"], "guest", "{lines:?}");
    assert_eq!(lines[0]["anonymous"], true, "{lines:?}");
}
