//! Tests of the path normaliser: examples, then properties over generated paths checked
//! against RFC 3986 §5.2.4 written out independently.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

fn normal(path: &str) -> String {
    normalise(path)
        .unwrap_or_else(|error| panic!("{path}: {error}"))
        .into_owned()
}

#[test]
fn a_normal_path_is_borrowed() {
    for path in [
        "/",
        "/orders/42",
        "/orders/42/",
        "/a%20b/%C3%A9",
        "/files/...",
        "/a;b=c/..x",
        "/%2526",
        "/é",
    ] {
        assert!(
            matches!(normalise(path), Ok(Cow::Borrowed(same)) if same == path),
            "{path}"
        );
    }
}

#[test]
fn unreserved_escapes_are_decoded_and_the_others_uppercased() {
    assert_eq!(normal("/orders/%72eport"), "/orders/report");
    assert_eq!(normal("/%41%7a%30%2D%2e%5F%7E"), "/Az0-._~");
    assert_eq!(normal("/a%20b%c3%a9"), "/a%20b%C3%A9");
    assert_eq!(normal("/%3b%3F%23%25"), "/%3B%3F%23%25");
}

#[test]
fn slashes_are_merged() {
    assert_eq!(normal("//orders//42"), "/orders/42");
    assert_eq!(normal("//"), "/");
    assert_eq!(normal("/a///"), "/a/");
}

#[test]
fn dot_segments_are_removed() {
    assert_eq!(
        normal("/files/public/../private/secret.txt"),
        "/files/private/secret.txt"
    );
    assert_eq!(normal("/a/./b"), "/a/b");
    assert_eq!(normal("/a/b/."), "/a/b/");
    assert_eq!(normal("/a/b/.."), "/a/");
    assert_eq!(normal("/a/.."), "/");
    assert_eq!(normal("/."), "/");
    assert_eq!(normal("/a/%2e%2E/b"), "/b");
    assert_eq!(normal("/a/.%2e/b"), "/b");
    assert_eq!(normal("/a/%2e/b"), "/a/b");
    // Merged first, as nginx: `//..` climbs out of `a`, not out of an empty segment.
    assert_eq!(normal("/a//../b"), "/b");
    // Not dot segments.
    assert_eq!(normal("/.../..a/a.."), "/.../..a/a..");
}

#[test]
fn ambiguous_paths_are_refused() {
    let cases = [
        ("", PathError::NotAbsolute),
        ("*", PathError::NotAbsolute),
        ("orders", PathError::NotAbsolute),
        (
            "/files/public/..%2fprivate/secret.txt",
            PathError::EncodedSlash,
        ),
        ("/a%2Fb", PathError::EncodedSlash),
        ("/a%00", PathError::EncodedNul),
        ("/a%5cb", PathError::EncodedBackslash),
        ("/..%5c", PathError::EncodedBackslash),
        ("/a\\b", PathError::Backslash),
        ("/..\\", PathError::Backslash),
        ("/a%", PathError::InvalidEscape),
        ("/a%4", PathError::InvalidEscape),
        ("/a%zz", PathError::InvalidEscape),
        ("/a%4g", PathError::InvalidEscape),
        ("/a%+1", PathError::InvalidEscape),
        ("/..", PathError::AboveRoot),
        ("/../a", PathError::AboveRoot),
        ("/a/../..", PathError::AboveRoot),
        ("/a/%2e%2e/%2E%2E/x", PathError::AboveRoot),
        ("/a/..;x/b", PathError::DotParameter),
        ("/a/..;/b", PathError::DotParameter),
        ("/a/.;x", PathError::DotParameter),
        ("/a/%2e%2e;x", PathError::DotParameter),
        ("/a/..%3bx", PathError::DotParameter),
    ];
    for (path, error) in cases {
        assert_eq!(normalise(path), Err(error), "{path}");
    }
    // A `;` elsewhere is an ordinary character.
    assert_eq!(normal("/a;x/...;x/;/..b;"), "/a;x/...;x/;/..b;");
}

/// Every `%XX` decoded, whatever it stands for.
fn decode_all(path: &str) -> Vec<u8> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

/// Runs of `/` as one.
fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(path.len());
    for &byte in path {
        if !(byte == b'/' && out.last() == Some(&b'/')) {
            out.push(byte);
        }
    }
    out
}

/// RFC 3986 §5.2.4 `remove_dot_segments`, step by step as the RFC writes it, and whether
/// a `..` met the root.
fn remove_dot_segments(path: &[u8]) -> (Vec<u8>, bool) {
    let mut input = path.to_vec();
    let mut output: Vec<u8> = Vec::new();
    let mut climbed = false;
    while !input.is_empty() {
        if input.starts_with(b"../") {
            input.drain(..3);
        } else if input.starts_with(b"./") || input.starts_with(b"/./") {
            // A: `./` removed; B: `/./` replaced by `/`.
            input.drain(..2);
        } else if input == b"/." {
            input = b"/".to_vec();
        } else if input.starts_with(b"/../") || input == b"/.." {
            let consumed = if input == b"/.." { 3 } else { 4 };
            input.splice(..consumed, *b"/");
            match output.iter().rposition(|&byte| byte == b'/') {
                Some(cut) => output.truncate(cut),
                None if output.is_empty() => climbed = true,
                None => output.clear(),
            }
        } else if input == b"." || input == b".." {
            input.clear();
        } else {
            let start = usize::from(input[0] == b'/');
            let end = input[start..]
                .iter()
                .position(|&byte| byte == b'/')
                .map_or(input.len(), |at| at + start);
            output.extend(input.drain(..end));
        }
    }
    (output, climbed)
}

/// Pieces that paths are made of, chosen to meet every rule.
const PIECES: &[&str] = &[
    "/", "/", "/", ".", "..", "a", "b", "%2e", "%2E", "%2f", "%41", "%61", "%7e", "%7E", "%25",
    "%3b", "%3B", ";", "%", "%z", "%4", "\\", "%5c", "%00", "~", "é", "%c3%a9", "%20", "x;y",
];

fn pieced_path() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..14)
        .prop_map(|pieces| format!("/{}", pieces.concat()))
}

fn any_path() -> impl Strategy<Value = String> {
    prop_oneof![pieced_path(), "/[a-z./%;\\\\0-9A-F~]{0,24}", "\\PC{0,16}"]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn normal_form_is_a_fixed_point(path in any_path()) {
        if let Ok(once) = normalise(&path) {
            let again = normalise(&once);
            prop_assert!(
                matches!(&again, Ok(Cow::Borrowed(same)) if *same == once.as_ref()),
                "{path} -> {once} -> {again:?}"
            );
            // Borrowed exactly when nothing changed.
            prop_assert_eq!(matches!(once, Cow::Borrowed(_)), once == path.as_str());
        }
    }

    #[test]
    fn normal_form_has_nothing_to_normalise(path in any_path()) {
        if let Ok(once) = normalise(&path) {
            let text: &str = &once;
            prop_assert!(text.starts_with('/'));
            for needle in ["//", "/./", "/../", "\\", "%2F", "%2f", "%5C", "%00"] {
                prop_assert!(!text.contains(needle), "{} has {}", text, needle);
            }
            prop_assert!(!text.ends_with("/.") && !text.ends_with("/.."), "{}", text);
            let bytes = text.as_bytes();
            for (at, _) in text.match_indices('%') {
                let hex = &bytes[at + 1..at + 3];
                prop_assert!(
                    hex.iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)),
                    "{}", text
                );
                let byte = u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap();
                prop_assert!(!is_unreserved(byte), "{} keeps an unreserved escape", text);
            }
        }
    }

    #[test]
    fn normal_form_decodes_as_rfc_3986_removes_dot_segments(path in any_path()) {
        if let Ok(once) = normalise(&path) {
            let (expected, climbed) = remove_dot_segments(&merge_slashes(&decode_all(&path)));
            prop_assert!(!climbed, "{} climbs above the root but gave {}", path, once);
            prop_assert_eq!(decode_all(&once), expected, "{} -> {}", path, once);
        }
    }

    #[test]
    fn a_path_climbing_above_the_root_is_refused(path in pieced_path()) {
        let decoded = decode_all(&path);
        let clean = !path.contains(['%', '\\', ';']);
        let (_, climbed) = remove_dot_segments(&merge_slashes(&decoded));
        if clean && climbed {
            prop_assert_eq!(normalise(&path), Err(PathError::AboveRoot), "{}", path);
        }
    }
}
