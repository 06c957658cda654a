//! Route matching: host, then path prefix, then route path, then method.
//!
//! Services that name hosts are tried before services that do not; among those, longer
//! path prefixes first; then file order. Within a service, exact paths beat parameterised
//! paths, which beat prefixes (`/files/*`, longest first). A path that matches but with a
//! method no route allows is answered `405` with `Allow`, unless another service matches.

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
    /// (pattern, route index, methods), in match order.
    patterns: Vec<(PathPattern, usize, Vec<Method>)>,
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
                let mut patterns: Vec<_> = service
                    .routes
                    .iter()
                    .enumerate()
                    .flat_map(|(route_index, route)| {
                        route.paths.iter().map(move |pattern| {
                            (pattern.clone(), route_index, route.methods.clone())
                        })
                    })
                    .collect();
                patterns.sort_by_key(|(pattern, _, _)| pattern.precedence());
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

    /// Finds the route for a request. `host` may carry a port; it is ignored.
    pub fn find<'p>(&self, host: &str, path: &'p str, method: &Method) -> RouteMatch<'p> {
        let host = if self.names_hosts {
            strip_port(host)
        } else {
            host
        };
        let mut not_allowed: Option<Vec<&Method>> = None;
        for service in &self.services {
            if !service.hosts.is_empty() && !service.hosts.iter().any(|h| host_matches(h, host)) {
                continue;
            }
            let Some(rest) = strip_path_prefix(path, &service.prefix) else {
                continue;
            };
            for (pattern, route, methods) in &service.patterns {
                if !pattern.matches(rest) {
                    continue;
                }
                if methods.is_empty() || methods.contains(method) {
                    return RouteMatch::Found {
                        service: service.service,
                        route: *route,
                        rest,
                    };
                }
                let allowed = not_allowed.get_or_insert_with(Vec::new);
                for method in methods {
                    if !allowed.contains(&method) {
                        allowed.push(method);
                    }
                }
            }
        }
        match not_allowed {
            None => RouteMatch::NotFound,
            Some(methods) => {
                let list: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
                RouteMatch::MethodNotAllowed {
                    allow: HeaderValue::from_str(&list.join(", "))
                        .unwrap_or_else(|_| HeaderValue::from_static("")),
                }
            }
        }
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
