//! Kong: decK's declarative file (`kong.yaml`, `_format_version` 1.1 to 3.0).
//!
//! A Kong route becomes a keygate service per path (keygate's `path_prefix` is one path;
//! Kong's `strip_path`, `hosts` and `preserve_host` are per route), with one route `/*`
//! holding the route's methods and what its key-auth, acl and rate-limiting plugins
//! say. Consumers keep their username, ACL groups and key-auth credentials (hashed).

mod plugins;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::anonymous::{self, PeerWords};
use super::document::{
    Consumer, Defaults, Document, IdentityHeaders, Route, Service, Target, Upstream,
};
use super::{
    group_name, key_entry, list, strings, text, unique_name, ImportError, Imported, Options, Report,
};

/// Imports a decK file read as JSON.
pub fn import(file: &Value, options: Options) -> Result<Imported, ImportError> {
    if file.get("_format_version").is_none() {
        return Err(ImportError::Shape(
            "not a decK file: `_format_version` is missing (write it with `deck gateway dump`)"
                .into(),
        ));
    }
    let mut report = Report::default();
    let mut document = Document {
        defaults: Some(Defaults {
            identity_headers: IdentityHeaders {
                consumer: "X-Consumer-Username",
                credential: "X-Credential-Identifier",
                groups: "X-Consumer-Groups",
            },
        }),
        ..Document::default()
    };
    report.mapped(
        "identity headers",
        "X-Consumer-Username, X-Credential-Identifier, X-Consumer-Groups, X-Consumer-ID (the consumer's id, kept in metadata.id) and X-Consumer-Custom-ID (metadata.custom_id) as Kong sends them",
    );
    let upstreams = upstreams(file);
    let global = list(file, "plugins");
    let mut names = BTreeSet::new();
    for service in list(file, "services") {
        services(
            service,
            global,
            &upstreams,
            &mut names,
            &mut document,
            &mut report,
        );
    }
    for route in list(file, "routes") {
        report.left_out(
            format!("route {}", text(route, "name").unwrap_or("(unnamed)")),
            "a route without a service has nowhere to send calls",
        );
    }
    let by_reference = consumers(file, options, &mut document, &mut report);
    let names: BTreeMap<String, String> = by_reference
        .into_iter()
        .map(|(reference, at)| (reference, document.consumers[at].name.clone()))
        .collect();
    let words = PeerWords {
        missing: "Kong answers 500",
        differs: "the upstream gets X-Consumer-ID, X-Consumer-Custom-ID, X-Consumer-Username and X-Anonymous-Consumer: true as from Kong, and the consumer's client-type and X-Consumer-Groups besides",
    };
    anonymous::resolve(
        &mut document,
        |reference| names.get(reference).cloned(),
        &words,
        &mut report,
    );
    for name in [
        "certificates",
        "ca_certificates",
        "snis",
        "vaults",
        "consumer_groups",
    ] {
        if !list(file, name).is_empty() {
            report.left_out(
                name,
                "not imported: keygate configures TLS in its own file, and has no vaults or consumer groups (groups are the consumers' ACL groups)",
            );
        }
    }
    Ok(Imported { document, report })
}

/// Kong upstreams by name: their targets as URLs without scheme, with weights.
fn upstreams(file: &Value) -> BTreeMap<String, Vec<(String, u32)>> {
    list(file, "upstreams")
        .iter()
        .filter_map(|upstream| {
            let targets = list(upstream, "targets")
                .iter()
                .filter_map(|t| {
                    let target = text(t, "target")?;
                    let weight = t.get("weight").and_then(Value::as_u64).unwrap_or(100);
                    let with_port = if target.rsplit_once(':').is_some_and(|(_, p)| {
                        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
                    }) {
                        target.to_owned()
                    } else {
                        format!("{target}:8000")
                    };
                    (weight > 0).then(|| (with_port, u32::try_from(weight).unwrap_or(u32::MAX)))
                })
                .collect();
            Some((text(upstream, "name")?.to_owned(), targets))
        })
        .collect()
}

/// Where a Kong service sends calls, or why it cannot be imported.
fn upstream(
    service: &Value,
    upstreams: &BTreeMap<String, Vec<(String, u32)>>,
) -> Result<Upstream, String> {
    let (protocol, host, port, path) = match text(service, "url") {
        Some(url) => split_url(url).ok_or_else(|| format!("cannot read url `{url}`"))?,
        None => (
            text(service, "protocol").unwrap_or("http").to_owned(),
            text(service, "host").ok_or("no host")?.to_owned(),
            service
                .get("port")
                .and_then(Value::as_u64)
                .map(|p| p.to_string()),
            text(service, "path").unwrap_or("").to_owned(),
        ),
    };
    if protocol != "http" && protocol != "https" {
        return Err(format!(
            "protocol {protocol}: keygate forwards HTTP and HTTPS"
        ));
    }
    let path = path.trim_end_matches('/');
    if let Some(targets) = upstreams.get(&host) {
        if targets.is_empty() {
            return Err(format!("upstream {host} has no target of positive weight"));
        }
        return Ok(Upstream::Targets {
            targets: targets
                .iter()
                .map(|(address, weight)| Target {
                    url: format!("{protocol}://{address}{path}"),
                    weight: *weight,
                })
                .collect(),
        });
    }
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Upstream::Url(format!("{protocol}://{host}{port}{path}")))
}

/// `scheme://host[:port][/path]` in parts.
fn split_url(url: &str) -> Option<(String, String, Option<String>, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host.to_owned(), Some(port.to_owned()))
        }
        _ => (authority.to_owned(), None),
    };
    Some((scheme.to_owned(), host, port, path.to_owned()))
}

/// A Kong service: one keygate service per (route path, hosts, strip_path,
/// preserve_host), holding a route per Kong route.
fn services(
    service: &Value,
    global: &[Value],
    upstreams: &BTreeMap<String, Vec<(String, u32)>>,
    names: &mut BTreeSet<String>,
    document: &mut Document,
    report: &mut Report,
) {
    let service_name = text(service, "name").unwrap_or("service");
    let item = format!("service {service_name}");
    let upstream_of = || upstream(service, upstreams);
    if let Err(why) = upstream_of() {
        report.left_out(item, why);
        return;
    }
    let tuned: Vec<&str> = [
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "retries",
    ]
    .into_iter()
    .filter(|field| service.get(*field).is_some())
    .collect();
    if !tuned.is_empty() {
        report.left_out(
            format!("{item}: {}", tuned.join(", ")),
            "keygate's defaults apply; set `upstream.connect_timeout`, `read_timeout`, `send_timeout`, `retries` by hand if they matter",
        );
    }
    let routes = list(service, "routes");
    if routes.is_empty() {
        report.left_out(item, "no routes: Kong does not reach it either");
        return;
    }
    // Keygate services made from this Kong service, by what they share.
    let mut made: BTreeMap<(Vec<String>, String, bool, bool), usize> = BTreeMap::new();
    for route in routes {
        let route_name = text(route, "name").unwrap_or("route");
        let route_item = format!("route {service_name}/{route_name}");
        let mut paths = strings(route, "paths");
        if paths.is_empty() {
            paths.push("/".into());
        }
        let mut hosts = strings(route, "hosts");
        hosts.sort();
        let strip = route
            .get("strip_path")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let preserve = route
            .get("preserve_host")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        for protocol in strings(route, "protocols") {
            if protocol != "http" && protocol != "https" {
                report.left_out(
                    format!("{route_item}: protocol {protocol}"),
                    "keygate routes HTTP and HTTPS",
                );
            }
        }
        let plugins = plugins::in_force(route, service, global);
        for path in paths {
            if path.starts_with('~') {
                report.left_out(
                    format!("{route_item}: path {path}"),
                    "regular-expression paths have no keygate form: write them as path patterns (`/users/{id}`, `/files/*`)",
                );
                continue;
            }
            let prefix = path.trim_end_matches('/').to_owned();
            let first = made.is_empty();
            let at = *made
                .entry((hosts.clone(), prefix.clone(), strip, preserve))
                .or_insert_with(|| {
                    let wanted = if first {
                        service_name.to_owned()
                    } else {
                        format!("{service_name}-{route_name}")
                    };
                    document.services.push(Service {
                        name: unique_name(&wanted, names),
                        hosts: hosts.clone(),
                        path_prefix: (!prefix.is_empty()).then(|| prefix.clone()),
                        strip_prefix: (!strip).then_some(false),
                        preserve_host: preserve.then_some(true),
                        upstream: upstream_of().unwrap_or_default(),
                        ..Service::default()
                    });
                    document.services.len() - 1
                });
            let target = &mut document.services[at];
            let mut used: BTreeSet<String> = target.routes.iter().map(|r| r.name.clone()).collect();
            let mut keygate_route = Route {
                name: unique_name(route_name, &mut used),
                paths: vec!["/*".into()],
                methods: strings(route, "methods"),
                ..Route::default()
            };
            let mut cors = None;
            plugins::apply(&plugins, &mut keygate_route, &mut cors, &route_item, report);
            match (&target.cors, cors) {
                (_, None) => {}
                (None, Some(cors)) => target.cors = Some(cors),
                (Some(kept), Some(cors)) if *kept == cors => {}
                (Some(_), Some(_)) => report.changed(
                    format!("{route_item}: plugin cors"),
                    format!(
                        "service {} has one `cors:` policy, the one of its first route",
                        target.name
                    ),
                ),
            }
            report.mapped(
                format!("{route_item}: path {path}"),
                format!(
                    "service {} (path_prefix {}, strip_prefix {strip}), route {}",
                    target.name,
                    if prefix.is_empty() { "none" } else { &prefix },
                    keygate_route.name
                ),
            );
            target.routes.push(keygate_route);
        }
    }
    report.changed(
        item,
        "Kong matches path prefixes anywhere (`/orders` matches `/ordersX`); keygate at a `/` boundary only",
    );
}

/// Consumers, their ACL groups and key-auth credentials (nested, or top-level with a
/// `consumer` field). Returns where each consumer went in `document.consumers`, by each
/// of Kong's references to it (username, id, custom id).
fn consumers(
    file: &Value,
    options: Options,
    document: &mut Document,
    report: &mut Report,
) -> BTreeMap<String, usize> {
    let mut names = BTreeSet::new();
    let mut by_reference: BTreeMap<String, usize> = BTreeMap::new();
    for consumer in list(file, "consumers") {
        let wanted = text(consumer, "username")
            .or_else(|| text(consumer, "custom_id"))
            .or_else(|| text(consumer, "id"))
            .unwrap_or("consumer");
        let name = unique_name(wanted, &mut names);
        if name != wanted {
            report.changed(
                format!("consumer {wanted}"),
                format!("named {name}: keygate names use letters, digits, `.`, `_`, `-`"),
            );
        }
        let mut imported = Consumer {
            name,
            ..Consumer::default()
        };
        // Kong's ids go on upstream as X-Consumer-ID and X-Consumer-Custom-ID.
        for field in ["id", "custom_id"] {
            if let Some(value) = text(consumer, field) {
                imported.metadata.insert(field.into(), value.into());
            }
        }
        for reference in ["username", "id", "custom_id"] {
            if let Some(value) = text(consumer, reference) {
                by_reference.insert(value.to_owned(), document.consumers.len());
            }
        }
        for plugin in list(consumer, "plugins") {
            report.left_out(
                format!(
                    "consumer {}: plugin {}",
                    imported.name,
                    text(plugin, "name").unwrap_or("?")
                ),
                "per-consumer plugins are not imported; give the consumer's keys their own `limits` with `keygate keys`",
            );
        }
        document.consumers.push(imported);
        credentials(
            consumer,
            document.consumers.len() - 1,
            options,
            document,
            report,
        );
    }
    for (field, kind) in [("keyauth_credentials", "credential"), ("acls", "acl")] {
        for entry in list(file, field) {
            let owner = entry
                .get("consumer")
                .and_then(|c| {
                    c.as_str()
                        .or_else(|| text(c, "username"))
                        .or_else(|| text(c, "id"))
                })
                .and_then(|c| by_reference.get(c).copied());
            match owner {
                Some(at) => {
                    let wrapped = serde_json::json!({ field: [entry] });
                    credentials(&wrapped, at, options, document, report);
                }
                None => report.left_out(
                    format!("top-level {kind}"),
                    "its consumer is not in the file",
                ),
            }
        }
    }
    let (count, keys) = (
        document.consumers.len(),
        document
            .consumers
            .iter()
            .map(|c| c.keys.len())
            .sum::<usize>(),
    );
    report.mapped(
        format!("{count} consumers"),
        format!("{keys} key-auth credentials as keys, ACL groups as groups, custom_id as metadata.custom_id"),
    );
    by_reference
}

/// The key-auth credentials and ACL groups of `consumer` added to the keygate consumer
/// at `at`.
fn credentials(
    consumer: &Value,
    at: usize,
    options: Options,
    document: &mut Document,
    report: &mut Report,
) {
    let target = &mut document.consumers[at];
    for acl in list(consumer, "acls") {
        match text(acl, "group").and_then(group_name) {
            Some(group) if !target.groups.contains(&group) => target.groups.push(group),
            Some(_) => {}
            None => report.left_out(
                format!(
                    "consumer {}: acl group {:?}",
                    target.name,
                    text(acl, "group")
                ),
                "a group name cannot hold a comma, a space or a control character",
            ),
        }
    }
    for credential in list(consumer, "keyauth_credentials") {
        let Some(key) = text(credential, "key").filter(|k| !k.is_empty()) else {
            report.left_out(
                format!("consumer {}: a key-auth credential", target.name),
                "it has no key",
            );
            continue;
        };
        let Some(mut entry) = key_entry(key, options, report) else {
            continue;
        };
        entry.id = text(credential, "id")
            .filter(|id| crate::config::is_valid_name(id))
            .map(str::to_owned);
        if credential.get("ttl").is_some_and(|t| !t.is_null()) {
            report.left_out(
                format!("consumer {}: credential ttl", target.name),
                "the key is imported without an expiry; set one with `keygate keys update --expires-at`",
            );
        }
        target.keys.push(entry);
    }
}
