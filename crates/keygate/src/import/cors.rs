//! The peers' cors plugins (Kong's `cors`, APISIX's `cors`) as a keygate service's
//! `cors:` policy. The fields mean the same; what differs is reported: origins written as
//! regular expressions other than the common "any subdomain" form, and `*` with
//! credentials, which keygate refuses (Kong answers it by reflecting any origin, which lets
//! every site read answers made with its visitors' credentials).

use crate::config::OriginPattern;
use crate::import::document::Cors;
use crate::import::Report;

/// A peer's cors settings, in keygate's terms.
#[derive(Debug, Default)]
pub(crate) struct Wanted {
    /// Origins as the peer lists them: exact, `*`, or regular expressions.
    pub origins: Vec<String>,
    /// Methods; empty for keygate's default.
    pub methods: Vec<String>,
    /// Request fields allowed; empty to answer with the ones asked for.
    pub headers: Vec<String>,
    /// Response fields exposed.
    pub expose_headers: Vec<String>,
    /// Credentials allowed.
    pub credentials: bool,
    /// Max age in seconds, when the peer sends one.
    pub max_age: Option<u64>,
}

/// The policy for `wanted`; `None` (reported) when none of its origins has a keygate form.
pub(crate) fn policy(wanted: Wanted, item: &str, report: &mut Report) -> Option<Cors> {
    let mut origins = Vec::new();
    for origin in &wanted.origins {
        match origin_of(origin) {
            Some(kept) => origins.push(kept),
            None => report.left_out(
                format!("{item}: cors origin {origin}"),
                "a regular expression keygate cannot write as an origin (https://app.example.com, https://*.example.com or *): list the origins",
            ),
        }
    }
    if wanted.origins.is_empty() {
        origins.push("*".to_owned());
    }
    if origins.is_empty() {
        report.left_out(
            format!("{item}: plugin cors"),
            "none of its origins was kept",
        );
        return None;
    }
    let mut credentials = wanted.credentials;
    if credentials && origins.iter().any(|o| o == "*") {
        credentials = false;
        report.changed(
            format!("{item}: cors credentials"),
            "`credentials: false`: with any origin, keygate does not allow credentials (the peer reflects any origin, letting every site read answers made with its visitors' credentials); list the origins to allow them",
        );
    }
    if origins.iter().any(|o| o == "*") {
        origins.retain(|o| o == "*");
    }
    report.mapped(
        format!("{item}: plugin cors"),
        "service `cors:`; preflights are answered by keygate without a key",
    );
    Some(Cors {
        origins,
        methods: wanted.methods,
        headers: wanted.headers,
        expose_headers: wanted.expose_headers,
        credentials,
        max_age: wanted.max_age.map(|seconds| format!("{seconds}s")),
    })
}

/// `origin` as keygate writes it: `*`, an exact origin (also from a regular expression
/// whose only special characters are escaped dots), or `scheme://*.domain` for the
/// regular expression `scheme://.*\.domain` (with or without `^` and `$`).
fn origin_of(origin: &str) -> Option<String> {
    if origin == "*" || origin == "**" {
        return Some("*".to_owned());
    }
    let bare = origin.trim_start_matches('^').trim_end_matches('$');
    let (scheme, rest) = bare.split_once("://")?;
    let written = match rest.strip_prefix(".*\\.") {
        Some(domain) => format!("{scheme}://*.{}", domain.replace("\\.", ".")),
        None => format!("{scheme}://{}", rest.replace("\\.", ".")),
    };
    let host = &written[scheme.len() + 3..];
    let literal = !host.contains(['\\', '(', '[', '+', '?', '|', '^', '$'])
        && host.matches('*').count() <= usize::from(host.starts_with("*."));
    (literal && OriginPattern::parse(&written).is_ok()).then_some(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::import::report::Outcome;

    #[test]
    fn origins_keep_their_meaning_or_are_reported() {
        assert_eq!(origin_of("*").as_deref(), Some("*"));
        assert_eq!(
            origin_of("https://app.example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("https://.*\\.example\\.com").as_deref(),
            Some("https://*.example.com")
        );
        assert_eq!(
            origin_of("^https://.*\\.example\\.com$").as_deref(),
            Some("https://*.example.com")
        );
        assert_eq!(origin_of("https://(a|b)\\.example\\.com"), None);
        assert_eq!(
            origin_of("https://app\\.example\\.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(origin_of("https://app.*"), None);
    }

    #[test]
    fn credentials_never_go_with_any_origin() {
        let mut report = Report::default();
        let wanted = Wanted {
            credentials: true,
            ..Wanted::default()
        };
        let cors = policy(wanted, "route r", &mut report).unwrap();
        assert_eq!(cors.origins, ["*"]);
        assert!(!cors.credentials);
        assert_eq!(report.count(Outcome::Changed), 1);
    }
}
