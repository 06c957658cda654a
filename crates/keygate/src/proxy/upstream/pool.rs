//! Idle keep-alive connections to one upstream target, kept per worker thread: a request
//! takes the most recently used one and gives it back when its response has been read
//! to the end. One the upstream closed meanwhile is noticed when it is taken (its socket
//! reads as closed) and dropped then; each worker also sweeps its idle connections now
//! and then ([`ConnectionPool::sweep`]), so that a quiet service keeps no dead sockets.
//!
//! With `max_connections`, a request holds one of the target's slots from the moment it
//! takes or opens a connection until that connection is idle again or closed (nginx's
//! `max_conns`: idle connections do not count); a request that finds none free waits for
//! one at most `queue_timeout`. Without it, nothing is counted.

use std::collections::VecDeque;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use super::stream::UpstreamStream;
use crate::config::PoolLimits;

use crate::proxy::read_buffer::poll_fill;

/// How many per-thread shelves a pool has; threads beyond this share them.
const SHELVES: usize = 64;

/// Where a new connection's timer is first set: past any wait, so it never fires before
/// the first wait moves it back.
const IDLE_TIMER: Duration = Duration::from_secs(24 * 60 * 60);

/// One connection to an upstream target, with its buffers.
#[derive(Debug)]
pub struct Connection {
    /// The socket.
    pub stream: UpstreamStream,
    /// Bytes read from the upstream and not consumed yet.
    pub buffer: BytesMut,
    /// The request being written (head, and the body's first piece).
    pub outgoing: Vec<u8>,
    idle_since: Instant,
    /// The connection's one timer, re-armed for every wait rather than made anew.
    timer: Pin<Box<Sleep>>,
    /// When the current wait gives up; `None` while nothing is being waited for.
    deadline: Option<tokio::time::Instant>,
    /// The target's slot this connection's request holds, under `max_connections`.
    slot: Option<OwnedSemaphorePermit>,
}

impl Connection {
    /// A fresh connection.
    pub fn new(stream: UpstreamStream) -> Connection {
        Connection {
            stream,
            buffer: BytesMut::new(),
            outgoing: Vec::with_capacity(1024),
            idle_since: Instant::now(),
            timer: Box::pin(tokio::time::sleep(IDLE_TIMER)),
            deadline: None,
            slot: None,
        }
    }

    /// The connection carries the request holding `slot` (if its target limits
    /// connections): the slot comes free when the connection is given back or closed.
    pub fn hold(&mut self, slot: Option<OwnedSemaphorePermit>) {
        self.slot = slot;
    }

    /// To be called when a wait (for the upstream's bytes, for the upstream to take
    /// bytes, for the client's next body piece) is not ready: whether it has now lasted
    /// `limit` since the last progress. The clock is read only when a wait begins; the
    /// timer is moved back when it is set past the deadline, and forward only when it
    /// fires early.
    pub fn poll_silence(&mut self, cx: &mut Context<'_>, limit: Duration) -> Poll<()> {
        let deadline = *self
            .deadline
            .get_or_insert_with(|| tokio::time::Instant::now() + limit);
        if self.timer.deadline() > deadline {
            self.timer.as_mut().reset(deadline);
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            if self.timer.deadline() >= deadline {
                self.deadline = None;
                return Poll::Ready(());
            }
            self.timer.as_mut().reset(deadline);
        }
        Poll::Pending
    }

    /// Something moved: the next wait is timed from now.
    pub fn progressed(&mut self) {
        self.deadline = None;
    }

    /// Reads what the socket has into `buffer` ([`poll_fill`]); reading through
    /// `AsyncRead` also makes the check of an idle connection cost no system call.
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        poll_fill(&mut self.stream, &mut self.buffer, cx)
    }

    /// Whether an idle connection can carry a request ([`UpstreamStream::is_reusable`]).
    fn is_reusable(&mut self) -> bool {
        self.stream.is_reusable(&mut self.buffer)
    }
}

/// The idle connections of one target, and its connection slots.
#[derive(Debug)]
pub struct ConnectionPool {
    shelves: Box<[Mutex<VecDeque<Connection>>]>,
    idle_timeout: Duration,
    max_idle_per_thread: usize,
    /// `max_connections` slots, when the target has a limit.
    slots: Option<Arc<Semaphore>>,
    /// How long a request waits for a slot.
    queue_timeout: Duration,
}

/// No slot of the target came free within `queue_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no connection slot came free within queue_timeout")]
pub struct Busy;

static NEXT_SHELF: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shelf number: connections stay with the thread (and runtime) that
    /// opened them.
    static SHELF: usize = NEXT_SHELF.fetch_add(1, Ordering::Relaxed) % SHELVES;
}

impl ConnectionPool {
    /// A pool that keeps at most `max_idle` idle connections per thread, each for at most
    /// `idle_timeout`, with `max_connections` slots if set.
    pub fn new(limits: &PoolLimits) -> ConnectionPool {
        let slots = limits.max_connections.map(|limit| {
            let limit = usize::try_from(limit).unwrap_or(Semaphore::MAX_PERMITS);
            Arc::new(Semaphore::new(limit.min(Semaphore::MAX_PERMITS)))
        });
        ConnectionPool {
            shelves: (0..SHELVES).map(|_| Mutex::default()).collect(),
            idle_timeout: limits.idle_timeout,
            max_idle_per_thread: limits.max_idle,
            slots,
            queue_timeout: limits.queue_timeout,
        }
    }

    /// A slot for one more request to the target, waited for at most `queue_timeout`;
    /// `None` (at once, counting nothing) when the target has no `max_connections`.
    pub async fn admit(&self) -> Result<Option<OwnedSemaphorePermit>, Busy> {
        let Some(slots) = &self.slots else {
            return Ok(None);
        };
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return Ok(Some(slot));
        }
        match tokio::time::timeout(self.queue_timeout, slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(Some(slot)),
            // Timed out (the semaphore is never closed).
            _ => Err(Busy),
        }
    }

    fn shelf(&self) -> MutexGuard<'_, VecDeque<Connection>> {
        let index = SHELF.with(|shelf| *shelf) % self.shelves.len();
        self.shelves[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an idle connection has been idle too long at `now`.
    fn expired(&self, connection: &Connection, now: Instant) -> bool {
        now.duration_since(connection.idle_since) >= self.idle_timeout
    }

    /// Whether an idle connection may still carry a request at `now`.
    fn usable(&self, connection: &mut Connection, now: Instant) -> bool {
        !self.expired(connection, now) && connection.is_reusable()
    }

    /// The most recently used idle connection that is still open, if any.
    pub fn take(&self) -> Option<Connection> {
        let now = Instant::now();
        let mut shelf = self.shelf();
        while let Some(mut connection) = shelf.pop_back() {
            if self.usable(&mut connection, now) {
                return Some(connection);
            }
        }
        None
    }

    /// Gives a connection back after a complete exchange. One holding unread bytes is
    /// closed instead; idle connections past their time are closed on the way.
    pub fn give_back(&self, mut connection: Connection) {
        if !connection.buffer.is_empty() {
            return;
        }
        let now = Instant::now();
        connection.idle_since = now;
        connection.deadline = None;
        connection.slot = None;
        let mut shelf = self.shelf();
        while shelf
            .front()
            .is_some_and(|oldest| self.expired(oldest, now))
        {
            shelf.pop_front();
        }
        if shelf.len() < self.max_idle_per_thread {
            shelf.push_back(connection);
        }
    }

    /// Closes this thread's idle connections that are past their time or that the
    /// upstream has closed, so that a quiet service holds no dead sockets.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.shelf()
            .retain_mut(|connection| self.usable(connection, now));
    }

    /// Idle connections on this thread's shelf (for tests).
    #[cfg(test)]
    pub fn idle_here(&self) -> usize {
        self.shelf().len()
    }
}
