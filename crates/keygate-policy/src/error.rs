//! Compile errors: what went wrong and where (a byte span of the source).

use std::fmt;

/// A range of the source text, as byte offsets: `start` inclusive, `end` exclusive.
///
/// Spans are byte offsets so that they can slice the source directly; use
/// [`Error::line_col`] to turn one into a human line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Offset of the first byte covered.
    pub start: usize,
    /// Offset one past the last byte covered (equal to `start` for a point, such as the end of input).
    pub end: usize,
}

impl Span {
    /// Creates a span from `start` to `end` (byte offsets).
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Which stage found an error, so that callers and tests can tell errors apart without
/// matching on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The text is not a well-formed expression (bad token, missing operand or bracket...).
    Syntax,
    /// A name that is not one of the known variables.
    UnknownVariable,
    /// A member or index that the value does not have (`request.foo`).
    UnknownMember,
    /// A call to a function that does not exist, or to something that is not a function.
    UnknownFunction,
    /// A function called with the wrong number of arguments.
    Arity,
    /// An operator or function applied to values of the wrong type, or a non-boolean result.
    Type,
    /// A regular expression given to `matches` that does not compile.
    Regex,
    /// One of the size limits in [`crate::limits`] was exceeded.
    Limit,
}

/// One problem found while compiling an expression.
///
/// `Display` prints the message only; [`crate::render_errors`] prints it with the position
/// and the offending source line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// The part of the source the error is about.
    pub span: Span,
    /// A one-line, human-readable description (may end with a "did you mean" hint).
    pub message: String,
    /// The class of error.
    pub kind: ErrorKind,
}

impl Error {
    /// Creates an error of `kind` at `span`.
    pub fn new(kind: ErrorKind, span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
            kind,
        }
    }

    /// The 1-based line and column of the start of the error in `source`; the column counts
    /// characters, not bytes.
    ///
    /// A caller that embeds the expression in a larger document (a YAML string, say) adds its
    /// own offset to these.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        crate::render::line_col(source, self.span.start)
    }

    /// Renders this error against `source` as [`crate::render_errors`] does for a list.
    pub fn render(&self, source: &str) -> String {
        crate::render::render_errors(source, std::slice::from_ref(self))
    }
}
