//! HTTP/2 on the proxy's TLS listeners (ALPN `h2`) — and on plain ones with
//! `proxy.http2.h2c` — with the h2 crate: each stream's
//! request is brought to the HTTP/1.1 parser's reading ([`request`]) and goes through
//! the same phases ([`Gateway::check`], [`Gateway::forward`]) to its upstream, HTTP/1.1
//! or HTTP/2; its response goes back in the pieces the client's flow-control windows
//! allow ([`response`]). To an HTTP/2 upstream the request body goes on being sent
//! while the response comes back (a bidirectional gRPC call takes turns), see
//! `upstream::h2_exchange`.
//!
//! The streams of a connection run in the connection's task, as HTTP/1.1 requests do:
//! no task is spawned, nothing changes thread. The limits and defences (see
//! `docs/security.md`):
//! - at most `max_concurrent_streams` streams at once; a header list over the proxy's
//!   head limit is refused, which also bounds CONTINUATION frames (CONTINUATION flood);
//! - streams the client resets before they were taken up count against
//!   `max_pending_reset_streams`, protocol errors against `max_error_reset_streams`;
//!   past either the connection ends with `GOAWAY` (rapid reset, CVE-2023-44487);
//! - SETTINGS and PING are acknowledged one at a time, before the next frame is read,
//!   so a client that floods them without reading the answers stops being read;
//! - a connection with no stream open is closed after `header_timeout` (a client that
//!   only sends SETTINGS or PING included);
//! - a response that gets no window for `send_timeout` ends the connection
//!   (zero-window stall); what is sent ahead is bounded by [`SEND_BUFFER`] per stream.

pub mod body;
pub mod request;
pub mod response;

use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use http::{HeaderValue, Method, Request};
use http_body::Body as _;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::downstream::connection::ClientIo;
use super::downstream::Limits;
use super::error::ProxyError;
use super::forward::ClientAddress;
use super::handler::{Checked, Checking, Gateway};
use super::respond::error_response;
use crate::config::Http2Settings;
use body::{RequestBody, SendStop};

/// What one stream may have buffered on its way to the client beyond the window.
pub const SEND_BUFFER: usize = 64 * 1024;

/// How long a connection that is being closed may take to say `GOAWAY` and finish.
const CLOSING: Duration = Duration::from_secs(1);

/// The ALPN name of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";

/// Serves the HTTP/2 connection `stream` (its preface not read yet) until the client
/// ends it, a limit does, or `stopping` is cancelled and the streams in flight are
/// answered.
pub async fn serve_http2<S: ClientIo>(
    stream: S,
    client: ClientAddress,
    gateway: &Gateway,
    limits: Limits,
    settings: Http2Settings,
    stopping: &CancellationToken,
) {
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(settings.max_concurrent_streams)
        .initial_window_size(settings.initial_window_size)
        .initial_connection_window_size(settings.connection_window_size)
        .header_table_size(settings.header_table_size)
        .max_header_list_size(u32::try_from(limits.max_head_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(settings.max_pending_reset_streams)
        .max_local_error_reset_streams(Some(settings.max_error_reset_streams))
        .max_send_buffer_size(SEND_BUFFER);
    let handshake = builder.handshake::<_, Bytes>(stream);
    let mut connection = match tokio::time::timeout(limits.header_timeout, handshake).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => {
            tracing::debug!(client = %client.ip, %error, "HTTP/2 preface refused");
            return;
        }
        Err(_) => {
            tracing::debug!(client = %client.ip, "HTTP/2 preface timed out");
            return;
        }
    };
    let mut streams = FuturesUnordered::new();
    let mut stopped = pin!(stopping.cancelled());
    let mut shutting_down = false;
    // With no stream open: when the connection is closed as idle. Once closing: when it
    // is dropped whatever the client does.
    let idle = tokio::time::sleep(limits.header_timeout);
    let mut idle = pin!(idle);
    let mut closing = false;
    // A stalled client's connection is dropped when `CLOSING` is up, streams or not.
    let mut stalled = false;
    loop {
        tokio::select! {
            biased;
            Some(ended) = streams.next(), if !streams.is_empty() => {
                if ended == Err(SendStop::Stalled) {
                    tracing::debug!(client = %client.ip, "HTTP/2 client gave no window in time; connection closed");
                    connection.abrupt_shutdown(Reason::NO_ERROR);
                    (closing, stalled) = (true, true);
                    idle.as_mut().reset(Instant::now() + CLOSING);
                } else if streams.is_empty() && !closing {
                    idle.as_mut().reset(Instant::now() + limits.header_timeout);
                }
            }
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    streams.push(serve_stream(gateway, &client, &limits, request, respond));
                }
                Some(Err(error)) => {
                    tracing::debug!(client = %client.ip, %error, "HTTP/2 connection ended");
                    break;
                }
                None => break,
            },
            () = stopped.as_mut(), if !shutting_down => {
                shutting_down = true;
                connection.graceful_shutdown();
            }
            () = idle.as_mut(), if streams.is_empty() || closing => {
                if stalled || (closing && streams.is_empty()) {
                    break;
                }
                if closing {
                    // Streams opened before the client saw GOAWAY are answered first.
                    idle.as_mut().reset(Instant::now() + CLOSING);
                    continue;
                }
                tracing::debug!(client = %client.ip, "HTTP/2 connection idle; closed");
                connection.graceful_shutdown();
                closing = true;
                idle.as_mut().reset(Instant::now() + CLOSING);
            }
        }
    }
}

/// One stream: its request checked and forwarded as any other, its response sent back.
/// A stream the client resets while its request is forwarded is dropped with it.
async fn serve_stream(
    gateway: &Gateway,
    client: &ClientAddress,
    limits: &Limits,
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
) -> Result<(), SendStop> {
    let (parts, body) = request.into_parts();
    let head_request = parts.method == Method::HEAD;
    let mut parts = match request::normalise(parts, limits.underscored_fields) {
        Ok(parts) => parts,
        Err(error) => {
            tracing::debug!(client = %client.ip, %error, "HTTP/2 request refused");
            let response = error_response(&ProxyError::from(error), &HeaderValue::from_static(""));
            return response::send(
                &mut respond,
                response,
                None,
                head_request,
                limits.send_timeout,
            )
            .await;
        }
    };
    let mut body = RequestBody::new(body);
    // HTTP/2 fields are not slices of one head: nothing to share.
    // Set only on a route with `body` key sources; not paired with `checked` in a tuple,
    // which would copy the decision once more per request.
    let mut read_body = None;
    let checked = match gateway.check(&mut parts, &Bytes::new(), client) {
        Checking::Decided(checked) => checked,
        // Exact rate limits across nodes: the one wait before forwarding.
        // Boxed for the reason `forwarded` is below.
        Checking::Limiting(admission) => Box::pin(gateway.settle(admission, &parts)).await,
        // A route with `body` key sources: the body is read before the key is looked for.
        Checking::ReadingBody(wait) => {
            // RFC 9110 §10.1.1, as below: its body is wanted now — unless its declared
            // length is over the bound, which refuses it unread.
            if expects_continue(&parts.headers)
                && !body.is_end_stream()
                && !wait.declared_too_long(&parts.headers)
            {
                send_continue(&mut respond);
            }
            let reading = gateway.check_body(wait, &mut parts, client, &mut body);
            let reset = std::future::poll_fn(|cx| respond.poll_reset(cx));
            let (checked, read) = tokio::select! {
                decided = Box::pin(reading) => decided,
                _ = reset => return Err(SendStop::Gone),
            };
            read_body = read;
            checked
        }
    };
    let (response, request_id) = match checked {
        Checked::Answered(response, request_id) => (response, request_id),
        Checked::Admitted(admission) => {
            let request_id = admission.request_id_field();
            // RFC 9110 §10.1.1: a client that waits for `100 Continue` gets it once its
            // request is let through (a refusal is answered without it). A body read for
            // its key has ended: it got it then.
            if expects_continue(&parts.headers) && !body.is_end_stream() {
                send_continue(&mut respond);
            }
            // Boxed: the forwarding future is several kilobytes, and a stream's future is
            // moved whole into the connection's set of streams when it is pushed — a
            // refused request, which never forwards, would pay for moving it too.
            let forwarded = match read_body {
                None => Either::Left(Box::pin(
                    gateway.forward(admission, &mut parts, body, client),
                )),
                Some(read) => Either::Right(Box::pin(
                    gateway.forward_read(admission, &mut parts, read, client),
                )),
            };
            let reset = std::future::poll_fn(|cx| respond.poll_reset(cx));
            tokio::select! {
                response = forwarded => (response, request_id),
                _ = reset => return Err(SendStop::Gone),
            }
        }
    };
    let request_id = request_id.as_ref();
    response::send(
        &mut respond,
        response,
        request_id,
        head_request,
        limits.send_timeout,
    )
    .await
}

/// Tells a client waiting on `Expect: 100-continue` to send its body.
fn send_continue(respond: &mut SendResponse<Bytes>) {
    let mut interim = http::Response::new(());
    *interim.status_mut() = http::StatusCode::CONTINUE;
    // Fails only when the stream is gone, which reading or forwarding then finds.
    let _ = respond.send_informational(interim);
}

/// Whether the request waits for `100 Continue` before it sends its body.
fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}
