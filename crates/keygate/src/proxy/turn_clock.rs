//! The time of a worker's turn: the clocks read once for the requests a turn of the
//! worker's event loop serves, as nginx reads its clock once after each `epoll_wait`.
//!
//! A request needs the time where it starts (its access record's time, key expiry,
//! subscriptions, its latency's start) and the deadline of the next head on its
//! connection. Reading both clocks for each of those cost four readings per request,
//! 20–40 ns each on a virtual machine: the slowest part of a check that is otherwise
//! a few thousand instructions. Here the worker's runtime marks each wake-up from its
//! wait for events ([`new_turn`], the runtime's `on_thread_unpark`), and the first
//! request of the turn reads the clocks for all of them.
//!
//! A reading is at most one turn old: the requests of a turn were all read from sockets
//! after it. A turn that runs long without waiting (the runtime also polls for events
//! without parking every few dozen tasks, which starts no turn here) reads again after
//! [`USES_PER_READING`] uses, so a reading never serves more than a few dozen requests.
//! Latencies are measured to a fresh reading at their end: they count from the turn's
//! start, which is when the request's bytes were seen, or earlier.
//!
//! Threads whose runtime does not mark turns (the admin API, tests) always read the
//! clocks.

use std::cell::Cell;
use std::time::{Instant, SystemTime};

/// How many times one reading is handed out before the clocks are read again within a
/// turn: a request takes two (its start and its connection's next deadline).
pub const USES_PER_READING: u32 = 32;

/// Both clocks, read together.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// For durations and deadlines.
    pub instant: Instant,
    /// For the access log, key expiry and subscriptions.
    pub wall: SystemTime,
}

impl Now {
    /// The clocks as they are.
    pub fn read() -> Now {
        Now {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// What this thread knows of its turn.
#[derive(Debug, Clone, Copy)]
enum Turn {
    /// The thread's runtime marks no turns: every caller reads the clocks.
    Unmarked,
    /// A turn began and nobody has read the clocks in it yet.
    Begun,
    /// The reading of this turn, and how many times it has been handed out.
    Read(Now, u32),
}

thread_local! {
    static TURN: Cell<Turn> = const { Cell::new(Turn::Unmarked) };
}

/// Marks the start of a turn on this thread: the next [`now`] reads the clocks. Called
/// by a worker's runtime each time it wakes from its wait for events.
pub fn new_turn() {
    TURN.set(Turn::Begun);
}

/// The time of this thread's turn: read by the first caller of the turn and shared by
/// the next [`USES_PER_READING`] − 1; read every time on a thread that marks no turns.
pub fn now() -> Now {
    TURN.with(|turn| match turn.get() {
        Turn::Unmarked => Now::read(),
        Turn::Read(now, uses) if uses < USES_PER_READING => {
            turn.set(Turn::Read(now, uses + 1));
            now
        }
        Turn::Begun | Turn::Read(..) => {
            let now = Now::read();
            turn.set(Turn::Read(now, 1));
            now
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Runs `test` on a thread of its own, whose turn state starts unmarked.
    fn on_own_thread(test: impl FnOnce() + Send + 'static) {
        std::thread::spawn(test).join().unwrap_or_else(|panic| {
            std::panic::resume_unwind(panic);
        });
    }

    #[test]
    fn a_thread_that_marks_no_turns_reads_the_clocks_every_time() {
        on_own_thread(|| {
            let first = now();
            std::thread::sleep(Duration::from_millis(2));
            let second = now();
            assert!(second.instant >= first.instant + Duration::from_millis(2));
        });
    }

    #[test]
    fn the_requests_of_a_turn_share_one_reading() {
        on_own_thread(|| {
            new_turn();
            let first = now();
            std::thread::sleep(Duration::from_millis(2));
            let second = now();
            assert_eq!(second.instant, first.instant);
            assert_eq!(second.wall, first.wall);
        });
    }

    #[test]
    fn a_new_turn_reads_again() {
        on_own_thread(|| {
            new_turn();
            let first = now();
            std::thread::sleep(Duration::from_millis(2));
            new_turn();
            let second = now();
            assert!(second.instant >= first.instant + Duration::from_millis(2));
            assert!(second.wall > first.wall);
        });
    }

    #[test]
    fn a_long_turn_reads_again_after_so_many_uses() {
        on_own_thread(|| {
            new_turn();
            let first = now();
            for _ in 1..USES_PER_READING {
                assert_eq!(now().instant, first.instant);
            }
            std::thread::sleep(Duration::from_millis(2));
            let after = now();
            assert!(after.instant >= first.instant + Duration::from_millis(2));
            // The new reading is shared in its turn.
            assert_eq!(now().instant, after.instant);
        });
    }
}
