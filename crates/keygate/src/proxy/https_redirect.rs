//! `https_redirect`: a request that came over plain HTTP to a service served over HTTPS
//! only is answered `308` to the same URL over HTTPS, right after routing — before its
//! key is read, so that a key sent in the clear is never looked up.

use http::header::HOST;
use http::request::Parts;
use http::HeaderValue;

use super::error::ProxyError;
use super::forward::ClientAddress;
use crate::config::Service;
use crate::state::router::strip_port;

/// Refuses a plain-HTTP request to a service with `https_redirect`, with the URL to go
/// to instead: the request's host, `https_port` (left out when 443), and its path and
/// query. `https_port` is the first TLS listener's; without one nothing is redirected.
pub fn check(
    service: &Service,
    request: &Parts,
    client: &ClientAddress,
    https_port: Option<u16>,
) -> Result<(), ProxyError> {
    let Some(port) = https_port else {
        return Ok(());
    };
    if !service.https_redirect || client.tls.is_some() {
        return Ok(());
    }
    let host = request
        .headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .map(strip_port)
        .filter(|host| !host.is_empty())
        // HTTP/1.0 without `Host`: there is no URL to send the client to.
        .ok_or(ProxyError::MalformedRequest)?;
    let target = request
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str());
    let location = if port == 443 {
        format!("https://{host}{target}")
    } else {
        format!("https://{host}:{port}{target}")
    };
    let location = HeaderValue::try_from(location).map_err(|_| ProxyError::MalformedRequest)?;
    Err(ProxyError::HttpsRedirect { location })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::proxy::forward::TlsFacts;

    fn service(redirect: bool) -> Service {
        let text = format!(
            "services:\n  - name: s\n    https_redirect: {redirect}\n    upstream: http://127.0.0.1:9\n    routes: [{{name: r, paths: ['/*']}}]\n"
        );
        Config::parse("k.yaml", &text).unwrap().services.remove(0)
    }

    fn request(host: Option<&str>, target: &str) -> Parts {
        let mut builder = http::Request::builder().uri(target);
        if let Some(host) = host {
            builder = builder.header(HOST, host);
        }
        builder.body(()).unwrap().into_parts().0
    }

    fn location(result: Result<(), ProxyError>) -> String {
        match result {
            Err(ProxyError::HttpsRedirect { location }) => location.to_str().unwrap().to_owned(),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn plain_requests_go_to_the_same_url_over_https() {
        let plain = ClientAddress::new([127, 0, 0, 1].into());
        let (on, request) = (
            service(true),
            request(Some("api.example.com:8080"), "/v1/a?b=c"),
        );
        assert_eq!(
            location(check(&on, &request, &plain, Some(8443))),
            "https://api.example.com:8443/v1/a?b=c"
        );
        assert_eq!(
            location(check(&on, &request, &plain, Some(443))),
            "https://api.example.com/v1/a?b=c"
        );
        let ipv6 = self::request(Some("[::1]:8080"), "/");
        assert_eq!(
            location(check(&on, &ipv6, &plain, Some(443))),
            "https://[::1]/"
        );
    }

    #[test]
    fn tls_requests_other_services_and_gateways_without_tls_pass() {
        let plain = ClientAddress::new([127, 0, 0, 1].into());
        let tls = plain.clone().with_tls(TlsFacts {
            client_certificate: false,
        });
        let request = request(Some("api.example.com"), "/");
        assert_eq!(check(&service(true), &request, &tls, Some(443)), Ok(()));
        assert_eq!(check(&service(false), &request, &plain, Some(443)), Ok(()));
        assert_eq!(check(&service(true), &request, &plain, None), Ok(()));
    }

    #[test]
    fn without_a_host_there_is_nowhere_to_send_the_client() {
        let plain = ClientAddress::new([127, 0, 0, 1].into());
        let request = request(None, "/");
        assert_eq!(
            check(&service(true), &request, &plain, Some(443)),
            Err(ProxyError::MalformedRequest)
        );
    }
}
