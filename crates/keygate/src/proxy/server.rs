//! The proxy listener: accepts connections, serves HTTP/1.1 with keep-alive on each, and
//! shuts down gracefully — stop accepting, let requests in flight finish within
//! `shutdown_timeout`, then return.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::handler::Gateway;
use crate::state::SharedState;

/// How often a worker closes its idle upstream connections that are past their time or
/// that the upstream closed.
const IDLE_SWEEP_INTERVAL: Duration = Duration::from_secs(15);

/// Serves `listener` until `shutdown` completes, then drains connections.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    state: SharedState,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut sweep = tokio::time::interval(IDLE_SWEEP_INTERVAL);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                for upstream in &state.load().upstreams {
                    upstream.sweep_idle();
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    let _ = stream.set_nodelay(true);
                    // Limits are read per connection, so a reload applies to new connections.
                    let snapshot = state.load();
                    let settings = &snapshot.config.proxy;
                    let mut builder = http1::Builder::new();
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(settings.header_timeout)
                        .max_buf_size((settings.max_header_bytes + 16 * 1024).max(8192))
                        .keep_alive(true);
                    let gateway = gateway.clone();
                    let service = service_fn(move |request| {
                        let gateway = gateway.clone();
                        async move { Ok::<_, Infallible>(gateway.handle(request, client).await) }
                    });
                    let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%client, %error, "client connection ended with an error");
                        }
                    });
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
    drop(listener);
    let timeout = state.load().config.proxy.shutdown_timeout;
    tracing::info!(
        ?timeout,
        "shutting down: no new connections, finishing requests in flight"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(timeout) => tracing::warn!("shutdown timeout reached, closing remaining connections"),
    }
}
