//! A service's upstream: a keep-alive connection pool, its targets used round-robin, and
//! the connect and read timeouts that turn into `502` and `504`.

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::error::ProxyError;
use crate::config::UpstreamSettings;

/// One target as the proxy uses it.
#[derive(Debug)]
pub struct UpstreamTarget {
    /// `http`.
    pub scheme: Scheme,
    /// `host:port`.
    pub authority: Authority,
    /// Path put in front of the forwarded path.
    pub base_path: String,
    /// `Host` header value for this target.
    pub host_header: HeaderValue,
}

/// The pool and targets of one service.
pub struct Upstream {
    client: Client<HttpConnector, Incoming>,
    targets: Vec<UpstreamTarget>,
    next: AtomicUsize,
    read_timeout: Duration,
}

impl Upstream {
    /// Builds the pool for a service's upstream settings. Needs no runtime until used.
    pub fn new(settings: &UpstreamSettings) -> Upstream {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .timer(TokioTimer::new())
            .build(connector);
        let targets = settings
            .targets
            .iter()
            .map(|target| UpstreamTarget {
                scheme: target.scheme.clone(),
                authority: target.authority.clone(),
                base_path: target.base_path.clone(),
                host_header: HeaderValue::from_str(target.authority.as_str())
                    .unwrap_or_else(|_| HeaderValue::from_static("")),
            })
            .collect();
        Upstream {
            client,
            targets,
            next: AtomicUsize::new(0),
            read_timeout: settings.read_timeout,
        }
    }

    /// The next target, round-robin; `None` only for a service without targets.
    pub fn pick(&self) -> Option<&UpstreamTarget> {
        if self.targets.is_empty() {
            return None;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.targets.get(turn % self.targets.len())
    }

    /// Sends a request whose URI already names the target, and waits for the response
    /// head at most `read_timeout`. The response body streams on.
    pub async fn send(&self, request: Request<Incoming>) -> Result<Response<Incoming>, ProxyError> {
        match tokio::time::timeout(self.read_timeout, self.client.request(request)).await {
            Err(_) => Err(ProxyError::UpstreamTimeout),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) if error.is_connect() => {
                if caused_by_timeout(&error) {
                    Err(ProxyError::UpstreamTimeout)
                } else {
                    Err(ProxyError::UpstreamConnect)
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(error = %error, source = ?error.source(), "upstream exchange failed");
                Err(ProxyError::UpstreamBroken)
            }
        }
    }
}

fn caused_by_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
        }
        current = error.source();
    }
    false
}
