//! The corpus: requests (method, raw target, `Host`, extra fields) with what nginx did
//! with each, one JSON object a line in `corpus.jsonl`; and sending a case to a gateway
//! in front of the recorder to see what it did.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::recorder::HEAD_FIELD;
use crate::support::parse_response;

/// Where the corpus is, in the repository.
pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/differential/corpus.jsonl")
}

/// One request of the corpus and nginx's outcome for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case is about (unique).
    pub name: String,
    /// The method, as sent (default `GET`).
    #[serde(default = "get", skip_serializing_if = "is_get")]
    pub method: String,
    /// The request target, as sent.
    pub target: String,
    /// The protocol version (default `HTTP/1.1`).
    #[serde(default = "http11", skip_serializing_if = "is_http11")]
    pub version: String,
    /// The `Host` field; `null` for none (default `localhost`).
    #[serde(default = "localhost", skip_serializing_if = "is_localhost")]
    pub host: Option<String>,
    /// Further fields, as sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// What nginx did, as recorded; absent in a case not recorded yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nginx: Option<Outcome>,
}

fn get() -> String {
    "GET".to_owned()
}
fn is_get(method: &String) -> bool {
    method == "GET"
}
fn http11() -> String {
    "HTTP/1.1".to_owned()
}
fn is_http11(version: &String) -> bool {
    version == "HTTP/1.1"
}
fn localhost() -> Option<String> {
    Some("localhost".to_owned())
}
fn is_localhost(host: &Option<String>) -> bool {
    host.as_deref() == Some("localhost")
}

/// What a gateway did with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered by the gateway itself with this status (0: closed without an answer).
    Refused(u16),
    /// Passed to the upstream, which received this.
    Forwarded(Forwarded),
}

/// What the upstream received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forwarded {
    /// The method.
    pub method: String,
    /// The path of the request line, as sent (percent-encoded).
    pub path: String,
    /// The query, as sent, without `?` (none when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The `Host` field (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The `X-Forwarded-Host` field (none when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_host: Option<String>,
    /// The names, in lower case, of the case's extra fields that arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
}

/// Reads the corpus: its lines, each a case or a comment (`#`) or blank.
pub fn load() -> Vec<Line> {
    let text = std::fs::read_to_string(path()).expect("read the differential corpus");
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .map(|(index, line)| {
            if line.trim().is_empty() || line.starts_with('#') {
                Line::Text(line.to_owned())
            } else {
                Line::Case(Box::new(
                    serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("corpus.jsonl:{}: {e}", index + 1)),
                ))
            }
        })
        .collect();
    let mut names: Vec<&str> = cases(&lines).map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("corpus.jsonl: case {:?} twice", twice[0]);
    }
    lines
}

/// Writes the corpus back (when re-recording).
pub fn save(lines: &[Line]) {
    let mut text = String::new();
    for line in lines {
        match line {
            Line::Text(line) => text.push_str(line),
            Line::Case(case) => text.push_str(&serde_json::to_string(case).expect("case as JSON")),
        }
        text.push('\n');
    }
    std::fs::write(path(), text).expect("write the differential corpus");
}

/// A line of the corpus file.
pub enum Line {
    Text(String),
    Case(Box<Case>),
}

/// The cases of `lines`.
pub fn cases(lines: &[Line]) -> impl Iterator<Item = &Case> {
    lines.iter().filter_map(|line| match line {
        Line::Case(case) => Some(&**case),
        Line::Text(_) => None,
    })
}

impl Case {
    /// The request's bytes: on a connection of its own, closed after the answer.
    pub fn bytes(&self) -> Vec<u8> {
        let mut text = format!("{} {} {}\r\n", self.method, self.target, self.version);
        if let Some(host) = &self.host {
            text.push_str(&format!("Host: {host}\r\n"));
        }
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("Connection: close\r\n\r\n");
        text.into_bytes()
    }

    /// Sends the case to the gateway at `address` and says what it did.
    pub fn send(&self, address: SocketAddr) -> Outcome {
        let mut stream = TcpStream::connect(address).expect("connect to the gateway");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        if stream.write_all(&self.bytes()).is_err() {
            return Outcome::Refused(0);
        }
        let mut received = Vec::new();
        // A reset after a refusal still leaves what was read before it.
        let _ = stream.read_to_end(&mut received);
        if !received.windows(4).any(|w| w == b"\r\n\r\n") {
            return Outcome::Refused(0);
        }
        let response = parse_response(&received);
        let Some(hex) = response.header(HEAD_FIELD) else {
            return Outcome::Refused(response.status);
        };
        let head: Vec<u8> = (0..hex.len() / 2)
            .filter_map(|at| u8::from_str_radix(hex.get(2 * at..2 * at + 2)?, 16).ok())
            .collect();
        Outcome::Forwarded(self.received(&head))
    }

    /// What the recorder's answer `head` says the upstream received.
    fn received(&self, head: &[u8]) -> Forwarded {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let mut parts = request_line.splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query).filter(|q| !q.is_empty())),
            None => (target, None),
        };
        let fields: Vec<(String, &str)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
            .collect();
        let field = |wanted: &str| {
            fields
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| (*value).to_owned())
        };
        let mut headers: Vec<String> = Vec::new();
        for (name, _) in &self.headers {
            let name = name.to_ascii_lowercase();
            if fields.iter().any(|(received, _)| *received == name) && !headers.contains(&name) {
                headers.push(name);
            }
        }
        Forwarded {
            method,
            path: path.to_owned(),
            query: query.map(str::to_owned),
            host: field("host"),
            forwarded_host: field("x-forwarded-host"),
            headers,
        }
    }
}
