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
        weight: 1,
    };
    (target, heads)
}

fn upstream(targets: Vec<Target>, failover: Failover) -> Upstream {
    Upstream::new(&UpstreamSettings {
        balance: crate::config::Balance::default(),
        slow_start: None,
        targets,
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(300),
        send_timeout: Duration::from_secs(2),
        failover: Failover {
            max_fails: 0,
            ..failover
        },
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
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
            upstream.pick(None).unwrap().index,
            1,
            "the first target cools down"
        );
    }
    upstream.targets[1]
        .health
        .failed(&upstream.health, now_ms());
    let picked: Vec<_> = (0..4).map(|_| upstream.pick(None).unwrap().index).collect();
    assert_eq!(
        picked,
        [0, 1, 0, 1],
        "both down: round-robin as if none were"
    );
}

/// A least-outstanding upstream of one target at `address`.
fn least_outstanding(address: std::net::SocketAddr) -> Upstream {
    Upstream::new(&UpstreamSettings {
        balance: crate::config::Balance::LeastOutstanding,
        slow_start: None,
        targets: vec![Target {
            scheme: http::uri::Scheme::HTTP,
            authority: address.to_string().parse().unwrap(),
            base_path: String::new(),
            weight: 1,
        }],
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        send_timeout: Duration::from_secs(2),
        failover: Failover::default(),
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
        pool: PoolLimits::default(),
    })
}

/// Sends a bodiless `GET /x` to the upstream's first target.
async fn get_first(upstream: &Upstream) -> Result<Response<UpstreamBody>, ProxyError> {
    let (head, ()) = Request::get("/x").body(()).unwrap().into_parts();
    let target = upstream.pick(None).unwrap();
    let mut tries = Tries::new(Instant::now());
    upstream
        .send(
            target,
            &head,
            RequestPath::whole("/x"),
            &AsSent,
            Empty::<Bytes>::new(),
            &mut tries,
        )
        .await
}

#[tokio::test]
async fn least_outstanding_counts_a_request_until_its_body_is_read() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = [0u8; 4096];
        let _ = stream.read(&mut buffer).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab";
        stream.write_all(head).await.unwrap();
        let _ = released.await;
        stream.write_all(b"cd").await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let upstream = least_outstanding(address);
    let response = get_first(&upstream).await.unwrap();
    assert_eq!(
        upstream.balancer.outstanding(0),
        1,
        "its body is still coming"
    );
    release.send(()).unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"abcd");
    assert_eq!(upstream.balancer.outstanding(0), 0, "read to its end");
    // A whole body lets go at once; a failed try counts nothing.
    let (ok, _) = target(OK, Duration::ZERO).await;
    let whole = least_outstanding(ok.authority.as_str().parse().unwrap());
    let _response = get_first(&whole).await.unwrap();
    assert_eq!(whole.balancer.outstanding(0), 0);
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = least_outstanding(closed.local_addr().unwrap());
    drop(closed);
    assert!(get_first(&refused).await.is_err());
    assert_eq!(refused.balancer.outstanding(0), 0);
}

#[tokio::test]
async fn a_cancelled_request_is_no_longer_counted() {
    let (silent, _) = target(OK, Duration::from_secs(10)).await;
    let upstream = least_outstanding(silent.authority.as_str().parse().unwrap());
    let mut request = Box::pin(get_first(&upstream));
    let waited = tokio::time::timeout(Duration::from_millis(200), &mut request).await;
    assert!(waited.is_err(), "the target is silent");
    assert_eq!(upstream.balancer.outstanding(0), 1, "under way");
    drop(request);
    assert_eq!(
        upstream.balancer.outstanding(0),
        0,
        "dropped with the request"
    );
}

#[tokio::test]
async fn a_target_whose_probe_answers_slow_starts() {
    // The first request it reads gets a 503; the others a 200.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut answered = 0;
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stream.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                answered += 1;
                let answer = if answered == 1 { UNAVAILABLE } else { OK };
                if stream.write_all(answer).await.is_err() {
                    break;
                }
            }
        }
    });
    let (ok, _) = target(OK, Duration::ZERO).await;
    let flaky = Target {
        scheme: http::uri::Scheme::HTTP,
        authority: address.to_string().parse().unwrap(),
        base_path: String::new(),
        weight: 1,
    };
    let upstream = Upstream::new(&UpstreamSettings {
        balance: crate::config::Balance::RoundRobin,
        slow_start: Some(Duration::from_secs(60)),
        targets: vec![flaky, ok],
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        send_timeout: Duration::from_secs(2),
        failover: Failover {
            retry_on: RetryOn::DEFAULT.with(RetryOn::STATUS_503),
            max_fails: 1,
            fail_timeout: Duration::from_millis(50),
            ..Failover::default()
        },
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
        pool: PoolLimits::default(),
    });
    assert_eq!(send(&upstream, Method::GET).await, (Ok(StatusCode::OK), 2));
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Its cool-down is over: its turn is its probe, which answers.
    let probed: Vec<usize> = (0..2).map(|_| upstream.pick(None).unwrap().index).collect();
    assert!(probed.contains(&0), "{probed:?}");
    let first = upstream.targets.first().unwrap();
    let (head, ()) = Request::get("/x").body(()).unwrap().into_parts();
    let mut tries = Tries::new(Instant::now());
    let response = upstream
        .send(
            first,
            &head,
            RequestPath::whole("/x"),
            &AsSent,
            Empty::<Bytes>::new(),
            &mut tries,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Back, it gets (almost) none of its turns at first.
    let to_it = (0..200)
        .filter(|_| upstream.pick(None).unwrap().index == 0)
        .count();
    assert!(to_it < 10, "{to_it} of 200 to a target that just came back");
}

#[test]
fn a_target_its_checker_holds_down_is_skipped_unless_every_target_is_down() {
    let target = |port: u16| Target {
        scheme: http::uri::Scheme::HTTP,
        authority: format!("127.0.0.1:{port}").parse().unwrap(),
        base_path: String::new(),
        weight: 1,
    };
    let settings = UpstreamSettings {
        balance: crate::config::Balance::RoundRobin,
        slow_start: None,
        targets: vec![target(1), target(2)],
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        send_timeout: Duration::from_secs(1),
        failover: Failover::default(),
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
        pool: PoolLimits::default(),
    };
    let verdicts = [
        Arc::new(ActiveHealth::default()),
        Arc::new(ActiveHealth::default()),
    ];
    let handed: Vec<_> = verdicts.iter().cloned().map(Some).collect();
    let upstream = Upstream::checked(&settings, &handed);
    let picked = |upstream: &Upstream| -> Vec<usize> {
        (0..4).map(|_| upstream.pick(None).unwrap().index).collect()
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
