//! Proxy worker threads: each runs a single-threaded runtime with a listener of its own on
//! the same address (`SO_REUSEPORT`), so the kernel spreads connections over the workers
//! and a connection never changes thread: no work stealing, no cross-thread wake-ups on
//! the request path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use super::handler::Gateway;
use crate::state::SharedState;

/// Binds `count` listeners on `address` with `SO_REUSEPORT`. With port 0, the first
/// listener picks the port and the others join it.
pub fn bind(address: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(count);
    let mut address = address;
    for _ in 0..count.max(1) {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(address)?;
        let listener = socket.listen(1024)?;
        address = listener.local_addr()?;
        listeners.push(listener.into_std()?);
    }
    Ok(listeners)
}

/// The running workers.
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Workers {
    /// Starts one worker thread per listener.
    pub fn start(
        listeners: Vec<std::net::TcpListener>,
        gateway: Arc<Gateway>,
        state: SharedState,
    ) -> std::io::Result<Workers> {
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::with_capacity(listeners.len());
        for (index, listener) in listeners.into_iter().enumerate() {
            let (gateway, state, mut stopped) = (gateway.clone(), state.clone(), stopped.clone());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let thread = std::thread::Builder::new()
                .name(format!("proxy-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let listener = match TcpListener::from_std(listener) {
                            Ok(listener) => listener,
                            Err(error) => {
                                tracing::error!(%error, "proxy worker cannot use its listener");
                                return;
                            }
                        };
                        let stop = async move {
                            let _ = stopped.changed().await;
                        };
                        super::server::serve(listener, gateway, state, stop).await;
                    });
                })?;
            threads.push(thread);
        }
        Ok(Workers { threads, stop })
    }

    /// Asks every worker to drain and waits for them.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}
