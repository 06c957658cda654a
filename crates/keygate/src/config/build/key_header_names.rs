//! Checks a service's `key_header_names`: `exact` (default), or `dash_or_underscore`, which
//! makes `_` and `-` read alike in the names of its header key sources, as Kong reads
//! `key_names` (`api_key` finds `api-key` too).

use std::sync::Arc;

use super::super::file::At;
use super::super::KeySource;
use super::Checker;

impl Checker<'_> {
    /// `key_header_names`: whether `_` and `-` read alike (`dash_or_underscore`).
    pub(super) fn key_header_names(&mut self, mode: Option<&At<String>>) -> bool {
        match mode.map(|mode| (mode, mode.value.as_str())) {
            None | Some((_, "exact")) => false,
            Some((_, "dash_or_underscore")) => true,
            Some((mode, other)) => {
                self.report(
                    &mode.referenced,
                    format!("expected `exact` or `dash_or_underscore`, found `{other}`"),
                );
                false
            }
        }
    }
}

/// `sources` with `_` and `-` read alike in every header source whose name holds one.
pub(super) fn separators_alike(sources: &Arc<[KeySource]>) -> Arc<[KeySource]> {
    sources
        .iter()
        .map(|source| match source {
            KeySource::Header { name, scheme, .. } => KeySource::Header {
                name: name.clone(),
                scheme: scheme.clone(),
                separators_alike: name.as_str().contains(['-', '_']),
            },
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, KeySource};

    fn alike(config: &Config) -> Vec<(String, bool)> {
        config.services[0].routes[0]
            .key_sources
            .iter()
            .filter_map(|source| match source {
                KeySource::Header {
                    name,
                    separators_alike,
                    ..
                } => Some((name.as_str().to_owned(), *separators_alike)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_header_source_of_the_service_reads_both_separators() {
        let text = "services:\n  - name: s\n    upstream: http://127.0.0.1:1\n    key_header_names: dash_or_underscore\n    routes:\n      - {name: r, paths: ['/*']}\n";
        let config = Config::parse("t.yaml", text).unwrap();
        assert_eq!(
            alike(&config),
            [
                ("apikey".to_owned(), false),
                ("client-key".to_owned(), true),
                ("secret".to_owned(), false)
            ]
        );
        let own = text.replace(
            "{name: r, paths: ['/*']}",
            "{name: r, paths: ['/*'], key_sources: [{header: api_key}, {query: api_key}]}",
        );
        let config = Config::parse("t.yaml", &own).unwrap();
        assert_eq!(alike(&config), [("api_key".to_owned(), true)]);
        let exact = text.replace("dash_or_underscore", "exact");
        let config = Config::parse("t.yaml", &exact).unwrap();
        assert!(alike(&config).iter().all(|(_, alike)| !alike));
    }

    #[test]
    fn other_modes_are_refused_where_written() {
        let text = "services:\n  - name: s\n    upstream: http://127.0.0.1:1\n    key_header_names: loose\n    routes:\n      - {name: r, paths: ['/*']}\n";
        let Err(error) = Config::parse("t.yaml", text) else {
            panic!("loose was taken");
        };
        let problem = &error.problems()[0];
        assert_eq!(problem.line, 4);
        assert!(
            problem.message.contains("dash_or_underscore"),
            "{problem:?}"
        );
    }
}
