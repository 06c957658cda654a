//! The syntax tree produced by [`crate::parse`], before names and types are checked.
//!
//! It is public so that tools can inspect or print expressions; printing a tree (see the
//! `Display` impl in the printer) and parsing the text again gives an equal tree.

use crate::error::Span;

/// A binary operator, in the order of the grammar's precedence levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `||`: logical or, short-circuiting.
    Or,
    /// `&&`: logical and, short-circuiting.
    And,
    /// `===`: equality without coercion.
    StrictEq,
    /// `!==`: the negation of `===`.
    StrictNe,
    /// `==`: kept apart from `===` only so that printing preserves the source; same meaning.
    LooseEq,
    /// `!=`: kept apart from `!==` only so that printing preserves the source; same meaning.
    LooseNe,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`: membership in a list or a set.
    In,
}

impl BinaryOp {
    /// The binding strength: 1 for `||` up to 4 for relational operators and `in`.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::StrictEq | BinaryOp::StrictNe | BinaryOp::LooseEq | BinaryOp::LooseNe => 3,
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::In => 4,
        }
    }

    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::StrictEq => "===",
            BinaryOp::StrictNe => "!==",
            BinaryOp::LooseEq => "==",
            BinaryOp::LooseNe => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
        }
    }
}

/// Precedence of `!`, above every binary operator.
pub const UNARY_PRECEDENCE: u8 = 5;
/// Precedence of member access, indexing and calls.
pub const POSTFIX_PRECEDENCE: u8 = 6;
/// Precedence of literals, names, calls and lists: they never need parentheses.
pub const PRIMARY_PRECEDENCE: u8 = 7;

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `!`: logical not.
    Not,
}

/// A name written in the source (a member after `.`, or a function name), with its span.
///
/// Equality ignores the span.
#[derive(Debug, Clone)]
pub struct Name {
    /// The name as written.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// One node of the tree: what it is and which source bytes it covers.
///
/// Equality ignores spans: two trees are equal when they have the same shape and values,
/// wherever they were written. Parentheses leave no node of their own.
#[derive(Debug, Clone)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// The source bytes it was parsed from (without surrounding parentheses).
    pub span: Span,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// The kinds of node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A string literal (escapes resolved).
    Str(String),
    /// A number literal; always finite and not negative.
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A list literal `[a, b]`.
    List(Vec<Node>),
    /// A variable name such as `clientType`.
    Ident(String),
    /// Member access `base.name`.
    Member(Box<Node>, Name),
    /// Indexing `base[index]`.
    Index(Box<Node>, Box<Node>),
    /// A function call `name(args)`.
    Call(Name, Vec<Node>),
    /// A unary operation such as `!x`.
    Unary(UnaryOp, Box<Node>),
    /// A binary operation such as `a === b`.
    Binary(BinaryOp, Box<Node>, Box<Node>),
}

impl Node {
    /// Creates a node.
    pub fn new(kind: NodeKind, span: Span) -> Self {
        Self { kind, span }
    }

    /// How tightly this node binds when printed: decides where the printer needs parentheses.
    pub fn precedence(&self) -> u8 {
        match &self.kind {
            NodeKind::Binary(op, _, _) => op.precedence(),
            NodeKind::Unary(..) => UNARY_PRECEDENCE,
            NodeKind::Member(..) | NodeKind::Index(..) => POSTFIX_PRECEDENCE,
            _ => PRIMARY_PRECEDENCE,
        }
    }

    /// The operands of a left-leaning chain of the same operator, left to right, found
    /// without recursion: for `a || b || c` and `Or` that is `[a, b, c]`. A node that is not
    /// an `op` node is a chain of one.
    ///
    /// Long `&&`/`||` chains are walked with this so that their length never turns into
    /// recursion depth.
    pub fn chain(&self, op: BinaryOp) -> Vec<&Node> {
        let mut operands = Vec::new();
        let mut node = self;
        while let NodeKind::Binary(o, left, right) = &node.kind {
            if *o != op {
                break;
            }
            operands.push(&**right);
            node = left;
        }
        operands.push(node);
        operands.reverse();
        operands
    }
}
