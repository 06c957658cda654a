//! Rendering errors for people: `line:col: message`, the source line and a caret line.

use crate::error::Error;
use std::fmt::Write as _;

/// How many characters of a source line are shown at most; longer lines are cut around the
/// error and the cut ends are marked with `…`.
const MAX_SHOWN: usize = 100;

/// How many characters before the error are kept when a long line is cut.
const CONTEXT_BEFORE: usize = 30;

/// The 1-based line and 1-based column (in characters) of byte `offset` in `source`.
///
/// An offset past the end counts as the end; one inside a multi-byte character counts as
/// the start of that character.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_boundary(source, offset);
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The largest char boundary of `source` not after `offset`.
fn floor_boundary(source: &str, offset: usize) -> usize {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Renders every error against the source text it was found in, in the order given.
///
/// Each error becomes three lines: `line:col: message`, the source line indented by two
/// spaces, and a line of `^` under the error's span (at least one caret, also for an error at
/// the end of input). Lines and columns are 1-based and columns count characters.
///
/// ```
/// let errors = keygate_policy::Expr::compile("clienType === 'A'").unwrap_err();
/// let text = keygate_policy::render_errors("clienType === 'A'", &errors);
/// assert_eq!(
///     text,
///     "1:1: unknown variable `clienType`; did you mean `clientType`?\n  clienType === 'A'\n  ^^^^^^^^^\n"
/// );
/// ```
pub fn render_errors(source: &str, errors: &[Error]) -> String {
    let mut out = String::new();
    for error in errors {
        render_one(&mut out, source, error);
    }
    out
}

fn render_one(out: &mut String, source: &str, error: &Error) {
    let start = floor_boundary(source, error.span.start);
    let end = floor_boundary(source, error.span.end.max(start));
    let (line, col) = line_col(source, start);
    let _ = writeln!(out, "{line}:{col}: {}", error.message);

    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    let text: Vec<char> = source[line_start..line_end]
        .trim_end_matches('\r')
        .chars()
        .collect();
    let caret_from = col - 1;
    let caret_len = source[start..end.min(line_end)].chars().count().max(1);

    // Pick the window of the line to show.
    let (from, to) = if text.len() <= MAX_SHOWN {
        (0, text.len())
    } else {
        let from = caret_from.saturating_sub(CONTEXT_BEFORE).min(text.len());
        (from, (from + MAX_SHOWN).min(text.len()))
    };
    let cut_left = from > 0;
    let cut_right = to < text.len();

    out.push_str("  ");
    if cut_left {
        out.push('…');
    }
    out.extend(&text[from..to]);
    if cut_right {
        out.push('…');
    }
    out.push('\n');

    out.push_str("  ");
    if cut_left {
        out.push(' ');
    }
    for &c in text.iter().take(caret_from).skip(from) {
        out.push(if c == '\t' { '\t' } else { ' ' });
    }
    // Keep the carets within the shown part, but always show at least one.
    let shown = caret_len.min(to.saturating_sub(caret_from)).max(1);
    out.extend(std::iter::repeat_n('^', shown));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorKind, Span};

    fn err(start: usize, end: usize) -> Error {
        Error::new(ErrorKind::Syntax, Span::new(start, end), "boom")
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        assert_eq!(line_col("abc", 0), (1, 1));
        assert_eq!(line_col("abc", 3), (1, 4));
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("é === x", 3), (1, 3));
        // Inside a multi-byte character and past the end are clamped.
        assert_eq!(line_col("é", 1), (1, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn renders_caret_under_span() {
        let out = render_errors("a === 'b' ||", &[err(6, 9)]);
        assert_eq!(out, "1:7: boom\n  a === 'b' ||\n        ^^^\n");
    }

    #[test]
    fn renders_one_caret_at_end_of_input() {
        let out = render_errors("a ||", &[err(4, 4)]);
        assert_eq!(out, "1:5: boom\n  a ||\n      ^\n");
    }

    #[test]
    fn renders_the_right_line_of_multi_line_source() {
        let out = render_errors("a &&\n\tb ===\r\nc", &[err(6, 7)]);
        assert_eq!(out, "2:2: boom\n  \tb ===\n  \t^\n");
    }

    #[test]
    fn cuts_long_lines_around_the_error() {
        let source = format!("{}xyz{}", "a".repeat(200), "b".repeat(200));
        let out = render_errors(&source, &[err(200, 203)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "1:201: boom");
        assert!(lines[1].starts_with("  …a"));
        assert!(lines[1].ends_with("b…"));
        let caret_col = lines[2].find('^').unwrap_or(0);
        assert_eq!(&lines[1][caret_col + 2..caret_col + 5], "xyz"); // '…' is 3 bytes, 1 column
        assert!(lines[2].ends_with("^^^"));
    }
}
