//! APISIX: the standalone `apisix.yaml` or an Admin API dump (see [`source`]).
//!
//! Each APISIX route becomes a keygate service (its upstream, hosts and plugins are the
//! route's, or its service's) with one route holding the route's `uri`/`uris` and
//! methods; APISIX forwards the path as it came, so nothing is stripped. Consumers keep
//! their username, their `group_id` as a group, and their key-auth keys (the consumer's
//! own and 3.x credentials), hashed.

mod plugins;
mod source;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::Value;

use super::anonymous::{self, PeerWords};
use super::document::{
    Consumer, Defaults, Document, IdentityHeaders, Route, Service, Target, Upstream,
};
use super::{
    group_name, key_entry, strings, text, unique_name, ImportError, Imported, Options, Report,
};

/// An entity's id as text (APISIX ids are strings or numbers).
fn id_of(entity: &Value) -> Option<String> {
    match entity.get("id")? {
        Value::String(id) => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

fn find<'a>(entities: &'a [Value], id: &Value) -> Option<&'a Value> {
    let wanted = match id {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return None,
    };
    entities
        .iter()
        .find(|e| id_of(e).as_deref() == Some(wanted.as_str()))
}

/// Imports an APISIX file read as JSON.
pub fn import(file: &Value, options: Options) -> Result<Imported, ImportError> {
    let entities = source::entities(file)?;
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
    report.changed(
        "identity headers",
        "X-Consumer-Username and X-Credential-Identifier as APISIX names them, and the groups in X-Consumer-Groups (APISIX sends none); X-Consumer-Custom-Id is not sent",
    );
    let mut names = BTreeSet::new();
    for route in &entities["routes"] {
        route_service(route, &entities, &mut names, &mut document, &mut report);
    }
    let by_username = consumers(&entities, options, &mut document, &mut report);
    let words = PeerWords {
        missing: "APISIX answers 401 \"Invalid user authorization\"",
        differs: "the upstream gets X-Consumer-Username as from APISIX, and X-Anonymous-Consumer: true (as Kong sends it), the consumer's client-type and X-Consumer-Groups besides",
    };
    anonymous::resolve(
        &mut document,
        |username| by_username.get(username).cloned(),
        &words,
        &mut report,
    );
    for group in &entities["consumer_groups"] {
        let id = id_of(group).unwrap_or_default();
        let plugins = group.get("plugins").and_then(Value::as_object);
        if plugins.is_some_and(|p| !p.is_empty()) {
            report.left_out(
                format!("consumer group {id}: plugins"),
                "the group is kept as the consumers' group name; its plugins are not imported (give the routes `limits` by consumer instead)",
            );
        }
    }
    Ok(Imported { document, report })
}

/// One APISIX route as a keygate service.
fn route_service(
    route: &Value,
    entities: &source::Entities,
    names: &mut BTreeSet<String>,
    document: &mut Document,
    report: &mut Report,
) {
    let wanted = text(route, "name")
        .map(str::to_owned)
        .or_else(|| id_of(route))
        .unwrap_or_else(|| "route".into());
    let item = format!("route {wanted}");
    let service = route
        .get("service_id")
        .and_then(|id| find(&entities["services"], id));
    if route.get("service_id").is_some() && service.is_none() {
        report.left_out(item, "its service is not in the file");
        return;
    }
    let upstream = route
        .get("upstream")
        .or_else(|| {
            route
                .get("upstream_id")
                .and_then(|id| find(&entities["upstreams"], id))
        })
        .or_else(|| service.and_then(|s| s.get("upstream")))
        .or_else(|| {
            service
                .and_then(|s| s.get("upstream_id"))
                .and_then(|id| find(&entities["upstreams"], id))
        });
    let Some(upstream) = upstream else {
        report.left_out(item, "no upstream");
        return;
    };
    let (target, preserve_host) = match upstream_of(upstream, &item, report) {
        Ok(done) => done,
        Err(why) => {
            report.left_out(item, why);
            return;
        }
    };
    let mut paths = strings(route, "uris");
    paths.extend(text(route, "uri").map(str::to_owned));
    let mut hosts = strings(route, "hosts");
    hosts.extend(text(route, "host").map(str::to_owned));
    if hosts.is_empty() {
        if let Some(service) = service {
            hosts = strings(service, "hosts");
        }
    }
    for field in ["vars", "filter_func", "remote_addrs", "priority"] {
        if route.get(field).is_some() {
            report.left_out(
                format!("{item}: {field}"),
                "keygate routes by host, path and method",
            );
        }
    }
    let mut keygate_route = Route {
        name: "route".into(),
        paths,
        methods: strings(route, "methods"),
        ..Route::default()
    };
    let mut cors = None;
    plugins::apply(
        &plugins::merged(route, service),
        &mut keygate_route,
        &mut cors,
        &item,
        report,
    );
    let name = unique_name(&wanted, names);
    report.mapped(
        item,
        format!(
            "service {name}: paths {}, forwarded as they came",
            keygate_route.paths.join(", ")
        ),
    );
    document.services.push(Service {
        name,
        hosts,
        preserve_host: preserve_host.then_some(true),
        upstream: target,
        routes: vec![keygate_route],
        cors,
        ..Service::default()
    });
}

/// An APISIX upstream: its nodes as targets, and whether the client's Host goes on
/// (`pass_host: pass`, APISIX's default).
fn upstream_of(
    upstream: &Value,
    item: &str,
    report: &mut Report,
) -> Result<(Upstream, bool), String> {
    let scheme = text(upstream, "scheme").unwrap_or("http");
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme {scheme}: keygate forwards HTTP and HTTPS"));
    }
    let mut nodes: Vec<(String, u32)> = Vec::new();
    match upstream.get("nodes") {
        Some(Value::Object(map)) => {
            for (address, weight) in map {
                nodes.push((address.clone(), weight.as_u64().unwrap_or(1) as u32));
            }
        }
        Some(Value::Array(list)) => {
            for node in list {
                let host = text(node, "host").unwrap_or("");
                let port = node.get("port").and_then(Value::as_u64);
                let address = port.map_or(host.to_owned(), |p| format!("{host}:{p}"));
                nodes.push((
                    address,
                    node.get("weight").and_then(Value::as_u64).unwrap_or(1) as u32,
                ));
            }
        }
        _ => {}
    }
    nodes.retain(|(address, weight)| !address.is_empty() && *weight > 0);
    if nodes.is_empty() {
        return Err(
            "the upstream has no node of positive weight (service discovery is not imported)"
                .into(),
        );
    }
    let kind = text(upstream, "type").unwrap_or("roundrobin");
    if kind != "roundrobin" {
        report.changed(
            format!("{item}: upstream type {kind}"),
            "round robin; keygate also has `balance: least_outstanding` and `hash`",
        );
    }
    let preserve = match text(upstream, "pass_host").unwrap_or("pass") {
        "pass" => true,
        "node" => false,
        other => {
            report.left_out(
                format!("{item}: pass_host {other}"),
                "the target's own host is sent",
            );
            false
        }
    };
    let upstream = if nodes.len() == 1 {
        Upstream::Url(format!("{scheme}://{}", nodes[0].0))
    } else {
        Upstream::Targets {
            targets: nodes
                .into_iter()
                .map(|(address, weight)| Target {
                    url: format!("{scheme}://{address}"),
                    weight,
                })
                .collect(),
        }
    };
    Ok((upstream, preserve))
}

/// Consumers, their group and their key-auth keys. Returns each one's keygate name by
/// its APISIX username.
fn consumers(
    entities: &source::Entities,
    options: Options,
    document: &mut Document,
    report: &mut Report,
) -> std::collections::BTreeMap<String, String> {
    let mut names = BTreeSet::new();
    let mut by_username = std::collections::BTreeMap::new();
    for consumer in &entities["consumers"] {
        let wanted = text(consumer, "username").unwrap_or("consumer");
        let name = unique_name(wanted, &mut names);
        if name != wanted {
            report.changed(format!("consumer {wanted}"), format!("named {name}"));
        }
        let mut imported = Consumer {
            name,
            description: text(consumer, "desc").map(str::to_owned),
            ..Consumer::default()
        };
        if let Some(group) = text(consumer, "group_id") {
            match group_name(group) {
                Some(group) => imported.groups.push(group),
                None => report.left_out(
                    format!("consumer {wanted}: group {group}"),
                    "not a valid group name",
                ),
            }
        }
        if let Some(key) = consumer
            .pointer("/plugins/key-auth/key")
            .and_then(Value::as_str)
        {
            imported.keys.extend(key_entry(key, options, report));
        }
        let plugins = consumer.get("plugins").and_then(Value::as_object);
        for plugin in plugins.into_iter().flatten().map(|(name, _)| name) {
            if plugin != "key-auth" {
                report.left_out(
                    format!("consumer {wanted}: plugin {plugin}"),
                    "per-consumer plugins are not imported; give the consumer `limits` (an anonymous consumer's too) or the routes limits `by: consumer`",
                );
            }
        }
        by_username.insert(wanted.to_owned(), document.consumers.len());
        document.consumers.push(imported);
    }
    for credential in &entities["credentials"] {
        let owner = source::credential_owner(credential).and_then(|o| by_username.get(o));
        let key = credential
            .pointer("/plugins/key-auth/key")
            .and_then(Value::as_str);
        match (owner, key) {
            (Some(&at), Some(key)) => {
                let Some(mut entry) = key_entry(key, options, report) else {
                    continue;
                };
                entry.id = id_of(credential)
                    .and_then(|id| id.rsplit('/').next().map(str::to_owned))
                    .filter(|id| crate::config::is_valid_name(id));
                document.consumers[at].keys.push(entry);
            }
            _ => report.left_out(
                "a credential",
                "not a key-auth credential of a consumer in the file",
            ),
        }
    }
    let keys: usize = document.consumers.iter().map(|c| c.keys.len()).sum();
    report.mapped(
        format!("{} consumers", document.consumers.len()),
        format!("{keys} key-auth keys (consumers' own and credentials), group_id as a group"),
    );
    by_username
        .into_iter()
        .map(|(username, at)| (username, document.consumers[at].name.clone()))
        .collect()
}
