//! Checks `proxy.strip_request_headers`: the client fields never forwarded besides the
//! identity families (`proxy::identity_fields`).

use super::super::file::At;
use super::super::{FieldPattern, FieldPatterns};
use super::{Checker, RESERVED_FIELD_NAMES};

impl Checker<'_> {
    /// `proxy.strip_request_headers`: each entry a field name or `prefix*`, none that
    /// names or covers a field HTTP or the gateway itself sets (`Host`, framing,
    /// hop-by-hop, `X-Forwarded-*`): leaving those out would change how the upstream
    /// frames or routes the request.
    pub(super) fn strip_request_headers(&mut self, entries: &[At<String>]) -> FieldPatterns {
        let mut patterns = Vec::with_capacity(entries.len());
        for entry in entries {
            match FieldPattern::parse(&entry.value) {
                Err(problem) => self.report(&entry.referenced, problem),
                Ok(pattern) => match RESERVED_FIELD_NAMES
                    .iter()
                    .find(|reserved| pattern.matches(reserved.as_bytes()))
                {
                    Some(reserved) => self.report(
                        &entry.referenced,
                        format!(
                            "`{}` cannot be stripped: it covers `{reserved}`, which HTTP or the gateway itself sets",
                            entry.value
                        ),
                    ),
                    None => patterns.push(pattern),
                },
            }
        }
        FieldPatterns(patterns.into())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, FieldPattern};

    #[test]
    fn names_and_prefixes_are_read() {
        let text = "proxy:\n  strip_request_headers: [X-Internal-User, x-tenant-*]\n";
        let config = Config::parse("t.yaml", text).unwrap();
        assert_eq!(
            &*config.proxy.strip_request_headers.0,
            [
                FieldPattern::Name("x-internal-user".into()),
                FieldPattern::Prefix("x-tenant-".into())
            ]
        );
        let config = Config::parse("t.yaml", "").unwrap();
        assert!(config.proxy.strip_request_headers.0.is_empty());
    }

    #[test]
    fn fields_the_gateway_or_http_sets_cannot_be_stripped() {
        let text = "proxy:\n  strip_request_headers:\n    - x-ok\n    - Host\n    - content-*\n    - x-forwarded-*\n    - t*\n    - '*'\n    - 'x y'\n";
        let Err(error) = Config::parse("t.yaml", text) else {
            panic!("the list was taken");
        };
        let lines: Vec<(usize, &str)> = error
            .problems()
            .iter()
            .map(|problem| (problem.line, problem.message.as_str()))
            .collect();
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines[0].1.contains("covers `host`"), "{lines:?}");
        assert!(lines[1].1.contains("covers `content-length`"), "{lines:?}");
        assert!(lines[2].1.contains("covers `x-forwarded-for`"), "{lines:?}");
        assert!(
            lines[3].1.contains("covers `transfer-encoding`"),
            "{lines:?}"
        );
        assert!(lines[4].1.contains("expected a header name"), "{lines:?}");
        assert!(lines[5].1.contains("may not hold ` `"), "{lines:?}");
        assert_eq!(lines[0].0, 4);
    }
}
