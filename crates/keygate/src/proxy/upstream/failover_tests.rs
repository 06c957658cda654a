//! Retries across targets against scripted upstreams on real loopback sockets: which
//! failures a request goes on after, which methods may be sent twice, and that each
//! target gets its own base path and `Host`.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Request};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::config::{Failover, PoolLimits, RetryOn, Target, UpstreamSettings};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

/// A target that reads each request head, waits `delay`, and answers `answer`; the heads
/// it read are kept.
async fn target(answer: &'static [u8], delay: Duration) -> (Target, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                tokio::time::sleep(delay).await;
                let _ = stream.write_all(answer).await;
            });
        }
    });
    let target = Target {
        scheme: http::uri::Scheme::HTTP,
        authority: address.to_string().parse().unwrap(),
        base_path: format!("/base-{}", address.port()),
    };
    (target, heads)
}

fn upstream(targets: Vec<Target>, failover: Failover) -> Upstream {
    Upstream::new(&UpstreamSettings {
        targets,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(300),
        send_timeout: Duration::from_secs(2),
        failover: Failover {
            max_fails: 0,
            ..failover
        },
        health_check: None,
        pool: PoolLimits::default(),
    })
}

/// Fields that replace the client's `Host` with the first target's.
struct TargetHost(HeaderValue);

impl FieldRewrite for TargetHost {
    fn host(&self) -> Option<&HeaderValue> {
        Some(&self.0)
    }

    fn replaces(&self, _name: &HeaderName) -> bool {
        false
    }

    fn append_fields(&self, _fields: &HeaderMap, _out: &mut Vec<u8>) {}
}

/// Sends a bodiless `method` request to the upstream's first target, as the proxy does.
async fn send(upstream: &Upstream, method: Method) -> (Result<StatusCode, ProxyError>, u32) {
    let (head, ()) = Request::builder()
        .method(method)
        .uri("/x")
        .header("host", "client.example")
        .body(())
        .unwrap()
        .into_parts();
    let first = upstream.targets.first().unwrap();
    let path = RequestPath {
        base: &first.base_path,
        path: "/x",
        query: None,
    };
    let fields = TargetHost(first.host_header.clone());
    let mut tries = Tries::new(Instant::now());
    let result = upstream
        .send(
            first,
            &head,
            path,
            &fields,
            Empty::<Bytes>::new(),
            &mut tries,
        )
        .await;
    let status = match result {
        Ok(response) => {
            let status = response.status();
            response.into_body().collect().await.unwrap();
            Ok(status)
        }
        Err(error) => Err(error),
    };
    (status, tries.count())
}

#[tokio::test]
async fn a_listed_status_goes_on_to_the_next_target_with_its_own_path_and_host() {
    let (unavailable, first_heads) = target(UNAVAILABLE, Duration::ZERO).await;
    let (ok, second_heads) = target(OK, Duration::ZERO).await;
    let second = ok.clone();
    let failover = Failover {
        retry_on: RetryOn::DEFAULT.with(RetryOn::STATUS_503),
        ..Failover::default()
    };
    let upstream = upstream(vec![unavailable, ok], failover);
    assert_eq!(send(&upstream, Method::GET).await, (Ok(StatusCode::OK), 2));
    assert_eq!(first_heads.lock().unwrap().len(), 1);
    let retried = second_heads.lock().unwrap()[0].clone();
    let expected_line = format!(
        "GET /base-{}/x HTTP/1.1\r\n",
        second.authority.port_u16().unwrap()
    );
    assert!(retried.starts_with(&expected_line), "{retried}");
    assert!(
        retried.contains(&format!("host: {}\r\n", second.authority)),
        "the retried target's own Host: {retried}"
    );
}

#[tokio::test]
async fn a_status_is_answered_as_it_is_unless_listed_and_never_retried_for_a_post() {
    let (unavailable, first_heads) = target(UNAVAILABLE, Duration::ZERO).await;
    let (ok, second_heads) = target(OK, Duration::ZERO).await;
    let targets = vec![unavailable, ok];
    let by_default = upstream(targets.clone(), Failover::default());
    let unavailable_status = Ok(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        send(&by_default, Method::GET).await,
        (unavailable_status.clone(), 1)
    );
    let failover = Failover {
        retry_on: RetryOn::DEFAULT.with(RetryOn::STATUS_503),
        ..Failover::default()
    };
    let listed = upstream(targets, failover);
    assert_eq!(send(&listed, Method::POST).await, (unavailable_status, 1));
    assert_eq!(first_heads.lock().unwrap().len(), 2);
    assert!(second_heads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_target_is_retried_only_when_timeout_is_listed() {
    let (silent, _) = target(OK, Duration::from_secs(3)).await;
    let (ok, _) = target(OK, Duration::ZERO).await;
    let targets = vec![silent, ok];
    let by_default = upstream(targets.clone(), Failover::default());
    assert_eq!(
        send(&by_default, Method::GET).await,
        (Err(ProxyError::UpstreamTimeout), 1)
    );
    let failover = Failover {
        retry_on: RetryOn::DEFAULT.with(RetryOn::TIMEOUT),
        ..Failover::default()
    };
    let listed = upstream(targets, failover);
    assert_eq!(send(&listed, Method::GET).await, (Ok(StatusCode::OK), 2));
}

#[tokio::test]
async fn no_retry_starts_after_retry_timeout() {
    let (silent, _) = target(OK, Duration::from_secs(3)).await;
    let (ok, second_heads) = target(OK, Duration::ZERO).await;
    let failover = Failover {
        retry_on: RetryOn::DEFAULT.with(RetryOn::TIMEOUT),
        retry_timeout: Duration::from_millis(200),
        ..Failover::default()
    };
    let upstream = upstream(vec![silent, ok], failover);
    assert_eq!(
        send(&upstream, Method::GET).await,
        (Err(ProxyError::UpstreamTimeout), 1)
    );
    assert!(second_heads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failing_target_is_skipped_by_pick_and_every_target_down_is_still_picked() {
    let (unavailable, _) = target(UNAVAILABLE, Duration::ZERO).await;
    let (ok, _) = target(OK, Duration::ZERO).await;
    let failover = Failover {
        retry_on: RetryOn::DEFAULT.with(RetryOn::STATUS_503),
        ..Failover::default()
    };
    let mut upstream = upstream(vec![unavailable, ok], failover);
    upstream.health.max_fails = 1;
    assert_eq!(send(&upstream, Method::GET).await, (Ok(StatusCode::OK), 2));
    for _ in 0..4 {
        assert_eq!(
            upstream.pick().unwrap().index,
            1,
            "the first target cools down"
        );
    }
    upstream.targets[1]
        .health
        .failed(&upstream.health, now_ms());
    let picked: Vec<_> = (0..4).map(|_| upstream.pick().unwrap().index).collect();
    assert_eq!(
        picked,
        [0, 1, 0, 1],
        "both down: round-robin as if none were"
    );
}

#[test]
fn a_target_its_checker_holds_down_is_skipped_unless_every_target_is_down() {
    let target = |port: u16| Target {
        scheme: http::uri::Scheme::HTTP,
        authority: format!("127.0.0.1:{port}").parse().unwrap(),
        base_path: String::new(),
    };
    let settings = UpstreamSettings {
        targets: vec![target(1), target(2)],
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        send_timeout: Duration::from_secs(1),
        failover: Failover::default(),
        health_check: None,
        pool: PoolLimits::default(),
    };
    let verdicts = [
        Arc::new(ActiveHealth::default()),
        Arc::new(ActiveHealth::default()),
    ];
    let handed: Vec<_> = verdicts.iter().cloned().map(Some).collect();
    let upstream = Upstream::checked(&settings, &handed);
    let picked = |upstream: &Upstream| -> Vec<usize> {
        (0..4).map(|_| upstream.pick().unwrap().index).collect()
    };
    assert_eq!(picked(&upstream), [0, 1, 0, 1], "both up: round-robin");
    let once = Thresholds {
        healthy_after: 1,
        unhealthy_after: 1,
        timeouts_after: 1,
    };
    verdicts[0].record(CheckOutcome::Status(500), once);
    assert_eq!(picked(&upstream), [1, 1, 1, 1], "the down one gets nothing");
    verdicts[1].record(CheckOutcome::Timeout, once);
    assert_eq!(
        picked(&upstream),
        [0, 1, 0, 1],
        "every target down: each is tried in its turn anyway"
    );
    verdicts[0].record(CheckOutcome::Healthy(200), once);
    assert_eq!(picked(&upstream), [0, 0, 0, 0]);
}
