//! Request-path normalisation: the one path that routing, `allow` expressions, forwarding
//! and the access log all see, so that an upstream acts on exactly the path keygate
//! authorised and not on another spelling of it. RFC 3986 §6.2.2's normal form, as nginx
//! normalises before matching locations: unreserved characters percent-decoded, the
//! escapes that stay written in uppercase hex, repeated `/` merged, `.` and `..` segments
//! removed; what cannot be made unambiguous is refused. `docs/request-path.md` states the
//! rule.

use std::borrow::Cow;
use std::str::Chars;

/// Why a request path cannot be made unambiguous; every one is answered `400`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path does not start with `/`.
    #[error("the path does not start with `/`")]
    NotAbsolute,
    /// A `%` not followed by two hex digits (`%`, `%4`, `%zz`).
    #[error("a `%` is not followed by two hex digits")]
    InvalidEscape,
    /// An encoded `/` (`%2F`): a segment boundary to one reader and not to another.
    #[error("an encoded `/` (`%2F`)")]
    EncodedSlash,
    /// An encoded NUL (`%00`).
    #[error("an encoded NUL (`%00`)")]
    EncodedNul,
    /// An encoded `\` (`%5C`): a separator to some servers.
    #[error("an encoded `\\` (`%5C`)")]
    EncodedBackslash,
    /// A `\` as sent: a separator to some servers.
    #[error("a `\\` in the path")]
    Backslash,
    /// A `..` segment above the root.
    #[error("a `..` segment climbs above the root")]
    AboveRoot,
    /// A `.` or `..` segment with a `;` parameter (`..;x`), which Tomcat reads as `..`.
    #[error("a `.` or `..` segment with a `;` parameter")]
    DotParameter,
}

/// The normal form of `path` (the path of a request target, without its query):
///
/// - `%XX` of an unreserved character (`A-Z a-z 0-9 - . _ ~`) is decoded; every other
///   escape stays, in uppercase hex;
/// - repeated `/` are merged into one (as nginx's default `merge_slashes on`);
/// - `.` and `..` segments, plain or encoded, are removed as RFC 3986 §5.2.4 says; a
///   trailing `.` or `..` leaves a trailing `/`.
///
/// Refused: a path not starting with `/`, `%2F`, `%00`, `%5C`, a `\`, a `%` not followed
/// by two hex digits, a `..` above the root, and a `.` or `..` segment carrying a `;`
/// parameter.
///
/// A path already normal (the common case) is checked in one scan and returned borrowed;
/// only a path that changes is written anew. A refusal allocates nothing.
pub fn normalise(path: &str) -> Result<Cow<'_, str>, PathError> {
    if is_normal(path)? {
        Ok(Cow::Borrowed(path))
    } else {
        rebuild(path).map(Cow::Owned)
    }
}

/// Checks the whole path without writing anything: whether it is already normal, or why
/// it is refused.
fn is_normal(path: &str) -> Result<bool, PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut normal = true;
    // Segments on the output so far, for a `..` that would climb above the root.
    let mut depth = 0usize;
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if segment.is_empty() {
            // One trailing `/` is normal; any other empty segment is a repeated `/`.
            normal &= last;
            continue;
        }
        let scan = scan_segment(segment)?;
        normal &= !scan.changed;
        match scan.kind {
            Kind::Name => depth += 1,
            Kind::Dot => normal = false,
            Kind::DotDot => {
                normal = false;
                depth = depth.checked_sub(1).ok_or(PathError::AboveRoot)?;
            }
        }
    }
    Ok(normal)
}

/// Writes the normal form of `path`: the rare case, a path that changes.
fn rebuild(path: &str) -> Result<String, PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    // Always `""` or `/name/name…`: names never hold a `/`, so a `..` cuts at the last one.
    let mut out = String::with_capacity(path.len());
    let mut trailing_slash = false;
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let last = segments.peek().is_none();
        if segment.is_empty() {
            trailing_slash = last;
            continue;
        }
        match scan_segment(segment)?.kind {
            Kind::Name => {
                out.push('/');
                write_segment(segment, &mut out)?;
                trailing_slash = false;
            }
            Kind::Dot => trailing_slash = last,
            Kind::DotDot => {
                let cut = out.rfind('/').ok_or(PathError::AboveRoot)?;
                out.truncate(cut);
                trailing_slash = last;
            }
        }
    }
    if out.is_empty() || trailing_slash {
        out.push('/');
    }
    Ok(out)
}

/// What a segment is once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A name: kept.
    Name,
    /// `.`: removed.
    Dot,
    /// `..`: removes the segment before it.
    DotDot,
}

/// What [`scan_segment`] found.
struct SegmentScan {
    kind: Kind,
    /// Whether the segment is written differently in normal form.
    changed: bool,
}

/// Decodes one non-empty segment in thought: what it is, and whether its normal form
/// differs from it.
fn scan_segment(segment: &str) -> Result<SegmentScan, PathError> {
    let mut chars = segment.chars();
    let mut changed = false;
    let mut dots = 0usize;
    let mut only_dots = true;
    while let Some(unit) = next_unit(&mut chars) {
        let (unit, unit_changed) = unit?;
        changed |= unit_changed;
        if !only_dots {
            continue;
        }
        match unit {
            Unit::Char('.') => dots += 1,
            Unit::Char(';') | Unit::Escape(b';') if dots == 1 || dots == 2 => {
                return Err(PathError::DotParameter)
            }
            _ => only_dots = false,
        }
    }
    let kind = match (only_dots, dots) {
        (true, 1) => Kind::Dot,
        (true, 2) => Kind::DotDot,
        _ => Kind::Name,
    };
    Ok(SegmentScan { kind, changed })
}

/// Appends the normal form of a name segment to `out`.
fn write_segment(segment: &str, out: &mut String) -> Result<(), PathError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut chars = segment.chars();
    while let Some(unit) = next_unit(&mut chars) {
        match unit?.0 {
            Unit::Char(c) => out.push(c),
            Unit::Escape(byte) => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    Ok(())
}

/// One character of a segment as its normal form writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// Written as itself: as sent, or an unreserved character decoded.
    Char(char),
    /// An escape that stays, of this byte.
    Escape(u8),
}

/// The next unit of a segment and whether its normal form is written differently, or
/// why the segment is refused; `None` at its end.
fn next_unit(chars: &mut Chars<'_>) -> Option<Result<(Unit, bool), PathError>> {
    let unit = match chars.next()? {
        '\\' => Err(PathError::Backslash),
        '%' => escape(chars),
        c => Ok((Unit::Char(c), false)),
    };
    Some(unit)
}

/// The escape after a `%`.
fn escape(chars: &mut Chars<'_>) -> Result<(Unit, bool), PathError> {
    let mut byte = 0u8;
    let mut lowercase = false;
    for _ in 0..2 {
        let digit = chars.next().ok_or(PathError::InvalidEscape)?;
        let value = digit.to_digit(16).ok_or(PathError::InvalidEscape)?;
        lowercase |= digit.is_ascii_lowercase();
        // `value` < 16: the shift and the cast lose nothing.
        byte = (byte << 4) | value as u8;
    }
    match byte {
        b'/' => Err(PathError::EncodedSlash),
        0 => Err(PathError::EncodedNul),
        b'\\' => Err(PathError::EncodedBackslash),
        byte if is_unreserved(byte) => Ok((Unit::Char(char::from(byte)), true)),
        byte => Ok((Unit::Escape(byte), lowercase)),
    }
}

/// RFC 3986's unreserved characters: `ALPHA DIGIT - . _ ~`.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests;
