//! The budget for unfinished request heads (`proxy.max_partial_head_bytes`): heads that
//! outgrow their first 4 KiB buffer take 8 KiB steps from one budget for the whole
//! process; a step it cannot give is refused with `431`, while small heads are served.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{send_raw, Echo, Gateway, PATIENCE};

/// Room for eight heads of one step each.
const BUDGET: usize = 8 * 8 * 1024;

fn gateway(upstream: &Echo) -> Gateway {
    Gateway::start_with_proxy_settings(
        &[
            "header_timeout: 30s",
            &format!("max_partial_head_bytes: {BUDGET}"),
        ],
        &format!(
            r#"
services:
  - name: s
    upstream: {}
    routes:
      - name: all
        paths: ["/*", "/"]
        auth: none
"#,
            upstream.url()
        ),
    )
}

/// A connection that has sent the first `padding + 30` bytes of a head and stops there.
fn unfinished_head(gateway: &Gateway, padding: usize) -> TcpStream {
    let mut stream = TcpStream::connect(gateway.address).unwrap();
    let start = format!(
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: {}",
        "p".repeat(padding)
    );
    stream.write_all(start.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    stream
}

/// What the server sent on `stream` so far, and whether it closed it.
fn received(stream: &mut TcpStream, into: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(count) => into.extend_from_slice(&chunk[..count]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// A complete request with a header section of about `bytes` bytes.
fn request_with_head_of(bytes: usize) -> Vec<u8> {
    format!(
        "GET /x HTTP/1.1\r\nHost: a\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "p".repeat(bytes)
    )
    .into_bytes()
}

#[test]
fn unfinished_heads_share_one_budget_and_small_requests_are_still_served() {
    let echo = Echo::start("e");
    let gateway = gateway(&echo);
    // Twelve heads of about 5 KB: each needs one step past its first buffer, and the
    // budget has eight.
    let mut streams: Vec<(TcpStream, Vec<u8>, bool)> = (0..12)
        .map(|_| (unfinished_head(&gateway, 5000), Vec::new(), false))
        .collect();
    let deadline = Instant::now() + PATIENCE;
    let refused = |streams: &mut Vec<(TcpStream, Vec<u8>, bool)>| {
        for (stream, bytes, closed) in streams.iter_mut() {
            if !*closed {
                *closed = received(stream, bytes);
            }
        }
        streams.iter().filter(|(_, _, closed)| *closed).count()
    };
    while refused(&mut streams) < 4 {
        assert!(Instant::now() < deadline, "four heads were not refused");
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(refused(&mut streams), 4, "only the heads past the budget");
    for (_, bytes, closed) in &streams {
        if *closed {
            let text = String::from_utf8_lossy(bytes);
            assert!(text.starts_with("HTTP/1.1 431"), "{text}");
            assert!(text.contains("Request header fields too large"), "{text}");
        }
    }
    let mut held: Vec<TcpStream> = streams
        .into_iter()
        .filter(|(_, _, closed)| !closed)
        .map(|(stream, _, _)| stream)
        .collect();

    // The budget is spent: a small request is served, one that needs a step is not.
    assert_eq!(gateway.get("/x", &[]).status, 200);
    assert_eq!(
        send_raw(gateway.address, &request_with_head_of(6000)).status,
        431
    );

    // A held head that needs a second step is refused, and its step goes back.
    let mut growing = held.pop().unwrap();
    growing.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = growing.write_all("p".repeat(9000).as_bytes());
    let mut answer = Vec::new();
    let _ = growing.read_to_end(&mut answer);
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431"));
    assert_eq!(
        send_raw(gateway.address, &request_with_head_of(6000)).status,
        200
    );

    // A held head finished is answered as usual.
    let mut finishing = held.pop().unwrap();
    finishing.set_read_timeout(Some(PATIENCE)).unwrap();
    finishing
        .write_all(b"\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = finishing.read_to_end(&mut answer);
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
}
