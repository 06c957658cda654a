//! Table-driven tests of what expressions evaluate to: the Mia-Platform forms, every
//! variable, null rules, and the anonymous caller.
#![allow(clippy::unwrap_used)]

use crate::{Expr, Facts, StaticFacts};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A "B" consumer with a bit of everything set.
fn b_consumer() -> StaticFacts {
    StaticFacts {
        client_type: Some("B".into()),
        consumer: Some("acme-app".into()),
        groups: strings(&["admin", "ops-team"]),
        permissions: strings(&["orders:write", "read"]),
        metadata: pairs(&[("team", "payments")]),
        key_id: Some("k1".into()),
        key_labels: pairs(&[("env", "prod")]),
        plan: Some("gold".into()),
        subscription: Some("sub-1".into()),
        method: "GET".into(),
        path: "/admin/users".into(),
        host: "api.example.com".into(),
        headers: pairs(&[("X-Tenant", "acme"), ("x-plan", "gold")]),
        query: pairs(&[("q", "1")]),
        is_backoffice: false,
        tls: false,
        client_certificate: false,
        credits: Some(5),
        quota_remaining: Some(0),
    }
}

/// An anonymous call: route auth optional and no key.
fn anonymous() -> StaticFacts {
    StaticFacts {
        method: "POST".into(),
        path: "/public".into(),
        host: "api.example.com".into(),
        ..StaticFacts::default()
    }
}

fn eval(source: &str, facts: &StaticFacts) -> bool {
    match Expr::compile(source) {
        Ok(expr) => expr.eval(facts),
        Err(errors) => panic!("{source:?} does not compile: {errors:?}"),
    }
}

/// Runs a table of (expression, expected for the B consumer, expected for anonymous).
fn table(cases: &[(&str, bool, bool)]) {
    let (b, anon) = (b_consumer(), anonymous());
    for &(source, for_b, for_anon) in cases {
        assert_eq!(eval(source, &b), for_b, "{source} for the B consumer");
        assert_eq!(eval(source, &anon), for_anon, "{source} for anonymous");
    }
}

#[test]
fn mia_platform_forms() {
    table(&[
        ("clientType === 'A' || clientType === 'B'", true, false),
        ("groups.admin", true, false),
        ("groups.admin && !isBackoffice", true, false),
        ("'admin' in groups", true, false),
        ("['admin', 'ops'] in groups", true, false),
        ("permissions['orders:write']", true, false),
        ("request.method === 'GET'", true, false),
        ("request.headers['x-tenant'] === 'acme'", true, false),
        ("request.headers['X-Tenant'] === 'acme'", true, false),
        ("startsWith(request.path, '/admin')", true, false),
        ("clientType in ['A','B']", true, false),
    ]);
}

#[test]
fn seed_expression_for_each_client_type() {
    let expr = Expr::compile("clientType === 'A' || clientType === 'B'").unwrap();
    for (client_type, expected) in [
        (Some("A"), true),
        (Some("B"), true),
        (Some("C"), false),
        (Some("b"), false),
        (None, false),
    ] {
        let facts = StaticFacts {
            client_type: client_type.map(String::from),
            ..StaticFacts::default()
        };
        assert_eq!(expr.eval(&facts), expected, "{client_type:?}");
    }
}

#[test]
fn any_of_several_groups() {
    let expr = Expr::compile("['admin', 'ops'] in groups").unwrap();
    let with = |groups: &[&str]| StaticFacts {
        groups: strings(groups),
        ..StaticFacts::default()
    };
    assert!(expr.eval(&with(&["ops"])));
    assert!(expr.eval(&with(&["x", "admin"])));
    assert!(!expr.eval(&with(&["ops-team"])));
    assert!(!expr.eval(&with(&[])));
    assert!(!eval("[] in groups", &with(&["ops"])));
}

#[test]
fn every_variable() {
    table(&[
        ("consumer === 'acme-app'", true, false),
        ("groups['ops-team']", true, false),
        ("groups.ops", false, false),
        ("permissions.read", true, false),
        ("'x' in permissions", false, false),
        ("consumer in groups", false, false),
        ("metadata.team === 'payments'", true, false),
        ("metadata['team'] === 'payments'", true, false),
        ("metadata.other === null", true, true),
        ("key.id === 'k1'", true, false),
        ("key['id'] === 'k1'", true, false),
        ("key.labels.env === 'prod'", true, false),
        ("key.labels['env'] === 'prod'", true, false),
        ("plan === 'gold'", true, false),
        ("subscription === 'sub-1'", true, false),
        ("request.path === '/admin/users'", true, false),
        ("request['method'] === 'GET'", true, false),
        ("request.host === 'api.example.com'", true, true),
        ("request.headers['x-plan'] === 'gold'", true, false),
        ("request.headers.missing === null", true, true),
        ("request.query['q'] === '1'", true, false),
        ("request.query.Q === null", true, true),
        ("isBackoffice", false, false),
        ("!isBackoffice", true, true),
    ]);
    let facts = StaticFacts {
        is_backoffice: true,
        ..b_consumer()
    };
    assert!(!eval("groups.admin && !isBackoffice", &facts));
    assert!(eval("isBackoffice === true", &facts));
}

#[test]
fn tls_and_the_client_certificate_are_booleans_of_the_request() {
    let plain = b_consumer();
    assert!(!eval("request.tls", &plain));
    assert!(eval("!request.tls && !request.clientCertificate", &plain));
    let tls = StaticFacts {
        tls: true,
        ..b_consumer()
    };
    assert!(eval("request.tls", &tls));
    assert!(!eval("request.clientCertificate", &tls));
    assert!(eval("request['tls'] === true", &tls));
    let certified = StaticFacts {
        tls: true,
        client_certificate: true,
        ..b_consumer()
    };
    assert!(eval("request.tls && request.clientCertificate", &certified));
    assert!(Expr::compile("request.tls === 'yes'").is_err());
}

#[test]
fn null_rules() {
    table(&[
        ("clientType === null", false, true),
        ("clientType !== null", true, false),
        ("null === clientType", false, true),
        ("clientType === 'A'", false, false),
        ("clientType !== 'A'", true, true),
        ("clientType < 'C'", true, false),
        ("clientType >= 'B'", true, false),
        ("clientType < null", false, false),
        ("startsWith(clientType, 'B')", true, false),
        ("startsWith(null, 'B')", false, false),
        ("endsWith(consumer, 'app')", true, false),
        ("contains(consumer, '-')", true, false),
        ("null === 'A'", false, false),
        ("null !== 'A'", true, true),
        ("null === null", true, true),
        ("null !== null", false, false),
        ("clientType === consumer", false, true),
        ("key.id === null && plan === null", false, true),
        ("subscription === null", false, true),
        ("clientType in ['A', 'B']", true, false),
        ("!(clientType in ['A', 'B'])", false, true),
        ("null in groups", false, false),
        ("null in ['a']", false, false),
        ("matches(clientType, '.')", true, false),
    ]);
}

#[test]
fn strict_and_loose_equality_are_the_same_and_opposites_of_inequality() {
    let comparisons = [
        ("clientType", "'B'"),
        ("clientType", "null"),
        ("null", "null"),
        ("consumer", "clientType"),
        ("metadata.team", "'payments'"),
        ("isBackoffice", "false"),
        ("1", "1.0"),
        ("'a'", "'A'"),
    ];
    for facts in [b_consumer(), anonymous()] {
        for (a, b) in comparisons {
            let strict = eval(&format!("{a} === {b}"), &facts);
            assert_eq!(eval(&format!("{a} == {b}"), &facts), strict, "{a} == {b}");
            assert_eq!(
                eval(&format!("{a} !== {b}"), &facts),
                !strict,
                "{a} !== {b}"
            );
            assert_eq!(eval(&format!("{a} != {b}"), &facts), !strict, "{a} != {b}");
        }
    }
}

#[test]
fn literals_lists_and_ordering() {
    table(&[
        ("1 < 2 && 2.5 >= 2.5 && !(3 > 4) && 2 <= 2", true, true),
        ("3 in [1, 2, 3] && !(4 in [1, 2, 3])", true, true),
        ("'a' === 'a' && 'a' !== 'A'", true, true),
        ("'abc' < 'abd' && 'B' < 'a'", true, true),
        ("request.method < 'PUT'", true, true),
        (
            "true in [true] && !(true in [false]) && false in [true, false]",
            true,
            true,
        ),
        ("isBackoffice in [false]", true, true),
        ("(clientType === 'B') === true", true, false),
        ("(clientType === 'B') !== isBackoffice", true, false),
        ("clientType in []", false, false),
        ("'it\\'s' === \"it's\"", true, true),
    ]);
}

#[test]
fn functions() {
    table(&[
        ("startsWith(request.path, '/admin')", true, false),
        ("endsWith(request.path, '/users')", true, false),
        ("contains(request.path, 'min/us')", true, false),
        ("contains(['A', 'B'], clientType)", true, false),
        ("contains(['x'], clientType)", false, false),
        ("contains(groups, 'admin')", true, false),
        ("contains([1, 2], 2)", true, true),
        ("matches(request.path, '^/admin/[a-z]+$')", true, false),
        ("matches(request.host, 'EXAMPLE')", false, false),
        ("matches(request.host, '(?i)EXAMPLE')", true, true),
        ("startsWith(request.host, '')", true, true),
    ]);
}

#[test]
fn strings_compare_exactly() {
    table(&[
        ("clientType === 'b'", false, false),
        ("request.method === 'get'", false, false),
        ("metadata.Team === 'payments'", false, false),
        ("groups.Admin", false, false),
    ]);
}

/// Facts that insist on lowercase header names, like the gateway's do.
struct LowercaseHeaders;

impl Facts for LowercaseHeaders {
    fn client_type(&self) -> Option<&str> {
        None
    }
    fn consumer(&self) -> Option<&str> {
        None
    }
    fn in_group(&self, _: &str) -> bool {
        false
    }
    fn has_permission(&self, _: &str) -> bool {
        false
    }
    fn metadata(&self, _: &str) -> Option<&str> {
        None
    }
    fn key_id(&self) -> Option<&str> {
        None
    }
    fn key_label(&self, _: &str) -> Option<&str> {
        None
    }
    fn plan(&self) -> Option<&str> {
        None
    }
    fn subscription(&self) -> Option<&str> {
        None
    }
    fn method(&self) -> &str {
        "GET"
    }
    fn path(&self) -> &str {
        "/"
    }
    fn host(&self) -> &str {
        "h"
    }
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        assert_eq!(lowercase_name, lowercase_name.to_ascii_lowercase());
        (lowercase_name == "x-tenant").then_some("acme")
    }
    fn query(&self, _: &str) -> Option<&str> {
        None
    }
    fn is_backoffice(&self) -> bool {
        false
    }
    fn tls(&self) -> bool {
        false
    }
    fn client_certificate(&self) -> bool {
        false
    }
}

#[test]
fn header_names_are_lowercased_at_compile_time() {
    for source in [
        "request.headers['X-Tenant'] === 'acme'",
        "request.headers['x-tenant'] === 'acme'",
        "request.headers.X_TENANT === null",
    ] {
        assert!(
            Expr::compile(source).unwrap().eval(&LowercaseHeaders),
            "{source}"
        );
    }
    // Works through a trait object too.
    let dynamic: &dyn Facts = &LowercaseHeaders;
    assert!(Expr::compile("request.headers['X-TENANT'] === 'acme'")
        .unwrap()
        .eval(dynamic));
}

#[test]
fn expr_keeps_its_source_and_is_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Expr>();
    let source = "groups.admin ||  plan === 'gold'";
    assert_eq!(Expr::compile(source).unwrap().source(), source);
}

#[test]
fn credits_and_quota_remaining_are_numbers_absent_without_usage() {
    let premium = Expr::compile("plan === 'gold' && credits > 0").unwrap();
    assert!(premium.eval(&b_consumer()));
    let spent = Expr::compile("quota.remaining >= 1").unwrap();
    assert!(!spent.eval(&b_consumer()));
    let exact = Expr::compile("credits == 5 && 5 === credits && credits != 4").unwrap();
    assert!(exact.eval(&b_consumer()));
    // Without credits or quotas, every comparison is false (as with a null string).
    assert!(!Expr::compile("credits > 0").unwrap().eval(&anonymous()));
    assert!(!Expr::compile("credits <= 0").unwrap().eval(&anonymous()));
    assert!(Expr::compile("!(quota.remaining > 0)")
        .unwrap()
        .eval(&anonymous()));
    // Type errors are caught when compiled.
    assert!(Expr::compile("credits === 'a'").is_err());
    assert!(Expr::compile("quota.left > 1").is_err());
    assert!(Expr::compile("credits").is_err());
}
