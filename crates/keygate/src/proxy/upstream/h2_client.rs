//! HTTP/2 to an upstream target (`upstream.protocol: h2` over TLS, ALPN `h2`; `h2c`
//! in clear text with prior knowledge), with the h2 crate's client: one connection per
//! target and worker-shared, every request a stream on it, made when the first request
//! needs it and made anew when the upstream closes it (GOAWAY) or it breaks; and the
//! request head as HTTP/2 carries it. Each request's exchange on its stream is
//! [`super::h2_exchange`]: the body sent as it comes, its trailers included, alongside
//! the response, which streams back frame by frame with its trailers (gRPC's
//! `grpc-status` travels in them).

use std::future::poll_fn;
use std::time::Duration;

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{CONNECTION, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use tokio::sync::Mutex;

use super::request_head::{FieldRewrite, RequestPath};
use super::stream::UpstreamStream;
use super::Failure;
use crate::proxy::error::ProxyError;
use crate::proxy::grpc_status::is_grpc_request;

/// A target's HTTP/2 connection, when one is open.
#[derive(Debug, Default)]
pub struct H2Connection {
    sender: Mutex<Option<SendRequest<Bytes>>>,
}

impl H2Connection {
    /// A stream sender on the open connection, or on a new one `connect` opens (the
    /// HTTP/2 handshake is made here). Requests wait for one another only while a
    /// connection is being made.
    pub async fn sender<F>(
        &self,
        connect: F,
        connect_timeout: Duration,
    ) -> Result<SendRequest<Bytes>, Failure>
    where
        F: std::future::Future<Output = Result<UpstreamStream, Failure>>,
    {
        let mut open = self.sender.lock().await;
        if let Some(sender) = open.as_ref() {
            let mut sender = sender.clone();
            if poll_fn(|cx| sender.poll_ready(cx)).await.is_ok() {
                return Ok(sender);
            }
            *open = None;
        }
        let stream = connect.await?;
        let handshake = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 22)
            .handshake::<_, Bytes>(stream);
        let (sender, connection) = match tokio::time::timeout(connect_timeout, handshake).await {
            Err(_) => return Err(Failure::connect(ProxyError::UpstreamTimeout)),
            Ok(Err(error)) => {
                tracing::debug!(%error, "upstream HTTP/2 handshake failed");
                return Err(Failure::connect(ProxyError::UpstreamConnect));
            }
            Ok(Ok(made)) => made,
        };
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream HTTP/2 connection ended");
            }
        });
        let mut ready = sender.clone();
        poll_fn(|cx| ready.poll_ready(cx))
            .await
            .map_err(|error| Failure::connection_lost("starting a stream to", error, false))?;
        *open = Some(sender.clone());
        Ok(sender)
    }
}

/// Fields that name the HTTP/1.1 connection, which HTTP/2 forbids (RFC 9113 §8.2.2).
fn is_connection_specific(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == HOST
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
}

/// The HTTP/2 request head: `:scheme`, `:authority` (the `Host` the HTTP/1.1 exchange
/// would send), `:path`, and the fields as the HTTP/1.1 head would carry them, less the
/// connection-specific ones; `te: trailers` for a gRPC call or when the client asked for
/// trailers (gRPC servers require it; the client's `TE` is hop-by-hop, removed before).
pub fn request_head<R: FieldRewrite + ?Sized>(
    head: &http::request::Parts,
    path: RequestPath<'_>,
    rewrite: &R,
    secure: bool,
) -> Result<Request<()>, Failure> {
    let authority = rewrite
        .host()
        .or_else(|| head.headers.get(HOST))
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let mut target = String::with_capacity(path.base.len() + path.path.len() + 16);
    for piece in path.pieces() {
        target.push_str(piece);
    }
    if let Some(query) = path.query.filter(|query| !query.is_empty()) {
        target.push('?');
        target.push_str(query);
    }
    let uri = Uri::builder()
        .scheme(if secure { "https" } else { "http" })
        .authority(authority)
        .path_and_query(target)
        .build()
        .map_err(Failure::broken)?;
    let mut headers = HeaderMap::with_capacity(head.headers.len() + 4);
    let trailers_asked = is_grpc_request(&head.headers)
        || head.headers.get_all(TE).iter().any(|value| {
            value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"trailers"))
        });
    for (name, value) in &head.headers {
        if is_connection_specific(name) || name == TE || rewrite.replaces(name) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    if trailers_asked {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    // The gateway's own fields come as `name: value` lines.
    let mut added = Vec::new();
    rewrite.append_fields(&head.headers, &mut added);
    for line in added.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        if !is_connection_specific(&name) {
            headers.append(name, value);
        }
    }
    let mut request = Request::new(());
    *request.method_mut() = head.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = http::Version::HTTP_2;
    *request.headers_mut() = headers;
    Ok(request)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::header::CONTENT_TYPE;

    use super::*;
    use crate::proxy::upstream::request_head::AsSent;

    /// Replaces `Host` and adds one field of its own.
    struct Rewrite(HeaderValue);

    impl FieldRewrite for Rewrite {
        fn host(&self) -> Option<&HeaderValue> {
            Some(&self.0)
        }

        fn replaces(&self, name: &HeaderName) -> bool {
            name.as_str() == "apikey"
        }

        fn append_fields(&self, _fields: &HeaderMap, out: &mut Vec<u8>) {
            out.extend_from_slice(b"x-consumer-username: mia\r\nconnection: nope\r\n");
        }
    }

    fn head(fields: &[(&'static str, &'static str)]) -> http::request::Parts {
        let mut request = Request::post("/echo.Echo/Unary");
        for (name, value) in fields {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_http2_head_drops_connection_fields_and_asks_for_trailers_on_grpc_calls() {
        let head = head(&[
            ("host", "client.example"),
            ("content-type", "application/grpc"),
            ("connection", "keep-alive"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("apikey", "secret-1234"),
            ("x-kept", "1"),
        ]);
        let path = RequestPath {
            base: "/base",
            path: "/echo.Echo/Unary",
            query: Some("a=b"),
        };
        let rewrite = Rewrite(HeaderValue::from_static("10.0.0.7:50051"));
        let request = request_head(&head, path, &rewrite, false).unwrap();
        assert_eq!(
            request.uri().to_string(),
            "http://10.0.0.7:50051/base/echo.Echo/Unary?a=b"
        );
        let headers = request.headers();
        for gone in [
            "host",
            "connection",
            "keep-alive",
            "transfer-encoding",
            "apikey",
        ] {
            assert!(!headers.contains_key(gone), "{gone} was sent");
        }
        assert_eq!(headers[TE], "trailers");
        assert_eq!(headers[CONTENT_TYPE], "application/grpc");
        assert_eq!(headers["x-kept"], "1");
        assert_eq!(headers["x-consumer-username"], "mia");

        // Not a gRPC call and no trailers asked for: no `te`; the client's `Host` is
        // the authority when nothing replaces it; TLS makes the scheme https.
        let plain = head_plain();
        let request = request_head(&plain, RequestPath::whole("/x"), &AsSent, true).unwrap();
        assert!(!request.headers().contains_key(TE));
        assert_eq!(request.uri().to_string(), "https://client.example/x");
    }

    fn head_plain() -> http::request::Parts {
        head(&[("host", "client.example"), ("te", "gzip")])
    }
}
