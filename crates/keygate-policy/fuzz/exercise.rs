//! What the fuzz target does with one input; shared with the corpus replay test so that
//! both run exactly the same checks.

use keygate_policy::limits::MAX_SOURCE_LEN;
use keygate_policy::{parse, render_errors, Expr, StaticFacts};

/// Facts to evaluate against: an anonymous caller and one with everything set.
fn facts() -> [StaticFacts; 2] {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    [
        StaticFacts::default(),
        StaticFacts {
            client_type: Some("A".into()),
            consumer: Some("acme".into()),
            groups: vec!["admin".into(), "ops-team".into()],
            permissions: vec!["orders:write".into()],
            metadata: vec![pair("team", "payments")],
            key_id: Some("k1".into()),
            key_labels: vec![pair("env", "prod")],
            plan: Some("gold".into()),
            subscription: Some("sub-1".into()),
            method: "POST".into(),
            path: "/admin/x".into(),
            host: "api.example.com".into(),
            headers: vec![pair("X-Tenant", "acme")],
            query: vec![pair("q", "1")],
            is_backoffice: true,
            tls: true,
            client_certificate: false,
            credits: Some(3),
            quota_remaining: Some(0),
        },
    ]
}

/// Compiles `data` (when it is UTF-8) and evaluates the result; renders errors; checks
/// that error spans lie within the source and that a parsed tree prints to text that
/// parses back to the same tree. Panics when any of that fails.
pub fn run(data: &[u8]) {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    match Expr::compile(source) {
        Ok(expr) => {
            for facts in &facts() {
                let _ = expr.eval(facts);
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "failed without errors");
            for error in &errors {
                assert!(error.span.start <= error.span.end && error.span.end <= source.len());
                let _ = error.line_col(source);
            }
            let _ = render_errors(source, &errors);
        }
    }
    if let Ok(tree) = parse(source) {
        let printed = tree.to_string();
        match parse(&printed) {
            Ok(again) => assert_eq!(again, tree, "{printed:?} parses to another tree"),
            // Printing adds spaces and escapes, so it may outgrow the length limit.
            Err(_) if printed.len() > MAX_SOURCE_LEN => {}
            Err(errors) => panic!("{printed:?} does not parse: {errors:?}"),
        }
    }
}
