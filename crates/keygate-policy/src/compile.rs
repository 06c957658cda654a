//! The compiled form: a small typed tree with every name resolved, built by the checker.
//!
//! Nodes only hold literals fixed at compile time (names already lowercased where the
//! lookup is case-insensitive, regular expressions already built), so evaluating them only
//! borrows from the expression and the request facts. `&&`/`||` chains are flattened and
//! constant parts folded while building.

use regex::Regex;
use std::cmp::Ordering;

/// A string-valued operand: a literal, `null`, or a lookup in the request facts.
/// Every lookup may be absent (null) except the request line parts.
#[derive(Debug, Clone)]
pub(crate) enum Text {
    Lit(Box<str>),
    Null,
    ClientType,
    Consumer,
    Plan,
    Subscription,
    KeyId,
    Method,
    Path,
    Host,
    Metadata(Box<str>),
    KeyLabel(Box<str>),
    /// The name is already lowercase.
    Header(Box<str>),
    Query(Box<str>),
}

/// A number-valued operand: a literal or a usage fact (absent when the caller has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Lit(f64),
    /// The key's credits left (before this call).
    Credits,
    /// The least left of the quotas that apply to the call (before this call).
    QuotaRemaining,
}

/// A set of names the caller may belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetKind {
    Groups,
    Permissions,
}

/// One of `<`, `<=`, `>`, `>=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Order {
    /// Whether `a op b` holds, given how `a` compares to `b`.
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
        match self {
            Order::Lt => ordering == Ordering::Less,
            Order::Le => ordering != Ordering::Greater,
            Order::Gt => ordering == Ordering::Greater,
            Order::Ge => ordering != Ordering::Less,
        }
    }

    /// `a op b` on numbers (literals are always finite, so there is always an order).
    pub(crate) fn holds_f64(self, a: f64, b: f64) -> bool {
        a.partial_cmp(&b).is_some_and(|o| self.holds(o))
    }
}

/// A boolean-valued node: what a whole expression compiles to.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Const(bool),
    IsBackoffice,
    /// `request.tls`.
    Tls,
    /// `request.clientCertificate`.
    ClientCertificate,
    Not(Box<Cond>),
    /// Every operand holds (short-circuit, left to right).
    All(Box<[Cond]>),
    /// Some operand holds (short-circuit, left to right).
    Any(Box<[Cond]>),
    /// Both null, or both present and equal.
    TextEq(Text, Text),
    /// Both present and ordered as asked.
    TextOrder(Order, Text, Text),
    BoolEq(Box<Cond>, Box<Cond>),
    /// The text is present and in the set.
    InSet(SetKind, Text),
    /// Some of the names is in the set.
    AnyInSet(SetKind, Box<[Box<str>]>),
    /// The text is present and equal to one of the literals.
    InList(Text, Box<[Box<str>]>),
    StartsWith(Text, Text),
    EndsWith(Text, Text),
    Contains(Text, Text),
    /// The text is present and the regular expression finds a match in it.
    Matches(Text, Box<Regex>),
    /// Both numbers present and ordered as asked.
    NumOrder(Order, Num, Num),
    /// Both numbers present and equal.
    NumEq(Num, Num),
}

impl Cond {
    /// `!c`, folding constants and double negation.
    pub(crate) fn not(c: Cond) -> Cond {
        match c {
            Cond::Const(b) => Cond::Const(!b),
            Cond::Not(inner) => *inner,
            other => Cond::Not(Box::new(other)),
        }
    }

    /// `a && b && ...`: nested conjunctions are merged, `true` operands dropped, and a
    /// `false` operand makes the whole constant (operands have no side effects).
    pub(crate) fn all(operands: Vec<Cond>) -> Cond {
        Self::junction(operands, true)
    }

    /// `a || b || ...`: the dual of [`Cond::all`].
    pub(crate) fn any(operands: Vec<Cond>) -> Cond {
        Self::junction(operands, false)
    }

    /// Builds an `All` (`unit` = true) or an `Any` (`unit` = false).
    fn junction(operands: Vec<Cond>, unit: bool) -> Cond {
        let mut flat = Vec::with_capacity(operands.len());
        for c in operands {
            match c {
                Cond::Const(b) if b == unit => {}
                Cond::Const(_) => return Cond::Const(!unit),
                Cond::All(inner) if unit => flat.extend(inner.into_vec()),
                Cond::Any(inner) if !unit => flat.extend(inner.into_vec()),
                other => flat.push(other),
            }
        }
        match flat.len() {
            0 => Cond::Const(unit),
            1 => flat.pop().unwrap_or(Cond::Const(unit)),
            _ if unit => Cond::All(flat.into_boxed_slice()),
            _ => Cond::Any(flat.into_boxed_slice()),
        }
    }

    /// `a === b` on booleans, folded when both are constant.
    pub(crate) fn bool_eq(a: Cond, b: Cond) -> Cond {
        match (a, b) {
            (Cond::Const(x), Cond::Const(y)) => Cond::Const(x == y),
            (Cond::Const(true), c) | (c, Cond::Const(true)) => c,
            (Cond::Const(false), c) | (c, Cond::Const(false)) => Cond::not(c),
            (a, b) => Cond::BoolEq(Box::new(a), Box::new(b)),
        }
    }

    /// `value in [literal booleans]`, folded to the simplest equivalent.
    pub(crate) fn bool_in_list(value: Cond, if_true: bool, if_false: bool) -> Cond {
        match (if_true, if_false) {
            (true, true) => Cond::Const(true),
            (false, false) => Cond::Const(false),
            (true, false) => value,
            (false, true) => Cond::not(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junctions_flatten_and_fold() {
        let c = Cond::any(vec![
            Cond::IsBackoffice,
            Cond::any(vec![Cond::IsBackoffice, Cond::IsBackoffice]),
            Cond::Const(false),
        ]);
        assert!(matches!(&c, Cond::Any(items) if items.len() == 3));
        assert!(matches!(
            Cond::all(vec![Cond::IsBackoffice, Cond::Const(false)]),
            Cond::Const(false)
        ));
        assert!(matches!(Cond::all(vec![]), Cond::Const(true)));
        assert!(matches!(
            Cond::any(vec![Cond::Const(false), Cond::IsBackoffice]),
            Cond::IsBackoffice
        ));
        assert!(matches!(
            Cond::not(Cond::not(Cond::IsBackoffice)),
            Cond::IsBackoffice
        ));
    }

    #[test]
    fn orders() {
        assert!(Order::Lt.holds_f64(1.0, 2.0));
        assert!(!Order::Lt.holds_f64(2.0, 2.0));
        assert!(Order::Le.holds_f64(2.0, 2.0));
        assert!(Order::Gt.holds("b".cmp("a")));
        assert!(Order::Ge.holds("a".cmp("a")));
        assert!(!Order::Ge.holds("a".cmp("b")));
    }
}
