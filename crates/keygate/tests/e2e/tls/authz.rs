//! An `authz.listen` listener over TLS (`authz.tls`), alone in its process: the check of
//! a front proxy that speaks HTTPS to keygate.

use super::tools::{certificate_entry, curl_https, Ca};
use crate::authz::{AuthzGateway, ALEX_KEY, SEED_ENTITIES};
use crate::support::{TempDir, ADMIN_TOKEN};

#[test]
fn checks_are_answered_over_tls() {
    let dir = TempDir::new();
    let ca = Ca::new(&dir.0);
    let (cert, key) = ca.issue(&dir.0, "authz", "authz", &["localhost"]);
    let text = format!(
        "proxy:\n  listen: []\nauthz:\n  listen: [{{address: 127.0.0.1:0, tls: true}}]\n  tls:\n    certificates:\n{}admin:\n  listen: 127.0.0.1:0\n  token: {ADMIN_TOKEN}\nstore: sqlite://{}\n{SEED_ENTITIES}",
        certificate_entry(&cert, &key, ""),
        dir.0.join("keygate.db").display()
    );
    let ca = dir.0.join("ca.pem");
    let gateway = AuthzGateway::launch(dir, &text, ("authz tls", false));
    let check = |key: &str| {
        curl_https(
            &ca,
            gateway.authz,
            "localhost",
            "/nginx",
            &[
                "-H",
                "X-Original-Method: GET",
                "-H",
                "X-Original-URI: /v1/orders/report",
                "-H",
                key,
            ],
        )
    };
    let allowed = check(&format!("client-key: {ALEX_KEY}"));
    assert_eq!(allowed.status(), 200, "{}", allowed.stdout);
    let refused = check("client-key: no-such-key-0123456");
    assert_eq!(refused.status(), 401, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("Invalid API key in request"),
        "{}",
        refused.stdout
    );
}
