//! Connection limits per target: `max_connections` with a bounded wait (`queue_timeout`,
//! then `503`), and the keep-alive pool's `max_idle` and `idle_timeout`, seen from an
//! upstream that counts the connections keygate holds open to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{eventually, read_file, Echo, Gateway};

/// A gateway whose one service has the target `url` and the extra `upstream:` fields
/// `extra` (YAML lines at the indentation of `targets`).
fn gateway(url: &str, extra: &str) -> Gateway {
    Gateway::start(&format!(
        r#"
services:
  - name: s
    upstream:
      targets: ["{url}"]
{extra}
    routes:
      - name: all
        paths: ["/*", "/"]
        auth: none
"#
    ))
}

/// A keep-alive upstream answering each request after `delay`, counting the connections
/// opened to it, those still open, and the most requests it had under way at once.
struct Counting {
    address: SocketAddr,
    opened: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    most_at_once: Arc<AtomicUsize>,
}

impl Counting {
    fn start(delay: Duration) -> Counting {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let opened = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let under_way = Arc::new(AtomicUsize::new(0));
        let (opened_here, open_here, most_here) =
            (opened.clone(), open.clone(), most_at_once.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                opened_here.fetch_add(1, Ordering::SeqCst);
                open_here.fetch_add(1, Ordering::SeqCst);
                let open = open_here.clone();
                let (most, under_way) = (most_here.clone(), under_way.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(read) => head.extend_from_slice(&buffer[..read]),
                        }
                        while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            head.drain(..end + 4);
                            let now = under_way.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(delay);
                            under_way.fetch_sub(1, Ordering::SeqCst);
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if stream.write_all(answer).is_err() {
                                break;
                            }
                        }
                    }
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Counting {
            address,
            opened,
            open,
            most_at_once,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    fn most_at_once(&self) -> usize {
        self.most_at_once.load(Ordering::SeqCst)
    }
}

/// `count` requests to `gateway` at once; their statuses, and how long each took.
fn at_once(gateway: &Gateway, count: usize, headers: &[(&str, &str)]) -> Vec<(u16, Duration)> {
    std::thread::scope(|scope| {
        let requests: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(|| {
                    let started = Instant::now();
                    let response = gateway.get("/", headers);
                    (response.status, started.elapsed())
                })
            })
            .collect();
        requests.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

#[test]
fn a_request_over_max_connections_waits_queue_timeout_then_is_a_503() {
    let echo = Echo::start("slow");
    let gateway = gateway(
        &echo.url(),
        "      max_connections: 1\n      queue_timeout: 300ms",
    );
    let slow = [("x-echo-delay-ms", "1500")];
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| gateway.get("/", &slow));
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let second = gateway.get("/", &[]);
        let waited = started.elapsed();
        (first.join().unwrap(), (second, waited))
    });
    assert_eq!(first.status, 200, "{first:?}");
    let (second, waited) = second;
    assert_eq!(second.status, 503, "{second:?}");
    assert_eq!(
        second.message(),
        "The upstream server is at its connection limit"
    );
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_millis(1100),
        "waited {waited:?}: queue_timeout, not the slow request"
    );
    eventually("the denial is logged", || {
        read_file(&gateway.access_log).contains("upstream_busy")
    });
    // Its slot free again, the target takes the next request.
    assert_eq!(gateway.get("/", &[]).status, 200);
}

#[test]
fn requests_over_max_connections_wait_their_turn_within_queue_timeout() {
    let upstream = Counting::start(Duration::from_millis(300));
    let gateway = gateway(
        &upstream.url(),
        "      max_connections: 2\n      queue_timeout: 5s",
    );
    let started = Instant::now();
    let results = at_once(&gateway, 6, &[]);
    let elapsed = started.elapsed();
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    // Six requests of 300 ms, two at a time: three rounds.
    assert!(elapsed >= Duration::from_millis(850), "took {elapsed:?}");
    assert_eq!(upstream.most_at_once(), 2, "two at a time");
}

#[test]
fn idle_connections_are_closed_after_idle_timeout() {
    let upstream = Counting::start(Duration::ZERO);
    let gateway = gateway(&upstream.url(), "      keepalive: {idle_timeout: 500ms}");
    assert_eq!(gateway.get("/", &[]).status, 200);
    assert_eq!(upstream.opened(), 1);
    let started = Instant::now();
    eventually("the idle connection is closed", || upstream.open() == 0);
    let closed_after = started.elapsed();
    assert!(
        closed_after < Duration::from_millis(1500),
        "closed {closed_after:?} after the response"
    );
}

#[test]
fn idle_connections_are_kept_for_reuse_within_idle_timeout() {
    let upstream = Counting::start(Duration::ZERO);
    let gateway = gateway(&upstream.url(), "      keepalive: {idle_timeout: 30s}");
    for _ in 0..5 {
        assert_eq!(gateway.get("/", &[]).status, 200);
    }
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(upstream.open(), upstream.opened(), "none closed");
    assert!(
        upstream.opened() <= 2,
        "reused: {} opened",
        upstream.opened()
    );
}

#[test]
fn no_more_than_max_idle_connections_are_kept_per_worker() {
    let upstream = Counting::start(Duration::from_millis(300));
    let gateway = gateway(&upstream.url(), "      keepalive: {max_idle: 1}");
    let results = at_once(&gateway, 6, &[]);
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    assert_eq!(
        upstream.opened(),
        6,
        "six requests at once, six connections"
    );
    // The test gateway has two workers: at most one idle connection each.
    eventually("the connections over max_idle are closed", || {
        upstream.open() <= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(upstream.open() >= 1, "one is kept");
}

#[test]
fn max_idle_zero_keeps_no_connection() {
    let upstream = Counting::start(Duration::ZERO);
    let gateway = gateway(&upstream.url(), "      keepalive: {max_idle: 0}");
    for _ in 0..3 {
        assert_eq!(gateway.get("/", &[]).status, 200);
    }
    assert_eq!(upstream.opened(), 3, "a new connection for each request");
    eventually("every connection is closed", || upstream.open() == 0);
}

#[test]
fn a_request_that_finds_its_target_full_goes_on_to_another() {
    let first = Echo::start("first");
    let second = Echo::start("second");
    let gateway = gateway(
        &format!("{}\", \"{}", first.url(), second.url()),
        "      max_connections: 1\n      queue_timeout: 200ms",
    );
    let slow = [("x-echo-delay-ms", "2000")];
    std::thread::scope(|scope| {
        // Round-robin: the slow request holds the first target's one slot, the next
        // request goes to the second target, and the third finds the first one full.
        let held = scope.spawn(|| gateway.get("/", &slow));
        std::thread::sleep(Duration::from_millis(300));
        let next = gateway.get("/", &[]);
        assert_eq!(next.json()["server"], "second");
        let started = Instant::now();
        let third = gateway.get("/", &[]);
        let waited = started.elapsed();
        assert_eq!(third.status, 200, "{third:?}");
        assert_eq!(third.json()["server"], "second");
        assert!(
            waited >= Duration::from_millis(180),
            "waited {waited:?} for the first"
        );
        assert_eq!(held.join().unwrap().json()["server"], "first");
    });
    eventually("the third request is logged with two tries", || {
        read_file(&gateway.access_log).contains("\"tries\":2")
    });
}
