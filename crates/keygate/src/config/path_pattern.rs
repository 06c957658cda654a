//! Route path patterns: exact `/json`, prefix `/files/*`, parameters `/users/{id}`.

use std::borrow::Cow;

use crate::proxy::path_normal::normalise;

/// Why a route path or service prefix, compared with a request's path in normal form
/// (`proxy::path_normal`), could never be equal to one; `None` when it is in normal form.
pub fn not_normal(text: &str) -> Option<String> {
    match normalise(text) {
        Ok(Cow::Borrowed(_)) => None,
        Ok(Cow::Owned(normal)) => Some(format!(
            "request paths are matched in normal form (letters, digits and `-._~` not \
             percent-encoded, no `//`, `.` or `..`): write `{normal}`, not `{text}`"
        )),
        Err(error) => Some(format!(
            "`{text}` would never match: {error}, which is refused with `400`"
        )),
    }
}

/// A parsed route path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// Matches this path only.
    Exact(String),
    /// `/files/*`: matches every path that starts with `/files/` (kept with its slash).
    Prefix(String),
    /// A path with `{name}` segments, each matching one non-empty segment.
    Segments(Vec<Segment>),
}

/// One segment of a parameterised path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must be equal.
    Literal(String),
    /// Matches any non-empty segment.
    Param(String),
}

impl PathPattern {
    /// Parses a pattern as written in a route's `paths`.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        if !text.starts_with('/') {
            return Err(format!("a route path must start with `/`, found `{text}`"));
        }
        if text.contains(['?', '#', ' ']) {
            return Err(format!(
                "a route path may not contain `?`, `#` or spaces, found `{text}`"
            ));
        }
        if let Some(problem) = not_normal(text) {
            return Err(problem);
        }
        if let Some(prefix) = text.strip_suffix("/*") {
            if prefix.contains(['*', '{', '}']) {
                return Err(format!(
                    "a prefix path (`/prefix/*`) may not contain `*` or `{{}}` before the end, found `{text}`"
                ));
            }
            return Ok(PathPattern::Prefix(format!("{prefix}/")));
        }
        if text.contains('*') {
            return Err(format!(
                "`*` is allowed only as the last segment (`/prefix/*`), found `{text}`"
            ));
        }
        if !text.contains(['{', '}']) {
            return Ok(PathPattern::Exact(text.to_owned()));
        }
        let mut segments = Vec::new();
        for segment in text[1..].split('/') {
            if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let valid = !inner.is_empty()
                    && inner
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !valid {
                    return Err(format!(
                        "a parameter is written `{{name}}` with letters, digits, `_` or `-`, found `{segment}`"
                    ));
                }
                segments.push(Segment::Param(inner.to_owned()));
            } else if segment.contains(['{', '}']) {
                return Err(format!(
                    "a parameter must fill a whole segment (`/users/{{id}}`), found `{segment}`"
                ));
            } else {
                segments.push(Segment::Literal(segment.to_owned()));
            }
        }
        Ok(PathPattern::Segments(segments))
    }

    /// Whether `path` (relative to the service prefix, starting with `/`) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Exact(exact) => exact == path,
            PathPattern::Prefix(prefix) => path.starts_with(prefix.as_str()),
            PathPattern::Segments(segments) => {
                let Some(rest) = path.strip_prefix('/') else {
                    return false;
                };
                let mut parts = rest.split('/');
                for segment in segments {
                    let Some(part) = parts.next() else {
                        return false;
                    };
                    match segment {
                        Segment::Literal(literal) if literal != part => return false,
                        Segment::Param(_) if part.is_empty() => return false,
                        _ => {}
                    }
                }
                parts.next().is_none()
            }
        }
    }

    /// Whether both patterns match the same paths: equal but for parameter names
    /// (`/{id}` and `/{name}`).
    pub fn same_paths(&self, other: &PathPattern) -> bool {
        match (self, other) {
            (PathPattern::Segments(ours), PathPattern::Segments(theirs)) => {
                ours.len() == theirs.len()
                    && ours.iter().zip(theirs).all(|pair| match pair {
                        (Segment::Param(_), Segment::Param(_)) => true,
                        (ours, theirs) => ours == theirs,
                    })
            }
            _ => self == other,
        }
    }

    /// Ordering key: exact paths first, then parameterised, then prefixes (longest first).
    pub fn precedence(&self) -> (u8, std::cmp::Reverse<usize>) {
        match self {
            PathPattern::Exact(_) => (0, std::cmp::Reverse(0)),
            PathPattern::Segments(segments) => (1, std::cmp::Reverse(segments.len())),
            PathPattern::Prefix(prefix) => (2, std::cmp::Reverse(prefix.len())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        PathPattern::parse(text).unwrap()
    }

    #[test]
    fn exact_matches_only_itself() {
        assert!(pattern("/json").matches("/json"));
        assert!(!pattern("/json").matches("/json/"));
        assert!(!pattern("/json").matches("/jsonx"));
        assert!(pattern("/").matches("/"));
    }

    #[test]
    fn prefix_matches_below_the_slash() {
        let catalog = pattern("/catalog/*");
        assert!(catalog.matches("/catalog/"));
        assert!(catalog.matches("/catalog/a/b"));
        assert!(!catalog.matches("/catalog"));
        assert!(!catalog.matches("/catalogue/x"));
    }

    #[test]
    fn parameters_match_one_non_empty_segment() {
        let one = pattern("/{id}");
        assert!(one.matches("/42"));
        assert!(!one.matches("/"));
        assert!(!one.matches("/42/x"));
        let nested = pattern("/users/{id}/orders");
        assert!(nested.matches("/users/7/orders"));
        assert!(!nested.matches("/users/7"));
        assert!(!nested.matches("/users//orders"));
    }

    #[test]
    fn patterns_differing_only_in_parameter_names_match_the_same_paths() {
        assert!(pattern("/{id}").same_paths(&pattern("/{name}")));
        assert!(pattern("/a/{x}/b").same_paths(&pattern("/a/{y}/b")));
        assert!(!pattern("/a/{x}").same_paths(&pattern("/{x}/a")));
        assert!(!pattern("/{x}").same_paths(&pattern("/{x}/{y}")));
        assert!(pattern("/report").same_paths(&pattern("/report")));
        assert!(!pattern("/report").same_paths(&pattern("/report/*")));
    }

    #[test]
    fn bad_patterns_say_why() {
        assert!(PathPattern::parse("json")
            .unwrap_err()
            .contains("start with `/`"));
        assert!(PathPattern::parse("/a/*/b")
            .unwrap_err()
            .contains("last segment"));
        assert!(PathPattern::parse("/a{id}")
            .unwrap_err()
            .contains("whole segment"));
        assert!(PathPattern::parse("/{}").unwrap_err().contains("parameter"));
        assert!(PathPattern::parse("/%72eport")
            .unwrap_err()
            .contains("write `/report`"));
        assert!(PathPattern::parse("/a//{id}")
            .unwrap_err()
            .contains("write `/a/{id}`"));
        assert!(PathPattern::parse("/a/../b/*")
            .unwrap_err()
            .contains("write `/b/*`"));
        assert!(PathPattern::parse("/a%2fb")
            .unwrap_err()
            .contains("never match"));
        assert!(PathPattern::parse("/a%20b").is_ok());
    }
}
