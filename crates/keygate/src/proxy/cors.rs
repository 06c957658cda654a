//! CORS for services with `cors:`: the gateway answers browsers' preflights itself,
//! without a key (as Kong's and APISIX's cors plugins do before key-auth runs), and marks
//! every answer to an allowed origin — forwarded or refused, so that a page's script can
//! read a `401`'s message — with the `Access-Control-*` fields of the service's policy.
//!
//! The gateway's policy is the one in force: on a service with `cors:`, an upstream's own
//! `Access-Control-Allow-Origin` and `-Allow-Credentials` are replaced, or removed for an
//! origin the policy does not allow. Services without `cors:` are untouched: their
//! preflights go through the request path like any `OPTIONS` request (a key is needed,
//! and the route must take `OPTIONS`).

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Either;

use super::path_normal::normalise;
use super::respond::ErrorBody;
use super::ProxyBody;
use crate::access_record::AccessRecord;
use crate::config::Cors;
use crate::state::router::RouteMatch;
use crate::state::Snapshot;

/// The answer to `request` when it is a browser's preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) for a route of a service with `cors:`; `None` for
/// every other request, which takes the request path as usual.
pub(super) fn preflight(
    snapshot: &Snapshot,
    request: &Parts,
    record: &mut AccessRecord,
) -> Option<Response<ProxyBody>> {
    let origin = request.headers.get(ORIGIN)?;
    let asked = request.headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
    let asked = Method::from_bytes(asked.as_bytes()).ok()?;
    // The route the browser's real request will take: same path (in normal form, as the
    // request path routes it), the method it asks about.
    let path = normalise(request.uri.path()).ok()?;
    let host = match snapshot.router.names_hosts() {
        true => super::handler::request_host(request),
        false => "",
    };
    let RouteMatch::Found { service, route, .. } = snapshot.router.find(host, &path, &asked) else {
        return None;
    };
    let matched = &snapshot.services[service];
    let cors = matched.cors.as_deref()?;
    record.matched = Some((service, route));
    record.service = Some(matched.name.clone());
    record.route = Some(matched.routes[route].name.clone());
    let mut response = Response::new(Either::Right(ErrorBody::empty()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let fields = response.headers_mut();
    vary(cors, fields, true);
    let allowed = origin.to_str().is_ok_and(|o| cors.allows(o)) && cors.methods.1.contains(&asked);
    if allowed {
        allow_origin(cors, origin, fields);
        fields.insert(ACCESS_CONTROL_ALLOW_METHODS, cors.methods.0.clone());
        let headers = match &cors.headers {
            Some(configured) => Some(configured.clone()),
            None => request.headers.get(ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
        };
        if let Some(headers) = headers {
            fields.insert(ACCESS_CONTROL_ALLOW_HEADERS, headers);
        }
        fields.insert(ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
    }
    Some(response)
}

/// Marks `response` (forwarded or refused) to `request` on a service with `cors`.
pub(super) fn decorate(cors: &Cors, request: &HeaderMap, response: &mut HeaderMap) {
    vary(cors, response, false);
    let origin = request.get(ORIGIN);
    match origin.filter(|o| o.to_str().is_ok_and(|o| cors.allows(o))) {
        Some(origin) => {
            allow_origin(cors, origin, response);
            if let Some(expose) = &cors.expose_headers {
                response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
            }
        }
        None => {
            response.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
            response.remove(ACCESS_CONTROL_ALLOW_CREDENTIALS);
        }
    }
}

/// `Access-Control-Allow-Origin` (the origin itself, or `*` for any origin without
/// credentials) and `-Allow-Credentials`.
fn allow_origin(cors: &Cors, origin: &HeaderValue, fields: &mut HeaderMap) {
    let any = cors.origins.is_empty() && !cors.credentials;
    let value = match any {
        true => HeaderValue::from_static("*"),
        false => origin.clone(),
    };
    fields.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if cors.credentials {
        fields.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// `Vary`: the answer depends on `Origin` unless any origin gets `*`, and a preflight's
/// on what it asks for.
fn vary(cors: &Cors, fields: &mut HeaderMap, preflight: bool) {
    let per_origin = !cors.origins.is_empty() || cors.credentials;
    let value = match (per_origin, preflight) {
        (true, false) => "Origin",
        (true, true) => "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        (false, true) => "Access-Control-Request-Method, Access-Control-Request-Headers",
        (false, false) => return,
    };
    fields.append(VARY, HeaderValue::from_static(value));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::OriginPattern;

    fn policy(origins: &[&str], credentials: bool) -> Cors {
        Cors {
            origins: origins
                .iter()
                .map(|o| OriginPattern::parse(o).unwrap())
                .collect(),
            methods: (HeaderValue::from_static("GET"), vec![Method::GET]),
            headers: None,
            expose_headers: None,
            credentials,
            max_age: HeaderValue::from_static("5"),
        }
    }

    fn request_from(origin: &'static str) -> HeaderMap {
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, HeaderValue::from_static(origin));
        request
    }

    #[test]
    fn the_gateway_policy_replaces_the_upstreams() {
        let cors = policy(&["https://app.example.com"], false);
        let mut upstream = HeaderMap::new();
        upstream.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        upstream.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        decorate(&cors, &request_from("https://evil.test"), &mut upstream);
        assert_eq!(upstream.get(ACCESS_CONTROL_ALLOW_ORIGIN), None);
        assert_eq!(upstream.get(ACCESS_CONTROL_ALLOW_CREDENTIALS), None);
        assert_eq!(upstream.get(VARY).unwrap(), "Origin");

        let mut upstream = HeaderMap::new();
        upstream.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        decorate(
            &cors,
            &request_from("https://app.example.com"),
            &mut upstream,
        );
        assert_eq!(
            upstream.get(ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
            "https://app.example.com"
        );
    }

    #[test]
    fn any_origin_without_credentials_is_a_star_without_vary() {
        let cors = policy(&[], false);
        let mut response = HeaderMap::new();
        decorate(&cors, &request_from("https://a.test"), &mut response);
        assert_eq!(response.get(ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(), "*");
        assert_eq!(response.get(VARY), None);
        // No Origin: no consent, nothing else.
        let mut response = HeaderMap::new();
        decorate(&cors, &HeaderMap::new(), &mut response);
        assert!(response.is_empty());
    }
}
