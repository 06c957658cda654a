//! Room for a request head in a client connection's read buffer. A connection starts
//! with a small buffer that nearly every head fits; a head that outgrows it gets more
//! room in steps, only when it has filled what it has, and every step is taken from one
//! budget for the whole process (`proxy.max_partial_head_bytes`). So many slow clients,
//! each holding an unfinished head, cannot make the gateway hold more than the budget
//! between them beyond their first buffers; a head that needs a step the budget cannot
//! give is refused (`431`, and the connection closes), while heads that fit their first
//! buffer are never refused for it.
//!
//! The first step adds 8 KiB (nginx's large header buffer); each later one doubles the
//! room (4, 12, 24, 48 KiB), up to the head limit. Each step is a new allocation and a
//! copy, and the allocator keeps the smaller blocks given up for a while: with equal
//! steps a head of 46 KB went through six sizes, and 2,000 such heads left about three
//! times the budget resident at their peak; doubling goes through three.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::BytesMut;

/// The buffer a connection starts with, and the room every head gets without asking the
/// budget: most heads fit, with room for a few pipelined ones.
pub const FIRST_BUFFER: usize = 4 * 1024;

/// The least a head's room grows by when it fills what it has (later steps double it).
pub const GROWTH_STEP: usize = 8 * 1024;

/// Room taken from the budget by the incomplete heads of every connection of the process.
pub static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// Why a head gets no more room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRoom {
    /// The head reached the connection's limit on head size.
    TooLarge,
    /// The budget for incomplete heads is spent.
    OverBudget,
}

/// One connection's room for its incomplete head: how much of the budget it holds, and
/// whether its buffer outgrew the first one and should be replaced by a small one.
#[derive(Debug)]
pub struct HeadRoom {
    /// What every connection's room is taken from ([`TAKEN`], but for tests).
    taken: &'static AtomicUsize,
    /// Room taken from the budget: what the head may hold beyond [`FIRST_BUFFER`].
    held: usize,
    /// Whether the buffer was grown for a head since it was last made small.
    outgrown: bool,
}

impl HeadRoom {
    /// The room of a new connection, taking from `taken`: the first buffer only.
    pub fn new(taken: &'static AtomicUsize) -> HeadRoom {
        HeadRoom {
            taken,
            held: 0,
            outgrown: false,
        }
    }

    /// How many more bytes of the head whose start `buffer` holds (or of the next head,
    /// when it is empty) may be read into it; at least 1. When the head fills the room it
    /// has, the room grows a step ([`next_room`]) — never past `max_head` bytes, and only
    /// when `budget` has that much left — and the buffer is made large enough for it.
    pub fn make_room(
        &mut self,
        buffer: &mut BytesMut,
        max_head: usize,
        budget: usize,
    ) -> Result<usize, NoRoom> {
        let held_data = buffer.len();
        if held_data >= max_head {
            return Err(NoRoom::TooLarge);
        }
        if self.outgrown && self.held == 0 && held_data < FIRST_BUFFER / 2 {
            // The large head it grew for is done: the rest of it goes back to the
            // allocator instead of staying with an idle connection.
            let mut small = BytesMut::with_capacity(FIRST_BUFFER);
            small.extend_from_slice(buffer);
            *buffer = small;
            self.outgrown = false;
        }
        let room_now = FIRST_BUFFER + self.held;
        if held_data >= room_now {
            // Past the room it has (bytes read with a body can be): enough steps to hold
            // what it has and more.
            let wanted = next_room(room_now, held_data).min(max_head);
            take(self.taken, wanted - room_now, budget)?;
            self.held = wanted - FIRST_BUFFER;
            self.outgrown = true;
        }
        let room = (FIRST_BUFFER + self.held).min(max_head) - held_data;
        if buffer.is_empty() {
            // With nothing pending, `reserve` moves an unshared buffer back to the start
            // of its allocation: each head is then read into the same few cache lines.
            buffer.reserve(FIRST_BUFFER);
        } else if buffer.capacity() - held_data < room.min(FIRST_BUFFER / 4)
            && !buffer.try_reclaim(room)
        {
            // Grown to what this step allows and no more (`reserve` would double it).
            let mut grown = BytesMut::with_capacity(held_data + room);
            grown.extend_from_slice(buffer);
            *buffer = grown;
        }
        Ok(room)
    }

    /// The head is complete (or refused): its room goes back to the budget.
    pub fn release(&mut self) {
        if self.held > 0 {
            self.taken.fetch_sub(self.held, Ordering::Relaxed);
            self.held = 0;
        }
    }

    /// Room this connection holds from the budget.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for HeadRoom {
    fn drop(&mut self) {
        self.release();
    }
}

/// The room after the steps that take `room` past `held_data` bytes: 8 KiB more the
/// first time, then twice as much each time.
fn next_room(mut room: usize, held_data: usize) -> usize {
    while room <= held_data {
        room = (room * 2).max(room + GROWTH_STEP);
    }
    room
}

/// Adds `bytes` to what is `taken`, unless that would take it past `budget`.
fn take(pool: &AtomicUsize, bytes: usize, budget: usize) -> Result<(), NoRoom> {
    let mut taken = pool.load(Ordering::Relaxed);
    loop {
        let after = taken
            .checked_add(bytes)
            .filter(|after| *after <= budget)
            .ok_or(NoRoom::OverBudget)?;
        match pool.compare_exchange_weak(taken, after, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(now) => taken = now,
        }
    }
}

#[cfg(test)]
mod tests;
