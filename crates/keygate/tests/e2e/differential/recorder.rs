//! The upstream both gateways forward to: it answers every request with the request's
//! head, byte for byte, so the test sees exactly what an upstream would act on (`keygate
//! echo` parses the target with hyper first, which refuses or rewrites some of the bytes
//! under test).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The response field that carries the head received, in hexadecimal (a field rather
/// than the body, so that answers to `HEAD` carry it too); it also marks an answer as the
/// recorder's, not a gateway's own.
pub const HEAD_FIELD: &str = "x-differential-head";

/// The largest head the recorder keeps reading for.
const MAX_HEAD: usize = 64 * 1024;

/// A recording upstream on an ephemeral loopback port; stops accepting on drop.
pub struct Recorder {
    pub address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let address = listener.local_addr().expect("recorder address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || answer_heads(stream));
            }
        });
        Recorder { address, stop }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accepting thread so it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

/// Answers each request head on `stream` (the corpus sends no bodies) until the peer
/// closes, goes quiet for 5 s, or sends something that is not a head.
fn answer_heads(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head: Vec<u8> = buffer.drain(..end + 4).collect();
            let hex: String = head.iter().map(|byte| format!("{byte:02x}")).collect();
            let answer =
                format!("HTTP/1.1 200 OK\r\n{HEAD_FIELD}: {hex}\r\ncontent-length: 0\r\n\r\n");
            if stream.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
        if buffer.len() > MAX_HEAD {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
