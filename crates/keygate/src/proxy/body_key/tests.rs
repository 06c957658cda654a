//! The three media types read and cut: what a key source finds, what the upstream gets.

use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use http_body_util::{Full, StreamBody};
use proptest::prelude::*;

use super::read::read_whole;
use super::*;

fn body_source(name: &str) -> KeySource {
    KeySource::Body { name: name.into() }
}

fn form(text: &str) -> KeyBody {
    KeyBody::parse(Bytes::copy_from_slice(text.as_bytes()), BodyKind::Form).unwrap()
}

fn json(text: &str) -> KeyBody {
    KeyBody::parse(Bytes::copy_from_slice(text.as_bytes()), BodyKind::Json).unwrap()
}

fn multipart(boundary: &str, text: &str) -> Result<KeyBody, ProxyError> {
    let kind = BodyKind::Multipart {
        boundary: Some(boundary.as_bytes().into()),
    };
    KeyBody::parse(Bytes::copy_from_slice(text.as_bytes()), kind)
}

/// The key `body` holds for a single `body: NAME` source.
fn key_in(body: &KeyBody, name: &str) -> Option<Vec<u8>> {
    match extract(&[body_source(name)], body) {
        Extracted::Found { key, .. } => Some(key.into_owned()),
        Extracted::Absent => None,
        Extracted::Conflict => panic!("a conflict"),
    }
}

/// The body as the upstream gets it with `name`'s field removed, as text.
fn without(body: &KeyBody, name: &str) -> String {
    String::from_utf8(body.for_upstream(&[body_source(name)]).to_vec()).unwrap()
}

fn content_type(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
    headers
}

#[test]
fn media_types_are_read_from_the_content_type() {
    assert_eq!(
        media(&content_type("application/x-www-form-urlencoded")),
        Media::Kind(BodyKind::Form)
    );
    assert_eq!(
        media(&content_type("Application/JSON; charset=utf-8")),
        Media::Kind(BodyKind::Json)
    );
    assert_eq!(
        media(&content_type("multipart/form-data; boundary=----x12")),
        Media::Kind(BodyKind::Multipart {
            boundary: Some(b"----x12"[..].into())
        })
    );
    assert_eq!(
        media(&content_type(
            r#"multipart/form-data; charset="a;b"; boundary="a b\"c""#
        )),
        Media::Kind(BodyKind::Multipart { boundary: None }),
        "a quote is not a boundary character"
    );
    assert_eq!(
        media(&content_type(
            r#"multipart/form-data; charset="a;b"; BOUNDARY="a b:c""#
        )),
        Media::Kind(BodyKind::Multipart {
            boundary: Some(b"a b:c"[..].into())
        })
    );
    for without_boundary in [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=a; boundary=b",
        "multipart/form-data; boundary=\"ends with space \"",
    ] {
        assert_eq!(
            media(&content_type(without_boundary)),
            Media::Kind(BodyKind::Multipart { boundary: None }),
            "{without_boundary}"
        );
    }
    let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
    assert_eq!(
        media(&content_type(&long)),
        Media::Kind(BodyKind::Multipart { boundary: None })
    );
    for other in [
        "text/plain",
        "application/json-patch+json",
        "application/x-www-form-urlencodedx",
        "multipart/mixed; boundary=a",
    ] {
        assert_eq!(media(&content_type(other)), Media::Other, "{other}");
    }
    assert_eq!(media(&HeaderMap::new()), Media::Other);
    let mut two = content_type("application/json");
    two.append(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    assert_eq!(media(&two), Media::Unreadable);
    let mut gzip = content_type("application/json");
    gzip.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    assert_eq!(media(&gzip), Media::Unreadable);
    gzip.insert(CONTENT_ENCODING, HeaderValue::from_static(" Identity"));
    assert_eq!(media(&gzip), Media::Kind(BodyKind::Json));
    let mut other = content_type("image/png");
    other.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    assert_eq!(media(&other), Media::Other);
}

#[test]
fn form_fields_are_read_as_the_query_is() {
    let body = form("a=1&api%6Bey=k+1%21&&b");
    assert_eq!(key_in(&body, "apikey").as_deref(), Some(&b"k 1!"[..]));
    assert_eq!(key_in(&body, "b"), None, "an empty value is no key");
    assert_eq!(key_in(&body, "c"), None);
    assert_eq!(without(&body, "apikey"), "a=1&b", "with the `&&` after it");
    assert_eq!(without(&form("apikey=k&a=1"), "apikey"), "a=1");
    assert_eq!(without(&form("a=1&apikey=k"), "apikey"), "a=1");
    assert_eq!(without(&form("apikey=k"), "apikey"), "");
    assert_eq!(without(&form("apikey=k&apikey=k&a=%20"), "apikey"), "a=%20");
    // Not valid UTF-8: read as bytes all the same.
    let bytes = KeyBody::parse(Bytes::from_static(b"x=\xff&apikey=%ff"), BodyKind::Form).unwrap();
    assert_eq!(key_in(&bytes, "apikey").as_deref(), Some(&[0xff][..]));
}

#[test]
fn the_same_key_twice_is_one_key_and_two_keys_conflict() {
    let sources = [body_source("apikey")];
    assert!(matches!(
        extract(&sources, &form("apikey=k&apikey=k")),
        Extracted::Found { .. }
    ));
    for conflicting in [
        form("apikey=k&apikey=j"),
        json(r#"{"apikey":"k","apikey":"j"}"#),
        multipart(
            "b",
            "--b\r\nContent-Disposition: form-data; name=apikey\r\n\r\nk\r\n--b\r\nContent-Disposition: form-data; name=\"apikey\"\r\n\r\nj\r\n--b--\r\n",
        )
        .unwrap(),
    ] {
        assert_eq!(extract(&sources, &conflicting), Extracted::Conflict);
    }
}

#[test]
fn body_sources_are_read_in_order_and_report_their_place_in_the_list() {
    let sources = [
        KeySource::Query {
            name: "apikey".into(),
        },
        body_source("first"),
        body_source("second"),
    ];
    let body = form("second=2&first=1");
    assert_eq!(
        extract(&sources, &body),
        Extracted::Found {
            source: 1,
            key: Cow::Borrowed(&b"1"[..])
        }
    );
    let only_second = form("second=2");
    assert!(matches!(
        extract(&sources, &only_second),
        Extracted::Found { source: 2, .. }
    ));
    assert_eq!(extract(&sources, &KeyBody::empty()), Extracted::Absent);
}

#[test]
fn json_members_are_read_at_the_top_level_only_and_as_strings_only() {
    let body = json(r#" { "a": {"apikey": "nested"}, "n": 5, "api\u006bey" : "k\"1", "x": [1] } "#);
    assert_eq!(key_in(&body, "apikey").as_deref(), Some(&b"k\"1"[..]));
    assert_eq!(key_in(&body, "n"), None, "a number is no key");
    assert_eq!(key_in(&body, "x"), None);
    assert_eq!(key_in(&json(r#"["apikey", "k"]"#), "apikey"), None);
    assert_eq!(key_in(&json(r#""apikey""#), "apikey"), None);
    assert_eq!(key_in(&json("{}"), "apikey"), None);
}

#[test]
fn a_json_member_is_cut_out_and_every_other_byte_stays() {
    let text = "{\n  \"a\": 1,\n  \"apikey\": \"k\",\n  \"b\": {\"apikey\": 2}\n}\n";
    assert_eq!(
        without(&json(text), "apikey"),
        "{\n  \"a\": 1,\n  \"b\": {\"apikey\": 2}\n}\n"
    );
    assert_eq!(
        without(&json(r#"{"apikey":"k" , "a":1}"#), "apikey"),
        r#"{"a":1}"#
    );
    assert_eq!(
        without(&json(r#"{"a":1 ,"apikey":"k"}"#), "apikey"),
        r#"{"a":1}"#
    );
    assert_eq!(without(&json(r#"{ "apikey":"k" }"#), "apikey"), "{  }");
    assert_eq!(
        without(
            &json(r#"{"apikey":"k","apikey":7,"a":[],"apikey":null}"#),
            "apikey"
        ),
        r#"{"a":[]}"#,
        "every member of the name goes, string or not"
    );
    let untouched = json(r#"{"a":"apikey"}"#);
    let same = untouched.for_upstream(&[body_source("apikey")]);
    assert_eq!(same.as_ptr(), untouched.bytes().as_ptr(), "not copied");
}

#[test]
fn json_that_does_not_parse_is_refused() {
    for bad in [
        "{",
        r#"{"apikey":"k",}"#,
        r#"{"apikey":'k'}"#,
        "{} {}",
        "\u{feff}{}",
        "nul",
    ] {
        let parsed = KeyBody::parse(Bytes::copy_from_slice(bad.as_bytes()), BodyKind::Json);
        assert_eq!(parsed.unwrap_err(), ProxyError::BadRequestBody, "{bad}");
    }
    // Read without recursion: depth costs no stack.
    let deep = format!(
        "{{\"a\":{}1{},\"apikey\":\"k\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep = KeyBody::parse(Bytes::from(deep), BodyKind::Json).unwrap();
    assert_eq!(key_in(&deep, "apikey").as_deref(), Some(&b"k"[..]));
    assert!(
        KeyBody::parse(Bytes::new(), BodyKind::Json).is_ok(),
        "empty: no field"
    );
}

const PARTS: &str = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--XyZ  \r\ncontent-disposition: form-data; name=\"apikey\"\r\nX-Other: 1\r\n\r\nk-1\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"name=apikey.txt\"\r\nContent-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n--XyZ--\r\nepilogue";

#[test]
fn multipart_parts_are_read_by_their_disposition_name() {
    let body = multipart("XyZ", PARTS).unwrap();
    assert_eq!(key_in(&body, "apikey").as_deref(), Some(&b"k-1"[..]));
    assert_eq!(
        key_in(&body, "file").as_deref(),
        Some(&b"line 1\r\nline 2"[..])
    );
    assert_eq!(key_in(&body, "filename"), None);
    let escaped = multipart(
        "b",
        "--b\r\nContent-Disposition: form-data; name=\"api\\key\"\r\n\r\nk\r\n--b--",
    )
    .unwrap();
    assert_eq!(key_in(&escaped, "apikey").as_deref(), Some(&b"k"[..]));
    assert_eq!(without(&escaped, "apikey"), "--b--");
    let no_name = multipart("b", "--b\r\nContent-Type: text/plain\r\n\r\nk\r\n--b--").unwrap();
    assert_eq!(key_in(&no_name, "apikey"), None);
}

#[test]
fn a_multipart_part_is_cut_out_whole_and_the_others_stay_byte_for_byte() {
    let body = multipart("XyZ", PARTS).unwrap();
    let cut = without(&body, "apikey");
    assert_eq!(cut, PARTS.replace("--XyZ  \r\ncontent-disposition: form-data; name=\"apikey\"\r\nX-Other: 1\r\n\r\nk-1\r\n", ""));
    let again = multipart("XyZ", &cut).unwrap();
    assert_eq!(key_in(&again, "apikey"), None);
    assert_eq!(key_in(&again, "a").as_deref(), Some(&b"one"[..]));
    let first = without(&body, "a");
    assert!(
        first.starts_with("preamble\r\n--XyZ  \r\ncontent-disposition"),
        "{first}"
    );
    let last = without(&body, "file");
    assert!(last.ends_with("k-1\r\n--XyZ--\r\nepilogue"), "{last}");
}

#[test]
fn multipart_that_does_not_parse_is_refused() {
    let disposition = "Content-Disposition: form-data; name=a";
    for bad in [
        // No closing delimiter.
        format!("--b\r\n{disposition}\r\n\r\nk\r\n"),
        format!("--b\r\n{disposition}\r\n\r\nk\r\n--b"),
        // No boundary at all.
        format!("{disposition}\r\n\r\nk"),
        // A boundary line with more after it.
        format!("--b\r\n{disposition}\r\n\r\nk\r\n--bc\r\n\r\n--b--"),
        // Header fields that do not end.
        format!("--b\r\n{disposition}\r\n"),
        // Two names, two dispositions.
        "--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nk\r\n--b--".to_owned(),
        format!("--b\r\n{disposition}\r\n{disposition}\r\n\r\nk\r\n--b--"),
    ] {
        assert_eq!(
            multipart("b", &bad).unwrap_err(),
            ProxyError::BadRequestBody,
            "{bad:?}"
        );
    }
    let no_boundary = BodyKind::Multipart { boundary: None };
    assert!(KeyBody::parse(Bytes::from_static(b"--b--"), no_boundary.clone()).is_err());
    assert!(
        KeyBody::parse(Bytes::new(), no_boundary).is_ok(),
        "empty: no field"
    );
    let only_close = multipart("b", "--b--").unwrap();
    assert_eq!(key_in(&only_close, "a"), None);
}

/// Parts the gateway cannot see but an upstream's parser finds: Werkzeug (Flask) ends a
/// part at a boundary after a bare `\n` or `\r`, and reads a part's preamble boundary
/// the same way; Werkzeug and busboy (Express's multer) read RFC 2231's `name*=` as the
/// name. Such a part would pass with its key, unread and not removed.
#[test]
fn parts_only_an_upstream_would_find_are_refused() {
    let part = "Content-Disposition: form-data; name=\"apikey\"\r\n\r\nhidden-key-0123";
    for hidden in [
        format!("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\n--b\r\n{part}\r\n--b--\r\n"),
        format!("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r--b\r\n{part}\r\n--b--\r\n"),
        format!("preamble\n--b\r\n{part}\r\n--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--"),
        format!("--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b--\r\n--b\r\n{part}\r\n--b--"),
    ] {
        assert_eq!(
            multipart("b", &hidden).map(|body| key_in(&body, "apikey")),
            Err(ProxyError::BadRequestBody),
            "{hidden:?}"
        );
    }
    let attachment = "--b\r\nContent-Disposition: attachment; name=apikey\r\n\r\nk-1\r\n--b--\r\n";
    let body = multipart("b", attachment).unwrap();
    assert_eq!(key_in(&body, "apikey").as_deref(), Some(&b"k-1"[..]));
    assert_eq!(without(&body, "apikey"), "--b--\r\n");
    for extended in [
        "form-data; name*=UTF-8''apikey",
        "form-data; NAME*=utf-8''apikey",
        "form-data; name*0=api; name*1=key",
    ] {
        let body = format!("--b\r\nContent-Disposition: {extended}\r\n\r\nk\r\n--b--");
        assert_eq!(
            multipart("b", &body).map(|body| key_in(&body, "apikey")),
            Err(ProxyError::BadRequestBody),
            "{extended}"
        );
    }
}

/// PHP reads a `Content-Type` up to its first `;`, `,` or space: `application/json, x`
/// or `application/x-www-form-urlencoded x` is a form there. Keygate must not stream it
/// as another type, key and all.
#[test]
fn a_content_type_an_upstream_reads_as_one_of_the_three_is_refused() {
    for value in [
        "application/x-www-form-urlencoded, text/plain",
        "application/x-www-form-urlencoded text/plain",
        "multipart/form-data,boundary=b",
        "application/json\tx",
        "APPLICATION/JSON,",
    ] {
        assert_eq!(media(&content_type(value)), Media::Unreadable, "{value:?}");
    }
    for other in ["application/json-patch+json", "application/jsonx"] {
        assert_eq!(media(&content_type(other)), Media::Other, "{other}");
    }
}

/// The gateway reads the string; with the key forwarded, an upstream that keeps the last
/// member (JavaScript, Go, Python) would read `123` or the object instead.
#[test]
fn a_json_key_beside_a_member_of_its_name_that_is_not_a_string_conflicts() {
    for text in [
        r#"{"apikey":"k-1","apikey":123}"#,
        r#"{"apikey":{"$ne":null},"api\u006bey":"k-1"}"#,
        r#"{"apikey":"k-1","apikey":null}"#,
    ] {
        let body = json(text);
        let found = extract(&[body_source("apikey")], &body);
        assert!(matches!(found, Extracted::Conflict), "{text}");
    }
    assert_eq!(key_in(&json(r#"{"apikey":null}"#), "apikey"), None);
    assert_eq!(
        key_in(&json(r#"{"apikey":"k-1","apikey":"k-1"}"#), "apikey").as_deref(),
        Some(&b"k-1"[..])
    );
}

#[test]
fn without_body_sources_the_body_goes_as_it_came() {
    let body = form("apikey=k");
    let sources = [KeySource::Query {
        name: "apikey".into(),
    }];
    assert_eq!(body.for_upstream(&sources), Bytes::from_static(b"apikey=k"));
    assert_eq!(body.for_upstream(&[]), Bytes::from_static(b"apikey=k"));
}

#[test]
fn only_routes_with_body_sources_read_bodies() {
    let config = crate::config::Config::parse(
        "t.yaml",
        "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    routes:\n      - {name: plain, paths: ['/a']}\n      - {name: body, paths: ['/b'], key_sources: [{header: apikey}, {body: apikey}]}\n      - {name: open, paths: ['/c'], auth: none, forward_key: true, key_sources: [{body: apikey}]}\n      - {name: stripped, paths: ['/d'], auth: none, key_sources: [{body: apikey}]}\n",
    )
    .unwrap();
    let routes = &config.services[0].routes;
    let json = content_type("application/json");
    assert_eq!(wanted(&routes[0], &json), None);
    assert_eq!(wanted(&routes[1], &json), Some(Media::Kind(BodyKind::Json)));
    assert_eq!(wanted(&routes[1], &content_type("text/plain")), None);
    assert_eq!(wanted(&routes[1], &HeaderMap::new()), None);
    assert_eq!(wanted(&routes[2], &json), None, "nothing to read or remove");
    assert_eq!(wanted(&routes[3], &json), Some(Media::Kind(BodyKind::Json)));
}

/// A frame of a body, or the error that breaks it.
type Piece = Result<http_body::Frame<Bytes>, std::io::Error>;

/// A body that arrives in `pieces`.
fn pieces(
    pieces: &[&'static [u8]],
) -> StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Piece>>> {
    let frames: Vec<Piece> = pieces
        .iter()
        .map(|piece| Ok(http_body::Frame::data(Bytes::from_static(piece))))
        .collect();
    StreamBody::new(futures_util::stream::iter(frames))
}

#[tokio::test]
async fn bodies_are_read_whole_up_to_the_bound() {
    let second = Duration::from_secs(1);
    let mut whole = Full::new(Bytes::from_static(b"0123456789"));
    assert_eq!(
        read_whole(&mut whole, 10, second).await.unwrap(),
        "0123456789"
    );
    let mut declared = Full::new(Bytes::from_static(b"0123456789"));
    assert_eq!(
        read_whole(&mut declared, 9, second).await.unwrap_err(),
        ProxyError::RequestBodyTooLarge
    );
    let mut chunked = pieces(&[b"0123", b"4567", b"89"]);
    assert_eq!(
        read_whole(&mut chunked, 10, second).await.unwrap(),
        "0123456789"
    );
    let mut chunked = pieces(&[b"0123", b"4567", b"89"]);
    assert_eq!(
        read_whole(&mut chunked, 9, second).await.unwrap_err(),
        ProxyError::RequestBodyTooLarge
    );
    let mut none = http_body_util::Empty::<Bytes>::new();
    assert_eq!(read_whole(&mut none, 10, second).await.unwrap(), "");
}

#[tokio::test]
async fn a_body_that_stops_coming_or_breaks_off_is_refused() {
    let mut stalled = StreamBody::new(futures_util::stream::pending::<Piece>());
    assert_eq!(
        read_whole(&mut stalled, 10, Duration::from_millis(50))
            .await
            .unwrap_err(),
        ProxyError::RequestBodyTimeout
    );
    let frames: Vec<Piece> = vec![
        Ok(http_body::Frame::data(Bytes::from_static(b"ab"))),
        Err(std::io::ErrorKind::UnexpectedEof.into()),
    ];
    let mut broken = StreamBody::new(futures_util::stream::iter(frames));
    assert_eq!(
        read_whole(&mut broken, 10, Duration::from_secs(1))
            .await
            .unwrap_err(),
        ProxyError::BadRequestBody
    );
}

/// A field name for the property tests: the key's, one like it, or another.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("apikey".to_owned()),
        Just("api%6Bey".to_owned()),
        Just("apikeys".to_owned()),
        "[a-z]{1,6}",
    ]
}

/// What the fields of a body are, read again: names and values as read.
fn read_back(body: &KeyBody) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    body.fields()
        .unwrap()
        .iter()
        .map(|field| {
            (
                field.name.to_vec(),
                field.value.as_ref().map(|value| value.to_vec()),
            )
        })
        .collect()
}

/// `before` less the `apikey` fields.
fn kept(before: &KeyBody) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    before
        .fields()
        .unwrap()
        .iter()
        .filter(|field| !field.is("apikey"))
        .map(|field| {
            (
                field.name.to_vec(),
                field.value.as_ref().map(|value| value.to_vec()),
            )
        })
        .collect()
}

/// `body` cut as the upstream gets it, read again as `kind`.
fn cut_and_read(body: &KeyBody, kind: BodyKind) -> KeyBody {
    let cut = body.for_upstream(&[body_source("apikey")]);
    KeyBody::parse(cut, kind).expect("a cut body still parses")
}

proptest! {
    #[test]
    fn a_cut_form_keeps_every_other_pair_in_order(
        pairs in prop::collection::vec((name(), "[a-z0-9%+=]{0,6}"), 0..8),
        separators in prop::collection::vec("&{1,2}", 8),
    ) {
        let mut text = String::new();
        for (index, (name, value)) in pairs.iter().enumerate() {
            if index > 0 {
                text.push_str(&separators[index]);
            }
            text.push_str(&format!("{name}={value}"));
        }
        let body = form(&text);
        let after = cut_and_read(&body, BodyKind::Form);
        prop_assert_eq!(read_back(&after), kept(&body));
        prop_assert_eq!(key_in(&after, "apikey"), None);
    }

    #[test]
    fn a_cut_json_object_keeps_every_other_member_byte_for_byte(
        members in prop::collection::vec((name(), any::<Option<String>>(), 0..3u8), 0..8),
        space in "[ \t\r\n]{0,2}",
    ) {
        let mut text = format!("{space}{{");
        for (index, (name, value, nesting)) in members.iter().enumerate() {
            if index > 0 {
                text.push_str(&format!("{space},{space}"));
            }
            let value = match value {
                Some(value) => serde_json::to_string(value).unwrap(),
                None => format!("{}null{}", "[".repeat(*nesting as usize), "]".repeat(*nesting as usize)),
            };
            text.push_str(&format!("{space}{}{space}:{space}{value}", serde_json::to_string(name).unwrap()));
        }
        text.push_str(&format!("{space}}}{space}"));
        let body = json(&text);
        let after = cut_and_read(&body, BodyKind::Json);
        prop_assert_eq!(read_back(&after), kept(&body));
        prop_assert_eq!(key_in(&after, "apikey"), None);
        let raw = |body: &KeyBody| -> Vec<Vec<u8>> {
            body.fields().unwrap().iter().filter(|f| !f.is("apikey"))
                .map(|f| body.bytes()[f.span.clone()].to_vec()).collect()
        };
        prop_assert_eq!(raw(&after), raw(&body), "members are kept as written");
    }

    #[test]
    fn a_cut_multipart_body_keeps_every_other_part_byte_for_byte(
        parts in prop::collection::vec((name(), prop::collection::vec(any::<u8>(), 0..20)), 0..6),
        preamble in "[a-z\r\n]{0,8}",
    ) {
        let boundary = "kg-0123456789";
        let mut text = Vec::new();
        if !preamble.is_empty() {
            text.extend_from_slice(preamble.as_bytes());
            text.extend_from_slice(b"\r\n");
        }
        for (name, value) in &parts {
            text.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            text.extend_from_slice(value);
            text.extend_from_slice(b"\r\n");
        }
        text.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let kind = BodyKind::Multipart { boundary: Some(boundary.as_bytes().into()) };
        let body = KeyBody::parse(Bytes::from(text), kind.clone()).unwrap();
        let after = cut_and_read(&body, kind);
        prop_assert_eq!(read_back(&after), kept(&body));
        prop_assert_eq!(key_in(&after, "apikey"), None);
    }

    #[test]
    fn any_bytes_are_read_or_refused_and_a_cut_body_holds_no_key(
        bytes in prop::collection::vec(prop_oneof![
            Just(b'{'), Just(b'}'), Just(b'"'), Just(b':'), Just(b','), Just(b'&'), Just(b'='),
            Just(b'\r'), Just(b'\n'), Just(b'-'), Just(b'b'), Just(b'\\'), any::<u8>(),
        ], 0..64),
        which in 0..3u8,
    ) {
        let kind = match which {
            0 => BodyKind::Form,
            1 => BodyKind::Json,
            _ => BodyKind::Multipart { boundary: Some(b"b"[..].into()) },
        };
        if let Ok(body) = KeyBody::parse(Bytes::from(bytes), kind.clone()) {
            let after = cut_and_read(&body, kind);
            prop_assert_eq!(extract(&[body_source("apikey")], &after), Extracted::Absent);
        }
    }
}
