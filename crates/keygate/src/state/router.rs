//! Route matching: host, then path prefix, then route path, then method.
//!
//! Services that name hosts are tried before services that do not; among those, longer
//! path prefixes first; then file order. Within a service, exact paths beat parameterised
//! paths, which beat prefixes (`/files/*`, longest first); then file order.
//!
//! The first (most specific) path pattern that matches decides, and the method is asked
//! only then: among the routes with that same pattern (parameter names aside), the one
//! whose `methods` hold the request's method takes it; if none does, the answer is `405`
//! with `Allow` listing their methods — never a broader pattern of the service, nor a
//! service tried later. So `/report` `[GET]` with an `allow` rule and `/{id}` (any method)
//! answer `POST /report` with `405`, not through `/{id}`; `/report` `[GET]` and `/report`
//! `[POST]` in two routes split the path by method. A service whose prefix matches but
//! none of whose patterns match leaves the request to the services after it.

use http::{HeaderValue, Method};

use crate::config::{PathPattern, Service};

/// The routing table of one snapshot.
#[derive(Debug)]
pub struct Router {
    services: Vec<ServiceRoutes>,
    /// Whether any service names hosts: if none does, the host is not looked at.
    names_hosts: bool,
}

#[derive(Debug)]
struct ServiceRoutes {
    service: usize,
    hosts: Vec<String>,
    prefix: String,
    /// The service's path patterns in match order, each with the routes that have it.
    patterns: Vec<PatternRoutes>,
}

/// One path pattern and the routes that have it, in file order: they split its requests
/// by method.
#[derive(Debug)]
struct PatternRoutes {
    pattern: PathPattern,
    /// (route index, methods; empty = every method).
    routes: Vec<(usize, Vec<Method>)>,
}

impl PatternRoutes {
    /// The first route of the pattern that takes `method`.
    fn route_for(&self, method: &Method) -> Option<usize> {
        self.routes
            .iter()
            .find(|(_, methods)| methods.is_empty() || methods.contains(method))
            .map(|(route, _)| *route)
    }

    /// The methods the pattern's routes take, for `Allow`: each once, in file order.
    fn allow(&self) -> HeaderValue {
        let mut methods: Vec<&str> = Vec::new();
        for method in self.routes.iter().flat_map(|(_, methods)| methods) {
            if !methods.contains(&method.as_str()) {
                methods.push(method.as_str());
            }
        }
        HeaderValue::from_str(&methods.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// Where a request goes.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A route accepts the request.
    Found {
        /// Index of the service in the configuration.
        service: usize,
        /// Index of the route in the service.
        route: usize,
        /// The path after the service prefix (`/` when nothing is left).
        rest: &'a str,
    },
    /// A route has the path but not the method.
    MethodNotAllowed {
        /// The methods the path accepts, for the `Allow` header.
        allow: HeaderValue,
    },
    /// Nothing matches.
    NotFound,
}

impl Router {
    /// Builds the table from the configured services.
    pub fn build(services: &[Service]) -> Router {
        let mut table: Vec<ServiceRoutes> = services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                let mut paths: Vec<_> = service
                    .routes
                    .iter()
                    .enumerate()
                    .flat_map(|(route_index, route)| {
                        route
                            .paths
                            .iter()
                            .map(move |pattern| (pattern, route_index, &route.methods))
                    })
                    .collect();
                // Stable: file order among equals.
                paths.sort_by_key(|(pattern, _, _)| pattern.precedence());
                let mut patterns: Vec<PatternRoutes> = Vec::new();
                for (pattern, route, methods) in paths {
                    let route = (route, methods.clone());
                    match patterns.iter_mut().find(|p| p.pattern.same_paths(pattern)) {
                        Some(same) => same.routes.push(route),
                        None => patterns.push(PatternRoutes {
                            pattern: pattern.clone(),
                            routes: vec![route],
                        }),
                    }
                }
                ServiceRoutes {
                    service: index,
                    hosts: service.hosts.clone(),
                    prefix: service.path_prefix.clone(),
                    patterns,
                }
            })
            .collect();
        table.sort_by_key(|s| (s.hosts.is_empty(), std::cmp::Reverse(s.prefix.len())));
        let names_hosts = table.iter().any(|s| !s.hosts.is_empty());
        Router {
            services: table,
            names_hosts,
        }
    }

    /// Whether any service names hosts; if none does, [`Router::find`] ignores the host
    /// and a caller need not look it up.
    pub fn names_hosts(&self) -> bool {
        self.names_hosts
    }

    /// Finds the route for a request. `host` may carry a port; it is ignored. `path` is
    /// the path in normal form (`proxy::path_normal`).
    pub fn find<'p>(&self, host: &str, path: &'p str, method: &Method) -> RouteMatch<'p> {
        let host = if self.names_hosts {
            strip_port(host)
        } else {
            host
        };
        for service in &self.services {
            if !service.hosts.is_empty() && !service.hosts.iter().any(|h| host_matches(h, host)) {
                continue;
            }
            let Some(rest) = strip_path_prefix(path, &service.prefix) else {
                continue;
            };
            // The most specific pattern decides; its routes split it by method.
            let Some(matched) = service.patterns.iter().find(|p| p.pattern.matches(rest)) else {
                continue;
            };
            return match matched.route_for(method) {
                Some(route) => RouteMatch::Found {
                    service: service.service,
                    route,
                    rest,
                },
                None => RouteMatch::MethodNotAllowed {
                    allow: matched.allow(),
                },
            };
        }
        RouteMatch::NotFound
    }
}

/// Removes `prefix` from `path` at a segment boundary; an empty rest becomes `/`.
fn strip_path_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// A host without its `:port` (IPv6 literals keep their brackets).
pub(crate) fn strip_port(host: &str) -> &str {
    // Bytes rather than `char` patterns: a host is ASCII, and this runs per request.
    let bytes = host.as_bytes();
    let end = if bytes.first() == Some(&b'[') {
        bytes
            .iter()
            .position(|&byte| byte == b']')
            .map(|bracket| bracket + 1)
    } else {
        bytes.iter().rposition(|&byte| byte == b':')
    };
    end.and_then(|end| host.get(..end)).unwrap_or(host)
}

/// `pattern` is lowercase: `api.example.com` or `*.example.com` (any one or more labels).
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => {
            host.len() > suffix.len()
                && host
                    .get(host.len() - suffix.len()..)
                    .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn example_router() -> Router {
        let config =
            Config::parse("t.yaml", include_str!("../../../../examples/keygate.yaml")).unwrap();
        Router::build(&config.services)
    }

    fn found(router: &Router, host: &str, path: &str, method: Method) -> Option<(usize, usize)> {
        match router.find(host, path, &method) {
            RouteMatch::Found { service, route, .. } => Some((service, route)),
            _ => None,
        }
    }

    #[test]
    fn host_prefix_and_exact_path() {
        let router = example_router();
        assert_eq!(
            found(&router, "auth.httpbin.org", "/v1/json", Method::GET),
            Some((0, 0))
        );
        assert_eq!(
            found(&router, "AUTH.httpbin.org:8080", "/v1/json", Method::GET),
            Some((0, 0))
        );
        assert_eq!(found(&router, "other.org", "/v1/json", Method::GET), None);
        assert_eq!(
            found(&router, "auth.httpbin.org", "/v1/jsonx", Method::GET),
            None
        );
        assert_eq!(
            found(&router, "auth.httpbin.org", "/v1x/json", Method::GET),
            None
        );
    }

    #[test]
    fn empty_rest_is_root() {
        let router = example_router();
        assert_eq!(
            router.find("h", "/orders", &Method::GET),
            RouteMatch::Found {
                service: 1,
                route: 0,
                rest: "/"
            }
        );
        assert_eq!(found(&router, "h", "/orders/", Method::GET), Some((1, 0)));
    }

    #[test]
    fn exact_beats_parameter_and_parameter_captures_one_segment() {
        let router = example_router();
        assert_eq!(
            found(&router, "h", "/orders/health", Method::POST),
            Some((1, 2))
        );
        assert_eq!(found(&router, "h", "/orders/42", Method::PUT), Some((1, 1)));
        assert_eq!(found(&router, "h", "/orders/42/x", Method::GET), None);
        assert_eq!(
            found(&router, "h", "/orders/catalog/a/b", Method::DELETE),
            Some((1, 3))
        );
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        let router = example_router();
        assert_eq!(
            router.find("h", "/orders/42", &Method::DELETE),
            RouteMatch::MethodNotAllowed {
                allow: HeaderValue::from_static("GET, PUT")
            }
        );
        assert_eq!(
            router.find("h", "/nowhere", &Method::GET),
            RouteMatch::NotFound
        );
    }

    /// Routes that share paths, in a service in front of a catch-all one.
    fn shared_paths_router() -> Router {
        let config = Config::parse(
            "t.yaml",
            r#"
services:
  - name: orders
    path_prefix: /orders
    upstream: http://127.0.0.1:9
    routes:
      - name: report
        paths: [/report]
        methods: [GET]
        allow: "clientType === 'A'"
      - name: write-report
        paths: [/report]
        methods: [POST, GET]
      - name: one
        paths: ["/{id}"]
        methods: [GET]
      - name: delete-one
        paths: ["/{order}"]
        methods: [DELETE]
      - name: rest
        paths: ["/*"]
  - name: everything
    upstream: http://127.0.0.1:9
    routes:
      - name: all
        paths: ["/*"]
        auth: none
"#,
        )
        .unwrap();
        Router::build(&config.services)
    }

    #[test]
    fn the_most_specific_pattern_decides_and_never_falls_through() {
        let router = shared_paths_router();
        let not_allowed = |allow| RouteMatch::MethodNotAllowed {
            allow: HeaderValue::from_static(allow),
        };
        // Neither `/{id}`, `/*` nor the catch-all service takes what `/report` refuses.
        assert_eq!(
            router.find("h", "/orders/report", &Method::PUT),
            not_allowed("GET, POST")
        );
        assert_eq!(
            router.find("h", "/orders/42", &Method::PUT),
            not_allowed("GET, DELETE")
        );
        // Routes with the same pattern split it by method, the first in the file first.
        assert_eq!(
            found(&router, "h", "/orders/report", Method::GET),
            Some((0, 0))
        );
        assert_eq!(
            found(&router, "h", "/orders/report", Method::POST),
            Some((0, 1))
        );
        // Parameter names do not make patterns differ.
        assert_eq!(found(&router, "h", "/orders/42", Method::GET), Some((0, 2)));
        assert_eq!(
            found(&router, "h", "/orders/42", Method::DELETE),
            Some((0, 3))
        );
        // Paths the specific patterns do not match go on to broader ones and services.
        assert_eq!(
            found(&router, "h", "/orders/a/b", Method::PUT),
            Some((0, 4))
        );
        assert_eq!(found(&router, "h", "/other", Method::PUT), Some((1, 0)));
    }

    #[test]
    fn wildcard_hosts_need_a_label() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("*.example.com", "a.b.EXAMPLE.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("[::1"), "[::1");
        assert_eq!(strip_port("h:80"), "h");
        assert_eq!(strip_port("h"), "h");
        assert_eq!(strip_port(""), "");
    }
}
