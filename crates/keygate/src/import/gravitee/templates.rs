//! Gravitee's response templates (`response_templates` in v2, `responseTemplates` in v4)
//! as the service's `responses.templates`. Gravitee keys a template by error key and by
//! the `Accept` it answers; keygate has one template per refusal, so the `*/*` one is
//! taken (else `application/json`, else the first) and the others are reported.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::RefusalKey;
use crate::import::document::{Responses, Template};
use crate::import::Report;

/// The templates of `api` (or of the export `file`), reported under `item`; `None` when
/// it has none that keygate can answer with.
pub(super) fn templates(
    file: &Value,
    api: &Value,
    item: &str,
    report: &mut Report,
) -> Option<Responses> {
    let found = ["responseTemplates", "response_templates"]
        .iter()
        .find_map(|field| api.get(*field).or_else(|| file.get(*field)))
        .and_then(Value::as_object)?;
    let mut templates = BTreeMap::new();
    for (key, by_type) in found {
        let what = format!("{item}: response template {key}");
        let kept = match key.as_str() {
            "GATEWAY_PLAN_UNRESOLVABLE" => {
                report.changed(
                    &what,
                    "as NOT_SUBSCRIBED: keygate's refusal of a key no plan lets through (403 unless the template says otherwise)",
                );
                "NOT_SUBSCRIBED"
            }
            known if RefusalKey::named(known).is_some() => known,
            _ => {
                report.left_out(&what, "keygate has no such refusal, or no template for it (DEFAULT, timeouts, policies it lacks)");
                continue;
            }
        };
        let Some(by_type) = by_type.as_object().filter(|m| !m.is_empty()) else {
            report.left_out(&what, "no template in it");
            continue;
        };
        let (accept, chosen) = ["*/*", "application/json"]
            .iter()
            .find_map(|accept| by_type.get(*accept).map(|t| (*accept, t)))
            .or_else(|| by_type.iter().next().map(|(a, t)| (a.as_str(), t)))
            .unwrap_or(("*/*", &Value::Null));
        if by_type.len() > 1 {
            report.changed(
                &what,
                format!("the `{accept}` one answers every client: keygate has one template per refusal, whatever the Accept"),
            );
        }
        let Some(template) = template(chosen) else {
            report.left_out(&what, "no status from 200 to 599");
            continue;
        };
        if template.body.contains("{#") {
            report.changed(
                &what,
                "its body's expressions are sent as written: keygate's templates are plain text",
            );
        }
        report.mapped(&what, format!("responses.templates.{kept}"));
        templates.insert(kept.to_owned(), template);
    }
    (!templates.is_empty()).then_some(Responses { templates })
}

/// One of Gravitee's templates: status, headers (its Content-Type apart) and body.
fn template(value: &Value) -> Option<Template> {
    let status = value.get("status").and_then(Value::as_u64)?;
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (200..=599).contains(s))?;
    let mut headers = BTreeMap::new();
    let mut content_type = None;
    for (name, field) in value
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let Some(text) = field.as_str() else { continue };
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(text.to_owned());
        } else if ![
            "content-length",
            "transfer-encoding",
            "connection",
            "date",
            "www-authenticate",
        ]
        .contains(&name.to_ascii_lowercase().as_str())
        {
            headers.insert(name.clone(), text.to_owned());
        }
    }
    Some(Template {
        status,
        body: value
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        content_type,
        headers,
    })
}
