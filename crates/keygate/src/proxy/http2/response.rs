//! Sending a response on an HTTP/2 stream: the same fields the HTTP/1.1 writer
//! (`downstream::response_writer`) puts on it — the error body's own fields, the
//! request id, `Date`, a known `Content-Length` — without the connection-specific ones
//! HTTP/2 forbids, then the body in the pieces the client's windows allow.

use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::Reason;
use http::header::{HeaderName, CONNECTION, CONTENT_LENGTH, DATE, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body::Body as _;
use http_body_util::Either;

use super::body::{send_data, SendStop};
use crate::proxy::downstream::date::append_date;
use crate::proxy::request_id::RequestIdField;
use crate::proxy::upstream::UpstreamBodyError;
use crate::proxy::ProxyBody;

/// Sends `response` on the stream `respond` answers, with the `request_id` field when
/// set; only its head when the request was `HEAD`. `Err(Stalled)` when the client
/// gave no window for `send_timeout`.
pub async fn send(
    respond: &mut SendResponse<Bytes>,
    response: Response<ProxyBody>,
    request_id: Option<&RequestIdField>,
    head_request: bool,
    send_timeout: Duration,
) -> Result<(), SendStop> {
    let (mut parts, mut body) = response.into_parts();
    own_fields(&mut parts.headers, &body, request_id);
    let bodiless = head_request
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    if parts.status.is_informational() || parts.status == StatusCode::NO_CONTENT {
        parts.headers.remove(CONTENT_LENGTH);
    } else if let Some(length) = body.size_hint().exact() {
        if !parts.headers.contains_key(CONTENT_LENGTH) {
            parts
                .headers
                .insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
    }
    let end = bodiless || body.is_end_stream();
    let head = Response::from_parts(parts, ());
    let mut sending = respond
        .send_response(head, end)
        .map_err(|_| SendStop::Gone)?;
    if end {
        return Ok(());
    }
    loop {
        // A client that resets its stream while the upstream is silent is seen at once:
        // the upstream's stream is dropped with the body, which resets it (`CANCEL`).
        let next = std::future::poll_fn(|cx| match Pin::new(&mut body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(Some(frame)),
            Poll::Pending => sending.poll_reset(cx).map(|_| None),
        });
        let Some(frame) = next.await else {
            return Err(SendStop::Gone);
        };
        match frame {
            None => {
                return sending
                    .send_data(Bytes::new(), true)
                    .map_err(|_| SendStop::Gone)
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => send_data(&mut sending, data, send_timeout, &mut body).await?,
                // An HTTP/2 upstream's trailers (gRPC's `grpc-status`) end the stream;
                // an HTTP/1.1 upstream's are not kept as its body is read.
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        return sending.send_trailers(trailers).map_err(|_| SendStop::Gone);
                    }
                }
            },
            Some(Err(error)) => {
                // The upstream broke off (or reset its stream, whose reason is passed
                // on), or the rest of the request failed: the client sees the stream
                // reset, not a response that merely looks shorter.
                let reason = error
                    .downcast_ref::<UpstreamBodyError>()
                    .map_or(Reason::INTERNAL_ERROR, UpstreamBodyError::reset_reason);
                tracing::debug!(%error, ?reason, "response body broke off");
                sending.send_reset(reason);
                return Err(SendStop::Gone);
            }
        }
    }
}

/// The fields the gateway adds, and none that HTTP/2 forbids (an upstream's hop-by-hop
/// fields were left out as its head was read; these may still come in its fields).
fn own_fields(headers: &mut HeaderMap, body: &ProxyBody, request_id: Option<&RequestIdField>) {
    for name in [CONNECTION, TRANSFER_ENCODING, UPGRADE, TE] {
        headers.remove(name);
    }
    for name in ["keep-alive", "proxy-connection"] {
        headers.remove(name);
    }
    // The HTTP/1.1 writer's fields are written as text; read back as fields here.
    let mut text = Vec::new();
    if let Either::Right(error) = body {
        error.append_fields(&mut text);
    }
    if let Some(field) = request_id {
        headers.remove(&field.name);
        field.append_to(&mut text);
    }
    if !headers.contains_key(DATE) {
        text.extend_from_slice(b"date: ");
        append_date(&mut text);
        text.extend_from_slice(b"\r\n");
    }
    for line in text.split(|&byte| byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};

    use super::*;
    use crate::proxy::error::ProxyError;
    use crate::proxy::request_id::RequestId;
    use crate::proxy::respond::error_response;

    #[test]
    fn a_refusal_carries_the_fields_the_http1_writer_writes() {
        let challenge = HeaderValue::from_static("apikey");
        let response = error_response(&ProxyError::MissingKey, &challenge);
        let (mut parts, body) = response.into_parts();
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
        parts
            .headers
            .insert("x-request-id", HeaderValue::from_static("upstream's"));
        let field = RequestIdField {
            name: HeaderName::from_static("x-request-id"),
            id: RequestId::taken(&HeaderValue::from_static("abc-123")).unwrap(),
        };
        own_fields(&mut parts.headers, &body, Some(&field));
        assert_eq!(parts.headers[CONTENT_TYPE], "application/json");
        assert_eq!(parts.headers[WWW_AUTHENTICATE], "apikey");
        assert_eq!(parts.headers.get_all("x-request-id").iter().count(), 1);
        assert_eq!(parts.headers["x-request-id"], "abc-123");
        assert!(parts.headers[DATE].to_str().unwrap().ends_with(" GMT"));
        assert!(!parts.headers.contains_key(CONNECTION));
    }
}
