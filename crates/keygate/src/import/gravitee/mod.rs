//! Gravitee: an API export (JSON; a v2 definition at the top level, or a v4 export with
//! `api`, `plans`, …), and the API's subscriptions with their keys when the file has a
//! `subscriptions` list (the Management API's subscription and API-key responses: the
//! export itself carries none).
//!
//! The API becomes one keygate service (context path as `path_prefix`, endpoints as
//! targets) with one route `/*`; API_KEY plans become plans (`propagateApiKey` as
//! `forward_key`, `validation` as `auto_approve`, selection rules translated by
//! [`rule`]); applications become consumers; subscriptions keep their status and own
//! keys (hashed).

pub mod rule;
mod templates;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::document::{
    Consumer, Document, KeySource, Plan, Route, Service, Subscription, Target, Upstream,
};
use super::{key_entry, list, text, unique_name, ImportError, Imported, Options, Report};

/// Imports a Gravitee export read as JSON.
pub fn import(file: &Value, options: Options) -> Result<Imported, ImportError> {
    let (api, v4) = match file.get("api") {
        Some(api) => (api, true),
        None if file.get("proxy").is_some() => (file, false),
        None => {
            return Err(ImportError::Shape(
                "not a Gravitee API export: neither `api` (v4) nor `proxy` (v2) is present".into(),
            ))
        }
    };
    let mut report = Report::default();
    let name = text(api, "name").unwrap_or("api");
    let item = format!("API {name}");
    let (prefix, hosts) = entrypoint(api, v4);
    let targets = endpoints(api, v4);
    if targets.is_empty() {
        return Err(ImportError::Shape(format!(
            "{item}: no HTTP endpoint with a target"
        )));
    }
    let mut service = Service {
        name: unique_name(name, &mut BTreeSet::new()),
        hosts,
        path_prefix: prefix.filter(|p| p != "/"),
        upstream: if targets.len() == 1 {
            Upstream::Url(targets[0].url.clone())
        } else {
            Upstream::Targets { targets }
        },
        key_sources: vec![
            KeySource::Header("X-Gravitee-Api-Key".into()),
            KeySource::Query("api-key".into()),
        ],
        routes: vec![Route {
            name: "all".into(),
            paths: vec!["/*".into()],
            ..Route::default()
        }],
        ..Service::default()
    };
    report.mapped(
        &item,
        format!(
            "service {} (path_prefix {}), one route `/*`; the context path is stripped as Gravitee does; keys in `X-Gravitee-Api-Key` or `?api-key=`, Gravitee's defaults",
            service.name,
            service.path_prefix.as_deref().unwrap_or("none")
        ),
    );
    service.responses = templates::templates(file, api, &item, &mut report);
    let plan_names = plans(file, &mut service, &mut report);
    if service.plans.is_empty() {
        report.changed(
            &item,
            "no API key plan: the route takes any valid key of the file",
        );
    }
    let mut document = Document::default();
    report.changed(
        "identity headers",
        "keygate sends its own (X-Consumer, …; docs/config.md): Gravitee sends none by default",
    );
    subscriptions(
        file,
        &service.name,
        &plan_names,
        options,
        &mut document,
        &mut report,
    );
    document.services.push(service);
    for field in [
        "members",
        "pages",
        "metadata",
        "flows",
        "resources",
        "properties",
    ] {
        let value = file.get(field).or_else(|| api.get(field));
        if value
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty())
        {
            report.left_out(
                format!("{item}: {field}"),
                "not a gateway concern keygate imports",
            );
        }
    }
    Ok(Imported { document, report })
}

/// The context path and virtual hosts.
fn entrypoint(api: &Value, v4: bool) -> (Option<String>, Vec<String>) {
    let paths: Vec<&Value> = if v4 {
        list(api, "listeners")
            .iter()
            .flat_map(|l| list(l, "paths"))
            .collect()
    } else {
        api.pointer("/proxy/virtual_hosts")
            .and_then(Value::as_array)
            .map(|v| v.iter().collect())
            .or_else(|| api.pointer("/proxy/context_path").map(|c| vec![c]))
            .unwrap_or_default()
    };
    let first = paths.first().copied();
    let path = first
        .and_then(|p| p.as_str().or_else(|| text(p, "path")))
        .map(|p| p.trim_end_matches('/').to_owned())
        .map(|p| if p.is_empty() { "/".to_owned() } else { p });
    let hosts = first
        .and_then(|p| text(p, "host"))
        .map(|h| vec![h.to_owned()])
        .unwrap_or_default();
    (path, hosts)
}

/// The HTTP endpoints' targets.
fn endpoints(api: &Value, v4: bool) -> Vec<Target> {
    let groups: &[Value] = if v4 {
        list(api, "endpointGroups")
    } else {
        api.pointer("/proxy/groups")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    };
    let mut targets = Vec::new();
    for group in groups {
        for endpoint in list(group, "endpoints") {
            let target = text(endpoint, "target").or_else(|| {
                endpoint
                    .pointer("/configuration/target")
                    .and_then(Value::as_str)
            });
            let backup = endpoint.get("backup").and_then(Value::as_bool) == Some(true);
            if let Some(url) =
                target.filter(|t| t.starts_with("http://") || t.starts_with("https://"))
            {
                if !backup {
                    let weight = endpoint
                        .get("weight")
                        .and_then(Value::as_u64)
                        .unwrap_or(1)
                        .max(1);
                    targets.push(Target {
                        url: url.trim_end_matches('/').to_owned(),
                        weight: u32::try_from(weight).unwrap_or(1),
                    });
                }
            }
        }
    }
    targets
}

/// The API_KEY plans; returns plan ids → keygate plan names.
fn plans(file: &Value, service: &mut Service, report: &mut Report) -> BTreeMap<String, String> {
    // v2 and v4 exports both list the plans at the top level.
    let api_plans = list(file, "plans");
    let mut names = BTreeSet::new();
    let mut by_id = BTreeMap::new();
    for plan in api_plans {
        let name = text(plan, "name").unwrap_or("plan");
        let item = format!("plan {name}");
        let security = plan
            .get("security")
            .and_then(|s| s.as_str().or_else(|| text(s, "type")))
            .unwrap_or("")
            .to_ascii_uppercase()
            .replace('-', "_");
        if security != "API_KEY" {
            report.left_out(
                item,
                format!("security {security}: keygate imports API key plans"),
            );
            continue;
        }
        let status = text(plan, "status")
            .unwrap_or("PUBLISHED")
            .to_ascii_uppercase();
        if status != "PUBLISHED" && status != "DEPRECATED" {
            report.left_out(
                item,
                format!("status {status}: only published and deprecated plans take calls"),
            );
            continue;
        }
        let configuration = plan
            .pointer("/security/configuration")
            .cloned()
            .or_else(|| text(plan, "securityDefinition").and_then(|d| serde_json::from_str(d).ok()))
            .unwrap_or(Value::Null);
        let propagate = configuration
            .get("propagateApiKey")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut imported = Plan {
            name: unique_name(name, &mut names),
            forward_key: propagate.then_some(true),
            auto_approve: (text(plan, "validation")
                .map(str::to_ascii_uppercase)
                .as_deref()
                == Some("MANUAL"))
            .then_some(false),
            description: text(plan, "description")
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            ..Plan::default()
        };
        let rule = text(plan, "selection_rule")
            .or_else(|| text(plan, "selectionRule"))
            .filter(|r| !r.trim().is_empty());
        if let Some(rule) = rule {
            match rule::translate(rule) {
                Some(expression) => {
                    report.mapped(
                        format!("{item}: selection rule {rule}"),
                        format!("`{expression}`"),
                    );
                    imported.selection_rule = Some(expression);
                }
                None => {
                    report.left_out(
                        format!("{item}: selection rule {rule}"),
                        "no keygate form: the plan is imported with `selection_rule: \"false\"` (it takes no call) until you write the rule",
                    );
                    imported.selection_rule = Some("false".into());
                }
            }
        }
        if !list(plan, "flows").is_empty()
            || plan
                .get("paths")
                .is_some_and(|p| p.as_object().is_some_and(|o| !o.is_empty()))
        {
            report.left_out(
                format!("{item}: flows"),
                "policies are not imported; give the plan `limits` for its rate limits and quotas",
            );
        }
        report.mapped(&item, format!("plan {}", imported.name));
        if let Some(id) = text(plan, "id") {
            by_id.insert(id.to_owned(), imported.name.clone());
        }
        by_id.insert(name.to_owned(), imported.name.clone());
        service.plans.push(imported);
    }
    by_id
}

/// Subscriptions: their application as a consumer, their status and their keys.
fn subscriptions(
    file: &Value,
    service: &str,
    plans: &BTreeMap<String, String>,
    options: Options,
    document: &mut Document,
    report: &mut Report,
) {
    let mut consumer_names = BTreeSet::new();
    let mut by_application: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for subscription in list(file, "subscriptions") {
        let application = subscription.get("application");
        let app_name = application
            .and_then(|a| a.as_str().or_else(|| text(a, "name")))
            .unwrap_or("application");
        let app_id = application
            .and_then(|a| text(a, "id"))
            .unwrap_or(app_name)
            .to_owned();
        let plan_ref = subscription
            .get("plan")
            .and_then(|p| p.as_str().or_else(|| text(p, "id")))
            .unwrap_or("");
        let id = text(subscription, "id").unwrap_or("subscription");
        let item = format!("subscription {id}");
        let Some(plan) = plans.get(plan_ref) else {
            report.left_out(
                item,
                format!("plan {plan_ref} is not an imported API key plan"),
            );
            continue;
        };
        let at = *by_application.entry(app_id).or_insert_with(|| {
            document.consumers.push(Consumer {
                name: unique_name(app_name, &mut consumer_names),
                ..Consumer::default()
            });
            document.consumers.len() - 1
        });
        let status = match text(subscription, "status")
            .unwrap_or("ACCEPTED")
            .to_ascii_uppercase()
            .as_str()
        {
            "PENDING" => "pending",
            "PAUSED" => "paused",
            "REJECTED" => "rejected",
            "CLOSED" => "closed",
            _ => "accepted",
        };
        let id = unique_name(id, &mut ids);
        let consumer = &mut document.consumers[at];
        let keys = list(subscription, "keys")
            .iter()
            .chain(list(subscription, "apiKeys"));
        for key in keys {
            let revoked = key.get("revoked").and_then(Value::as_bool) == Some(true)
                || key.get("expired").and_then(Value::as_bool) == Some(true);
            let Some(plaintext) = text(key, "key").filter(|_| !revoked) else {
                report.left_out(format!("{item}: a key"), "revoked, expired or empty");
                continue;
            };
            let Some(mut entry) = key_entry(plaintext, options, report) else {
                continue;
            };
            entry.subscription = Some(id.clone());
            entry.expires_at = key
                .get("expire_at")
                .or_else(|| key.get("expireAt"))
                .and_then(instant);
            consumer.keys.push(entry);
        }
        report.mapped(
            &item,
            format!("consumer {} on plan {plan}, {status}", consumer.name),
        );
        document.subscriptions.push(Subscription {
            reason: reason_of(subscription, status, &item, report),
            id,
            consumer: consumer.name.clone(),
            service: service.to_owned(),
            plan: plan.clone(),
            status,
            ends_at: subscription
                .get("ending_at")
                .or_else(|| subscription.get("endingAt"))
                .and_then(instant),
        });
    }
}

/// The publisher's message to the subscriber — `reason` in the Management API v1,
/// `publisherMessage` in v2 — kept for a rejection when it follows keygate's rule of
/// reasons ([`crate::subscription_reason`]); Gravitee's message on an acceptance is left
/// out.
fn reason_of(
    subscription: &Value,
    status: &str,
    item: &str,
    report: &mut Report,
) -> Option<String> {
    let message = text(subscription, "reason")
        .or_else(|| text(subscription, "publisherMessage"))
        .filter(|message| !message.trim().is_empty())?;
    if status != "rejected" {
        report.left_out(
            format!("{item}: the publisher's message"),
            "keygate keeps a reason for rejections only",
        );
        return None;
    }
    match crate::subscription_reason::check(message) {
        Ok(()) => Some(message.to_owned()),
        Err(problem) => {
            report.left_out(format!("{item}: its reason"), problem);
            None
        }
    }
}

/// An instant as RFC 3339: Gravitee writes milliseconds since 1970 or RFC 3339 text.
fn instant(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(ms) => {
            let nanos = i128::from(ms.as_i64()?) * 1_000_000;
            let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
            at.format(&time::format_description::well_known::Rfc3339)
                .ok()
        }
        _ => None,
    }
}
