//! `keygate echo`: a small upstream that answers every request with a JSON description of
//! what it received — for the quickstart, tests and benchmarks.
//!
//! A request header `x-echo-delay-ms: N` makes it wait N milliseconds (at most 60 s)
//! before answering, to try out timeouts; `x-echo-body: 1` adds the body it received, as
//! text (its first [`ECHOED_BODY_BYTES`] bytes), to see what a gateway changed in it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

#[derive(Serialize)]
struct Echoed<'a> {
    server: &'a str,
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    headers: BTreeMap<&'a str, String>,
    body_length: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
}

/// The most of a body `x-echo-body: 1` echoes.
pub const ECHOED_BODY_BYTES: usize = 1024 * 1024;

/// Serves `listener` until `shutdown` completes; `name` is reported as `server`.
pub async fn serve(listener: TcpListener, name: String, shutdown: impl Future<Output = ()>) {
    let name: Arc<str> = name.into();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let _ = stream.set_nodelay(true);
        let name = name.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let name = name.clone();
                async move { Ok::<_, Infallible>(echo(request, &name).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn echo(request: Request<Incoming>, name: &str) -> Response<Full<Bytes>> {
    let delay = request
        .headers()
        .get("x-echo-delay-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.min(60_000)));
    let (parts, mut body) = request.into_parts();
    let mut kept = parts
        .headers
        .get("x-echo-body")
        .is_some_and(|value| value == "1")
        .then(Vec::new);
    let mut body_length = 0u64;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                let data = frame.data_ref().map_or(&[][..], |d| &d[..]);
                body_length += data.len() as u64;
                if let Some(kept) = &mut kept {
                    let room = ECHOED_BODY_BYTES.saturating_sub(kept.len());
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Err(_) => break,
        }
    }
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (header, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(header.as_str())
            .and_modify(|joined| {
                joined.push_str(if header == http::header::COOKIE {
                    "; "
                } else {
                    ", "
                });
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let echoed = Echoed {
        server: name,
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers,
        body_length,
        body: kept.map(|kept| String::from_utf8_lossy(&kept).into_owned()),
    };
    let body = serde_json::to_vec(&echoed).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The default name of an echo server: its address.
pub fn default_name(address: SocketAddr) -> String {
    address.to_string()
}
