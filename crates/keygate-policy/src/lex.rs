//! The lexer: turns source text into tokens with spans, collecting every lexical error.

use crate::error::{Error, ErrorKind, Span};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// A name: `[A-Za-z_$][A-Za-z0-9_$]*` that is not a keyword; its text is the span.
    Ident,
    /// A string literal, escapes already resolved.
    Str(String),
    /// A number literal.
    Num(f64),
    True,
    False,
    Null,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    /// `===`
    StrictEq,
    /// `!==`
    StrictNe,
    /// `==`
    LooseEq,
    /// `!=`
    LooseNe,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

/// One token and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

/// Describes a token for error messages, e.g. "`)`" or "end of input".
pub(crate) fn describe(token: &Token, source: &str) -> String {
    match &token.tok {
        Tok::Eof => "end of input".to_string(),
        Tok::Str(_) => "a string".to_string(),
        Tok::Num(_) => "a number".to_string(),
        _ => format!(
            "`{}`",
            source.get(token.span.start..token.span.end).unwrap_or("?")
        ),
    }
}

/// Splits `source` into tokens, always ending with [`Tok::Eof`].
///
/// Lexical errors are appended to `errors` and lexing goes on after them, so that the parser
/// can still report what it finds in the rest of the text.
pub(crate) fn lex(source: &str, errors: &mut Vec<Error>) -> Vec<Token> {
    let mut lexer = Lexer {
        src: source,
        pos: 0,
        tokens: Vec::new(),
        errors,
    };
    lexer.run();
    let end = source.len();
    lexer.tokens.push(Token {
        tok: Tok::Eof,
        span: Span::new(end, end),
    });
    lexer.tokens
}

struct Lexer<'s, 'e> {
    src: &'s str,
    pos: usize,
    tokens: Vec<Token>,
    errors: &'e mut Vec<Error>,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '$'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

impl Lexer<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.src[self.pos..].chars().nth(n)
    }

    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        self.errors.push(Error::new(
            ErrorKind::Syntax,
            Span::new(start, end),
            message,
        ));
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.tokens.push(Token {
            tok,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek() {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if is_ident_start(c) {
                self.ident(start);
            } else if c.is_ascii_digit() {
                self.number(start);
            } else if c == '\'' || c == '"' {
                self.string(start, c);
            } else {
                self.punct(start, c);
            }
        }
    }

    fn ident(&mut self, start: usize) {
        while self.peek().is_some_and(is_ident_continue) {
            self.pos += 1;
        }
        let tok = match &self.src[start..self.pos] {
            "true" => Tok::True,
            "false" => Tok::False,
            "null" => Tok::Null,
            "in" => Tok::In,
            _ => Tok::Ident,
        };
        self.push(tok, start);
    }

    fn number(&mut self, start: usize) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        // A fraction needs a digit after the dot, so that `1.x` stays "1", ".", "x".
        if self.peek() == Some('.') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        let text = &self.src[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => self.push(Tok::Num(n), start),
            _ => {
                self.error(start, self.pos, "number is too large");
                self.push(Tok::Num(0.0), start);
            }
        }
        if self.peek().is_some_and(is_ident_start) {
            let bad = self.pos;
            while self.peek().is_some_and(is_ident_continue) {
                self.pos += 1;
            }
            self.error(
                bad,
                self.pos,
                "unexpected letters after a number (exponents like `1e3` are not supported)",
            );
        }
    }

    fn string(&mut self, start: usize, quote: char) {
        self.pos += 1;
        let mut value = String::new();
        loop {
            let Some(c) = self.peek() else {
                self.error(
                    start,
                    self.pos,
                    "unterminated string: missing closing quote",
                );
                break;
            };
            if c == '\n' {
                self.error(
                    start,
                    self.pos,
                    "unterminated string: missing closing quote before end of line",
                );
                break;
            }
            self.pos += c.len_utf8();
            if c == quote {
                break;
            }
            if c != '\\' {
                value.push(c);
                continue;
            }
            let escape_start = self.pos - 1;
            match self.peek() {
                Some(e @ ('\'' | '"' | '\\')) => {
                    self.pos += 1;
                    value.push(e);
                }
                Some('n') => {
                    self.pos += 1;
                    value.push('\n');
                }
                Some('t') => {
                    self.pos += 1;
                    value.push('\t');
                }
                Some(e) if e != '\n' => {
                    self.pos += e.len_utf8();
                    self.error(
                        escape_start,
                        self.pos,
                        format!(
                            "unknown escape `\\{e}`; the escapes are \\' \\\" \\\\ \\n and \\t"
                        ),
                    );
                }
                _ => {} // reported as unterminated on the next turn
            }
        }
        self.push(Tok::Str(value), start);
    }

    fn punct(&mut self, start: usize, c: char) {
        let rest = &self.src[self.pos..];
        let (tok, len) = if rest.starts_with("===") {
            (Tok::StrictEq, 3)
        } else if rest.starts_with("!==") {
            (Tok::StrictNe, 3)
        } else if rest.starts_with("==") {
            (Tok::LooseEq, 2)
        } else if rest.starts_with("!=") {
            (Tok::LooseNe, 2)
        } else if rest.starts_with("<=") {
            (Tok::Le, 2)
        } else if rest.starts_with(">=") {
            (Tok::Ge, 2)
        } else if rest.starts_with("&&") {
            (Tok::AndAnd, 2)
        } else if rest.starts_with("||") {
            (Tok::OrOr, 2)
        } else {
            let tok = match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                ',' => Tok::Comma,
                '.' => Tok::Dot,
                '<' => Tok::Lt,
                '>' => Tok::Gt,
                '!' => Tok::Bang,
                _ => {
                    self.pos += c.len_utf8();
                    // A lone `=`, `&` or `|` is most likely a typo for the doubled
                    // operator: report it and carry on as if that had been written.
                    let (message, stand_in) = match c {
                        '=' => (
                            "unexpected `=`; compare with `===`".to_string(),
                            Some(Tok::StrictEq),
                        ),
                        '&' => (
                            "unexpected `&`; the logical and is `&&`".to_string(),
                            Some(Tok::AndAnd),
                        ),
                        '|' => (
                            "unexpected `|`; the logical or is `||`".to_string(),
                            Some(Tok::OrOr),
                        ),
                        _ => (format!("unexpected character `{}`", c.escape_debug()), None),
                    };
                    self.error(start, self.pos, message);
                    if let Some(tok) = stand_in {
                        self.push(tok, start);
                    }
                    return;
                }
            };
            (tok, 1)
        };
        self.pos += len;
        self.push(tok, start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> (Vec<Tok>, Vec<Error>) {
        let mut errors = Vec::new();
        let tokens = lex(source, &mut errors);
        (tokens.into_iter().map(|t| t.tok).collect(), errors)
    }

    #[test]
    fn lexes_operators_longest_first() {
        let (t, e) = toks("=== !== == != < <= > >= && || ! in");
        assert!(e.is_empty());
        use Tok::*;
        assert_eq!(
            t,
            vec![StrictEq, StrictNe, LooseEq, LooseNe, Lt, Le, Gt, Ge, AndAnd, OrOr, Bang, In, Eof]
        );
    }

    #[test]
    fn lexes_literals_and_escapes() {
        let (t, e) = toks(r#"'a\'b' "c\"d\\\n\t" 12 3.25 true false null x.y"#);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(t[0], Tok::Str("a'b".into()));
        assert_eq!(t[1], Tok::Str("c\"d\\\n\t".into()));
        assert_eq!(t[2], Tok::Num(12.0));
        assert_eq!(t[3], Tok::Num(3.25));
        assert_eq!(&t[4..7], &[Tok::True, Tok::False, Tok::Null]);
        assert_eq!(&t[7..11], &[Tok::Ident, Tok::Dot, Tok::Ident, Tok::Eof]);
    }

    #[test]
    fn number_followed_by_dot_and_name_is_member_access() {
        let (t, e) = toks("1.x");
        assert!(e.is_empty());
        assert_eq!(t, vec![Tok::Num(1.0), Tok::Dot, Tok::Ident, Tok::Eof]);
    }

    #[test]
    fn reports_every_lexical_error_and_goes_on() {
        let (t, e) = toks("a = b # 'c\\q' 'open");
        let spans: Vec<(usize, usize)> = e.iter().map(|e| (e.span.start, e.span.end)).collect();
        assert_eq!(spans, vec![(2, 3), (6, 7), (10, 12), (14, 19)]);
        assert!(e[0].message.contains("==="));
        assert_eq!(t.last(), Some(&Tok::Eof));
        assert_eq!(t.len(), 6); // a, === (stand-in for `=`), b, 'c', 'open', eof
        assert_eq!(t[1], Tok::StrictEq);
    }

    #[test]
    fn rejects_raw_newline_in_string_and_huge_numbers() {
        let (_, e) = toks("'a\nb'");
        assert!(e[0].message.contains("end of line"));
        let (_, e) = toks(&"9".repeat(400));
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("too large"));
    }
}
