//! The exchange against scripted upstreams on real loopback sockets: framing of both
//! directions, connection reuse, and what happens when the upstream closes connections.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Empty, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::config::{Failover, PoolLimits, Target, UpstreamSettings};

/// What the scripted upstream answers to its `n`th request (counted over all
/// connections): pieces written with a short pause between them, and whether it closes
/// the connection afterwards.
type Script = fn(usize) -> (Vec<&'static [u8]>, bool);

/// A plain keep-alive answer.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/// A scripted upstream: every request it read (raw), and how many connections it took.
#[derive(Default)]
struct Seen {
    requests: Mutex<Vec<Vec<u8>>>,
    connections: Mutex<usize>,
}

impl Seen {
    fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

async fn scripted_upstream(script: Script) -> (Upstream, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            *shared.connections.lock().unwrap() += 1;
            tokio::spawn(serve_script(stream, script, shared.clone()));
        }
    });
    let settings = UpstreamSettings {
        balance: crate::config::Balance::default(),
        slow_start: None,
        targets: vec![Target {
            scheme: http::uri::Scheme::HTTP,
            authority: address.to_string().parse().unwrap(),
            base_path: String::new(),
            weight: 1,
        }],
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        send_timeout: Duration::from_secs(5),
        failover: Failover::default(),
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
        pool: PoolLimits::default(),
    };
    (Upstream::new(&settings), seen)
}

async fn serve_script(mut stream: TcpStream, script: Script, seen: Arc<Seen>) {
    let mut pending = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut pending).await else {
            return;
        };
        let number = {
            let mut requests = seen.requests.lock().unwrap();
            requests.push(request);
            requests.len() - 1
        };
        let (pieces, close) = script(number);
        for piece in pieces {
            if stream.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if close {
            return;
        }
    }
}

/// One raw request: its head, and its body as framed by Content-Length or chunked.
async fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    loop {
        if let Some(end) = find(pending, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_lowercase();
            let body_end =
                if let Some(line) = head.lines().find(|l| l.starts_with("content-length:")) {
                    let length: usize = line[15..].trim().parse().unwrap();
                    (pending.len() >= end + 4 + length).then_some(end + 4 + length)
                } else if head.contains("transfer-encoding: chunked") {
                    find(&pending[end + 4..], b"0\r\n\r\n").map(|at| end + 4 + at + 5)
                } else {
                    Some(end + 4)
                };
            if let Some(body_end) = body_end {
                return Some(pending.drain(..body_end).collect());
            }
        }
        let mut buffer = [0u8; 4096];
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        pending.extend_from_slice(&buffer[..read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn parts(method: Method, headers: &[(&str, &str)]) -> Parts {
    let mut request = Request::builder().method(method).uri("/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap().into_parts().0
}

/// Sends a bodiless request and reads the whole answer.
async fn get(upstream: &Upstream, method: Method) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let target = upstream.pick(None).unwrap();
    let response = upstream
        .send(
            target,
            &parts(method, &[("host", "up")]),
            RequestPath::whole("/x?y=1"),
            &AsSent,
            Empty::<Bytes>::new(),
            &mut Tries::new(Instant::now()),
        )
        .await
        .unwrap();
    let (head, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    (head.status, head.headers, body)
}

#[tokio::test]
async fn a_small_response_is_answered_whole_and_its_connection_reused() {
    let (upstream, seen) = scripted_upstream(|_| {
        (
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\nhello"],
            false,
        )
    })
    .await;
    for _ in 0..3 {
        let (status, headers, body) = get(&upstream, Method::GET).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-up"], "1");
        assert_eq!(body, b"hello");
    }
    assert_eq!(seen.connections(), 1);
    let first = String::from_utf8(seen.requests.lock().unwrap()[0].clone()).unwrap();
    assert_eq!(first, "GET /x?y=1 HTTP/1.1\r\nhost: up\r\n\r\n");
}

#[tokio::test]
async fn chunked_responses_are_decoded_across_reads() {
    let (upstream, seen) = scripted_upstream(|_| {
        (
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n5\r\nhel",
                b"lo\r\n6\r\n world\r\n",
                b"0\r\nx-trailer: 1\r\n\r\n",
            ],
            false,
        )
    })
    .await;
    for _ in 0..2 {
        let (status, headers, body) = get(&upstream, Method::GET).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"hello world");
        assert!(
            !headers.contains_key(CONTENT_LENGTH),
            "a wrong length is not passed on"
        );
    }
    assert_eq!(
        seen.connections(),
        1,
        "the connection is reused after the last chunk"
    );
}

#[tokio::test]
async fn large_bodies_stream_through() {
    const BIG: &[u8] = &[b'x'; 300_000];
    let (upstream, _) = scripted_upstream(|_| {
        (
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n",
                &BIG[..1000],
                &BIG[1000..],
            ],
            false,
        )
    })
    .await;
    let (_, headers, body) = get(&upstream, Method::GET).await;
    assert_eq!(headers[CONTENT_LENGTH], "300000");
    assert_eq!(body.len(), 300_000);
}

#[tokio::test]
async fn a_body_until_close_ends_with_the_connection() {
    let (upstream, seen) =
        scripted_upstream(|_| (vec![b"HTTP/1.1 200 OK\r\n\r\nall of ", b"it"], true)).await;
    for _ in 0..2 {
        let (_, _, body) = get(&upstream, Method::GET).await;
        assert_eq!(body, b"all of it");
    }
    assert_eq!(seen.connections(), 2);
}

#[tokio::test]
async fn head_requests_and_interim_responses_have_no_body() {
    let (upstream, seen) = scripted_upstream(|n| match n {
        0 => (vec![b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"], false),
        _ => (
            vec![b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"],
            false,
        ),
    })
    .await;
    let (status, headers, body) = get(&upstream, Method::HEAD).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
    assert_eq!(headers[CONTENT_LENGTH], "5");
    let (status, _, body) = get(&upstream, Method::GET).await;
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    assert_eq!(seen.connections(), 1);
}

#[tokio::test]
async fn connection_close_is_honoured() {
    let (upstream, seen) = scripted_upstream(|_| {
        (
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"],
            false,
        )
    })
    .await;
    for _ in 0..2 {
        assert_eq!(get(&upstream, Method::GET).await.2, b"ok");
    }
    assert_eq!(seen.connections(), 2);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_is_not_used() {
    // Closes after each answer without saying so, as an upstream whose keep-alive timeout
    // ran out would.
    let (upstream, seen) = scripted_upstream(|_| (vec![OK], true)).await;
    for _ in 0..3 {
        assert_eq!(get(&upstream, Method::GET).await.2, b"ok");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen.connections(), 3);
}

/// A connection that looks idle and open, to a peer that reads one request and closes
/// without answering (as an upstream whose keep-alive ran out just as the request came).
/// Also says whether that request arrived.
async fn connection_closing_on_the_next_request(
) -> (Connection, tokio::sync::oneshot::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut peer, _) = listener.accept().await.unwrap();
    let (said, heard) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut buffer = [0u8; 1024];
        let read = peer.read(&mut buffer).await.unwrap_or(0);
        let _ = said.send(read > 0);
    });
    (
        Connection::new(super::stream::UpstreamStream::Plain(client)),
        heard,
    )
}

#[tokio::test]
async fn a_stale_connection_is_retried_once_for_idempotent_requests() {
    let (upstream, seen) = scripted_upstream(|_| (vec![OK], false)).await;
    let target = upstream.pick(None).unwrap();
    let (stale, heard) = connection_closing_on_the_next_request().await;
    target.pool.give_back(stale);
    assert_eq!(get(&upstream, Method::GET).await.2, b"ok");
    assert!(
        heard.await.unwrap(),
        "the request went to the stale connection first"
    );
    assert_eq!(seen.requests.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_post_is_not_sent_twice() {
    let (upstream, seen) = scripted_upstream(|_| (vec![OK], false)).await;
    let target = upstream.pick(None).unwrap();
    let (stale, heard) = connection_closing_on_the_next_request().await;
    target.pool.give_back(stale);
    let result = upstream
        .send(
            target,
            &parts(Method::POST, &[("host", "up")]),
            RequestPath::whole("/"),
            &AsSent,
            Empty::<Bytes>::new(),
            &mut Tries::new(Instant::now()),
        )
        .await;
    assert_eq!(result.unwrap_err(), ProxyError::UpstreamBroken);
    assert!(heard.await.unwrap());
    assert!(seen.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn request_bodies_keep_their_length_or_are_chunked() {
    let (upstream, seen) = scripted_upstream(|_| {
        (
            vec![b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
            false,
        )
    })
    .await;
    let target = upstream.pick(None).unwrap();
    let head = parts(Method::POST, &[("host", "up"), ("content-length", "5")]);
    let response = upstream
        .send(
            target,
            &head,
            RequestPath::whole("/"),
            &AsSent,
            Full::new(Bytes::from_static(b"hello")),
            &mut Tries::new(Instant::now()),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let pieces = Pieces([Bytes::from_static(b"ab"), Bytes::from_static(b"cde")].into());
    let head = parts(Method::POST, &[("host", "up")]);
    upstream
        .send(
            target,
            &head,
            RequestPath::whole("/"),
            &AsSent,
            pieces,
            &mut Tries::new(Instant::now()),
        )
        .await
        .unwrap();
    let requests = seen.requests.lock().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&requests[0]),
        "POST / HTTP/1.1\r\nhost: up\r\ncontent-length: 5\r\n\r\nhello"
    );
    assert_eq!(
        String::from_utf8_lossy(&requests[1]),
        "POST / HTTP/1.1\r\nhost: up\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    );
}

/// A body of unknown length, handed over piece by piece.
struct Pieces(std::collections::VecDeque<Bytes>);

impl ForwardBody for Pieces {
    type Detached = Pieces;

    fn detach(self) -> Result<Pieces, Pieces> {
        Ok(self)
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(
            self.0
                .pop_front()
                .map(|piece| Ok(http_body::Frame::data(piece))),
        )
    }
}

#[tokio::test]
async fn sweeping_closes_idle_connections_the_upstream_closed() {
    let (upstream, seen) = scripted_upstream(|_| (vec![OK], true)).await;
    assert_eq!(get(&upstream, Method::GET).await.2, b"ok");
    let target = upstream.pick(None).unwrap();
    // The upstream closed it after answering; wait until that is seen, then sweep.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(target.pool.idle_here(), 1, "kept after a keep-alive answer");
    upstream.sweep_idle();
    assert_eq!(target.pool.idle_here(), 0);
    assert_eq!(seen.connections(), 1);
}

#[tokio::test]
async fn sweeping_keeps_open_connections() {
    let (upstream, _) = scripted_upstream(|_| (vec![OK], false)).await;
    assert_eq!(get(&upstream, Method::GET).await.2, b"ok");
    tokio::time::sleep(Duration::from_millis(20)).await;
    upstream.sweep_idle();
    assert_eq!(upstream.pick(None).unwrap().pool.idle_here(), 1);
}

/// An upstream of one connection, served by `serve`, with read and send timeouts of
/// `limit`.
async fn raw_upstream<F, Fut>(limit: Duration, serve: F) -> Upstream
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            serve(stream).await;
        }
    });
    let settings = UpstreamSettings {
        balance: crate::config::Balance::default(),
        slow_start: None,
        targets: vec![Target {
            scheme: http::uri::Scheme::HTTP,
            authority: address.to_string().parse().unwrap(),
            base_path: String::new(),
            weight: 1,
        }],
        connect_timeout: Duration::from_secs(2),
        read_timeout: limit,
        send_timeout: limit,
        failover: Failover::default(),
        health_check: None,
        tls: None,
        protocol: crate::config::UpstreamProtocol::Http1,
        pool: PoolLimits::default(),
    };
    Upstream::new(&settings)
}

/// Reads one request head from `stream`.
async fn read_head_of(stream: &mut TcpStream) {
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    while find(&pending, b"\r\n\r\n").is_none() {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => pending.extend_from_slice(&buffer[..read]),
        }
    }
}

async fn send_with<B>(
    upstream: &Upstream,
    head: &Parts,
    body: B,
) -> Result<Response<UpstreamBody>, ProxyError>
where
    B: ForwardBody,
{
    let target = upstream.pick(None).unwrap();
    upstream
        .send(
            target,
            head,
            RequestPath::whole("/"),
            &AsSent,
            body,
            &mut Tries::new(Instant::now()),
        )
        .await
}

#[tokio::test]
async fn silence_is_timed_not_the_whole_response() {
    // Each pause is under the limit; together they are well over it.
    let upstream = raw_upstream(Duration::from_millis(250), |mut stream| async move {
        read_head_of(&mut stream).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
            .await;
        for piece in [b"ab", b"cd", b"ef"] {
            tokio::time::sleep(Duration::from_millis(150)).await;
            let _ = stream.write_all(piece).await;
        }
    })
    .await;
    let response = send_with(
        &upstream,
        &parts(Method::GET, &[("host", "up")]),
        Empty::new(),
    )
    .await
    .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"abcdef");
}

#[tokio::test]
async fn a_body_the_upstream_stops_sending_ends_after_read_timeout() {
    let upstream = raw_upstream(Duration::from_millis(200), |mut stream| async move {
        read_head_of(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    let started = std::time::Instant::now();
    let response = send_with(
        &upstream,
        &parts(Method::GET, &[("host", "up")]),
        Empty::new(),
    )
    .await
    .unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"01234");
    let error = body.frame().await.unwrap().unwrap_err();
    assert!(matches!(error, UpstreamBodyError::TimedOut), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_upstream_that_takes_no_request_bytes_is_a_timeout() {
    let upstream = raw_upstream(Duration::from_millis(200), |stream| async move {
        // Never reads: the socket buffers fill and the writes stop.
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stream);
    })
    .await;
    let large = Bytes::from(vec![b'x'; 32 * 1024 * 1024]);
    let length = large.len().to_string();
    let head = parts(Method::POST, &[("host", "up"), ("content-length", &length)]);
    let started = std::time::Instant::now();
    let result = send_with(&upstream, &head, Full::new(large)).await;
    assert_eq!(result.unwrap_err(), ProxyError::UpstreamTimeout);
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A request body: one piece, then `after`.
struct Stalling {
    sent: bool,
    /// `None`: never another piece; `Some`: this error.
    after: Option<&'static str>,
}

impl ForwardBody for Stalling {
    type Detached = Undetachable;

    fn detach(self) -> Result<Undetachable, Stalling> {
        Err(self)
    }
}

impl http_body::Body for Stalling {
    type Data = Bytes;
    type Error = &'static str;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if !self.sent {
            self.sent = true;
            return std::task::Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from_static(
                b"abc",
            )))));
        }
        match self.after {
            None => std::task::Poll::Pending,
            Some(error) => std::task::Poll::Ready(Some(Err(error))),
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_sending_its_body_is_answered_408() {
    let upstream = raw_upstream(Duration::from_millis(200), |mut stream| async move {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    })
    .await;
    let head = parts(Method::POST, &[("host", "up")]);
    let body = Stalling {
        sent: false,
        after: None,
    };
    let started = std::time::Instant::now();
    let result = send_with(&upstream, &head, body).await;
    assert_eq!(result.unwrap_err(), ProxyError::RequestBodyTimeout);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_broken_request_body_is_the_clients_error() {
    let upstream = raw_upstream(Duration::from_secs(2), |mut stream| async move {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    })
    .await;
    let head = parts(Method::POST, &[("host", "up")]);
    let body = Stalling {
        sent: false,
        after: Some("invalid chunked encoding"),
    };
    let result = send_with(&upstream, &head, body).await;
    assert_eq!(result.unwrap_err(), ProxyError::BadRequestBody);
}
