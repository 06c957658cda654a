//! Evaluation of the compiled form against the facts of one request.
//!
//! Every function here returns a `bool` or a borrowed `Option<&str>`; nothing builds a
//! `String`, `Vec` or `Box`, so evaluation does not allocate. Recursion follows the
//! compiled tree, whose depth the parser bounds (see `limits::MAX_DEPTH`), and there are
//! no loops other than over the fixed operand and literal lists.

use crate::compile::{Cond, Num, SetKind, Text};
use crate::facts::Facts;

/// The value of a string operand; `None` is null.
fn text<'a, F: Facts + ?Sized>(t: &'a Text, facts: &'a F) -> Option<&'a str> {
    match t {
        Text::Lit(s) => Some(s),
        Text::Null => None,
        Text::ClientType => facts.client_type(),
        Text::Consumer => facts.consumer(),
        Text::Plan => facts.plan(),
        Text::Subscription => facts.subscription(),
        Text::KeyId => facts.key_id(),
        Text::Method => Some(facts.method()),
        Text::Path => Some(facts.path()),
        Text::Host => Some(facts.host()),
        Text::Metadata(name) => facts.metadata(name),
        Text::KeyLabel(name) => facts.key_label(name),
        Text::Header(name) => facts.header(name),
        Text::Query(name) => facts.query(name),
    }
}

/// The value of a number operand; `None` when the caller has no such usage.
fn num<F: Facts + ?Sized>(n: Num, facts: &F) -> Option<f64> {
    match n {
        Num::Lit(value) => Some(value),
        Num::Credits => facts.credits().map(|c| c as f64),
        Num::QuotaRemaining => facts.quota_remaining().map(|q| q as f64),
    }
}

fn in_set<F: Facts + ?Sized>(set: SetKind, name: &str, facts: &F) -> bool {
    match set {
        SetKind::Groups => facts.in_group(name),
        SetKind::Permissions => facts.has_permission(name),
    }
}

/// Applies `test` when both operands are present; a null operand makes the result false.
fn both<F: Facts + ?Sized>(a: &Text, b: &Text, facts: &F, test: fn(&str, &str) -> bool) -> bool {
    match (text(a, facts), text(b, facts)) {
        (Some(a), Some(b)) => test(a, b),
        _ => false,
    }
}

/// Evaluates a condition.
pub(crate) fn eval<F: Facts + ?Sized>(cond: &Cond, facts: &F) -> bool {
    match cond {
        Cond::Const(b) => *b,
        Cond::IsBackoffice => facts.is_backoffice(),
        Cond::Tls => facts.tls(),
        Cond::ClientCertificate => facts.client_certificate(),
        Cond::Not(c) => !eval(c, facts),
        Cond::All(cs) => cs.iter().all(|c| eval(c, facts)),
        Cond::Any(cs) => cs.iter().any(|c| eval(c, facts)),
        Cond::TextEq(a, b) => text(a, facts) == text(b, facts),
        Cond::TextOrder(order, a, b) => match (text(a, facts), text(b, facts)) {
            (Some(a), Some(b)) => order.holds(a.cmp(b)),
            _ => false,
        },
        Cond::BoolEq(a, b) => eval(a, facts) == eval(b, facts),
        Cond::InSet(set, t) => text(t, facts).is_some_and(|name| in_set(*set, name, facts)),
        Cond::AnyInSet(set, names) => names.iter().any(|name| in_set(*set, name, facts)),
        Cond::InList(t, items) => {
            text(t, facts).is_some_and(|value| items.iter().any(|item| **item == *value))
        }
        Cond::StartsWith(a, b) => both(a, b, facts, |a, b| a.starts_with(b)),
        Cond::EndsWith(a, b) => both(a, b, facts, |a, b| a.ends_with(b)),
        Cond::Contains(a, b) => both(a, b, facts, |a, b| a.contains(b)),
        Cond::Matches(t, regex) => text(t, facts).is_some_and(|s| regex.is_match(s)),
        Cond::NumOrder(order, a, b) => match (num(*a, facts), num(*b, facts)) {
            (Some(a), Some(b)) => order.holds_f64(a, b),
            _ => false,
        },
        Cond::NumEq(a, b) => match (num(*a, facts), num(*b, facts)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
    }
}
