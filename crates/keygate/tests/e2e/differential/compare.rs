//! The comparison of one case: keygate's outcome against nginx's, and what in a
//! forwarded request makes an upstream act on something else than nginx would have.

use super::corpus::{Case, Forwarded, Outcome};

/// How keygate's outcome compares with nginx's.
#[derive(Debug)]
pub enum Verdict {
    /// Both refused, or both forwarded the same request.
    Same,
    /// nginx forwarded, keygate refused: allowed, and listed.
    Stricter,
    /// Anything else.
    Differs(String),
}

pub fn status(outcome: &Outcome) -> u16 {
    match outcome {
        Outcome::Refused(status) => *status,
        Outcome::Forwarded(_) => 200,
    }
}

/// Compares keygate's outcome with nginx's for `case`.
pub fn verdict(case: &Case, nginx: &Outcome, keygate: &Outcome) -> Verdict {
    match (nginx, keygate) {
        (_, Outcome::Refused(status)) if !(400..500).contains(status) => Verdict::Differs(format!(
            "keygate answered {status}, neither a refusal (4xx) nor forwarding"
        )),
        (Outcome::Refused(_), Outcome::Refused(_)) => Verdict::Same,
        (Outcome::Forwarded(_), Outcome::Refused(_)) => Verdict::Stricter,
        (Outcome::Refused(status), Outcome::Forwarded(_)) => {
            Verdict::Differs(format!("nginx refused with {status}, keygate forwarded"))
        }
        (Outcome::Forwarded(nginx), Outcome::Forwarded(keygate)) => {
            match forwarded_differs(case, nginx, keygate) {
                Some(why) => Verdict::Differs(why),
                None => Verdict::Same,
            }
        }
    }
}

/// Why what keygate forwarded differs from what nginx forwarded, if it does.
fn forwarded_differs(case: &Case, nginx: &Forwarded, keygate: &Forwarded) -> Option<String> {
    if keygate.method != nginx.method {
        return Some(format!(
            "method {:?}, nginx {:?}",
            keygate.method, nginx.method
        ));
    }
    if let Some(problem) = not_normal(&keygate.path) {
        return Some(format!(
            "forwarded path {:?} has {problem}: the upstream acts on another path than the one routed",
            keygate.path
        ));
    }
    if decode(&keygate.path) != decode(&nginx.path) {
        return Some(format!(
            "forwarded path {:?} decodes to another path than nginx's {:?}",
            keygate.path, nginx.path
        ));
    }
    if keygate.query != nginx.query {
        return Some(format!(
            "query {:?}, nginx {:?}",
            keygate.query, nginx.query
        ));
    }
    // nginx sends `$host`: lower case, no port, no trailing dot. Only a client's `Host`
    // (or absolute target) is compared; without either keygate sends the target's.
    if case.host.is_some() || !case.target.starts_with('/') {
        let host = keygate.host.as_deref().map(authority_host);
        if host.as_deref() != nginx.host.as_deref() {
            return Some(format!(
                "Host {:?} (host part {host:?}), nginx {:?}",
                keygate.host, nginx.host
            ));
        }
        let forwarded = keygate.forwarded_host.as_deref().map(authority_host);
        if forwarded.as_deref() != nginx.forwarded_host.as_deref() {
            return Some(format!(
                "X-Forwarded-Host {:?} (host part {forwarded:?}), nginx {:?}",
                keygate.forwarded_host, nginx.forwarded_host
            ));
        }
    }
    let dropped: Vec<&String> = keygate
        .headers
        .iter()
        .filter(|name| !nginx.headers.contains(name))
        .collect();
    if !dropped.is_empty() {
        return Some(format!("forwarded fields nginx dropped: {dropped:?}"));
    }
    None
}

/// The host of a `Host` value as nginx's `$host` has it: lower case, without the port
/// and a trailing dot.
fn authority_host(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// What in a forwarded path makes an upstream that decodes and resolves it act on a path
/// other than the one the gateway routed on.
fn not_normal(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') {
        return Some("no leading slash (not origin-form)");
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    for (at, segment) in segments.iter().enumerate() {
        let decoded = decode(segment);
        if decoded == b"." || decoded == b".." {
            return Some("a dot segment");
        }
        if decoded.contains(&b'/') {
            return Some("an encoded slash");
        }
        if segment.is_empty() && at + 1 < segments.len() {
            return Some("an empty segment (`//`)");
        }
        let escapes = segment.split('%').skip(1);
        if escapes
            .filter_map(|rest| rest.get(..2))
            .filter_map(|hex| u8::from_str_radix(hex, 16).ok())
            .any(|byte| byte.is_ascii_alphanumeric() || b"-._~".contains(&byte))
        {
            return Some("an encoded unreserved character");
        }
    }
    None
}

/// `text` with every valid `%XX` decoded, once.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let escape = bytes
            .get(at + 1..at + 3)
            .filter(|_| bytes[at] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(byte) => {
                decoded.push(byte);
                at += 3;
            }
            None => {
                decoded.push(bytes[at]);
                at += 1;
            }
        }
    }
    decoded
}

#[test]
fn the_comparison_itself() {
    assert_eq!(decode("/a%2Fb%zz%4"), b"/a/b%zz%4");
    assert_eq!(decode("%252e"), b"%2e");
    assert_eq!(not_normal("/a/%2e%2E/b"), Some("a dot segment"));
    assert_eq!(not_normal("/a//b"), Some("an empty segment (`//`)"));
    assert_eq!(not_normal("/a/"), None);
    assert_eq!(not_normal("/"), None);
    assert_eq!(
        not_normal("/%72eport"),
        Some("an encoded unreserved character")
    );
    assert_eq!(not_normal("/a%2fb"), Some("an encoded slash"));
    assert_eq!(not_normal("/a%3Fb%20%25"), None);
    assert_eq!(authority_host("Example.COM.:8080"), "example.com");
    assert_eq!(authority_host("[::1]:80"), "[::1]");

    let case: Case = serde_json::from_str(
        r#"{"name":"n","target":"http://admin.example/a","host":"public.example","headers":[["X_A","1"]]}"#,
    )
    .unwrap();
    let nginx = Forwarded {
        method: "GET".into(),
        path: "/a%3Fb".into(),
        query: None,
        host: Some("admin.example".into()),
        forwarded_host: Some("admin.example".into()),
        headers: vec![],
    };
    let same = Forwarded {
        path: "/a%3fb".into(),
        host: Some("Admin.Example.:80".into()),
        ..nginx.clone()
    };
    assert_eq!(forwarded_differs(&case, &nginx, &same), None);
    let other_forwarded_host = Forwarded {
        forwarded_host: Some("public.example".into()),
        ..nginx.clone()
    };
    let underscore = Forwarded {
        headers: vec!["x_a".into()],
        ..nginx.clone()
    };
    let query = Forwarded {
        query: Some("x".into()),
        ..nginx.clone()
    };
    for differs in [other_forwarded_host, underscore, query] {
        assert!(
            forwarded_differs(&case, &nginx, &differs).is_some(),
            "{differs:?}"
        );
    }
}
