//! Tests of the parser: tree shapes, syntax errors with their spans, recovery and limits.
#![allow(clippy::unwrap_used)]

use crate::ast::{Node, NodeKind};
use crate::error::ErrorKind;
use crate::limits::{MAX_DEPTH, MAX_ERRORS, MAX_LIST_LEN, MAX_NODES, MAX_SOURCE_LEN};
use crate::parse;

/// A fully parenthesized rendering of the tree, to see its shape.
fn sexp(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) => format!("{s:?}"),
        NodeKind::Num(n) => format!("{n}"),
        NodeKind::Bool(b) => format!("{b}"),
        NodeKind::Null => "null".into(),
        NodeKind::List(items) => {
            let items: Vec<String> = items.iter().map(sexp).collect();
            format!("[{}]", items.join(" "))
        }
        NodeKind::Ident(name) => name.clone(),
        NodeKind::Member(base, name) => format!("(. {} {})", sexp(base), name.text),
        NodeKind::Index(base, index) => format!("([] {} {})", sexp(base), sexp(index)),
        NodeKind::Call(name, args) => {
            let args: Vec<String> = args.iter().map(sexp).collect();
            format!("({} {})", name.text, args.join(" "))
        }
        NodeKind::Unary(_, operand) => format!("(! {})", sexp(operand)),
        NodeKind::Binary(op, l, r) => format!("({} {} {})", op.symbol(), sexp(l), sexp(r)),
    }
}

fn shape(source: &str) -> String {
    match parse(source) {
        Ok(node) => sexp(&node),
        Err(errors) => panic!("{source:?} failed: {errors:?}"),
    }
}

/// (start, end, message) of every error.
fn errors(source: &str) -> Vec<(usize, usize, String)> {
    parse(source)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.span.start, e.span.end, e.message))
        .collect()
}

fn kinds(source: &str) -> Vec<ErrorKind> {
    parse(source)
        .unwrap_err()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

#[test]
fn precedence_from_low_to_high() {
    let cases = [
        ("a || b && c", "(|| a (&& b c))"),
        ("a && b || c", "(|| (&& a b) c)"),
        ("a === b && c", "(&& (=== a b) c)"),
        ("a === b < c", "(=== a (< b c))"),
        ("a < b === c", "(=== (< a b) c)"),
        ("'x' in g === true", "(=== (in \"x\" g) true)"),
        ("!a && b", "(&& (! a) b)"),
        ("!a.b", "(! (. a b))"),
        ("!a === b", "(=== (! a) b)"),
        ("a.b[c].d", "(. ([] (. a b) c) d)"),
        ("(a || b) && c", "(&& (|| a b) c)"),
        ("a || b || c", "(|| (|| a b) c)"),
        ("a === b !== c", "(!== (=== a b) c)"),
        ("a == b != c", "(!= (== a b) c)"),
        ("a <= b >= c > d", "(> (>= (<= a b) c) d)"),
        ("!!a", "(! (! a))"),
    ];
    for (source, expected) in cases {
        assert_eq!(shape(source), expected, "{source}");
    }
}

#[test]
fn primaries_and_postfix() {
    let cases = [
        ("clientType === 'A'", "(=== clientType \"A\")"),
        ("\"a\\\"b\"", "\"a\\\"b\""),
        ("12.5", "12.5"),
        ("null", "null"),
        (
            "['admin', 'ops'] in groups",
            "(in [\"admin\" \"ops\"] groups)",
        ),
        ("[]", "[]"),
        ("groups['ops-team']", "([] groups \"ops-team\")"),
        (
            "startsWith(request.path, '/admin')",
            "(startsWith (. request path) \"/admin\")",
        ),
        ("f()", "(f )"),
        (
            "groups.in || x.true || y.null || z.false",
            "(|| (|| (|| (. groups in) (. x true)) (. y null)) (. z false))",
        ),
        (
            "request.headers['X-Tenant']",
            "([] (. request headers) \"X-Tenant\")",
        ),
    ];
    for (source, expected) in cases {
        assert_eq!(shape(source), expected, "{source}");
    }
}

#[test]
fn spans_cover_the_source_of_each_node() {
    let node = parse("  clientType  === 'A' ").unwrap();
    assert_eq!((node.span.start, node.span.end), (2, 21));
    let NodeKind::Binary(_, left, right) = &node.kind else {
        panic!("not binary");
    };
    assert_eq!((left.span.start, left.span.end), (2, 12));
    assert_eq!((right.span.start, right.span.end), (18, 21));
    let node = parse("f(a).b").unwrap();
    assert_eq!((node.span.start, node.span.end), (0, 6));
}

#[test]
fn missing_operand_at_end_points_at_the_end() {
    let source = "clientType === 'A' ||";
    let errs = parse(source).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Syntax);
    assert_eq!((errs[0].span.start, errs[0].span.end), (21, 21));
    assert_eq!(
        errs[0].message,
        "expected an expression after `||`, found end of input"
    );
    assert_eq!(errs[0].line_col(source), (1, 22));
}

#[test]
fn reports_several_syntax_errors() {
    let errs = errors("clientType === || consumer === ");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1), (15, 17));
    assert!(errs[0].2.contains("after `===`, found `||`"));
    assert_eq!((errs[1].0, errs[1].1), (31, 31));

    let errs = errors("a b || c d && (e f)");
    assert_eq!(errs.len(), 3, "{errs:?}");
    assert_eq!(errs.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 9, 17]);
}

#[test]
fn unclosed_brackets_name_the_opening_one() {
    let errs = errors("(a || b");
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].2,
        "expected `)` to close the `(` at 1:1, found end of input"
    );
    let errs = errors("startsWith(a b)");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1), (13, 14));
    assert!(errs[0].2.starts_with("expected `,` or `)`"));
    let errs = errors("x in ['a', 'b'");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0]
        .2
        .starts_with("expected `,` or `]` to close the `[` at 1:6"));
    let errs = errors("a[");
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn hints_for_words_and_single_characters() {
    let errs = errors("a and b");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].2.ends_with("the logical and is `&&`"), "{errs:?}");
    // A single `=` is reported once and parsing goes on as if `===` was written.
    let errs = errors("clientType = 'A' || consumer = 'b'");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs.iter().all(|e| e.2.contains("`===`")));
    let errs = errors("a & b");
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn other_syntax_errors() {
    for source in [
        "", "   ", ")", "a.", "a.'b'", "a ===", "!", "(", "[", "f(", "f(a,)", "[1,]", "a[]",
        "'open", "a # b", "1e3", "a..b", "(a))",
    ] {
        let errs = parse(source).unwrap_err();
        assert!(!errs.is_empty(), "{source:?}");
        assert!(
            errs.iter().all(|e| e.span.end <= source.len()),
            "{source:?}: {errs:?}"
        );
    }
    assert_eq!(
        errors("")[0].2,
        "expected an expression, found end of input"
    );
}

#[test]
fn source_length_limit() {
    let source = format!("a === '{}'", "x".repeat(MAX_SOURCE_LEN));
    assert_eq!(kinds(&source), vec![ErrorKind::Limit]);
    let ok = format!("a === '{}'", "x".repeat(MAX_SOURCE_LEN - 8));
    assert_eq!(ok.len(), MAX_SOURCE_LEN);
    assert!(parse(&ok).is_ok());
}

#[test]
fn nesting_limit() {
    let deep = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert!(parse(&deep(MAX_DEPTH)).is_ok());
    assert_eq!(kinds(&deep(MAX_DEPTH + 1)), vec![ErrorKind::Limit]);
    let errs = parse(&deep(1000)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].span.start, MAX_DEPTH);

    assert_eq!(
        kinds(&format!("{}a", "!".repeat(100))),
        vec![ErrorKind::Limit]
    );
    assert_eq!(
        kinds(&format!("a{}", ".b".repeat(100))),
        vec![ErrorKind::Limit]
    );
    assert_eq!(
        kinds(&format!("a{}", "[1]".repeat(100))),
        vec![ErrorKind::Limit]
    );
    assert_eq!(
        kinds(&format!("a{}", " === a".repeat(100))),
        vec![ErrorKind::Limit]
    );
    assert_eq!(
        kinds(&format!("{}a{}", "f(".repeat(100), ")".repeat(100))),
        vec![ErrorKind::Limit]
    );
}

#[test]
fn long_logical_chains_are_not_deep() {
    let chain = vec!["clientType === 'A'"; 150].join(" || ");
    assert!(parse(&chain).is_ok());
    let chain = vec!["a"; 300].join(" && ");
    assert!(parse(&chain).is_ok());
}

#[test]
fn node_and_list_limits() {
    let too_many = vec!["a"; MAX_NODES + 1].join("||");
    assert_eq!(kinds(&too_many), vec![ErrorKind::Limit]);

    let list = |n: usize| format!("x in [{}]", vec!["1"; n].join(","));
    assert!(parse(&list(MAX_LIST_LEN)).is_ok());
    let errs = parse(&list(MAX_LIST_LEN + 1)).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].kind, ErrorKind::Limit);
    assert_eq!(errs[0].span.start, 5);
}

#[test]
fn error_count_is_capped() {
    let garbage = "# ".repeat(200);
    let errs = parse(&garbage).unwrap_err();
    assert_eq!(errs.len(), MAX_ERRORS);
    let garbage = "a b || ".repeat(200);
    let errs = parse(&garbage).unwrap_err();
    assert!(errs.len() <= MAX_ERRORS && errs.len() > 10);
}
