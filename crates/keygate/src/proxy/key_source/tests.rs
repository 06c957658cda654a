//! Tests of key extraction and removal for every kind of source.

#![allow(clippy::unwrap_used)]

use http::header::HeaderName;

use super::*;
use crate::config::default_key_sources;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn found(source: usize, key: &str) -> Extracted<'static> {
    Extracted::Found {
        source,
        key: Cow::Owned(key.as_bytes().to_vec()),
    }
}

#[test]
fn default_sources_in_order() {
    let sources = default_key_sources();
    assert_eq!(
        extract(&sources, &headers(&[("apikey", "k1")]), None),
        found(0, "k1")
    );
    assert_eq!(
        extract(&sources, &headers(&[("client-key", "k2")]), None),
        found(1, "k2")
    );
    assert_eq!(
        extract(&sources, &headers(&[("secret", "k3")]), None),
        found(2, "k3")
    );
    let cookie = headers(&[("cookie", "a=1; mia_client_key=k4; b=2")]);
    assert_eq!(extract(&sources, &cookie, None), found(3, "k4"));
    let both = headers(&[("secret", "s"), ("apikey", "a")]);
    assert_eq!(extract(&sources, &both, None), found(0, "a"));
    assert_eq!(extract(&sources, &headers(&[]), None), Extracted::Absent);
    assert_eq!(
        extract(&sources, &headers(&[("apikey", "")]), None),
        Extracted::Absent
    );
}

#[test]
fn the_query_is_not_read_unless_configured() {
    let sources = default_key_sources();
    assert_eq!(
        extract(&sources, &headers(&[]), Some("apikey=k&mia_client_key=k")),
        Extracted::Absent
    );
    let query = [KeySource::Query {
        name: "apikey".into(),
    }];
    assert_eq!(
        extract(&query, &headers(&[]), Some("x=1&apikey=a%2Fb")),
        found(0, "a/b")
    );
    assert_eq!(
        extract(&query, &headers(&[]), Some("apikey=a&apikey=b")),
        Extracted::Conflict
    );
    assert_eq!(
        extract(&query, &headers(&[]), Some("apikey=a&apikey=a")),
        found(0, "a")
    );
}

#[test]
fn different_values_in_one_source_conflict() {
    let sources = default_key_sources();
    let twice = headers(&[("apikey", "a"), ("apikey", "b")]);
    assert_eq!(extract(&sources, &twice, None), Extracted::Conflict);
    let same = headers(&[("apikey", "a"), ("apikey", "a")]);
    assert_eq!(extract(&sources, &same, None), found(0, "a"));
    let cookies = headers(&[
        ("cookie", "mia_client_key=a"),
        ("cookie", "mia_client_key=b"),
    ]);
    assert_eq!(extract(&sources, &cookies, None), Extracted::Conflict);
}

#[test]
fn bearer_scheme_is_required_and_stripped() {
    let bearer = [KeySource::Header {
        name: HeaderName::from_static("authorization"),
        scheme: Some("Bearer".into()),
        separators_alike: false,
    }];
    let ok = headers(&[("authorization", "bearer  tok123 ")]);
    assert_eq!(extract(&bearer, &ok, None), found(0, "tok123"));
    let basic = headers(&[("authorization", "Basic abc")]);
    assert_eq!(extract(&bearer, &basic, None), Extracted::Absent);
    let bare = headers(&[("authorization", "Bearertok")]);
    assert_eq!(extract(&bearer, &bare, None), Extracted::Absent);
}

#[test]
fn stripping_keeps_everything_else() {
    let cookie_source = [KeySource::Cookie {
        name: "mia_client_key".into(),
    }];
    let mut map = headers(&[("cookie", "a=1; mia_client_key=k"), ("cookie", "b=\"2\"")]);
    assert_eq!(strip(&cookie_source, &mut map, None), None);
    assert_eq!(map.get_all(COOKIE).iter().count(), 1);
    assert_eq!(map.get(COOKIE).unwrap(), "a=1; b=\"2\"");

    let mut only = headers(&[("cookie", "mia_client_key=k")]);
    strip(&cookie_source, &mut only, None);
    assert!(only.get(COOKIE).is_none());

    let mut none = headers(&[("cookie", "a=1;b=2"), ("cookie", "c")]);
    strip(&cookie_source, &mut none, None);
    assert_eq!(none.get_all(COOKIE).iter().count(), 2, "left as sent");

    let query = [KeySource::Query {
        name: "apikey".into(),
    }];
    let new_query = strip(&query, &mut HeaderMap::new(), Some("a=1&apikey=k&b=2"));
    assert_eq!(new_query.as_deref(), Some("a=1&b=2"));
    assert_eq!(strip(&query, &mut HeaderMap::new(), Some("a=1&b=2")), None);

    let header = [KeySource::Header {
        name: HeaderName::from_static("apikey"),
        scheme: None,
        separators_alike: false,
    }];
    let mut map = headers(&[("apikey", "k"), ("apikey", "k2"), ("other", "x")]);
    strip(&header, &mut map, None);
    assert!(map.get("apikey").is_none());
    assert!(map.get("other").is_some());
}

#[test]
fn every_source_is_stripped_whether_or_not_the_key_was_found_there() {
    let mut sources = default_key_sources();
    sources.push(KeySource::Query {
        name: "apikey".into(),
    });
    sources.push(KeySource::Cookie {
        name: "other_key".into(),
    });
    let mut map = headers(&[
        ("apikey", "k1"),
        ("secret", "k2"),
        ("cookie", "mia_client_key=k3; theme=dark; other_key=k4"),
        ("accept", "*/*"),
    ]);
    let query = strip(
        &sources,
        &mut map,
        Some("apikey=k5&page=2&api%6Bey=k6&apikey=k7"),
    );
    assert_eq!(query.as_deref(), Some("page=2"));
    assert!(map.get("apikey").is_none());
    assert!(map.get("secret").is_none());
    assert_eq!(map.get(COOKIE).unwrap(), "theme=dark");
    assert_eq!(map.get("accept").unwrap(), "*/*");
    assert_eq!(map.len(), 2);
}

#[test]
fn a_scheme_source_strips_only_values_in_its_scheme() {
    let bearer = [KeySource::Header {
        name: HeaderName::from_static("authorization"),
        scheme: Some("Bearer".into()),
        separators_alike: false,
    }];
    let mut basic = headers(&[("authorization", "Basic abc")]);
    strip(&bearer, &mut basic, None);
    assert_eq!(basic.get("authorization").unwrap(), "Basic abc");
    let mut both = headers(&[
        ("authorization", "Basic abc"),
        ("authorization", "bearer tok"),
    ]);
    strip(&bearer, &mut both, None);
    let left: Vec<_> = both.get_all("authorization").iter().collect();
    assert_eq!(left, ["Basic abc"]);
    let mut token = headers(&[("authorization", "Bearer tok")]);
    strip(&bearer, &mut token, None);
    assert!(token.is_empty());
}

#[test]
fn percent_decoding_is_lenient_with_bad_escapes() {
    assert_eq!(&*percent_decode(b"a%2fb+c"), b"a/b c");
    assert_eq!(&*percent_decode(b"100%"), b"100%");
    assert_eq!(&*percent_decode(b"%zz"), b"%zz");
}

/// A parameter name is read decoded (Kong's reading): whatever its spelling, the key is
/// found under it, two spellings with two values conflict, and every spelling is
/// stripped as it was sent.
#[test]
fn encoded_parameter_names_are_the_configured_name() {
    let query = [KeySource::Query {
        name: "apikey".into(),
    }];
    // (query as sent, what extraction finds, the query stripped)
    let table = [
        ("api%6B%65%79=k1", found(0, "k1"), Some("")),
        ("api%6b%65%79=k1&x=1", found(0, "k1"), Some("x=1")),
        ("%61%70%69%6B%65%79=k%2F1", found(0, "k/1"), Some("")),
        ("x=1&api%6Bey=k1&y=2", found(0, "k1"), Some("x=1&y=2")),
        ("apikey=k1&api%6Bey=k1", found(0, "k1"), Some("")),
        ("apikey=k1&api%6Bey=k2", Extracted::Conflict, Some("")),
        ("api+key=k1&api%20key=k2&x=1", Extracted::Absent, None),
        ("api%6Bey2=k1&x=1", Extracted::Absent, None),
        ("apikey%=k1", Extracted::Absent, None),
        ("api%ZZkey=k1", Extracted::Absent, None),
    ];
    for (sent, expected, stripped) in table {
        assert_eq!(
            extract(&query, &headers(&[]), Some(sent)),
            expected,
            "{sent}"
        );
        let mut map = headers(&[]);
        assert_eq!(
            strip(&query, &mut map, Some(sent)).as_deref(),
            stripped,
            "{sent}"
        );
    }
}

/// With `_` and `-` alike, a header source reads every spelling of its name as one
/// source — a conflict across spellings is a conflict — and strips every spelling, of a
/// scheme source only the values in its scheme.
#[test]
fn a_source_with_separators_alike_reads_and_strips_every_spelling() {
    let sources = [
        KeySource::Header {
            name: HeaderName::from_static("api_key"),
            scheme: None,
            separators_alike: true,
        },
        KeySource::Header {
            name: HeaderName::from_static("x-auth"),
            scheme: Some("Bearer".into()),
            separators_alike: true,
        },
    ];
    for (fields, expected) in [
        (&[("api-key", "k1")][..], found(0, "k1")),
        (&[("api_key", "k1")][..], found(0, "k1")),
        (&[("api-key", "k1"), ("api_key", "k1")][..], found(0, "k1")),
        (
            &[("api-key", "k1"), ("api_key", "k2")][..],
            Extracted::Conflict,
        ),
        (
            &[("apikey", "k1"), ("x_auth", "Bearer t1")][..],
            found(1, "t1"),
        ),
        (
            &[("api-keys", "k1"), ("x_auth", "Basic b")][..],
            Extracted::Absent,
        ),
    ] {
        assert_eq!(
            extract(&sources, &headers(fields), None),
            expected,
            "{fields:?}"
        );
    }
    let mut map = headers(&[
        ("api-key", "k1"),
        ("api_key", "k2"),
        ("x_auth", "Bearer t1"),
        ("x-auth", "Basic b"),
        ("apikey", "kept"),
    ]);
    strip(&sources, &mut map, None);
    let mut left: Vec<(&str, &str)> = map
        .iter()
        .map(|(name, value)| (name.as_str(), value.to_str().unwrap()))
        .collect();
    left.sort_unstable();
    assert_eq!(left, [("apikey", "kept"), ("x-auth", "Basic b")]);
}
