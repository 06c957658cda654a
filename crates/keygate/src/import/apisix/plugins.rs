//! APISIX plugins keygate has an answer for — key-auth, consumer-restriction,
//! limit-count — turned into a route's key sources, `forward_key`, `allow` and limits.

use serde_json::{Map, Value};

use crate::import::cors::{policy, Wanted};
use crate::import::document::{Cors, KeySource, Limit, PeerAnonymous, Route};
use crate::import::{any_group, quote, strings, text, Report};

/// The plugins of a route over those of its service (APISIX: the route's win).
pub(super) fn merged(route: &Value, service: Option<&Value>) -> Map<String, Value> {
    let mut plugins = service
        .and_then(|s| s.get("plugins"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(own) = route.get("plugins").and_then(Value::as_object) {
        plugins.extend(own.clone());
    }
    plugins.retain(|_, config| {
        config.pointer("/_meta/disable").and_then(Value::as_bool) != Some(true)
    });
    plugins
}

/// Sets `route` as the plugins say, and `cors` to the cors plugin's policy (the keygate
/// service's, one per APISIX route).
pub(super) fn apply(
    plugins: &Map<String, Value>,
    route: &mut Route,
    cors: &mut Option<Cors>,
    item: &str,
    report: &mut Report,
) {
    for (name, config) in plugins {
        match name.as_str() {
            "key-auth" => key_auth(config, route, item, report),
            "consumer-restriction" => restriction(config, route, item, report),
            "limit-count" => limit_count(config, route, item, report),
            "cors" => *cors = apisix_cors(config, item, report),
            "proxy-rewrite" => report.left_out(
                format!("{item}: plugin proxy-rewrite"),
                "write the upstream path as the upstream URL's path, or a service `path_prefix` with `strip_prefix`",
            ),
            other => report.left_out(
                format!("{item}: plugin {other}"),
                "keygate has no such plugin; do its work in front of or behind keygate",
            ),
        }
    }
    if !plugins.contains_key("key-auth") {
        route.auth = Some("none");
        report.mapped(
            format!("{item}: no key-auth"),
            "`auth: none`, open as in APISIX",
        );
    }
}

fn key_auth(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let header = text(config, "header").unwrap_or("apikey");
    let query = text(config, "query").unwrap_or("apikey");
    route.key_sources = vec![
        KeySource::Header(header.to_owned()),
        KeySource::Query(query.to_owned()),
    ];
    let hide = config
        .get("hide_credentials")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    route.forward_key = Some(!hide);
    report.mapped(
        format!("{item}: key-auth"),
        format!("header {header}, query {query}, `forward_key: {}`", !hide),
    );
    if let Some(anonymous) = text(config, "anonymous_consumer").filter(|a| !a.is_empty()) {
        // Found among the imported consumers later (`import::anonymous`).
        route.anonymous = Some(PeerAnonymous {
            reference: anonymous.to_owned(),
            item: item.to_owned(),
        });
    }
}

fn restriction(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let kind = text(config, "type").unwrap_or("consumer_name");
    let allow = [strings(config, "whitelist"), strings(config, "allowed")].concat();
    let deny = [strings(config, "blacklist"), strings(config, "denied")].concat();
    let set = |names: &[String]| match kind {
        "consumer_group_id" => Some(any_group(names)),
        "consumer_name" => Some(format!(
            "consumer in [{}]",
            names
                .iter()
                .map(|n| quote(n))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    };
    let mut parts = Vec::new();
    if !allow.is_empty() {
        parts.extend(set(&allow));
    }
    if !deny.is_empty() {
        parts.extend(set(&deny).map(|d| format!("!({d})")));
    }
    if parts.is_empty() {
        report.left_out(
            format!("{item}: consumer-restriction type {kind}"),
            "keygate restricts by consumer name or group (`allow` expressions)",
        );
        return;
    }
    let expression = parts.join(" && ");
    report.mapped(
        format!("{item}: consumer-restriction"),
        format!("`allow: {expression}` (403 when false)"),
    );
    route.allow = Some(expression);
}

fn limit_count(config: &Value, route: &mut Route, item: &str, report: &mut Report) {
    let count = config.get("count").and_then(Value::as_u64);
    let per = match config.get("time_window").and_then(Value::as_u64) {
        Some(1) => Some("second"),
        Some(60) => Some("minute"),
        Some(3600) => Some("hour"),
        Some(86400) => Some("day"),
        _ => None,
    };
    let key = text(config, "key").unwrap_or("remote_addr");
    let by = match key {
        "remote_addr" => Some("client_address".to_owned()),
        "consumer_name" => Some("consumer".to_owned()),
        other => other
            .strip_prefix("http_")
            .map(|h| format!("header:{}", h.replace('_', "-"))),
    };
    match (count, per, by) {
        (Some(count), Some(per), Some(by)) if count > 0 => {
            route.limits.push(Limit {
                count,
                per,
                by: Some(by),
            });
            report.changed(
                format!("{item}: limit-count"),
                "a route limit; keygate spreads the count over the window (GCRA) where APISIX counts fixed windows",
            );
        }
        _ => report.left_out(
            format!("{item}: limit-count"),
            "keygate's windows are a second, minute, hour, day or month, counted by client address, consumer or a header",
        ),
    }
}

/// cors: APISIX's comma-separated fields as lists; `*` (and `**`) for methods and headers
/// is keygate's default (every usual method; the fields a preflight asks for), and
/// `allow_origins_by_regex` entries are read like Kong's regular-expression origins.
fn apisix_cors(config: &Value, item: &str, report: &mut Report) -> Option<Cors> {
    let listed = |field: &str, default: &str| -> Vec<String> {
        let text = text(config, field).unwrap_or(default);
        match text {
            "*" | "**" => Vec::new(),
            _ => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    };
    let mut origins: Vec<String> = match text(config, "allow_origins").unwrap_or("*") {
        "*" | "**" => vec!["*".to_owned()],
        listed => listed.split(',').map(|o| o.trim().to_owned()).collect(),
    };
    let by_regex = strings(config, "allow_origins_by_regex");
    if !by_regex.is_empty() {
        // With regular expressions, APISIX allows the origins they match (and the listed
        // ones unless `allow_origins` is the default `*`).
        origins.retain(|o| o != "*");
        origins.extend(by_regex);
    }
    let wanted = Wanted {
        origins,
        methods: listed("allow_methods", "*"),
        headers: listed("allow_headers", "*"),
        expose_headers: listed("expose_headers", ""),
        credentials: config
            .get("allow_credential")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_age: Some(config.get("max_age").and_then(Value::as_u64).unwrap_or(5)),
    };
    policy(wanted, item, report)
}
