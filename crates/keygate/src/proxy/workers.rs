//! Proxy worker threads: each runs a single-threaded runtime with a listener of its own on
//! the same address (`SO_REUSEPORT`), so the kernel spreads connections over the workers
//! and a connection never changes thread: no work stealing, no cross-thread wake-ups on
//! the request path. Another process cannot join them on that address (see [`bind`]).
//! With several listeners (`proxy.listen` as a list), every worker has a socket on each.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::handler::Gateway;
use super::server::Listening;
use super::turn_clock;
use crate::state::SharedState;
use crate::tls::TlsServer;

/// How many connections wait in each listener's accept queue.
const BACKLOG: i32 = 1024;

/// Binds `count` listeners on `address`, one per worker, sharing the port with
/// `SO_REUSEPORT` — and with no other process. The first listener binds and listens
/// without `SO_REUSEPORT`, so it fails with "address in use" when any other socket holds
/// the address (another keygate included, whatever its options); only once it listens is
/// `SO_REUSEPORT` turned on, and the others join it. A second process that does the same
/// always finds the first one's listening socket and fails; the kernel still spreads this
/// process's connections over its workers. With port 0, the first listener picks the
/// port.
pub fn bind(address: SocketAddr, count: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let mut listeners = Vec::with_capacity(count);
    let first = listen(address, false)?;
    // Now that this process holds the address alone, let its own workers join.
    first.set_reuse_port(true)?;
    let address = first.local_addr()?.as_socket().unwrap_or(address);
    listeners.push(first.into());
    for _ in 1..count.max(1) {
        listeners.push(listen(address, true)?.into());
    }
    Ok(listeners)
}

/// A non-blocking listening socket on `address`, joining others on it when `reuse_port`.
/// `SO_REUSEADDR` lets a restart bind while connections of the last run are in TIME_WAIT.
fn listen(address: SocketAddr, reuse_port: bool) -> std::io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuse_port)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

/// One worker's sockets: one per listener, with the TLS configuration of the TLS ones
/// and whether the listener answers front proxies' checks (`authz.listen`).
pub type WorkerSockets = Vec<(std::net::TcpListener, Option<Arc<TlsServer>>, Role)>;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The proxy (`proxy.listen`).
    Proxy,
    /// Front proxies' checks (`authz.listen`, `super::authz`).
    Authz,
}

/// The running workers.
pub struct Workers {
    threads: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Workers {
    /// Starts one worker thread per entry of `sockets`; the authz listeners are served by
    /// `gateway`'s authz twin.
    pub fn start(
        sockets: Vec<WorkerSockets>,
        gateway: Arc<Gateway>,
        state: SharedState,
    ) -> std::io::Result<Workers> {
        let (stop, stopped) = watch::channel(false);
        let authz = Arc::new(gateway.authz_twin());
        let mut threads = Vec::with_capacity(sockets.len());
        for (index, sockets) in sockets.into_iter().enumerate() {
            let (gateway, state, mut stopped) = (gateway.clone(), state.clone(), stopped.clone());
            let authz = authz.clone();
            // Each wake-up from the wait for events starts a turn: its requests share
            // one reading of the clocks (`turn_clock`).
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_unpark(turn_clock::new_turn)
                .build()?;
            let thread = std::thread::Builder::new()
                .name(format!("proxy-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let mut listeners = Vec::with_capacity(sockets.len());
                        for (socket, tls, role) in sockets {
                            let gateway = match role {
                                Role::Proxy => gateway.clone(),
                                Role::Authz => authz.clone(),
                            };
                            match TcpListener::from_std(socket) {
                                Ok(listener) => listeners.push(Listening {
                                    listener,
                                    tls,
                                    gateway,
                                }),
                                Err(error) => {
                                    tracing::error!(%error, "proxy worker cannot use its listener");
                                    return;
                                }
                            }
                        }
                        let stop = async move {
                            let _ = stopped.changed().await;
                        };
                        super::server::serve(listeners, gateway, state, stop).await;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::ErrorKind;
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn the_workers_share_the_port_and_nobody_else_can() {
        // As in `keygate serve`: bound within the main runtime.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        let listeners = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let address = listeners[0].local_addr().unwrap();
        assert!(listeners.iter().all(|l| l.local_addr().unwrap() == address));

        // Another process's gateway, or anything else, is refused.
        let second = bind(address, 2).unwrap_err();
        assert_eq!(second.kind(), ErrorKind::AddrInUse, "{second}");
        let plain = std::net::TcpListener::bind(address).unwrap_err();
        assert_eq!(plain.kind(), ErrorKind::AddrInUse, "{plain}");

        // The kernel spreads connections over all three, the first included: each has
        // some of 30 in its accept queue (by a hash of the client's port; the chance that
        // one gets none is about 3 × (2/3)^30, 2 in 100,000).
        let _clients: Vec<TcpStream> = (0..30)
            .map(|_| TcpStream::connect(address).unwrap())
            .collect();
        for (index, listener) in listeners.iter().enumerate() {
            listener.set_nonblocking(true).unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match listener.accept() {
                    Ok(_) => break,
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        assert!(Instant::now() < deadline, "listener {index} got nothing");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(error) => panic!("listener {index}: {error}"),
                }
            }
        }
    }
}
