//! What the `key_source` fuzz target checks on one input, shared with the corpus replay
//! test (crates/keygate/tests/fuzz_corpus.rs): key extraction never panics, finds a key
//! in the first source that holds one; once `strip` has taken a source out of the request,
//! that source holds no key any more and the other sources hold what they held before;
//! and once every source is stripped, none holds a key.
//!
//! An input is text, read line by line:
//!
//! ```text
//! header x-api-key
//! header authorization bearer
//! cookie session
//! query api_key
//!
//! X-Api-Key: k1
//! Cookie: a=1; session="k2"
//! ?api_key=k%33&x=1
//! ```
//!
//! The lines before the first empty line are the key sources (`header NAME [SCHEME]`,
//! `header_alike NAME [SCHEME]` for one that reads `_` and `-` alike, `cookie NAME`,
//! `query NAME`); after it, `Name: value` lines are header fields and a
//! line starting with `?` is the query. Lines that are neither are skipped.

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};
use keygate::config::field_patterns::same_dashed;
use keygate::config::KeySource;
use keygate::proxy::key_source::{extract, strip, Extracted};

/// Builds the sources and the request from `data`, then checks extraction and removal.
/// Panics when a check fails.
pub fn run(data: &[u8]) {
    let (sources, headers, query) = read(data);
    let query = query.as_deref();
    let found = extract(&sources, &headers, query);
    if let Extracted::Found { source, key } = &found {
        assert!(
            *source < sources.len(),
            "found in source {source} of {}",
            sources.len()
        );
        assert!(!key.is_empty(), "an empty key was found");
        assert_eq!(
            extract(&sources[..*source], &headers, query),
            Extracted::Absent,
            "an earlier source than {source} holds a key"
        );
        let alone = extract(&sources[*source..=*source], &headers, query);
        assert!(
            matches!(&alone, Extracted::Found { source: 0, key: alone } if alone == key),
            "the source alone gives {alone:?}"
        );
    }
    let mut stripped = headers.clone();
    let new_query = strip(&sources, &mut stripped, query);
    assert_eq!(
        extract(&sources, &stripped, new_query.as_deref().or(query)),
        Extracted::Absent,
        "a key is left after every source was stripped"
    );
    for removed in &sources {
        let mut after = headers.clone();
        let new_query = strip(std::slice::from_ref(removed), &mut after, query);
        let query_after = new_query.as_deref().or(query);
        assert_eq!(
            extract(std::slice::from_ref(removed), &after, query_after),
            Extracted::Absent,
            "{removed:?} still holds a key after its removal"
        );
        for other in sources.iter().filter(|other| independent(removed, other)) {
            let before = extract(std::slice::from_ref(other), &headers, query);
            let kept = extract(std::slice::from_ref(other), &after, query_after);
            assert_eq!(
                kept, before,
                "removing {removed:?} changed what {other:?} holds"
            );
        }
    }
}

/// Whether removing `removed` must leave what `other` holds as it was: true unless both
/// read the same header or query parameter, or both read cookies, or a header source
/// named `Cookie` reads every cookie. Stripping one cookie writes the `Cookie` field anew
/// from the pairs it keeps, so a field extraction could not read before (bytes that are
/// not UTF-8 elsewhere in it) may be readable after; stripping every source, as
/// forwarding does, is checked on its own in [`run`].
fn independent(removed: &KeySource, other: &KeySource) -> bool {
    match (removed, other) {
        (
            KeySource::Header {
                name: a,
                separators_alike: alike_a,
                ..
            },
            KeySource::Header {
                name: b,
                separators_alike: alike_b,
                ..
            },
        ) => match alike_a | alike_b {
            true => !same_dashed(a.as_str().as_bytes(), b.as_str().as_bytes()),
            false => a != b,
        },
        (KeySource::Cookie { .. }, KeySource::Cookie { .. }) => false,
        (KeySource::Query { name: a }, KeySource::Query { name: b }) => a != b,
        (KeySource::Header { name, .. }, KeySource::Cookie { .. })
        | (KeySource::Cookie { .. }, KeySource::Header { name, .. }) => name != COOKIE,
        _ => true,
    }
}

/// The key sources, header fields and query an input describes.
fn read(data: &[u8]) -> (Vec<KeySource>, HeaderMap, Option<String>) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));
    let mut sources = Vec::new();
    for line in lines.by_ref().take_while(|line| !line.is_empty()) {
        let mut words = line.split(' ');
        let source = match (words.next(), words.next()) {
            (Some(kind @ ("header" | "header_alike")), Some(name)) => {
                match HeaderName::from_bytes(name.as_bytes()) {
                    Ok(name) => KeySource::Header {
                        name,
                        scheme: words.next().map(str::to_owned),
                        separators_alike: kind == "header_alike",
                    },
                    Err(_) => continue,
                }
            }
            (Some("cookie"), Some(name)) => KeySource::Cookie {
                name: name.to_owned(),
            },
            (Some("query"), Some(name)) => KeySource::Query {
                name: name.to_owned(),
            },
            _ => continue,
        };
        sources.push(source);
    }
    let mut headers = HeaderMap::new();
    let mut query = None;
    for line in lines {
        if let Some(text) = line.strip_prefix('?') {
            query = Some(text.to_owned());
        } else if let Some((name, value)) = line.split_once(':') {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.trim_matches([' ', '\t']).as_bytes()),
            ) else {
                continue;
            };
            headers.append(name, value);
        }
    }
    (sources, headers, query)
}
