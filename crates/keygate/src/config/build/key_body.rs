//! Checks the parts of the file that read keys from request bodies: `body` key sources
//! (their names, and their place after every other kind of source) and
//! `proxy.max_key_body_bytes`.

use super::super::file::{At, FileKeySource};
use super::super::KeySource;
use super::Checker;

/// `proxy.max_key_body_bytes` when the file does not say: 64 KiB.
const DEFAULT_MAX_KEY_BODY_BYTES: u64 = 64 * 1024;

/// The range `proxy.max_key_body_bytes` may take: 1 KiB to 16 MiB.
const KEY_BODY_BYTES: std::ops::RangeInclusive<u64> = 1024..=16 * 1024 * 1024;

impl Checker<'_> {
    /// A `body: NAME` key source. The name is a form field, JSON member or multipart
    /// part name of visible ASCII without `= ; , & ? # % " \`, so that it reads the same
    /// to every parser of the three media types.
    pub(super) fn body_source(&mut self, name: &At<String>) -> Option<KeySource> {
        let valid = !name.value.is_empty()
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_graphic() && !"=;,&?#%\"\\".contains(c));
        if !valid {
            self.report(
                &name.referenced,
                format!(
                    "expected a field name of visible characters without = ; , & ? # % \\ or quotes, found `{}`",
                    name.value
                ),
            );
            return None;
        }
        Some(KeySource::Body {
            name: name.value.clone(),
        })
    }

    /// The body is read only when no other source holds a key, so `body` sources come
    /// after every `header`, `cookie` and `query` source: the list's order is the order
    /// the sources are read in.
    pub(super) fn body_sources_last(&mut self, sources: &At<Vec<At<FileKeySource>>>) {
        let mut body_seen = false;
        for source in &sources.value {
            let entry = &source.value;
            if entry.body.is_some() {
                body_seen = true;
            } else if body_seen
                && (entry.header.is_some() || entry.cookie.is_some() || entry.query.is_some())
            {
                self.report(
                    &source.referenced,
                    "`body` key sources are read last: list them after every `header`, `cookie` and `query` source",
                );
            }
        }
    }

    /// `proxy.max_key_body_bytes`: 1024 to 16777216 (default 65536).
    pub(super) fn max_key_body_bytes(&mut self, bytes: Option<&At<u64>>) -> u64 {
        match bytes {
            None => DEFAULT_MAX_KEY_BODY_BYTES,
            Some(bytes) if KEY_BODY_BYTES.contains(&bytes.value) => bytes.value,
            Some(bytes) => {
                self.report(
                    &bytes.referenced,
                    "max_key_body_bytes must be between 1024 and 16777216",
                );
                DEFAULT_MAX_KEY_BODY_BYTES
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, KeySource};

    fn service(sources: &str) -> String {
        format!(
            "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n    key_sources: {sources}\n    routes:\n      - {{name: r, paths: ['/*']}}\n"
        )
    }

    #[test]
    fn body_sources_are_read_after_the_others() {
        let config = Config::parse(
            "t.yaml",
            &service("[{header: apikey}, {body: apikey}, {body: key}]"),
        )
        .unwrap();
        assert_eq!(
            &config.services[0].routes[0].key_sources[1..],
            [
                KeySource::Body {
                    name: "apikey".into()
                },
                KeySource::Body { name: "key".into() }
            ]
        );
        assert_eq!(config.proxy.max_key_body_bytes, 64 * 1024);
    }

    #[test]
    fn a_body_source_before_another_kind_is_refused_where_the_other_is() {
        let Err(error) = Config::parse("t.yaml", &service("[{body: apikey}, {query: apikey}]"))
        else {
            panic!("a query source after a body source passed");
        };
        let text = error.to_string();
        assert!(
            text.contains("t.yaml:4:35: `body` key sources are read last"),
            "{text}"
        );
    }

    #[test]
    fn body_names_and_bounds_are_checked() {
        for bad in ["'a b'", "'a\\'", "'a%62'", "''", "'k=1'"] {
            let text = service(&format!("[{{body: {bad}}}]"));
            assert!(Config::parse("t.yaml", &text).is_err(), "{bad} passed");
        }
        let both = service("[{body: a, query: a}]");
        assert!(Config::parse("t.yaml", &both).is_err());
        let scheme = service("[{body: a, scheme: Bearer}]");
        assert!(Config::parse("t.yaml", &scheme).is_err());
        let config = Config::parse("t.yaml", "proxy:\n  max_key_body_bytes: 1048576\n").unwrap();
        assert_eq!(config.proxy.max_key_body_bytes, 1024 * 1024);
        for bad in ["1023", "16777217"] {
            let text = format!("proxy:\n  max_key_body_bytes: {bad}\n");
            let Err(error) = Config::parse("t.yaml", &text) else {
                panic!("{bad} passed");
            };
            assert!(
                error.to_string().contains("between 1024 and 16777216"),
                "{error}"
            );
        }
    }
}
