//! The three-valued evaluation: decided parts fold away, undecided ones stay with the
//! request facts they read, and a decided verdict always agrees with full evaluation.

#![allow(clippy::unwrap_used)]

use crate::{Expr, StaticFacts, Verdict};

fn caller(client_type: &str, groups: &[&str]) -> StaticFacts {
    StaticFacts {
        client_type: Some(client_type.into()),
        consumer: Some(format!("{client_type}-consumer")),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        key_id: Some("k1".into()),
        key_labels: vec![("env".into(), "prod".into())],
        metadata: vec![("tier".into(), "gold".into())],
        ..StaticFacts::default()
    }
}

fn verdict(source: &str, facts: &StaticFacts) -> Verdict {
    Expr::compile(source).unwrap().partial(facts)
}

/// (facts, parts, expression) of a `Depends`.
fn rest(v: Verdict) -> (Vec<String>, Vec<String>, String) {
    match v {
        Verdict::Depends(r) => (r.facts, r.parts, r.expression),
        other => panic!("expected depends, got {other:?}"),
    }
}

#[test]
fn caller_facts_alone_decide() {
    let a = caller("A", &["admin"]);
    for (source, expected) in [
        ("clientType === 'A'", Verdict::Yes),
        ("clientType === 'B'", Verdict::No),
        ("clientType === 'A' || clientType === 'B'", Verdict::Yes),
        ("groups.admin && !groups.banned", Verdict::Yes),
        ("'admin' in groups", Verdict::Yes),
        (
            "key.labels.env === 'prod' && metadata.tier === 'gold'",
            Verdict::Yes,
        ),
        ("key.id === 'k2'", Verdict::No),
        ("startsWith(consumer, 'A-')", Verdict::Yes),
        ("true", Verdict::Yes),
        ("!(clientType in ['A', 'C'])", Verdict::No),
    ] {
        assert_eq!(verdict(source, &a), expected, "{source}");
    }
    // Anonymous: nothing is known about the caller, and null compares unequal.
    assert_eq!(
        verdict("clientType === 'A'", &StaticFacts::default()),
        Verdict::No
    );
    assert_eq!(
        verdict("clientType === null", &StaticFacts::default()),
        Verdict::Yes
    );
}

#[test]
fn request_facts_leave_the_rest_with_its_parts() {
    let a = caller("A", &[]);
    let (facts, parts, expression) = rest(verdict(
        "clientType === 'A' && request.method === 'GET'",
        &a,
    ));
    assert_eq!(facts, ["request.method"]);
    assert_eq!(parts, ["request.method === 'GET'"]);
    assert_eq!(expression, "request.method === 'GET'");

    let source = "(clientType === 'B' || request.headers['X-Team'] === 'ops') && \
                  (isBackoffice || startsWith(request.path, '/public/'))";
    let (facts, parts, expression) = rest(verdict(source, &a));
    assert_eq!(
        facts,
        ["isBackoffice", "request.headers['x-team']", "request.path"]
    );
    assert_eq!(
        parts,
        [
            "request.headers['X-Team'] === 'ops'",
            "isBackoffice",
            "startsWith(request.path, '/public/')"
        ]
    );
    assert_eq!(
        expression,
        "request.headers['X-Team'] === 'ops' && (isBackoffice || startsWith(request.path, '/public/'))"
    );

    let (facts, _, expression) = rest(verdict("!(request.tls && credits > 0)", &a));
    assert_eq!(facts, ["credits", "request.tls"]);
    assert_eq!(expression, "!(request.tls && credits > 0)");
    let (facts, _, _) = rest(verdict(
        "quota.remaining > 10 || request.query['q'] == 'x'",
        &a,
    ));
    assert_eq!(facts, ["quota.remaining", "request.query['q']"]);
}

#[test]
fn a_decided_operand_decides_whatever_the_request() {
    let b = caller("B", &[]);
    // `No && x` and `Yes || x` need nothing from the request.
    assert_eq!(
        verdict("clientType === 'A' && request.method === 'GET'", &b),
        Verdict::No
    );
    assert_eq!(
        verdict("clientType === 'B' || request.method === 'GET'", &b),
        Verdict::Yes
    );
    assert_eq!(
        verdict("!(clientType === 'B' || isBackoffice)", &b),
        Verdict::No
    );
    // A part mixing both kinds of facts stays whole.
    let (facts, parts, _) = rest(verdict("clientType === request.headers['x-type']", &b));
    assert_eq!(facts, ["request.headers['x-type']"]);
    assert_eq!(parts, ["clientType === request.headers['x-type']"]);
}

#[test]
fn verdicts_combine_in_kleene_logic() {
    let d = || verdict("isBackoffice", &StaticFacts::default());
    assert_eq!(Verdict::Yes.and(d()), d());
    assert_eq!(Verdict::No.and(d()), Verdict::No);
    assert_eq!(Verdict::Yes.or(d()), Verdict::Yes);
    assert_eq!(Verdict::No.or(d()), d());
    assert_eq!(!Verdict::Yes, Verdict::No);
    let other = verdict(
        "request.method === 'GET' || request.tls",
        &StaticFacts::default(),
    );
    let (facts, parts, expression) = rest(d().and(other));
    assert_eq!(facts, ["isBackoffice", "request.method", "request.tls"]);
    assert_eq!(parts.len(), 3);
    assert_eq!(
        expression,
        "isBackoffice && (request.method === 'GET' || request.tls)"
    );
    assert_eq!(d().as_str(), "depends");
}

/// Whatever the request, a decided verdict is what evaluation answers.
#[test]
fn decided_verdicts_agree_with_evaluation() {
    let sources = [
        "clientType === 'A' && request.method === 'GET'",
        "clientType === 'B' || request.method === 'GET'",
        "!(groups.admin && isBackoffice) || key.labels.env === 'prod'",
        "(startsWith(request.path, '/a') || clientType === 'A') && !groups.banned",
        "request.headers['x'] === 'y' && clientType === 'C'",
    ];
    let callers = [
        caller("A", &["admin"]),
        caller("B", &["banned"]),
        StaticFacts::default(),
    ];
    let requests = [("GET", "/a", true, Some("y")), ("POST", "/b", false, None)];
    for source in sources {
        let expr = Expr::compile(source).unwrap();
        for who in &callers {
            let decided = expr.partial(who);
            let mut outcomes = Vec::new();
            for (method, path, backoffice, header) in requests {
                let mut facts = who.clone();
                facts.method = method.into();
                facts.path = path.into();
                facts.is_backoffice = backoffice;
                facts.headers = header.map(|h| ("x".into(), h.into())).into_iter().collect();
                outcomes.push(expr.eval(&facts));
            }
            match decided {
                Verdict::Yes => assert!(outcomes.iter().all(|o| *o), "{source}"),
                Verdict::No => assert!(outcomes.iter().all(|o| !*o), "{source}"),
                Verdict::Depends(_) => {}
            }
        }
    }
}
