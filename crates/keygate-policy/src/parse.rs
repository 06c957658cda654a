//! The parser: tokens to a syntax tree, with error recovery and the size limits.
//!
//! Binary operators are handled by the precedence climber in `parse/climb.rs`; this file
//! has the entry point, unary and postfix operators, primaries and recovery.

mod climb;
#[cfg(test)]
mod tests;

use crate::ast::{Name, Node, NodeKind, UnaryOp};
use crate::error::{Error, ErrorKind, Span};
use crate::lex::{describe, lex, Tok, Token};
use crate::limits::{MAX_DEPTH, MAX_ERRORS, MAX_LIST_LEN, MAX_NODES, MAX_SOURCE_LEN};

/// Parses `source` into a syntax tree, without checking names or types.
///
/// This is the first half of [`crate::Expr::compile`]; it is public so that tools can
/// inspect or re-print an expression (printing the tree and parsing it again gives an equal
/// tree). All syntax errors found are returned, after recovering where possible.
///
/// ```
/// let tree = keygate_policy::parse("clientType=='A'||(clientType=='B')").unwrap();
/// assert_eq!(tree.to_string(), "clientType == 'A' || clientType == 'B'");
/// ```
pub fn parse(source: &str) -> Result<Node, Vec<Error>> {
    if source.len() > MAX_SOURCE_LEN {
        let mut start = MAX_SOURCE_LEN;
        while !source.is_char_boundary(start) {
            start -= 1;
        }
        return Err(vec![Error::new(
            ErrorKind::Limit,
            Span::new(start, source.len()),
            format!(
                "expression is too long: {} bytes, the limit is {MAX_SOURCE_LEN}",
                source.len()
            ),
        )]);
    }
    let mut errors = Vec::new();
    let tokens = lex(source, &mut errors);
    errors.truncate(MAX_ERRORS);
    let mut parser = Parser {
        source,
        tokens,
        pos: 0,
        fatal: errors.len() >= MAX_ERRORS,
        errors,
        nesting: 0,
        nodes: 0,
    };
    let root = parser.parse_top();
    match root {
        Some((node, _)) if parser.errors.is_empty() => Ok(node),
        _ if parser.errors.is_empty() => Err(vec![Error::new(
            ErrorKind::Syntax,
            Span::new(0, source.len()),
            "invalid expression",
        )]),
        _ => Err(parser.errors),
    }
}

/// A parsed node with its depth (see [`MAX_DEPTH`]), or `None` after an error.
type Parsed = Option<(Node, usize)>;

pub(crate) struct Parser<'s> {
    source: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    errors: Vec<Error>,
    /// How many brackets, calls and `!` the parser is inside right now.
    nesting: usize,
    /// How many nodes have been made.
    nodes: usize,
    /// Set when parsing must stop (a limit was hit, or too many errors).
    fatal: bool,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    /// Moves past the current token (never past end of input) and returns its span.
    fn bump(&mut self) -> Span {
        let span = self.peek().span;
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        span
    }

    fn text(&self, span: Span) -> &str {
        self.source.get(span.start..span.end).unwrap_or("")
    }

    /// Records a syntax error, unless one was already reported at the same place (which
    /// would be a consequence of the first).
    fn error(&mut self, span: Span, message: String) {
        if self.errors.len() >= MAX_ERRORS {
            self.fatal = true;
            return;
        }
        if self
            .errors
            .last()
            .is_some_and(|e| e.span.start == span.start)
        {
            return;
        }
        self.errors
            .push(Error::new(ErrorKind::Syntax, span, message));
        if self.errors.len() >= MAX_ERRORS {
            self.fatal = true;
        }
    }

    /// Records a limit error; parsing stops.
    fn limit(&mut self, span: Span, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push(Error::new(ErrorKind::Limit, span, message));
        }
        self.fatal = true;
    }

    /// Makes a node of the given depth, enforcing the node-count and depth limits.
    fn make(&mut self, kind: NodeKind, span: Span, depth: usize) -> Parsed {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            self.limit(
                span,
                format!("expression has too many parts (the limit is {MAX_NODES})"),
            );
            return None;
        }
        if depth > MAX_DEPTH {
            self.limit(
                span,
                format!("expression is nested too deeply (the limit is {MAX_DEPTH} levels)"),
            );
            return None;
        }
        Some((Node::new(kind, span), depth))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(&mut self, at: Span, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        if self.nesting >= MAX_DEPTH {
            self.limit(
                at,
                format!("expression is nested too deeply (the limit is {MAX_DEPTH} levels)"),
            );
            return None;
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    /// Parses the whole input; after an error, skips to the next `&&` or `||` outside
    /// brackets and goes on, so that later errors are found too.
    fn parse_top(&mut self) -> Parsed {
        let mut result = self.expr();
        while !self.fatal && !self.at(&Tok::Eof) {
            let token = self.peek().clone();
            let hint = match self.text(token.span) {
                "and" => "; the logical and is `&&`",
                "or" => "; the logical or is `||`",
                "not" => "; the logical not is `!`",
                "=" => "; compare with `===`",
                _ => "",
            };
            let found = describe(&token, self.source);
            self.error(
                token.span,
                format!("expected an operator or the end of the expression, found {found}{hint}"),
            );
            result = None;
            if !self.skip_to_logical_operator() {
                break;
            }
            let _ = self.expr();
        }
        result
    }

    /// Skips tokens up to and including the next `&&`/`||` that is not inside brackets.
    /// Returns false when the end of input came first.
    fn skip_to_logical_operator(&mut self) -> bool {
        let mut depth = 0usize;
        loop {
            match self.peek().tok {
                Tok::Eof => return false,
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth = depth.saturating_sub(1),
                Tok::AndAnd | Tok::OrOr if depth == 0 => {
                    self.bump();
                    return true;
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// An expression: the lowest precedence level.
    fn expr(&mut self) -> Parsed {
        self.climb(1)
    }

    /// `!` operand, or a postfix expression.
    fn unary(&mut self) -> Parsed {
        if !self.at(&Tok::Bang) {
            return self.postfix();
        }
        let bang = self.bump();
        let (operand, depth) = self.nested(bang, |p| p.unary())?;
        let span = bang.to(operand.span);
        self.make(
            NodeKind::Unary(UnaryOp::Not, Box::new(operand)),
            span,
            depth + 1,
        )
    }

    /// A primary followed by any number of `.name` and `[index]`.
    fn postfix(&mut self) -> Parsed {
        let (mut base, mut depth) = self.primary()?;
        loop {
            if self.fatal {
                return None;
            }
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
                    let token = self.peek().clone();
                    if !matches!(
                        token.tok,
                        Tok::Ident | Tok::True | Tok::False | Tok::Null | Tok::In
                    ) {
                        let found = describe(&token, self.source);
                        self.error(
                            token.span,
                            format!("expected a member name after `.`, found {found}"),
                        );
                        return None;
                    }
                    self.bump();
                    let name = Name {
                        text: self.text(token.span).to_string(),
                        span: token.span,
                    };
                    let span = base.span.to(token.span);
                    (base, depth) =
                        self.make(NodeKind::Member(Box::new(base), name), span, depth + 1)?;
                }
                Tok::LBracket => {
                    let open = self.bump();
                    let (index, index_depth) = self.nested(open, |p| p.expr())?;
                    let close = self.expect(&Tok::RBracket, "]", open)?;
                    let span = base.span.to(close);
                    let depth_here = depth.max(index_depth) + 1;
                    (base, depth) = self.make(
                        NodeKind::Index(Box::new(base), Box::new(index)),
                        span,
                        depth_here,
                    )?;
                }
                _ => return Some((base, depth)),
            }
        }
    }

    /// Expects `tok` (written `symbol`) closing the bracket opened at `open`.
    fn expect(&mut self, tok: &Tok, symbol: &str, open: Span) -> Option<Span> {
        if self.at(tok) {
            return Some(self.bump());
        }
        let token = self.peek().clone();
        let (line, col) = crate::render::line_col(self.source, open.start);
        let opener = self.text(open).to_string();
        let found = describe(&token, self.source);
        self.error(
            token.span,
            format!("expected `{symbol}` to close the `{opener}` at {line}:{col}, found {found}"),
        );
        None
    }

    /// A literal, a name, a call, a list or a parenthesized expression.
    fn primary(&mut self) -> Parsed {
        let token = self.peek().clone();
        let span = token.span;
        let kind = match token.tok {
            Tok::Str(s) => NodeKind::Str(s),
            Tok::Num(n) => NodeKind::Num(n),
            Tok::True => NodeKind::Bool(true),
            Tok::False => NodeKind::Bool(false),
            Tok::Null => NodeKind::Null,
            Tok::Ident => {
                self.bump();
                let text = self.text(span).to_string();
                if self.at(&Tok::LParen) {
                    return self.call(Name { text, span });
                }
                return self.make(NodeKind::Ident(text), span, 1);
            }
            Tok::LParen => {
                self.bump();
                let inner = self.nested(span, |p| p.expr())?;
                self.expect(&Tok::RParen, ")", span)?;
                return Some(inner);
            }
            Tok::LBracket => return self.list(),
            _ => {
                let found = describe(&token, self.source);
                let message = match self.pos.checked_sub(1).and_then(|i| self.tokens.get(i)) {
                    Some(prev) => format!(
                        "expected an expression after {}, found {found}",
                        describe(prev, self.source)
                    ),
                    None => format!("expected an expression, found {found}"),
                };
                self.error(span, message);
                return None;
            }
        };
        self.bump();
        self.make(kind, span, 1)
    }

    /// Comma-separated expressions up to `close`; the opening bracket is already consumed.
    /// Returns the items, the span of the closing bracket and the deepest item depth.
    fn items(&mut self, open: Span, close: &Tok, symbol: &str) -> Option<(Vec<Node>, Span, usize)> {
        self.nested(open, |p| {
            let mut items = Vec::new();
            let mut depth = 0;
            let mut ok = true;
            if p.at(close) {
                return Some((items, p.bump(), depth));
            }
            loop {
                match p.expr() {
                    Some((item, d)) => {
                        depth = depth.max(d);
                        items.push(item);
                    }
                    None => ok = false,
                }
                if p.fatal {
                    return None;
                }
                if p.at(&Tok::Comma) {
                    p.bump();
                    continue;
                }
                if p.at(close) {
                    let end = p.bump();
                    return ok.then_some((items, end, depth));
                }
                let token = p.peek().clone();
                let (line, col) = crate::render::line_col(p.source, open.start);
                let found = describe(&token, p.source);
                p.error(
                    token.span,
                    format!(
                        "expected `,` or `{symbol}` to close the `{}` at {line}:{col}, found {found}",
                        p.text(open)
                    ),
                );
                return None;
            }
        })
    }

    /// A call `name(args)`; the name is already consumed.
    fn call(&mut self, name: Name) -> Parsed {
        let open = self.bump();
        let (args, close, depth) = self.items(open, &Tok::RParen, ")")?;
        let span = name.span.to(close);
        self.make(NodeKind::Call(name, args), span, depth + 1)
    }

    /// A list literal `[a, b]`.
    fn list(&mut self) -> Parsed {
        let open = self.bump();
        let (items, close, depth) = self.items(open, &Tok::RBracket, "]")?;
        let span = open.to(close);
        if items.len() > MAX_LIST_LEN {
            if self.errors.len() < MAX_ERRORS {
                self.errors.push(Error::new(
                    ErrorKind::Limit,
                    span,
                    format!(
                        "list has {} elements, the limit is {MAX_LIST_LEN}",
                        items.len()
                    ),
                ));
            }
            return None;
        }
        self.make(NodeKind::List(items), span, depth + 1)
    }
}
