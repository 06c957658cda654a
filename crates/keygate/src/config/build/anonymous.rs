//! Checks `anonymous_consumer` and `anonymous_on_invalid_key`, of `defaults` and of each
//! service: a consumer's name (or `off`, to turn a default off) and a flag. A service's
//! own name must have an `auth: optional` route to serve; a name the file writes must be
//! one of the file's consumers (the file holds the consumers its services rely on: a
//! typo is found here, at its position, not by the first anonymous call) — except in a
//! file for `keygate apply`, whose services go to a gateway that may hold it. Services
//! written through the admin API may name any consumer: one that does not exist is
//! refused at request time (`state::Snapshot`).

use std::sync::Arc;

use super::super::file::{At, FileConfig, FileDefaults, FileService};
use super::super::{is_valid_name, AnonymousConsumer, AnonymousDefaults, AuthMode, Route};
use super::Checker;

/// What `anonymous_consumer` says.
enum Named {
    /// A consumer's name.
    Consumer(Arc<str>),
    /// `off`: none, whatever `defaults` says.
    Off,
}

impl Checker<'_> {
    /// `defaults.anonymous_consumer` and `defaults.anonymous_on_invalid_key`.
    pub(super) fn anonymous_defaults(&mut self, defaults: &FileDefaults) -> AnonymousDefaults {
        let consumer = match self.anonymous_name(defaults.anonymous_consumer.as_ref()) {
            Some(Named::Consumer(name)) => Some(name),
            Some(Named::Off) | None => None,
        };
        AnonymousDefaults {
            consumer,
            on_invalid_key: defaults
                .anonymous_on_invalid_key
                .as_ref()
                .is_some_and(|flag| flag.value),
        }
    }

    /// A service's anonymous consumer: its own settings over `defaults`, for its `routes`.
    pub(super) fn anonymous(
        &mut self,
        service: &FileService,
        routes: &[Route],
        defaults: &AnonymousDefaults,
    ) -> Option<AnonymousConsumer> {
        let own = service.anonymous_consumer.as_ref();
        let name = match self.anonymous_name(own) {
            Some(Named::Consumer(name)) => {
                if let Some(own) = own {
                    if !routes.iter().any(|route| route.auth == AuthMode::Optional) {
                        self.report(
                            &own.referenced,
                            "`anonymous_consumer` serves the routes with `auth: optional`, and this service has none: give the routes that calls without a key may take `auth: optional`",
                        );
                    }
                }
                Some(name)
            }
            Some(Named::Off) => None,
            None => defaults.consumer.clone(),
        };
        let flag = service.anonymous_on_invalid_key.as_ref();
        if let (Some(flag), None) = (flag, &name) {
            if flag.value {
                self.report(
                    &flag.referenced,
                    "`anonymous_on_invalid_key` needs an `anonymous_consumer` to fall back to",
                );
            }
        }
        Some(AnonymousConsumer {
            name: name?,
            on_invalid_key: flag.map_or(defaults.on_invalid_key, |flag| flag.value),
        })
    }

    /// `anonymous_consumer` as written: a consumer's name, or `off`.
    fn anonymous_name(&mut self, written: Option<&At<String>>) -> Option<Named> {
        let written = written?;
        match written.value.as_str() {
            "off" => Some(Named::Off),
            name if is_valid_name(name) => Some(Named::Consumer(name.into())),
            other => {
                self.report(
                    &written.referenced,
                    format!("expected a consumer's name (letters, digits, `.`, `_`, `-`) or `off`, found `{other}`"),
                );
                None
            }
        }
    }

    /// Every anonymous consumer the file names (in `defaults` and its services) must be
    /// a consumer of the file.
    pub(super) fn anonymous_in_file(&mut self, file: &FileConfig) {
        let named = file
            .services
            .iter()
            .filter_map(|service| service.value.anonymous_consumer.as_ref())
            .chain(file.defaults.anonymous_consumer.as_ref())
            .filter(|name| name.value != "off" && is_valid_name(&name.value));
        let mut missing = Vec::new();
        for name in named {
            let known = file
                .consumers
                .iter()
                .any(|consumer| consumer.value.name.value == name.value);
            if !known {
                missing.push((name.referenced, name.value.clone()));
            }
        }
        for (at, name) in missing {
            self.report(
                &at,
                format!("consumer `{name}` is not in this file's `consumers`: an anonymous consumer the file names is a consumer of the file (one without keys will do)"),
            );
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{AnonymousConsumer, Config};

    const SERVICE: &str = "services:\n  - name: s\n    upstream: http://127.0.0.1:9\n";

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse("t.yaml", text).map_err(|error| error.to_string())
    }

    fn anonymous(config: &Config, service: usize) -> Option<AnonymousConsumer> {
        config.services[service].anonymous.clone()
    }

    #[test]
    fn a_service_names_its_own_over_the_defaults() {
        let text = format!(
            "defaults:\n  anonymous_consumer: guest\n  anonymous_on_invalid_key: true\n\
             {SERVICE}    routes: [{{name: r, paths: [/], auth: optional}}]\n\
             \x20 - name: t\n    upstream: http://127.0.0.1:9\n    anonymous_consumer: visitor\n    anonymous_on_invalid_key: false\n    routes: [{{name: r, paths: [/], auth: optional}}]\n\
             \x20 - name: u\n    upstream: http://127.0.0.1:9\n    anonymous_consumer: \"off\"\n    routes: [{{name: r, paths: [/]}}]\n\
             consumers:\n  - name: guest\n  - name: visitor\n"
        );
        let config = parse(&text).unwrap();
        let named = |name: &str, on_invalid_key| {
            Some(AnonymousConsumer {
                name: name.into(),
                on_invalid_key,
            })
        };
        assert_eq!(anonymous(&config, 0), named("guest", true), "inherited");
        assert_eq!(anonymous(&config, 1), named("visitor", false), "its own");
        assert_eq!(anonymous(&config, 2), None, "`off`");
        assert_eq!(config.anonymous_defaults.consumer.as_deref(), Some("guest"));
    }

    #[test]
    fn none_by_default_and_invalid_keys_do_not_fall_back_by_default() {
        let text = format!(
            "{SERVICE}    anonymous_consumer: guest\n    routes: [{{name: r, paths: [/], auth: optional}}]\nconsumers:\n  - name: guest\n"
        );
        let config = parse(&text).unwrap();
        assert!(!anonymous(&config, 0).unwrap().on_invalid_key);
        let plain = parse(&format!("{SERVICE}    routes: [{{name: r, paths: [/]}}]\n")).unwrap();
        assert_eq!(anonymous(&plain, 0), None);
    }

    #[test]
    fn a_consumer_the_file_lacks_is_refused_at_its_position() {
        let text = format!(
            "{SERVICE}    anonymous_consumer: gust\n    routes: [{{name: r, paths: [/], auth: optional}}]\nconsumers:\n  - name: guest\n"
        );
        let error = parse(&text).unwrap_err();
        assert!(
            error.contains("t.yaml:4:25: consumer `gust` is not in this file's `consumers`"),
            "{error}"
        );
        let defaults = format!(
            "defaults:\n  anonymous_consumer: nobody\n{SERVICE}    routes: [{{name: r, paths: [/], auth: optional}}]\n"
        );
        let error = parse(&defaults).unwrap_err();
        assert!(
            error.contains("t.yaml:2:23: consumer `nobody` is not in this file's `consumers`"),
            "{error}"
        );
    }

    #[test]
    fn a_file_for_apply_may_name_a_consumer_the_gateway_holds() {
        let text = format!(
            "{SERVICE}    anonymous_consumer: guest\n    routes: [{{name: r, paths: [/], auth: optional}}]\n"
        );
        assert!(parse(&text).is_err(), "serve: the file must hold it");
        let config = Config::parse_entities("t.yaml", &text, "apply").unwrap();
        assert_eq!(
            config.services[0].anonymous.as_ref().unwrap().name.as_ref(),
            "guest"
        );
    }

    #[test]
    fn mistakes_are_reported_where_they_are_written() {
        let bad_name = format!(
            "{SERVICE}    anonymous_consumer: \"a b\"\n    routes: [{{name: r, paths: [/], auth: optional}}]\n"
        );
        let error = parse(&bad_name).unwrap_err();
        assert!(
            error.contains("t.yaml:4:25: expected a consumer's name"),
            "{error}"
        );
        let no_optional_route = format!(
            "{SERVICE}    anonymous_consumer: guest\n    routes: [{{name: r, paths: [/]}}]\nconsumers:\n  - name: guest\n"
        );
        let error = parse(&no_optional_route).unwrap_err();
        assert!(
            error.contains(
                "t.yaml:4:25: `anonymous_consumer` serves the routes with `auth: optional`"
            ),
            "{error}"
        );
        let flag_alone = format!(
            "{SERVICE}    anonymous_on_invalid_key: true\n    routes: [{{name: r, paths: [/], auth: optional}}]\n"
        );
        let error = parse(&flag_alone).unwrap_err();
        assert!(
            error.contains("t.yaml:4:31: `anonymous_on_invalid_key` needs an `anonymous_consumer`"),
            "{error}"
        );
    }
}
