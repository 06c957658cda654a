//! What the `path_normal` fuzz target checks on one input, shared with the corpus replay
//! test (crates/keygate/tests/fuzz_corpus.rs): the path normaliser never panics, its
//! output is normal (normalising it again changes nothing; no `//`, no `.` or `..`
//! segment, no `%2F`, no escape of an unreserved character, escapes in uppercase hex),
//! and it means what the input meant: decoded, it is RFC 3986 §5.2.4's
//! remove_dot_segments of the decoded input with its repeated `/` merged.

use std::borrow::Cow;

use keygate::proxy::path_normal::normalise;

/// Normalises `data` (when it is UTF-8) and checks the result. Panics when a check fails.
pub fn run(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(normal) = normalise(path) else {
        return;
    };
    let normal: &str = &normal;
    assert!(
        matches!(normalise(normal), Ok(Cow::Borrowed(again)) if again == normal),
        "{normal:?} (from {path:?}) is not normal: {:?}",
        normalise(normal)
    );
    assert!(normal.starts_with('/'), "{normal:?} is not absolute");
    for segment in normal.split('/').skip(1) {
        // Only the last segment may be empty: a trailing `/`.
        let decoded = decode(segment.as_bytes());
        assert!(
            decoded.as_deref() != Some(b".") && decoded.as_deref() != Some(b".."),
            "{normal:?} (from {path:?}) keeps a dot segment"
        );
    }
    assert!(
        !normal.contains("//"),
        "{normal:?} (from {path:?}) has `//`"
    );
    let bytes = normal.as_bytes();
    for (at, _) in normal.match_indices('%') {
        let escape = bytes.get(at + 1..at + 3).unwrap_or_default();
        assert!(
            escape.len() == 2
                && escape
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)),
            "{normal:?} (from {path:?}) has an escape not in uppercase hex at {at}"
        );
        let byte = decode(&bytes[at..at + 3]).unwrap_or_default();
        assert!(
            !matches!(byte[..], [b'/'] | [b'\\'] | [0]) && !byte.iter().all(|&b| unreserved(b)),
            "{normal:?} (from {path:?}) keeps the escape {:?}",
            &normal[at..at + 3]
        );
    }
    let from_input = decode(path.as_bytes()).expect("an accepted path has valid escapes");
    assert_eq!(
        decode(bytes),
        Some(remove_dot_segments(&merge_slashes(&from_input))),
        "{normal:?} means something else than {path:?}"
    );
}

/// RFC 3986's unreserved characters.
fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Every `%XX` decoded; `None` when a `%` is not followed by two hex digits.
fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            out.push(byte);
            rest = tail;
        }
    }
    Some(out)
}

/// Every run of `/` made one `/`.
fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    for &byte in path {
        if !(byte == b'/' && out.last() == Some(&b'/')) {
            out.push(byte);
        }
    }
    out
}

/// RFC 3986 §5.2.4, step by step as the RFC writes it.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let mut input = path.to_vec();
    let mut output: Vec<u8> = Vec::with_capacity(path.len());
    while !input.is_empty() {
        if input.starts_with(b"../") {
            input.drain(..3);
        } else if input.starts_with(b"./") || input.starts_with(b"/./") {
            // A: "./" removed; B: "/./" becomes "/".
            input.drain(..2);
        } else if input == b"/." {
            input.truncate(1);
        } else if input.starts_with(b"/../") || input == b"/.." {
            if input.len() == 3 {
                input = b"/".to_vec();
            } else {
                input.drain(..3);
            }
            let cut = output.iter().rposition(|&b| b == b'/').unwrap_or(0);
            output.truncate(cut);
        } else if input == b"." || input == b".." {
            input.clear();
        } else {
            let start = usize::from(input[0] == b'/');
            let end = input[start..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(input.len(), |at| at + start);
            output.extend(input.drain(..end));
        }
    }
    output
}
