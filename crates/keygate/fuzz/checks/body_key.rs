//! What the `body_key` fuzz target checks on one input, shared with the corpus replay
//! test (crates/keygate/tests/fuzz_corpus.rs): reading a form, JSON or multipart body
//! never panics; a body that reads gives its key from the first `body` source holding
//! one; once its key fields are cut out (as forwarding does) it still reads as its media
//! type, no source holds a key any more, and cutting it again changes nothing; cutting
//! one source's fields leaves what every other source holds as it was.
//!
//! An input is the media type's line, the sources' lines, an empty line, then the body:
//!
//! ```text
//! multipart kgb
//! body apikey
//! body key
//!
//! --kgb
//! Content-Disposition: form-data; name="apikey"
//! ...
//! ```
//!
//! The first line is `form`, `json` or `multipart BOUNDARY`; each `body NAME` line is a
//! source whose name the configuration accepts (others are skipped). Line ends in the
//! head may be `\n` or `\r\n`; the body is every byte after the empty line.

use bytes::Bytes;
use keygate::config::KeySource;
use keygate::proxy::body_key::{extract, BodyKind, KeyBody};
use keygate::proxy::key_source::Extracted;

/// Reads the media type, the sources and the body from `data`, then checks reading and
/// cutting. Panics when a check fails.
pub fn run(data: &[u8]) {
    let Some((kind, sources, body)) = read(data) else {
        return;
    };
    let Ok(parsed) = KeyBody::parse(Bytes::copy_from_slice(body), kind.clone()) else {
        return;
    };
    let found = extract(&sources, &parsed);
    if let Extracted::Found { source, key } = &found {
        assert!(!key.is_empty(), "an empty key was found");
        assert_eq!(
            extract(&sources[..*source], &parsed),
            Extracted::Absent,
            "an earlier source than {source} holds a key"
        );
    }
    let cut = parsed.for_upstream(&sources);
    let again = KeyBody::parse(cut.clone(), kind.clone())
        .unwrap_or_else(|error| panic!("the cut body no longer reads: {error}"));
    assert_eq!(
        extract(&sources, &again),
        Extracted::Absent,
        "a key is left after every source was cut"
    );
    assert_eq!(
        again.for_upstream(&sources),
        cut,
        "cutting twice changed more"
    );
    for removed in &sources {
        let after = KeyBody::parse(
            parsed.for_upstream(std::slice::from_ref(removed)),
            kind.clone(),
        )
        .unwrap_or_else(|error| panic!("the body cut of {removed:?} no longer reads: {error}"));
        for other in sources.iter().filter(|other| *other != removed) {
            assert_eq!(
                extract(std::slice::from_ref(other), &after),
                extract(std::slice::from_ref(other), &parsed),
                "cutting {removed:?} changed what {other:?} holds"
            );
        }
    }
}

/// The media type, sources and body an input describes; `None` without a media type.
fn read(data: &[u8]) -> Option<(BodyKind, Vec<KeySource>, &[u8])> {
    let mut rest = data;
    let mut lines = Vec::new();
    loop {
        let end = rest.iter().position(|&byte| byte == b'\n')?;
        let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
        rest = &rest[end + 1..];
        if line.is_empty() {
            break;
        }
        lines.push(String::from_utf8_lossy(line).into_owned());
    }
    let mut lines = lines.into_iter();
    let first = lines.next()?;
    let kind = match first.split_once(' ') {
        None if first == "form" => BodyKind::Form,
        None if first == "json" => BodyKind::Json,
        Some(("multipart", boundary)) => BodyKind::Multipart {
            boundary: Some(boundary.as_bytes().into()),
        },
        _ => return None,
    };
    let sources = lines
        .filter_map(|line| line.strip_prefix("body ").map(str::to_owned))
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !"=;,&?#%\"\\".contains(c))
        })
        .map(|name| KeySource::Body { name })
        .collect();
    Some((kind, sources, rest))
}
