//! One health check: a plain HTTP/1.1 `GET` on a new connection (`Connection: close`,
//! never a pooled one, so a check sees what a new client would), judged by the status
//! line alone. Connection, request and status line together get `timeout`.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::StatusSet;
use crate::proxy::upstream::CheckOutcome;

/// The most read while looking for the end of the status line.
const MAX_STATUS_LINE: usize = 1024;

/// The request a check sends to `path` with `host` as its `Host`.
pub fn request(path: &str, host: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: keygate-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// Sends `request` to `address` (`host:port`) and judges the answer's status by
/// `statuses`.
pub async fn check(
    address: &str,
    request: &[u8],
    timeout: Duration,
    statuses: &StatusSet,
) -> CheckOutcome {
    match tokio::time::timeout(timeout, exchange(address, request)).await {
        Err(_) => CheckOutcome::Timeout,
        Ok(Err(error)) => {
            tracing::debug!(%error, target = address, "health check failed");
            CheckOutcome::Failed
        }
        Ok(Ok(status)) if statuses.contains(status) => CheckOutcome::Healthy(status),
        Ok(Ok(status)) => CheckOutcome::Status(status),
    }
}

/// Connects, sends, and reads up to the end of the status line: its code.
async fn exchange(address: &str, request: &[u8]) -> io::Result<u16> {
    let mut last_error = None;
    let mut stream = None;
    for resolved in tokio::net::lookup_host(address).await? {
        match TcpStream::connect(resolved).await {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last_error = Some(error),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        last_error.unwrap_or_else(|| io::Error::other("the target's host has no address"))
    })?;
    stream.write_all(request).await?;
    let mut read = Vec::with_capacity(256);
    let mut buffer = [0u8; 256];
    loop {
        if let Some(end) = read.windows(2).position(|pair| pair == b"\r\n") {
            return status_code(&read[..end]);
        }
        if read.len() >= MAX_STATUS_LINE {
            return Err(io::Error::other("the status line is too long"));
        }
        let count = stream.read(&mut buffer).await?;
        if count == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        read.extend_from_slice(&buffer[..count]);
    }
}

/// The code of a status line `HTTP/1.x NNN reason`.
fn status_code(line: &[u8]) -> io::Result<u16> {
    let malformed = || io::Error::other("the answer is not an HTTP/1 status line");
    let rest = line
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| line.strip_prefix(b"HTTP/1.0 "))
        .ok_or_else(malformed)?;
    let digits = rest.get(..3).ok_or_else(malformed)?;
    if !digits.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|b| *b != b' ') {
        return Err(malformed());
    }
    let code = digits
        .iter()
        .fold(0u16, |code, digit| code * 10 + u16::from(digit - b'0'));
    if !(100..=599).contains(&code) {
        return Err(malformed());
    }
    Ok(code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn reads_the_code_of_a_status_line() {
        assert_eq!(status_code(b"HTTP/1.1 200 OK").unwrap(), 200);
        assert_eq!(status_code(b"HTTP/1.0 503").unwrap(), 503);
        assert!(status_code(b"HTTP/1.1 20").is_err());
        assert!(status_code(b"HTTP/1.1 2000 OK").is_err());
        assert!(status_code(b"HTTP/1.1 099 x").is_err());
        assert!(status_code(b"SSH-2.0-OpenSSH").is_err());
    }

    /// A server on 127.0.0.1 that answers every connection with `answer`, once it has read
    /// a request head (or says nothing when `answer` is empty).
    async fn server(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buffer = [0u8; 512];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    assert!(head.starts_with(b"GET /health HTTP/1.1\r\nHost: svc\r\n"));
                    if answer.is_empty() {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    let _ = stream.write_all(answer).await;
                });
            }
        });
        address
    }

    #[tokio::test]
    async fn judges_a_target_by_its_status_within_the_timeout() {
        let statuses = StatusSet::default_healthy();
        let request = request("/health", "svc");
        let timeout = Duration::from_millis(300);
        let ok = server(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        assert_eq!(
            check(&ok, &request, timeout, &statuses).await,
            CheckOutcome::Healthy(204)
        );
        let failing = server(b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\n\r\n").await;
        assert_eq!(
            check(&failing, &request, timeout, &statuses).await,
            CheckOutcome::Status(500)
        );
        let silent = server(b"").await;
        assert_eq!(
            check(&silent, &request, timeout, &statuses).await,
            CheckOutcome::Timeout
        );
        let garbled = server(b"hello\r\n").await;
        assert_eq!(
            check(&garbled, &request, timeout, &statuses).await,
            CheckOutcome::Failed
        );
        // A port nothing listens on: bound, then closed.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_address = closed.local_addr().unwrap().to_string();
        drop(closed);
        assert_eq!(
            check(&closed_address, &request, timeout, &statuses).await,
            CheckOutcome::Failed
        );
    }
}
