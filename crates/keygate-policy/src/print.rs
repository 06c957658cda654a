//! The printer: `Display` for syntax trees, with just the parentheses the grammar needs.
//!
//! Printing a parsed tree and parsing the text again yields an equal tree; the property
//! test in the crate's tests checks that on random trees.

use crate::ast::{BinaryOp, Node, NodeKind, UnaryOp, POSTFIX_PRECEDENCE, UNARY_PRECEDENCE};
use std::fmt::{self, Write as _};

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NodeKind::Str(s) => write_string(f, s),
            NodeKind::Num(n) => write!(f, "{n}"),
            NodeKind::Bool(b) => write!(f, "{b}"),
            NodeKind::Null => f.write_str("null"),
            NodeKind::List(items) => {
                f.write_char('[')?;
                write_list(f, items)?;
                f.write_char(']')
            }
            NodeKind::Ident(name) => f.write_str(name),
            NodeKind::Member(base, name) => {
                operand(f, base, POSTFIX_PRECEDENCE)?;
                write!(f, ".{}", name.text)
            }
            NodeKind::Index(base, index) => {
                operand(f, base, POSTFIX_PRECEDENCE)?;
                write!(f, "[{index}]")
            }
            NodeKind::Call(name, args) => {
                write!(f, "{}(", name.text)?;
                write_list(f, args)?;
                f.write_char(')')
            }
            NodeKind::Unary(UnaryOp::Not, operand_node) => {
                f.write_char('!')?;
                operand(f, operand_node, UNARY_PRECEDENCE)
            }
            NodeKind::Binary(op, left, right) => {
                let prec = op.precedence();
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    // Walk `a || b || c` without recursing once per operand.
                    let chain = self.chain(*op);
                    for (i, node) in chain.iter().enumerate() {
                        if i == 0 {
                            operand(f, node, prec)?;
                        } else {
                            write!(f, " {} ", op.symbol())?;
                            operand(f, node, prec + 1)?;
                        }
                    }
                    Ok(())
                } else {
                    // Binary operators are left-associative: a right operand of the same
                    // level needs parentheses, a left one does not.
                    operand(f, left, prec)?;
                    write!(f, " {} ", op.symbol())?;
                    operand(f, right, prec + 1)
                }
            }
        }
    }
}

/// Prints `node`, in parentheses if it binds less tightly than `min_precedence`.
fn operand(f: &mut fmt::Formatter<'_>, node: &Node, min_precedence: u8) -> fmt::Result {
    if node.precedence() < min_precedence {
        write!(f, "({node})")
    } else {
        write!(f, "{node}")
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Node]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

/// Writes a single-quoted string literal, escaping what the lexer needs escaped.
fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::parse;

    fn reprint(source: &str) -> String {
        parse(source).unwrap().to_string()
    }

    #[test]
    fn prints_canonical_form_with_needed_parentheses_only() {
        assert_eq!(reprint("a===\"b\"||(c)"), "a === 'b' || c");
        assert_eq!(reprint("(a || b) && c"), "(a || b) && c");
        assert_eq!(reprint("a || (b || c)"), "a || (b || c)");
        assert_eq!(reprint("(a || b) || c"), "a || b || c");
        assert_eq!(reprint("!(a.b)"), "!a.b");
        assert_eq!(reprint("(!a).b"), "(!a).b");
        assert_eq!(reprint("a < (b < c)"), "a < (b < c)");
        assert_eq!(reprint("f( x ,[1, 2.5] )"), "f(x, [1, 2.5])");
        assert_eq!(reprint("a['x-y'] == 'it\\'s'"), "a['x-y'] == 'it\\'s'");
        assert_eq!(reprint("groups.in && x.null"), "groups.in && x.null");
        assert_eq!(reprint("1.x"), "1.x");
    }
}
