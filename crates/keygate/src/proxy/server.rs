//! The proxy listeners of one worker: accepts connections on each, serves each with
//! keygate's own HTTP/1.1 connection (`downstream`) — after a TLS handshake on a TLS
//! listener ([`super::protocol`]), HTTP/2 when the client chose it — and shuts down gracefully: stop accepting, let
//! requests in flight finish within `shutdown_timeout`, then return.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::downstream::request_head::UnderscoredFields;
use super::downstream::{date, serve_connection, Limits};
use super::forward::ClientAddress;
use super::handler::Gateway;
use super::{protocol, upstreams};
use crate::state::SharedState;
use crate::tls::TlsServer;

/// One listener of a worker, and whether its connections begin with a TLS handshake
/// (with the certificates in force when each connection opens).
pub struct Listening {
    /// The socket.
    pub listener: TcpListener,
    /// The TLS configuration, on a TLS listener.
    pub tls: Option<Arc<TlsServer>>,
    /// What answers its requests: the proxy, or the authz twin (`super::authz`).
    pub gateway: Arc<Gateway>,
}

/// Accepts on any of `listeners`, trying them in turn from `next` so that a busy
/// listener cannot keep the others waiting.
fn poll_accept_any(
    listeners: &[Listening],
    next: &mut usize,
    cx: &mut Context<'_>,
) -> Poll<(usize, io::Result<(TcpStream, SocketAddr)>)> {
    let count = listeners.len();
    for offset in 0..count {
        let index = (*next + offset) % count;
        if let Poll::Ready(accepted) = listeners[index].listener.poll_accept(cx) {
            *next = (index + 1) % count;
            return Poll::Ready((index, accepted));
        }
    }
    Poll::Pending
}

/// How often a worker closes its idle upstream connections that are past their time or
/// that the upstream closed, at most: a service whose `keepalive.idle_timeout` is shorter
/// than twice this is swept every half of it ([`upstreams::sweep_period`]).
const IDLE_SWEEP_INTERVAL: Duration = Duration::from_secs(15);

/// Serves `listeners` until `shutdown` completes, then drains connections.
pub async fn serve(
    listeners: Vec<Listening>,
    gateway: Arc<Gateway>,
    state: SharedState,
    shutdown: impl Future<Output = ()>,
) {
    let stopping = CancellationToken::new();
    // Every connection holds a sender; when the last one is dropped, all have ended.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    // Built now rather than at the first request: host names are asked for at start.
    let _ = upstreams::of(&state.load(), gateway.health_checks());
    let mut sweep_period = upstreams::sweep_period(&state.load(), IDLE_SWEEP_INTERVAL);
    let mut sweep = tokio::time::interval(sweep_period);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut date_tick = tokio::time::interval(date::REFRESH_INTERVAL);
    date_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next = 0;
    loop {
        tokio::select! {
            _ = date_tick.tick() => date::refresh(),
            _ = sweep.tick() => {
                let snapshot = state.load();
                for upstream in upstreams::built(&snapshot) {
                    upstream.sweep_idle();
                }
                let period = upstreams::sweep_period(&snapshot, IDLE_SWEEP_INTERVAL);
                if period != sweep_period {
                    sweep_period = period;
                    sweep = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                }
            }
            (index, accepted) = poll_fn(|cx| poll_accept_any(&listeners, &mut next, cx)) => match accepted {
                Ok((stream, client)) => {
                    let _ = stream.set_nodelay(true);
                    // Limits are read per connection, so a reload applies to new connections.
                    let settings = &state.load().config.proxy;
                    let limits = Limits {
                        header_timeout: settings.header_timeout,
                        max_head_bytes: (settings.max_header_bytes + 16 * 1024).max(8192),
                        partial_head_budget: settings.max_partial_head_bytes,
                        send_timeout: settings.send_timeout,
                        underscored_fields: if settings.underscores_in_headers {
                            UnderscoredFields::Kept
                        } else {
                            UnderscoredFields::Dropped
                        },
                    };
                    let (gateway, stopping, open) = (listeners[index].gateway.clone(), stopping.clone(), open.clone());
                    let client = ClientAddress::new(client.ip());
                    match &listeners[index].tls {
                        None if settings.http2.h2c => {
                            let limits = (limits, settings.http2);
                            tokio::spawn(async move {
                                protocol::serve_plain_detecting(stream, client, &gateway, limits, &stopping).await;
                                drop(open);
                            });
                        }
                        None => {
                            tokio::spawn(async move {
                                serve_connection(stream, client, &gateway, limits, &stopping).await;
                                drop(open);
                            });
                        }
                        Some(tls) => {
                            let acceptor = tls.acceptor();
                            let limits = (limits, settings.http2);
                            tokio::spawn(async move {
                                protocol::accept_tls(acceptor, stream, client, &gateway, limits, &stopping).await;
                                drop(open);
                            });
                        }
                    }
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listeners);
    drop(open);
    stopping.cancel();
    let timeout = state.load().config.proxy.shutdown_timeout;
    tracing::info!(
        ?timeout,
        "shutting down: no new connections, finishing requests in flight"
    );
    let give_up = tokio::time::sleep(timeout);
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            // Requests still in flight are answered with a current `Date`.
            _ = date_tick.tick() => date::refresh(),
            _ = all_closed.recv() => {
                tracing::info!("all connections closed");
                break;
            }
            () = &mut give_up => {
                tracing::warn!("shutdown timeout reached, closing remaining connections");
                break;
            }
        }
    }
}
