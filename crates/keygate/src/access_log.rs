//! The access log: one JSON line per request, written by a thread of its own so the
//! request path only hands a record over a bounded channel. When the writer falls behind,
//! records are dropped and counted rather than slowing requests. Keys never appear: only
//! the key id and display prefix.

use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Uri};
use serde::Serialize;

use crate::access_record::AccessRecord;
use crate::metrics::Metrics;
use crate::proxy::authz::Shape;
use crate::proxy::error::Denial;
use crate::proxy::request_id::RequestId;

/// Where access log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// Nowhere.
    Off,
    /// Standard output.
    Stdout,
    /// Appended to a file.
    File(PathBuf),
}

impl std::str::FromStr for AccessLogTarget {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "off" => AccessLogTarget::Off,
            "stdout" | "-" => AccessLogTarget::Stdout,
            path => AccessLogTarget::File(path.into()),
        })
    }
}

#[derive(Serialize)]
struct Line<'a> {
    time: String,
    request_id: Option<&'a str>,
    client: Option<IpAddr>,
    host: Option<&'a str>,
    method: &'a str,
    path: &'a str,
    protocol: &'static str,
    status: u16,
    route: Option<&'a str>,
    service: Option<&'a str>,
    consumer: Option<&'a str>,
    client_type: Option<&'a str>,
    /// The call went on as the service's anonymous consumer (`consumer`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    anonymous: bool,
    key_id: Option<&'a str>,
    key_prefix: Option<&'a str>,
    plan: Option<&'a str>,
    subscription: Option<&'a str>,
    denial: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<&'a str>,
    upstream_status: Option<u16>,
    total_us: u64,
    upstream_us: u64,
    gateway_us: u64,
    tries: u32,
    /// `proxy`, or `authz` for a front proxy's check.
    mode: &'static str,
    /// In authz mode, the check's shape (`nginx`, `forward_auth`, `envoy_http`,
    /// `envoy_grpc`).
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<&'static str>,
}

impl<'a> Line<'a> {
    fn of(record: &'a AccessRecord) -> Line<'a> {
        let key = record.key.as_deref();
        let consumer = record.consumer();
        let time = time::OffsetDateTime::from(record.time)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Line {
            time,
            request_id: record.request_id.as_ref().map(|id| id.as_str()),
            client: record.client,
            host: record.host.as_ref().and_then(|host| host.to_str().ok()),
            method: record.method.as_str(),
            path: record.uri.path(),
            protocol: protocol(record.version),
            status: record.status,
            route: record.route.as_deref(),
            service: record.service.as_deref(),
            consumer: consumer.map(|c| &*c.name),
            client_type: consumer.map(|c| &*c.profile.client_type),
            anonymous: record.anonymous.is_some(),
            key_id: key.map(|k| &*k.id),
            key_prefix: key.and_then(|k| k.prefix.as_deref()),
            plan: record.plan.as_deref(),
            subscription: record.subscription.as_deref(),
            denial: record.denial.map(Denial::as_str),
            limit: record.limit.as_deref(),
            upstream_status: record.upstream_status,
            total_us: record.total_us,
            upstream_us: record.upstream_us,
            gateway_us: record.total_us.saturating_sub(record.upstream_us),
            tries: record.tries,
            mode: record.mode.as_str(),
            check: record.mode.shape().map(Shape::as_str),
        }
    }
}

/// How a protocol version reads in the log, as in nginx's `$server_protocol`.
fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// The sending side of the access log; cheap to clone. With the log off, nothing is sent.
#[derive(Clone)]
pub struct AccessLog {
    sender: Option<SyncSender<AccessRecord>>,
    metrics: Arc<Metrics>,
}

type Output = BufWriter<Box<dyn Write + Send>>;

impl AccessLog {
    /// Starts the thread that writes records to `target` (none for `Off`); records the
    /// writer cannot keep up with are counted in `metrics` as dropped.
    pub fn start(target: &AccessLogTarget, metrics: Arc<Metrics>) -> std::io::Result<AccessLog> {
        let output: Output = match target {
            AccessLogTarget::Off => {
                return Ok(AccessLog {
                    sender: None,
                    metrics,
                })
            }
            AccessLogTarget::Stdout => BufWriter::new(Box::new(std::io::stdout())),
            AccessLogTarget::File(path) => BufWriter::new(Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
        };
        let (sender, receiver) = sync_channel(16 * 1024);
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(receiver, output))?;
        Ok(AccessLog {
            sender: Some(sender),
            metrics,
        })
    }

    /// Whether records are written anywhere.
    pub fn enabled(&self) -> bool {
        self.sender.is_some()
    }

    /// Hands a copy of `record` to the writer without waiting. Lent, not moved: the
    /// request's record is hundreds of bytes, and with the log off nothing is copied.
    pub fn write(&self, record: &AccessRecord) {
        if let Some(sender) = &self.sender {
            if let Err(TrySendError::Full(_)) = sender.try_send(detached(record)) {
                self.metrics.dropped_record();
            }
        }
    }
}

/// A copy of `record` for the writer. The record's URI and `Host` may be slices of the
/// connection's read buffer: the copy keeps its own instead, so that the buffer is free
/// again when the request ends.
fn detached(record: &AccessRecord) -> AccessRecord {
    AccessRecord {
        time: record.time,
        method: record.method.clone(),
        uri: path_only(&record.uri),
        version: record.version,
        client: record.client,
        host: record.host.as_ref().and_then(own_copy),
        request_id: record.request_id.as_ref().map(RequestId::owned),
        status: record.status,
        matched: record.matched,
        service: record.service.clone(),
        route: record.route.clone(),
        key: record.key.clone(),
        anonymous: record.anonymous.clone(),
        plan: record.plan.clone(),
        subscription: record.subscription.clone(),
        denial: record.denial,
        limit: record.limit.clone(),
        upstream_status: record.upstream_status,
        total_us: record.total_us,
        upstream_us: record.upstream_us,
        tries: record.tries,
        mode: record.mode,
    }
}

/// A URI of its own holding `uri`'s path, the part the log line shows.
fn path_only(uri: &Uri) -> Uri {
    Uri::from_maybe_shared(Bytes::copy_from_slice(uri.path().as_bytes())).unwrap_or_default()
}

/// A value of its own with `value`'s bytes.
fn own_copy(value: &HeaderValue) -> Option<HeaderValue> {
    HeaderValue::from_bytes(value.as_bytes()).ok()
}

fn write_lines(receiver: Receiver<AccessRecord>, mut output: Output) {
    loop {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(record) => {
                write_line(&mut output, &record);
                // Drain what is queued, then flush, so a quiet gateway still shows its lines.
                while let Ok(next) = receiver.try_recv() {
                    write_line(&mut output, &next);
                }
                let _ = output.flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                let _ = output.flush();
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = output.flush();
                return;
            }
        }
    }
}

fn write_line(output: &mut impl Write, record: &AccessRecord) {
    if serde_json::to_writer(&mut *output, &Line::of(record)).is_ok() {
        let _ = output.write_all(b"\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::BytesMut;

    use super::*;

    #[test]
    fn a_record_keeps_its_own_path_and_frees_the_read_buffer() {
        let mut buffer = BytesMut::with_capacity(64);
        buffer.extend_from_slice(b"/orders/42?apikey=secret");
        let head = buffer.split().freeze();
        let uri = Uri::from_maybe_shared(head.slice(..)).unwrap();
        drop(head);
        let logged = path_only(&uri);
        drop(uri);
        assert_eq!(logged.path(), "/orders/42");
        assert_eq!(
            logged.query(),
            None,
            "the query (maybe a key) is never kept"
        );
        assert!(
            buffer.try_reclaim(64),
            "nothing holds the read buffer any more"
        );
    }
}
