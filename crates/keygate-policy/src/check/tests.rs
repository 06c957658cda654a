//! Tests of compile-time errors: unknown names with suggestions, types, arity, regexes, the
//! boolean result, and several errors at once.
#![allow(clippy::unwrap_used)]

use crate::error::ErrorKind;
use crate::{render_errors, Expr};

/// (kind, spanned text, message) of every error.
fn errors(source: &str) -> Vec<(ErrorKind, String, String)> {
    match Expr::compile(source) {
        Ok(_) => panic!("{source:?} compiled"),
        Err(errors) => errors
            .into_iter()
            .map(|e| {
                let text = source[e.span.start..e.span.end].to_string();
                (e.kind, text, e.message)
            })
            .collect(),
    }
}

/// The single error of `source`.
fn error(source: &str) -> (ErrorKind, String, String) {
    let mut errs = errors(source);
    assert_eq!(errs.len(), 1, "{source:?}: {errs:?}");
    errs.remove(0)
}

#[test]
fn unknown_variable_suggests_the_closest_name() {
    let source = "clienType === 'A'";
    let (kind, text, message) = error(source);
    assert_eq!(kind, ErrorKind::UnknownVariable);
    assert_eq!(text, "clienType");
    assert_eq!(
        message,
        "unknown variable `clienType`; did you mean `clientType`?"
    );
    assert_eq!(
        render_errors(source, &Expr::compile(source).unwrap_err()),
        "1:1: unknown variable `clienType`; did you mean `clientType`?\n  clienType === 'A'\n  ^^^^^^^^^\n"
    );
    let (_, _, message) = error("isBackOffice");
    assert!(
        message.ends_with("did you mean `isBackoffice`?"),
        "{message}"
    );
    let (_, _, message) = error("user === 'x'");
    assert!(
        message.contains("the variables are clientType, consumer"),
        "{message}"
    );
    let (_, _, message) = error("startsWith");
    assert!(message.contains("is a function"), "{message}");
}

#[test]
fn unknown_members() {
    let (kind, text, message) = error("request.foo === 'x'");
    assert_eq!(kind, ErrorKind::UnknownMember);
    assert_eq!(text, "foo");
    assert!(message.contains("its members are method, path, host, headers, query"));
    let (_, text, message) = error("request.methd === 'GET'");
    assert_eq!(text, "methd");
    assert!(message.ends_with("did you mean `method`?"), "{message}");
    let (_, text, message) = error("request['pth'] === '/'");
    assert_eq!(text, "'pth'");
    assert!(message.ends_with("did you mean `path`?"), "{message}");
    let (_, _, message) = error("key.label.x === 'y'");
    assert!(message.ends_with("did you mean `labels`?"), "{message}");
    let (kind, _, message) = error("clientType.length === 1");
    assert_eq!(kind, ErrorKind::UnknownMember);
    assert_eq!(
        message,
        "`clientType` is a string and has no member `length`"
    );
    let (_, _, message) = error("groups.admin.x");
    assert!(message.contains("is a boolean"), "{message}");
}

#[test]
fn type_errors() {
    let cases = [
        (
            "clientType < 3",
            "clientType < 3",
            "`<` compares two numbers or two strings",
        ),
        ("groups === 'a'", "groups === 'a'", "test membership"),
        (
            "!clientType",
            "clientType",
            "`!` needs a boolean, but `clientType` is a string",
        ),
        (
            "clientType === 3",
            "clientType === 3",
            "compares values of the same type",
        ),
        ("'1' == 1", "'1' == 1", "compares values of the same type"),
        (
            "isBackoffice === null",
            "isBackoffice === null",
            "`isBackoffice` is a boolean and is never null",
        ),
        (
            "metadata === 'x'",
            "metadata === 'x'",
            "is a map of names to strings",
        ),
        ("request === null", "request === null", "is an object"),
        (
            "clientType && true",
            "clientType",
            "`&&` needs booleans on both sides",
        ),
        ("true || plan", "plan", "`||` needs booleans"),
        ("clientType in 'abc'", "'abc'", "contains(s, sub)"),
        ("'team' in metadata", "metadata", "`!== null`"),
        ("3 in groups", "3", "`in` a set needs a name"),
        ("3 in ['a']", "3 in ['a']", "list of strings"),
        ("clientType in [1]", "clientType in [1]", "list of numbers"),
        (
            "request.headers[clientType] === 'x'",
            "clientType",
            "an index must be a string literal",
        ),
        ("['a'][0] === 'a'", "0", "an index must be a string literal"),
        ("[clientType] in groups", "clientType", "must be literals"),
        (
            "['a', 1] in groups",
            "1",
            "must all be strings, all numbers or all booleans",
        ),
        ("['a', null] in groups", "null", "cannot contain null"),
        (
            "startsWith(groups, 'a')",
            "groups",
            "`startsWith` needs a string here, but `groups` is a set",
        ),
        ("endsWith(request.path, 1)", "1", "needs a string"),
        ("contains(request.path, ['a'])", "['a']", "needs a string"),
        (
            "matches(request.path, clientType)",
            "clientType",
            "must be a string literal",
        ),
        ("[1] === [1]", "[1] === [1]", "is a list"),
    ];
    for (source, spanned, needle) in cases {
        let (kind, text, message) = error(source);
        assert_eq!(kind, ErrorKind::Type, "{source}");
        assert_eq!(text, spanned, "{source}");
        assert!(message.contains(needle), "{source}: {message}");
    }
}

#[test]
fn the_result_must_be_boolean() {
    for (source, needle) in [
        ("clientType", "`clientType` is a string; compare it"),
        ("'a'", "is a string"),
        ("null", "is null"),
        ("1", "is a number"),
        ("groups", "test membership"),
        ("request", "is an object"),
        ("['a']", "is a list"),
    ] {
        let (kind, text, message) = error(source);
        assert_eq!(kind, ErrorKind::Type, "{source}");
        assert_eq!(text, source);
        assert!(
            message.starts_with("the expression must be true or false"),
            "{message}"
        );
        assert!(message.contains(needle), "{source}: {message}");
    }
}

#[test]
fn functions_unknown_and_arity() {
    let (kind, text, message) = error("startWith(request.path, '/a')");
    assert_eq!(kind, ErrorKind::UnknownFunction);
    assert_eq!(text, "startWith");
    assert!(message.ends_with("did you mean `startsWith`?"));
    let (_, _, message) = error("lower(clientType) === 'a'");
    assert!(message.contains("the functions are startsWith, endsWith, contains, matches"));
    let (_, _, message) = error("clientType('x')");
    assert_eq!(message, "`clientType` is a variable, not a function");

    let (kind, text, message) = error("startsWith(request.path)");
    assert_eq!(kind, ErrorKind::Arity);
    assert_eq!(text, "startsWith(request.path)");
    assert!(message.contains("takes 2 arguments"), "{message}");
    assert!(message.contains("given 1"), "{message}");
    assert_eq!(
        error("contains(clientType, plan, consumer)").0,
        ErrorKind::Arity
    );
}

#[test]
fn invalid_regex() {
    let (kind, text, message) = error("matches(request.path, '(unclosed')");
    assert_eq!(kind, ErrorKind::Regex);
    assert_eq!(text, "'(unclosed'");
    assert!(
        message.starts_with("invalid regular expression: "),
        "{message}"
    );
    assert!(!message.contains('\n'));
    let (kind, _, _) = error("matches(request.path, '\\\\w{1000}{1000}')");
    assert_eq!(kind, ErrorKind::Regex);
}

#[test]
fn reports_all_errors_in_source_order() {
    let source = "clienType === 'A' || groups === 'x' || request.foo === 'y' || !consumer || startWith(plan, 'a')";
    let errs = errors(source);
    let texts: Vec<&str> = errs.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "clienType",
            "groups === 'x'",
            "foo",
            "consumer",
            "startWith"
        ]
    );
    let kinds: Vec<ErrorKind> = errs.iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        vec![
            ErrorKind::UnknownVariable,
            ErrorKind::Type,
            ErrorKind::UnknownMember,
            ErrorKind::Type,
            ErrorKind::UnknownFunction
        ]
    );
}

#[test]
fn no_cascading_errors() {
    // The unknown variable is the only problem reported, not the comparison or the result.
    assert_eq!(errors("nope < 3").len(), 1);
    assert_eq!(errors("!nope").len(), 1);
    assert_eq!(errors("nope").len(), 1);
    assert_eq!(errors("nope.x.y === 1").len(), 1);
    // Independent mistakes are all reported: `nope`, the number, and `x`.
    assert_eq!(errors("startsWith(nope, 1) && x").len(), 3);
}

#[test]
fn syntax_errors_come_before_checking() {
    let errs = errors("clienType === ");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, ErrorKind::Syntax);
}
