//! Checks `responses:` (of `defaults` and of each service) and builds the answers to
//! refusals: a service's settings go over the defaults' field by field, and its templates
//! over the defaults' key by key.

use std::sync::Arc;

use bytes::Bytes;
use http::header::HeaderName;
use http::{HeaderValue, StatusCode};

use super::super::file::{At, FileResponses, FileTemplate};
use super::super::responses::{RefusalKey, Responses, Template, Wording};
use super::Checker;

/// Fields a template may not set: the framing and the ones the gateway writes itself.
const RESERVED: [&str; 6] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "content-type",
    "date",
    "www-authenticate",
];

impl Checker<'_> {
    /// `file` over `base`.
    pub(super) fn responses(&mut self, file: &At<FileResponses>, base: &Responses) -> Responses {
        let mut built = base.clone();
        let file = &file.value;
        if let Some(challenge) = &file.www_authenticate {
            built.challenge = match challenge.value.as_str() {
                "off" => None,
                text => match HeaderValue::from_str(text) {
                    Ok(value) if !text.trim().is_empty() => Some(value),
                    _ => {
                        self.report(
                            &challenge.referenced,
                            format!("expected a WWW-Authenticate value such as `Key realm=\"keygate\"`, or `off`, found `{text}`"),
                        );
                        built.challenge
                    }
                },
            };
        }
        if let Some(wording) = &file.wording {
            match wording.value.as_str() {
                "seed" => built.wording = Wording::Seed,
                "apisix" => built.wording = Wording::Apisix,
                other => self.report(
                    &wording.referenced,
                    format!("expected `seed` or `apisix`, found `{other}`"),
                ),
            }
        }
        for (name, template) in &file.templates {
            let Some(key) = RefusalKey::named(name) else {
                let names: Vec<&str> = RefusalKey::ALL.iter().map(|(n, _)| *n).collect();
                self.report(
                    &template.referenced,
                    format!(
                        "`{name}` is no refusal keygate answers; expected one of {}",
                        names.join(", ")
                    ),
                );
                continue;
            };
            if let Some(template) = self.template(template) {
                built.templates.retain(|(k, _)| *k != key);
                built.templates.push((key, Arc::new(template)));
            }
        }
        built
    }

    fn template(&mut self, template: &At<FileTemplate>) -> Option<Template> {
        let file = &template.value;
        let status = match StatusCode::from_u16(file.status.value) {
            Ok(status) if (200..=599).contains(&file.status.value) => status,
            _ => {
                self.report(
                    &file.status.referenced,
                    format!(
                        "expected a status from 200 to 599, found {}",
                        file.status.value
                    ),
                );
                return None;
            }
        };
        let body = Bytes::from(file.body.clone().unwrap_or_default());
        let content_type = match &file.content_type {
            Some(text) => match HeaderValue::from_str(&text.value) {
                Ok(value) => Some(value),
                Err(_) => {
                    self.report(
                        &text.referenced,
                        format!("`{}` is not a valid Content-Type", text.value),
                    );
                    None
                }
            },
            None => (!body.is_empty()).then(|| HeaderValue::from_static("application/json")),
        };
        let mut headers = Vec::new();
        for (name, value) in &file.headers {
            let parsed = HeaderName::from_bytes(name.as_bytes());
            let Ok(parsed) = parsed else {
                self.report(
                    &value.referenced,
                    format!("`{name}` is not a valid header name"),
                );
                continue;
            };
            if RESERVED.contains(&parsed.as_str()) {
                self.report(
                    &value.referenced,
                    format!("`{name}` is written by the gateway (use `content_type` for the body's type, `www_authenticate` for the challenge)"),
                );
                continue;
            }
            match HeaderValue::from_str(&value.value) {
                Ok(parsed_value) => headers.push((parsed, parsed_value)),
                Err(_) => self.report(
                    &value.referenced,
                    format!("the value of `{name}` is not a valid header value"),
                ),
            }
        }
        Some(Template {
            status,
            body,
            content_type,
            headers,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::config::{Config, RefusalKey, Wording};

    const SERVICE: &str =
        "  - name: s\n    upstream: http://127.0.0.1:9\n    routes: [{name: r, paths: ['/*']}]\n";

    #[test]
    fn a_service_goes_over_the_defaults() {
        let text = format!(
            "defaults:\n  responses:\n    www_authenticate: 'apikey realm=\"shop\"'\n    wording: apisix\n    templates:\n      API_KEY_INVALID: {{status: 401, body: '{{\"error\":\"bad key\"}}'}}\n\
             services:\n{SERVICE}    responses:\n      www_authenticate: 'off'\n      templates:\n        API_KEY_MISSING: {{status: 403, body: no key, content_type: text/plain, headers: {{X-Reason: missing}}}}\n{}",
            SERVICE.replace("name: s", "name: t")
        );
        let config = Config::parse("t.yaml", &text).unwrap();
        assert_eq!(
            config.responses.challenge.as_ref().unwrap(),
            "apikey realm=\"shop\""
        );
        let own = &config.services[0].responses;
        assert_eq!(own.challenge, None);
        assert_eq!(own.wording, Wording::Apisix);
        let missing = own.template(RefusalKey::ApiKeyMissing).unwrap();
        assert_eq!(missing.status, 403);
        assert_eq!(missing.content_type.as_ref().unwrap(), "text/plain");
        assert_eq!(missing.headers[0].0, "x-reason");
        let invalid = own.template(RefusalKey::ApiKeyInvalid).unwrap();
        assert_eq!(invalid.content_type.as_ref().unwrap(), "application/json");
        // The other service has the defaults.
        let other = &config.services[1].responses;
        assert_eq!(other.challenge.as_ref().unwrap(), "apikey realm=\"shop\"");
        assert!(other.template(RefusalKey::ApiKeyMissing).is_none());
    }

    #[test]
    fn mistakes_are_reported_at_their_position() {
        let text = format!(
            "services:\n{SERVICE}    responses:\n      wording: kong\n      templates:\n        API_KEY_GONE: {{status: 401}}\n        ACCESS_DENIED: {{status: 99}}\n        NOT_SUBSCRIBED: {{status: 403, headers: {{Content-Length: '3'}}}}\n"
        );
        let error = Config::parse("t.yaml", &text).unwrap_err().to_string();
        for expected in [
            "t.yaml:6:16: expected `seed` or `apisix`, found `kong`",
            "`API_KEY_GONE` is no refusal keygate answers",
            "expected a status from 200 to 599, found 99",
            "`Content-Length` is written by the gateway",
        ] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }
}
