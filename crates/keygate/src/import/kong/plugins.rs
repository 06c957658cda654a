//! Kong's plugins that keygate has an answer for — key-auth, acl, rate-limiting — turned
//! into a route's key sources, `forward_key`, `allow` expression and limits. Every other
//! plugin, and every option these have that keygate lacks, is a report line.

use serde_json::Value;

use crate::import::cors::{policy, Wanted};
use crate::import::document::{Cors, KeySource, Limit, PeerAnonymous, Route};
use crate::import::{any_group, list, strings, text, Report};

/// The plugins in force on one route: the route's own, else its service's, else the
/// global one of each name (Kong's precedence for plugins without a consumer).
pub(super) fn in_force<'a>(
    route: &'a Value,
    service: &'a Value,
    global: &'a [Value],
) -> Vec<&'a Value> {
    let mut chosen: Vec<&Value> = Vec::new();
    for plugin in list(route, "plugins")
        .iter()
        .chain(list(service, "plugins"))
        .chain(global)
    {
        if plugin.get("enabled") == Some(&Value::Bool(false)) {
            continue;
        }
        let name = text(plugin, "name");
        if !chosen.iter().any(|c| text(c, "name") == name) {
            chosen.push(plugin);
        }
    }
    chosen
}

/// Sets `route` as the plugins say, and `cors` to the cors plugin's policy (a keygate
/// service's); `item` names the Kong route in the report.
pub(super) fn apply(
    plugins: &[&Value],
    route: &mut Route,
    cors: &mut Option<Cors>,
    item: &str,
    report: &mut Report,
) {
    let mut keyed = false;
    for plugin in plugins {
        let config = plugin.get("config").unwrap_or(&Value::Null);
        match text(plugin, "name").unwrap_or("") {
            "key-auth" => {
                keyed = true;
                key_auth(config, route, item, report);
            }
            "acl" => acl(config, route, item, report),
            "rate-limiting" => rate_limiting(config, route, item, report),
            "cors" => *cors = kong_cors(config, item, report),
            other => report.left_out(
                format!("{item}: plugin {other}"),
                "keygate has no such plugin; do its work in front of or behind keygate",
            ),
        }
    }
    if !keyed {
        route.auth = Some("none");
        report.mapped(
            format!("{item}: no key-auth"),
            "`auth: none`: the route is open, as in Kong",
        );
    }
}

fn flag(config: &Value, field: &str, default: bool) -> bool {
    config
        .get(field)
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// key-auth: `key_names` in headers, the query and (`key_in_body`) the body,
/// `hide_credentials`, and the `anonymous` consumer (found among the imported consumers
/// later: `import::anonymous`).
fn key_auth(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let mut names = strings(config, "key_names");
    if names.is_empty() {
        names.push("apikey".into());
    }
    let (in_header, in_query) = (
        flag(config, "key_in_header", true),
        flag(config, "key_in_query", true),
    );
    for name in &names {
        if in_header {
            route.key_sources.push(KeySource::Header(name.clone()));
        }
        if in_query {
            route.key_sources.push(KeySource::Query(name.clone()));
        }
    }
    report.mapped(
        format!("{item}: key-auth key_names {}", names.join(", ")),
        "key sources: headers and query parameters of those names",
    );
    if names.iter().any(|n| n.contains('_')) && in_header {
        report.changed(
            format!("{item}: key-auth header names with `_`"),
            "keygate drops request fields whose names hold `_` unless `proxy.underscores_in_headers: true` (nginx's rule); set it in the gateway's file, or send the key as a query parameter",
        );
    }
    let hide = flag(config, "hide_credentials", false);
    route.forward_key = Some(!hide);
    report.mapped(
        format!("{item}: key-auth hide_credentials {hide}"),
        format!("`forward_key: {}`", !hide),
    );
    if flag(config, "key_in_body", false) {
        for name in &names {
            route.key_sources.push(KeySource::Body(name.clone()));
        }
        report.mapped(
            format!("{item}: key-auth key_in_body"),
            "a `body` key source per name, after the header and query sources: form, JSON and multipart bodies",
        );
        report.changed(
            format!("{item}: key-auth key_in_body"),
            "keygate reads every name's header and query before any body field (Kong goes name by name); it reads bodies up to `proxy.max_key_body_bytes` (64 KiB) and refuses a longer one (413) or one it cannot parse (400), where Kong forwards them without reading a key; the field goes from the body unless the key is forwarded, whichever source the key came from",
        );
    }
    if let Some(anonymous) = text(config, "anonymous").filter(|a| !a.is_empty()) {
        route.anonymous = Some(PeerAnonymous {
            reference: anonymous.to_owned(),
            item: item.to_owned(),
        });
    }
}

/// acl: `allow` / `deny` groups (and their old names) as an `allow` expression on the
/// consumer's groups.
fn acl(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let allow = [strings(config, "allow"), strings(config, "whitelist")].concat();
    let deny = [strings(config, "deny"), strings(config, "blacklist")].concat();
    let mut parts = Vec::new();
    if !allow.is_empty() {
        parts.push(any_group(&allow));
    }
    if !deny.is_empty() {
        parts.push(format!("!({})", any_group(&deny)));
    }
    if parts.is_empty() {
        report.left_out(format!("{item}: acl"), "no allow or deny groups");
        return;
    }
    let expression = parts.join(" && ");
    report.mapped(
        format!("{item}: acl"),
        format!("`allow: {expression}` (403 when false, as Kong)"),
    );
    route.allow = Some(expression);
    if flag(config, "hide_groups_header", false) {
        report.changed(
            format!("{item}: acl hide_groups_header"),
            "keygate always sends the groups header; set `defaults.identity_headers.groups` to another name if the upstream must not see it",
        );
    }
}

/// rate-limiting: one limit per window, counted as `limit_by` says.
fn rate_limiting(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let by = match text(config, "limit_by").unwrap_or("consumer") {
        "consumer" => Some("consumer".to_owned()),
        "credential" => Some("key".to_owned()),
        "ip" => Some("client_address".to_owned()),
        "header" => text(config, "header_name").map(|h| format!("header:{h}")),
        other => {
            report.left_out(
                format!("{item}: rate-limiting limit_by {other}"),
                "keygate counts by key, consumer, subscription, client address or header",
            );
            return;
        }
    };
    for (field, per) in [
        ("second", "second"),
        ("minute", "minute"),
        ("hour", "hour"),
        ("day", "day"),
        ("month", "month"),
    ] {
        if let Some(count) = config.get(field).and_then(Value::as_f64) {
            if count >= 1.0 {
                route.limits.push(Limit {
                    count: count as u64,
                    per,
                    by: by.clone(),
                });
            }
        }
    }
    if config.get("year").is_some_and(|y| !y.is_null()) {
        report.left_out(
            format!("{item}: rate-limiting year"),
            "keygate's longest window is a month",
        );
    }
    report.changed(
        format!("{item}: rate-limiting"),
        "limits of the route; keygate spreads each count over its window (GCRA) where Kong counts fixed windows, and a service-wide Kong limit is counted per route",
    );
}

/// cors: Kong's fields under keygate's names. Kong's default methods (all of them, with
/// OPTIONS, TRACE and CONNECT) become keygate's; `preflight_continue` (preflights sent
/// upstream) is reported, as keygate always answers them.
fn kong_cors(config: &Value, item: &str, report: &mut Report) -> Option<Cors> {
    if flag(config, "preflight_continue", false) {
        report.changed(
            format!("{item}: cors preflight_continue"),
            "keygate answers preflights itself; the upstream does not see them",
        );
    }
    let wanted = Wanted {
        origins: strings(config, "origins"),
        methods: strings(config, "methods"),
        headers: strings(config, "headers"),
        expose_headers: strings(config, "exposed_headers"),
        credentials: flag(config, "credentials", false),
        max_age: config.get("max_age").and_then(Value::as_u64),
    };
    policy(wanted, item, report)
}
