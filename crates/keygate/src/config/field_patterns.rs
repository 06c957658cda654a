//! Header field names given by name or by prefix (`x-internal-*`), as
//! `proxy.strip_request_headers` lists them, and the comparison every such list uses: case
//! does not matter (field names are lower-case by then) and `_` reads as `-`, because an
//! upstream that reads fields the CGI way (`HTTP_X_CONSUMER_ID`) cannot tell them apart.

/// One entry of a list of field names: a whole name, or a prefix (written `prefix*`).
/// Stored lower-case with every `_` as `-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldPattern {
    /// Exactly this name.
    Name(Box<str>),
    /// Every name that starts with this (and is longer than it).
    Prefix(Box<str>),
}

impl FieldPattern {
    /// Reads `text`: a field name, or a non-empty field name followed by one `*`. The
    /// error says what is wrong.
    pub fn parse(text: &str) -> Result<FieldPattern, String> {
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.is_empty() {
            return Err(format!(
                "expected a header name such as x-internal-user or a prefix such as x-internal-*, found `{text}`"
            ));
        }
        if let Some(bad) = body.chars().find(|&c| !is_token_char(c)) {
            return Err(format!(
                "`{text}`: a header name may not hold `{bad}` (`*` only at the end, for a prefix)"
            ));
        }
        let body: Box<str> = body
            .chars()
            .map(|c| dashed(c.to_ascii_lowercase() as u8) as char)
            .collect::<String>()
            .into();
        Ok(match prefix {
            true => FieldPattern::Prefix(body),
            false => FieldPattern::Name(body),
        })
    }

    /// Whether the lower-case field name `name` is one this entry names.
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            FieldPattern::Name(own) => same_dashed(name, own.as_bytes()),
            FieldPattern::Prefix(own) => {
                name.len() > own.len() && starts_with_dashed(name, own.as_bytes())
            }
        }
    }
}

/// A list of [`FieldPattern`]s; empty by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPatterns(pub Box<[FieldPattern]>);

impl FieldPatterns {
    /// Whether the lower-case field name `name` is one of the list's. An empty list costs
    /// one length check.
    pub fn matches(&self, name: &[u8]) -> bool {
        self.0.iter().any(|pattern| pattern.matches(name))
    }
}

/// Whether `c` may appear in a field name (RFC 9110 §5.6.2's `tchar`).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'+-.^_`|~".contains(c)
}

/// `byte` with `_` read as `-`.
fn dashed(byte: u8) -> u8 {
    if byte == b'_' {
        b'-'
    } else {
        byte
    }
}

/// Whether the lower-case names `name` and `own` are the same once every `_` is a `-`.
pub fn same_dashed(name: &[u8], own: &[u8]) -> bool {
    name.len() == own.len() && starts_with_dashed(name, own)
}

/// Whether the lower-case name `name` starts with `prefix` once every `_` is a `-`.
pub fn starts_with_dashed(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len()
        && name
            .iter()
            .zip(prefix)
            .all(|(&name, &own)| dashed(name) == dashed(own))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_and_prefixes_are_read_lower_case_with_dashes() {
        assert_eq!(
            FieldPattern::parse("X-Internal-User").unwrap(),
            FieldPattern::Name("x-internal-user".into())
        );
        assert_eq!(
            FieldPattern::parse("X_Internal_*").unwrap(),
            FieldPattern::Prefix("x-internal-".into())
        );
        for bad in ["", "*", "x-*-y", "x y", "x:y*", "**", "x/*"] {
            assert!(FieldPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_name_matches_itself_with_underscores_for_dashes() {
        let name = FieldPattern::parse("x-internal-user").unwrap();
        assert!(name.matches(b"x-internal-user"));
        assert!(name.matches(b"x_internal_user"));
        assert!(!name.matches(b"x-internal-users"));
        assert!(!name.matches(b"x-internal-use"));
        assert!(!name.matches(b"xxinternal-user"));
    }

    #[test]
    fn a_prefix_matches_longer_names_only() {
        let prefix = FieldPattern::parse("x-internal-*").unwrap();
        assert!(prefix.matches(b"x-internal-user"));
        assert!(prefix.matches(b"x_internal_user"));
        assert!(!prefix.matches(b"x-internal-"));
        assert!(!prefix.matches(b"x-internal"));
        assert!(!prefix.matches(b"x-internally"));
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        assert!(!FieldPatterns::default().matches(b"x-anything"));
        let list = FieldPatterns(
            vec![
                FieldPattern::parse("a").unwrap(),
                FieldPattern::parse("b-*").unwrap(),
            ]
            .into(),
        );
        assert!(list.matches(b"a") && list.matches(b"b-c") && !list.matches(b"c"));
    }
}
