//! Partial evaluation: what an expression says about a caller when only the caller is
//! known — its consumer, client type, groups, permissions, metadata, key, plan and
//! subscription — and not the request. Three-valued: [`Verdict::Yes`] (true for every
//! request of that caller), [`Verdict::No`] (false for every one), or
//! [`Verdict::Depends`] with the request facts the rest reads (`request.method`,
//! `request.headers['x-h']`, `isBackoffice`, `credits`, ...), the parts of the source
//! that could not be decided, and the expression that remains once the decided parts are
//! folded away.
//!
//! The walk follows the syntax tree's `&&`, `||` and `!` (Kleene's three-valued logic:
//! `No && x` is `No`, `Yes || x` is `Yes`); every other node is a part, checked and
//! compiled on its own as the whole expression was, and decided by evaluating it when it
//! reads no request fact. "Who can call this route" is built on it; the request path
//! never runs it.

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use crate::ast::{BinaryOp, Node, NodeKind, UnaryOp, PRIMARY_PRECEDENCE, UNARY_PRECEDENCE};
use crate::compile::{Cond, Num, Text};
use crate::facts::Facts;

/// What an expression says about a caller whatever its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// True for every request of the caller.
    Yes,
    /// False for every request of the caller.
    No,
    /// True for some requests only: what is left to decide.
    Depends(Residual),
}

/// The undecided rest of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residual {
    /// The request facts the rest reads, sorted, each once (`request.method`,
    /// `request.headers['x-h']`, `isBackoffice`, ...).
    pub facts: Vec<String>,
    /// The parts of the source that could not be decided, in source order.
    pub parts: Vec<String>,
    /// The expression left once the decided parts are folded away (source text of the
    /// parts, joined by `&&`, `||` and `!`, with parentheses where needed).
    pub expression: String,
    /// How tightly `expression` binds (the parser's precedence levels), to parenthesise
    /// it when combined.
    precedence: u8,
}

impl Verdict {
    /// The caller's verdict for `a && b`.
    pub fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::No, _) | (_, Verdict::No) => Verdict::No,
            (Verdict::Yes, x) | (x, Verdict::Yes) => x,
            (Verdict::Depends(a), Verdict::Depends(b)) => {
                Verdict::Depends(Residual::join(a, b, BinaryOp::And))
            }
        }
    }

    /// The caller's verdict for `a || b`.
    pub fn or(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Yes, _) | (_, Verdict::Yes) => Verdict::Yes,
            (Verdict::No, x) | (x, Verdict::No) => x,
            (Verdict::Depends(a), Verdict::Depends(b)) => {
                Verdict::Depends(Residual::join(a, b, BinaryOp::Or))
            }
        }
    }

    /// `yes`, `no` or `depends`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::No => "no",
            Verdict::Depends(_) => "depends",
        }
    }
}

impl std::ops::Not for Verdict {
    type Output = Verdict;

    /// The caller's verdict for `!a`.
    fn not(self) -> Verdict {
        match self {
            Verdict::Yes => Verdict::No,
            Verdict::No => Verdict::Yes,
            Verdict::Depends(mut rest) => {
                rest.expression = format!("!{}", rest.wrapped(UNARY_PRECEDENCE));
                rest.precedence = UNARY_PRECEDENCE;
                Verdict::Depends(rest)
            }
        }
    }
}

impl Residual {
    /// All of `source`, undecided, reading facts that could not be named.
    pub(crate) fn whole(source: &str) -> Residual {
        Residual {
            facts: vec!["?".into()],
            parts: vec![source.to_owned()],
            expression: source.to_owned(),
            precedence: 0,
        }
    }

    /// `a op b`, parenthesising an operand that binds less tightly than `op`.
    fn join(a: Residual, b: Residual, op: BinaryOp) -> Residual {
        let precedence = op.precedence();
        let expression = format!(
            "{} {} {}",
            a.wrapped(precedence),
            op.symbol(),
            b.wrapped(precedence)
        );
        let facts: BTreeSet<String> = a.facts.into_iter().chain(b.facts).collect();
        let mut parts = a.parts;
        for part in b.parts {
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        Residual {
            facts: facts.into_iter().collect(),
            parts,
            expression,
            precedence,
        }
    }

    /// The expression, in parentheses when it binds less tightly than `precedence`.
    fn wrapped(&self, precedence: u8) -> String {
        if self.precedence < precedence {
            format!("({})", self.expression)
        } else {
            self.expression.clone()
        }
    }
}

/// Partially evaluates the expression `source`, parsed as `root`, for `caller`.
pub(crate) fn partial<F: Facts + ?Sized>(source: &str, root: &Node, caller: &F) -> Verdict {
    match &root.kind {
        NodeKind::Binary(op @ (BinaryOp::And | BinaryOp::Or), _, _) => {
            let operands = root.chain(*op);
            let mut verdicts = operands
                .into_iter()
                .map(|node| partial(source, node, caller));
            let first = verdicts.next().unwrap_or(Verdict::Yes);
            verdicts.fold(first, |acc, v| match op {
                BinaryOp::And => acc.and(v),
                _ => acc.or(v),
            })
        }
        NodeKind::Unary(UnaryOp::Not, inner) => !partial(source, inner, caller),
        _ => part(source, root, caller),
    }
}

/// One part: decided when it reads no request fact, else left as written.
fn part<F: Facts + ?Sized>(source: &str, node: &Node, caller: &F) -> Verdict {
    let text = source.get(node.span.start..node.span.end).unwrap_or(source);
    let Ok(cond) = crate::check::check(source, node) else {
        // Not reached for a compiled expression; undecided rather than guessed.
        return depends(text, node.precedence(), BTreeSet::from(["?".to_owned()]));
    };
    let mut facts = BTreeSet::new();
    request_facts(&cond, &mut facts);
    if facts.is_empty() {
        match crate::eval::eval(&cond, caller) {
            true => Verdict::Yes,
            false => Verdict::No,
        }
    } else {
        depends(text, node.precedence(), facts)
    }
}

fn depends(text: &str, precedence: u8, facts: BTreeSet<String>) -> Verdict {
    Verdict::Depends(Residual {
        facts: facts.into_iter().collect(),
        parts: vec![text.to_owned()],
        expression: text.to_owned(),
        precedence: precedence.min(PRIMARY_PRECEDENCE),
    })
}

/// Adds to `out` the request facts `cond` reads.
fn request_facts(cond: &Cond, out: &mut BTreeSet<String>) {
    let mut text = |t: &Text| {
        if let Some(name) = text_fact(t) {
            out.insert(name);
        }
    };
    match cond {
        Cond::Const(_) | Cond::AnyInSet(..) => {}
        Cond::IsBackoffice => {
            out.insert("isBackoffice".into());
        }
        Cond::Tls => {
            out.insert("request.tls".into());
        }
        Cond::ClientCertificate => {
            out.insert("request.clientCertificate".into());
        }
        Cond::Not(c) => request_facts(c, out),
        Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| request_facts(c, out)),
        Cond::BoolEq(a, b) => {
            request_facts(a, out);
            request_facts(b, out);
        }
        Cond::TextEq(a, b)
        | Cond::TextOrder(_, a, b)
        | Cond::StartsWith(a, b)
        | Cond::EndsWith(a, b)
        | Cond::Contains(a, b) => {
            text(a);
            text(b);
        }
        Cond::InSet(_, t) | Cond::InList(t, _) | Cond::Matches(t, _) => text(t),
        Cond::NumOrder(_, a, b) | Cond::NumEq(a, b) => {
            for n in [a, b] {
                match n {
                    Num::Lit(_) => {}
                    Num::Credits => {
                        out.insert("credits".into());
                    }
                    Num::QuotaRemaining => {
                        out.insert("quota.remaining".into());
                    }
                }
            }
        }
    }
}

/// The name of the request fact `t` reads, if it reads one.
fn text_fact(t: &Text) -> Option<String> {
    Some(match t {
        Text::Method => "request.method".into(),
        Text::Path => "request.path".into(),
        Text::Host => "request.host".into(),
        Text::Header(name) => format!("request.headers['{name}']"),
        Text::Query(name) => format!("request.query['{name}']"),
        Text::Lit(_)
        | Text::Null
        | Text::ClientType
        | Text::Consumer
        | Text::Plan
        | Text::Subscription
        | Text::KeyId
        | Text::Metadata(_)
        | Text::KeyLabel(_) => return None,
    })
}
