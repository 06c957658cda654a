use super::*;

fn parts(method: &str, uri: &str, fields: &[(&str, &str)]) -> Parts {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in fields {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

fn normal(method: &str, uri: &str, fields: &[(&str, &str)]) -> Result<Parts, RequestError> {
    normalise(parts(method, uri, fields), UnderscoredFields::Dropped)
}

#[test]
fn the_authority_becomes_the_one_host_and_the_target_origin_form() {
    let request = normal("GET", "https://api.example.com:8443/v1/x?a=1", &[]).unwrap();
    assert_eq!(request.uri, "/v1/x?a=1");
    assert_eq!(request.headers[HOST], "api.example.com:8443");
    assert_eq!(request.version, Version::HTTP_2);
    // A Host that repeats the authority is one field, not two.
    let request = normal(
        "GET",
        "https://api.example.com/",
        &[("host", "API.example.com")],
    )
    .unwrap();
    assert_eq!(request.headers.get_all(HOST).iter().count(), 1);
    assert_eq!(request.headers[HOST], "api.example.com");
}

#[test]
fn a_host_field_serves_when_there_is_no_authority() {
    // h2 leaves `:scheme` out of a target without an authority.
    let request = normal("GET", "/v1", &[("host", "shop.test")]).unwrap();
    assert_eq!(request.headers[HOST], "shop.test");
    assert_eq!(request.uri, "/v1");
    assert!(normal("GET", "/v1", &[]).is_err());
}

#[test]
fn conflicting_or_invalid_authorities_are_refused() {
    for (uri, fields) in [
        ("https://a.test/", &[("host", "b.test")][..]),
        (
            "https://a.test/",
            &[("host", "a.test"), ("host", "a.test")][..],
        ),
        ("https://a..test/", &[][..]),
        ("https://user@a.test/", &[][..]),
        ("https://a.test/", &[("host", "a.test/evil")][..]),
    ] {
        assert!(
            matches!(normal("GET", uri, fields), Err(RequestError::Malformed(_))),
            "{uri} {fields:?}"
        );
    }
}

#[test]
fn methods_follow_the_http1_rules() {
    for method in ["get", "TRACE", "CONNECT"] {
        assert!(normal(method, "https://a.test/", &[]).is_err(), "{method}");
    }
    assert!(normal("PATCH", "https://a.test/", &[]).is_ok());
    assert!(normal("OPTIONS", "*", &[]).is_err());
    assert!(normal("GET", "ftp://a.test/", &[]).is_err());
}

#[test]
fn cookie_crumbs_are_joined_and_odd_names_dropped() {
    let request = normal(
        "GET",
        "https://a.test/",
        &[
            ("cookie", "a=1"),
            ("x-one", "1"),
            ("cookie", "apikey=k"),
            ("x_api_user", "admin"),
            ("x.consumer", "admin"),
        ],
    )
    .unwrap();
    assert_eq!(request.headers[COOKIE], "a=1; apikey=k");
    assert_eq!(request.headers.get_all(COOKIE).iter().count(), 1);
    assert_eq!(request.headers["x-one"], "1");
    assert!(!request.headers.contains_key("x_api_user"));
    assert!(!request.headers.contains_key("x.consumer"));
    let kept = normalise(
        parts("GET", "https://a.test/", &[("x_api_user", "u")]),
        UnderscoredFields::Kept,
    )
    .unwrap();
    assert_eq!(kept.headers["x_api_user"], "u");
}

#[test]
fn lengths_must_agree_and_fields_are_counted() {
    let conflicting = [("content-length", "5"), ("content-length", "6")];
    assert!(normal("POST", "https://a.test/", &conflicting).is_err());
    assert!(normal("POST", "https://a.test/", &[("content-length", "-1")]).is_err());
    let names: Vec<String> = (0..=MAX_FIELDS).map(|i| format!("x-f{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|name| (name.as_str(), "1")).collect();
    assert_eq!(
        normal("GET", "https://a.test/", &many).unwrap_err(),
        RequestError::TooManyFields
    );
}
