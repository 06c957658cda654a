//! Type rules of the binary operators: logical, equality, ordering and `in`.

use super::{Checker, List, Value};
use crate::ast::{BinaryOp, Node};
use crate::compile::{Cond, Order, Text};
use crate::error::{ErrorKind, Span};

impl Checker<'_> {
    /// Checks `left op right`; `node` is the whole operation.
    pub(super) fn binary(&mut self, op: BinaryOp, node: &Node, left: &Node, right: &Node) -> Value {
        match op {
            BinaryOp::And | BinaryOp::Or => self.logical(op, node),
            BinaryOp::StrictEq | BinaryOp::LooseEq => self.equality(op, node, left, right, false),
            BinaryOp::StrictNe | BinaryOp::LooseNe => self.equality(op, node, left, right, true),
            BinaryOp::Lt => self.order(op, Order::Lt, node, left, right),
            BinaryOp::Le => self.order(op, Order::Le, node, left, right),
            BinaryOp::Gt => self.order(op, Order::Gt, node, left, right),
            BinaryOp::Ge => self.order(op, Order::Ge, node, left, right),
            BinaryOp::In => self.membership(node, left, right),
        }
    }

    /// A whole `a && b && c` (or `||`) chain at once, without recursing along the chain.
    fn logical(&mut self, op: BinaryOp, node: &Node) -> Value {
        let mut operands = Vec::new();
        let mut ok = true;
        for operand in node.chain(op) {
            match self.value(operand) {
                Value::Bool(c) => operands.push(c),
                Value::Invalid => ok = false,
                other => {
                    let what = self.what(operand, &other);
                    self.error(
                        ErrorKind::Type,
                        operand.span,
                        format!("`{}` needs booleans on both sides, but {what}", op.symbol()),
                    );
                    ok = false;
                }
            }
        }
        match (ok, op) {
            (false, _) => Value::Invalid,
            (true, BinaryOp::And) => Value::Bool(Cond::all(operands)),
            (true, _) => Value::Bool(Cond::any(operands)),
        }
    }

    /// `===`, `==` and, with `negate`, `!==`, `!=`.
    fn equality(
        &mut self,
        op: BinaryOp,
        node: &Node,
        left: &Node,
        right: &Node,
        negate: bool,
    ) -> Value {
        let l = self.value(left);
        let r = self.value(right);
        let eq = match (l, r) {
            (Value::Invalid, _) | (_, Value::Invalid) => return Value::Invalid,
            (Value::Text(a), Value::Text(b)) => Cond::TextEq(a, b),
            (Value::Text(a), Value::Null) | (Value::Null, Value::Text(a)) => {
                Cond::TextEq(a, Text::Null)
            }
            (Value::Null, Value::Null) => Cond::Const(true),
            (Value::Num(a), Value::Num(b)) => Cond::Const(a == b),
            (a @ (Value::Num(_) | Value::NumFact(_)), b @ (Value::Num(_) | Value::NumFact(_))) => {
                Cond::NumEq(number(&a), number(&b))
            }
            (Value::Bool(a), Value::Bool(b)) => Cond::bool_eq(a, b),
            (l, r) => {
                let message = self.mismatch(op, left, &l, right, &r);
                self.error(ErrorKind::Type, node.span, message);
                return Value::Invalid;
            }
        };
        Value::Bool(if negate { Cond::not(eq) } else { eq })
    }

    /// The message for operands that `op` cannot compare.
    fn mismatch(&self, op: BinaryOp, left: &Node, l: &Value, right: &Node, r: &Value) -> String {
        let symbol = op.symbol();
        for (node, value) in [(left, l), (right, r)] {
            match value {
                Value::Set(_) => {
                    let what = self.what(node, value);
                    return format!(
                        "{what} and cannot be compared with `{symbol}`; test membership, as in `groups.admin` or `'admin' in groups`"
                    );
                }
                Value::Map(_) | Value::Object(_) | Value::List(_) => {
                    let what = self.what(node, value);
                    return format!("{what} and cannot be compared with `{symbol}`");
                }
                _ => {}
            }
        }
        if matches!(l, Value::Null) || matches!(r, Value::Null) {
            let (node, value) = if matches!(l, Value::Null) {
                (right, r)
            } else {
                (left, l)
            };
            let what = self.what(node, value);
            return format!("{what} and is never null");
        }
        let lw = self.what(left, l);
        let rw = self.what(right, r);
        format!("`{symbol}` compares values of the same type, but {lw} and {rw}")
    }

    /// `<`, `<=`, `>`, `>=`: two numbers, or two strings (false when either is null).
    fn order(
        &mut self,
        op: BinaryOp,
        order: Order,
        node: &Node,
        left: &Node,
        right: &Node,
    ) -> Value {
        let l = self.value(left);
        let r = self.value(right);
        let text = |v: &Value| match v {
            Value::Text(t) => Some(t.clone()),
            Value::Null => Some(Text::Null),
            _ => None,
        };
        match (&l, &r) {
            (Value::Invalid, _) | (_, Value::Invalid) => Value::Invalid,
            (Value::Num(a), Value::Num(b)) => Value::Bool(Cond::Const(order.holds_f64(*a, *b))),
            (Value::Num(_) | Value::NumFact(_), Value::Num(_) | Value::NumFact(_)) => {
                Value::Bool(Cond::NumOrder(order, number(&l), number(&r)))
            }
            _ => match (text(&l), text(&r)) {
                (Some(a), Some(b)) => Value::Bool(Cond::TextOrder(order, a, b)),
                _ => {
                    let lw = self.what(left, &l);
                    let rw = self.what(right, &r);
                    self.error(
                        ErrorKind::Type,
                        node.span,
                        format!(
                            "`{}` compares two numbers or two strings, but {lw} and {rw}",
                            op.symbol()
                        ),
                    );
                    Value::Invalid
                }
            },
        }
    }

    /// `x in set`, `[names] in set` and `x in [list]`.
    fn membership(&mut self, node: &Node, left: &Node, right: &Node) -> Value {
        let l = self.value(left);
        let r = self.value(right);
        match r {
            Value::Invalid => Value::Invalid,
            Value::Set(set) => match l {
                Value::Invalid => Value::Invalid,
                Value::Text(t) => Value::Bool(Cond::InSet(set, t)),
                Value::Null | Value::List(List::Empty) => Value::Bool(Cond::Const(false)),
                Value::List(List::Text(names)) => {
                    Value::Bool(Cond::AnyInSet(set, names.into_boxed_slice()))
                }
                other => {
                    let what = self.what(left, &other);
                    self.error(
                        ErrorKind::Type,
                        left.span,
                        format!(
                            "`in` a set needs a name or a list of names on the left, but {what}"
                        ),
                    );
                    Value::Invalid
                }
            },
            Value::List(list) => self.in_list(l, left, list, node.span),
            other => {
                let what = self.what(right, &other);
                let hint = match other {
                    Value::Text(_) | Value::Null => "; for a substring use `contains(s, sub)`",
                    Value::Map(_) => "; to test whether an entry is set use `!== null`",
                    _ => "",
                };
                self.error(
                    ErrorKind::Type,
                    right.span,
                    format!("`in` needs a list or a set on the right, but {what}{hint}"),
                );
                Value::Invalid
            }
        }
    }

    /// Whether `value` (checked from `node`) equals an element of the literal `list`;
    /// `span` is where a type mismatch is reported.
    pub(super) fn in_list(&mut self, value: Value, node: &Node, list: List, span: Span) -> Value {
        let cond = match (value, list) {
            (Value::Invalid, _) => return Value::Invalid,
            (Value::Null, List::Text(_) | List::Empty) => Cond::Const(false),
            (Value::Text(_) | Value::Num(_) | Value::Bool(_), List::Empty) => Cond::Const(false),
            (Value::Text(t), List::Text(items)) => {
                let items: Vec<Box<str>> = items;
                Cond::InList(t, items.into_boxed_slice())
            }
            (Value::Num(n), List::Num(items)) => Cond::Const(items.contains(&n)),
            (Value::Bool(c), List::Bool(items)) => {
                Cond::bool_in_list(c, items.contains(&true), items.contains(&false))
            }
            (value, list) => {
                let what = self.what(node, &value);
                let of = match list {
                    List::Text(_) | List::Empty => "strings",
                    List::Num(_) => "numbers",
                    List::Bool(_) => "booleans",
                };
                self.error(
                    ErrorKind::Type,
                    span,
                    format!("cannot look for a value in a list of {of}: {what}"),
                );
                return Value::Invalid;
            }
        };
        Value::Bool(cond)
    }
}

/// A number operand of a checked value that is one.
fn number(value: &Value) -> crate::compile::Num {
    match value {
        Value::Num(n) => crate::compile::Num::Lit(*n),
        Value::NumFact(fact) => *fact,
        _ => crate::compile::Num::Lit(f64::NAN),
    }
}
