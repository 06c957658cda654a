//! The precedence climber for binary operators (`||`, `&&`, equality, relational, `in`).

use super::{Parsed, Parser};
use crate::ast::{BinaryOp, NodeKind};
use crate::lex::Tok;

/// The binary operator a token stands for, if any.
fn binary_op(tok: &Tok) -> Option<BinaryOp> {
    Some(match tok {
        Tok::OrOr => BinaryOp::Or,
        Tok::AndAnd => BinaryOp::And,
        Tok::StrictEq => BinaryOp::StrictEq,
        Tok::StrictNe => BinaryOp::StrictNe,
        Tok::LooseEq => BinaryOp::LooseEq,
        Tok::LooseNe => BinaryOp::LooseNe,
        Tok::Lt => BinaryOp::Lt,
        Tok::Le => BinaryOp::Le,
        Tok::Gt => BinaryOp::Gt,
        Tok::Ge => BinaryOp::Ge,
        Tok::In => BinaryOp::In,
        _ => return None,
    })
}

impl Parser<'_> {
    /// Parses operands joined by binary operators of precedence `min_precedence` or more,
    /// all left-associative.
    ///
    /// Operators at the same level are folded in a loop; only a tighter operator on the
    /// right recurses, so the recursion depth is bounded by the number of levels. After a
    /// failed operand the remaining operators are still parsed, to report their errors.
    pub(super) fn climb(&mut self, min_precedence: u8) -> Parsed {
        let mut left = self.unary();
        loop {
            if self.fatal {
                return None;
            }
            let Some(op) = binary_op(&self.peek().tok) else {
                return left;
            };
            let precedence = op.precedence();
            if precedence < min_precedence {
                return left;
            }
            self.bump();
            let right = self.climb(precedence + 1);
            left = match (left, right) {
                (Some((l, l_depth)), Some((r, r_depth))) => {
                    // `a || b || c` is one level however long it is: evaluation flattens it.
                    let continues_chain = matches!(op, BinaryOp::And | BinaryOp::Or)
                        && matches!(&l.kind, NodeKind::Binary(o, _, _) if *o == op);
                    let l_depth = if continues_chain {
                        l_depth
                    } else {
                        l_depth + 1
                    };
                    let depth = l_depth.max(r_depth + 1);
                    let span = l.span.to(r.span);
                    self.make(NodeKind::Binary(op, Box::new(l), Box::new(r)), span, depth)
                }
                _ => None,
            };
        }
    }
}
