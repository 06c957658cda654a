//! The known HTTP/2 attacks against the TLS listener, each from a client that writes
//! raw frames, on loopback, bounded in count and time: rapid reset (CVE-2023-44487),
//! CONTINUATION flood, SETTINGS flood, zero-window stall; and requests HTTP/2 calls
//! malformed. After each, the gateway still serves a new connection.

use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::http2::{start, ALEX};
use super::tools::{client_config, KeptConnection};
use crate::support::Gateway;

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame: its 9-byte header, then `payload`.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&length[1..]);
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame with `settings` (identifier, value).
fn settings(settings: &[(u16, u32)]) -> Vec<u8> {
    let payload: Vec<u8> = settings
        .iter()
        .flat_map(|(id, value)| id.to_be_bytes().into_iter().chain(value.to_be_bytes()))
        .collect();
    frame(SETTINGS, 0, 0, &payload)
}

/// A field as an HPACK literal without indexing and a new name (RFC 7541 §6.2.2), or
/// with the static table's name `index` (short names and values only).
fn literal(index: u8, name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![index];
    if index == 0 {
        out.push(u8::try_from(name.len()).unwrap());
        out.extend_from_slice(name.as_bytes());
    }
    out.push(u8::try_from(value.len()).unwrap());
    out.extend_from_slice(value.as_bytes());
    out
}

/// The header block of `GET path` on `localhost` with the test key, and `extra` fields.
fn request_block(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    // :method GET, :scheme https (static table entries 2 and 7).
    let mut block = vec![0x82, 0x87];
    block.extend(literal(4, "", path));
    block.extend(literal(1, "", "localhost"));
    block.extend(literal(0, "apikey", ALEX));
    for (name, value) in extra {
        block.extend(literal(0, name, value));
    }
    block
}

/// A TLS connection that agreed on `h2`, its preface and SETTINGS (`client_settings`)
/// sent.
fn open(ca: &Path, gateway: &Gateway, client_settings: &[(u16, u32)]) -> KeptConnection {
    let mut config = (*client_config(ca, &rustls::version::TLS13)).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let address = gateway.process.listening_address("proxy tls");
    let mut connection = KeptConnection::open_with(Arc::new(config), address);
    let mut start = PREFACE.to_vec();
    start.extend(settings(client_settings));
    connection.stream.write_all(&start).unwrap();
    assert_eq!(
        connection.stream.conn.alpn_protocol(),
        Some(&b"h2"[..]),
        "h2 agreed"
    );
    // Every read and write is bounded: a gateway that stopped reading fails a test
    // rather than hanging it.
    let socket = &connection.stream.sock;
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    socket
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    connection
}

/// A frame read back: its type, flags, stream and payload.
struct Frame {
    kind: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// The next frame; `None` when the connection ended (closed, reset, or nothing came
/// for the read timeout).
fn read_frame(connection: &mut KeptConnection) -> Option<Frame> {
    let mut head = [0u8; 9];
    connection.stream.read_exact(&mut head).ok()?;
    let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
    let mut payload = vec![0u8; length];
    connection.stream.read_exact(&mut payload).ok()?;
    let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
    Some(Frame {
        kind: head[3],
        stream,
        payload,
    })
}

/// The frames the gateway sends until it ends the connection (or is silent for the
/// read timeout), within `limit`.
fn frames_until_end(connection: &mut KeptConnection, limit: Duration) -> Vec<Frame> {
    let started = Instant::now();
    let mut frames = Vec::new();
    while started.elapsed() < limit {
        match read_frame(connection) {
            Some(frame) => frames.push(frame),
            None => break,
        }
    }
    frames
}

/// The error code of the first GOAWAY among `frames`.
fn goaway(frames: &[Frame]) -> Option<u32> {
    frames
        .iter()
        .find(|frame| frame.kind == GOAWAY)
        .map(|frame| u32::from_be_bytes(frame.payload[4..8].try_into().unwrap()))
}

/// A new connection is served as usual: `GET /shop/ok` answers 200.
fn still_serves(ca: &Path, gateway: &Gateway) {
    let mut connection = open(ca, gateway, &[]);
    let block = request_block("/shop/ok", &[]);
    let request = frame(HEADERS, END_STREAM | END_HEADERS, 1, &block);
    connection.stream.write_all(&request).unwrap();
    let response = std::iter::from_fn(|| read_frame(&mut connection))
        .find(|frame| frame.kind == HEADERS && frame.stream == 1)
        .expect("a response");
    // `:status 200` is entry 8 of HPACK's static table.
    assert_eq!(response.payload[0], 0x88, "status 200");
}

#[test]
fn rapid_reset_ends_the_connection_with_enhance_your_calm() {
    let (gateway, _echo, ca) = start("");
    let mut connection = open(&ca, &gateway, &[]);
    // 1000 streams, each opened and cancelled at once, written in batches.
    let block = request_block("/shop/reset", &[]);
    let cancel = 0x8u32.to_be_bytes();
    let started = Instant::now();
    let mut written = 0;
    'writing: for batch in 0..10u32 {
        let mut out = Vec::new();
        for i in 0..100u32 {
            let stream = 1 + 2 * (batch * 100 + i);
            out.extend(frame(HEADERS, END_STREAM | END_HEADERS, stream, &block));
            out.extend(frame(RST_STREAM, 0, stream, &cancel));
        }
        if connection.stream.write_all(&out).is_err() {
            break 'writing;
        }
        written += 100;
    }
    let frames = frames_until_end(&mut connection, Duration::from_secs(10));
    // The gateway says GOAWAY (ENHANCE_YOUR_CALM) and closes. When it closes on frames
    // not read yet, the kernel resets the connection and the GOAWAY may be lost here:
    // then the writes broke off before all thousand streams.
    match goaway(&frames) {
        Some(code) => assert_eq!(code, ENHANCE_YOUR_CALM, "after {written} streams"),
        None => assert!(written < 1000, "no GOAWAY after {written} reset streams"),
    }
    assert!(started.elapsed() < Duration::from_secs(12));
    // Few of the streams were answered, or even taken up.
    let answered = frames.iter().filter(|frame| frame.kind == HEADERS).count();
    assert!(answered < 100, "{answered} answered");
    still_serves(&ca, &gateway);
}

#[test]
fn a_continuation_flood_ends_the_connection() {
    let (gateway, _echo, ca) = start("");
    let mut connection = open(&ca, &gateway, &[]);
    let started = Instant::now();
    // A header block begun and never ended: 10,000 CONTINUATION frames of one field
    // each, as long as the gateway reads them.
    let block = request_block("/shop/flood", &[]);
    let mut sent = 0;
    let first = frame(HEADERS, END_STREAM, 1, &block);
    if connection.stream.write_all(&first).is_ok() {
        let piece = frame(CONTINUATION, 0, 1, &literal(0, "x-flood", "0123456789"));
        let batch: Vec<u8> = piece.repeat(100);
        for _ in 0..100 {
            if connection.stream.write_all(&batch).is_err() {
                break;
            }
            sent += 100;
        }
    }
    let frames = frames_until_end(&mut connection, Duration::from_secs(10));
    // As for rapid reset: a GOAWAY lost to the reset of a connection closed on unread
    // frames shows as writes broken off before the ten thousand.
    match goaway(&frames) {
        Some(code) => assert_eq!(code, ENHANCE_YOUR_CALM, "after {sent} frames"),
        None => assert!(sent < 10_000, "no GOAWAY after {sent} CONTINUATION frames"),
    }
    assert!(
        frames.iter().all(|frame| frame.kind != HEADERS),
        "not answered"
    );
    assert!(started.elapsed() < Duration::from_secs(12));
    still_serves(&ca, &gateway);
}

/// The gateway's resident memory, in KiB.
fn resident_kib(gateway: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gateway.process.pid()))
        .expect("the gateway's /proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_settings_flood_takes_no_memory_and_ends_with_the_header_timeout() {
    let (gateway, _echo, ca) = start("  header_timeout: 2s\n  send_timeout: 2s\n");
    still_serves(&ca, &gateway);
    let before = resident_kib(&gateway);
    let mut connection = open(&ca, &gateway, &[]);
    connection
        .stream
        .sock
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    // Up to two million SETTINGS frames, none of their acknowledgements read. The
    // gateway writes each one's before it reads the next frame, so the flood waits on
    // the socket rather than in memory; and with no stream open the connection is
    // ended after `header_timeout`, whatever it carries.
    let started = Instant::now();
    let batch = settings(&[(0x3, 100)]).repeat(10_000);
    let (mut sent, mut most) = (0, before);
    let ended = loop {
        if sent == 2_000_000 || started.elapsed() > Duration::from_secs(15) {
            break None;
        }
        match connection.stream.write_all(&batch) {
            Ok(()) => sent += 10_000,
            Err(error) => break Some(error),
        }
        most = most.max(resident_kib(&gateway));
    };
    let elapsed = started.elapsed();
    let ended = ended.expect("the flood outlived the header timeout");
    assert!(
        matches!(
            ended.kind(),
            ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
                | ErrorKind::TimedOut
                | ErrorKind::WouldBlock
        ),
        "{ended}"
    );
    // A write that stalled (the gateway stopped reading) is followed by the close.
    if !matches!(
        ended.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
    ) {
        assert!(frames_until_end(&mut connection, Duration::from_secs(10)).len() < sent);
    }
    assert!(
        elapsed < Duration::from_secs(10),
        "{elapsed:?} for {sent} frames"
    );
    let grown = most.saturating_sub(before);
    assert!(grown < 32 * 1024, "{grown} KiB more for {sent} frames");
    still_serves(&ca, &gateway);
}

#[test]
fn a_client_that_opens_no_window_is_disconnected_after_the_send_timeout() {
    let (gateway, _echo, ca) = start("  header_timeout: 30s\n  send_timeout: 2s\n");
    // SETTINGS_INITIAL_WINDOW_SIZE 0: the response's head may come, its body may not.
    let mut connection = open(&ca, &gateway, &[(0x4, 0)]);
    let started = Instant::now();
    let block = request_block("/shop/stall", &[]);
    let request = frame(HEADERS, END_STREAM | END_HEADERS, 1, &block);
    connection.stream.write_all(&request).unwrap();
    let mut frames = Vec::new();
    // Reads wait up to 2 s each: the gateway is silent while it waits for window.
    while started.elapsed() < Duration::from_secs(10) {
        match read_frame(&mut connection) {
            Some(frame) => {
                let is_goaway = frame.kind == GOAWAY;
                frames.push(frame);
                if is_goaway {
                    break;
                }
            }
            None if started.elapsed() > Duration::from_secs(3) => break,
            None => {}
        }
    }
    let elapsed = started.elapsed();
    assert!(
        frames
            .iter()
            .any(|frame| frame.kind == HEADERS && frame.payload[0] == 0x88),
        "the head came"
    );
    assert!(
        frames.iter().all(|frame| frame.kind != 0x0),
        "no DATA without window"
    );
    assert!(goaway(&frames).is_some(), "GOAWAY after the send timeout");
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    still_serves(&ca, &gateway);
}

#[test]
fn requests_http2_calls_malformed_are_refused() {
    let (gateway, _echo, ca) = start("");
    let mut connection = open(&ca, &gateway, &[]);
    // A connection-specific field: the stream is reset (PROTOCOL_ERROR).
    let block = request_block("/shop/a", &[("connection", "keep-alive")]);
    connection
        .stream
        .write_all(&frame(HEADERS, END_STREAM | END_HEADERS, 1, &block))
        .unwrap();
    let reset = std::iter::from_fn(|| read_frame(&mut connection))
        .find(|frame| frame.stream == 1)
        .expect("an answer on stream 1");
    assert_eq!(reset.kind, RST_STREAM);
    assert_eq!(reset.payload, 0x1u32.to_be_bytes(), "PROTOCOL_ERROR");
    // A Host that contradicts `:authority`: 400, as over HTTP/1.1 for two Hosts.
    let block = request_block("/shop/a", &[("host", "elsewhere.test")]);
    connection
        .stream
        .write_all(&frame(HEADERS, END_STREAM | END_HEADERS, 3, &block))
        .unwrap();
    let answer = std::iter::from_fn(|| read_frame(&mut connection))
        .find(|frame| frame.stream == 3)
        .expect("an answer on stream 3");
    assert_eq!(answer.kind, HEADERS);
    // `:status 400` is entry 12 of HPACK's static table.
    assert_eq!(answer.payload[0], 0x8c, "status 400");
    // A path that cannot be made unambiguous: 400 too.
    let block = request_block("/shop/..%2f..", &[]);
    connection
        .stream
        .write_all(&frame(HEADERS, END_STREAM | END_HEADERS, 5, &block))
        .unwrap();
    let answer = std::iter::from_fn(|| read_frame(&mut connection))
        .find(|frame| frame.stream == 5 && frame.kind == HEADERS)
        .expect("an answer on stream 5");
    assert_eq!(answer.payload[0], 0x8c, "status 400");
}
